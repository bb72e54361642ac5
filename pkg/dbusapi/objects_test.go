package dbusapi

import (
	"encoding/xml"
	"slices"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/api/apitest"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"mpatha": "mpatha", "data-1": "data_2d1", "": "_", "a_b": "a_5fb", "3600a098": "3600a098",
		"é": "_c3_a9", "sd/x": "sd_2fx",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
		if p := MapPath(in); !p.IsValid() {
			t.Errorf("MapPath(%q) = %q is not a valid object path", in, p)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"mpatha", "", "a-b.c", "\x00\xff"} {
		f.Add(s)
	}
	seen := map[string]string{}
	f.Fuzz(func(t *testing.T, s string) {
		p := PathPath(s)
		if !p.IsValid() {
			t.Fatalf("%q -> invalid %q", s, p)
		}
		if prev, ok := seen[string(p)]; ok && prev != s {
			t.Fatalf("%q and %q share %s", prev, s, p)
		}
		seen[string(p)] = s
	})
}

// Every exported property is described in the introspection data with the
// type it is sent with, and the other way round.
func TestIntrospectionMatchesProperties(t *testing.T) {
	snap := build(apitest.Generate(1, 2, 2), apitest.New(api.Topology{}).Status(), api.Stats{})
	for _, tc := range []struct {
		path  dbus.ObjectPath
		iface string
	}{{ManagerPath, ManagerIface}, {snap.maps[0], MapIface}, {snap.paths[0], PathIface}} {
		text, ok := snap.introspect(tc.path)
		if !ok {
			t.Fatalf("no introspection for %s", tc.path)
		}
		var node introspect.Node
		if err := xml.Unmarshal([]byte(text), &node); err != nil {
			t.Fatalf("%s: %v\n%s", tc.path, err, text)
		}
		var described []introspect.Property
		for _, i := range node.Interfaces {
			if i.Name == tc.iface {
				described = i.Properties
			}
		}
		props := snap.objects[tc.path].props
		if len(described) != len(props) {
			t.Errorf("%s: %d properties described, %d exported", tc.iface, len(described), len(props))
		}
		for _, d := range described {
			v, ok := props[d.Name]
			if !ok {
				t.Errorf("%s.%s described but not exported", tc.iface, d.Name)
				continue
			}
			if sig := v.Signature().String(); sig != d.Type {
				t.Errorf("%s.%s: described %s, sent %s", tc.iface, d.Name, d.Type, sig)
			}
		}
	}
	m := &manager{}
	var node introspect.Node
	text, _ := snap.introspect(ManagerPath)
	xml.Unmarshal([]byte(text), &node)
	var methods []string
	for _, i := range node.Interfaces {
		if i.Name == ManagerIface {
			for _, mm := range i.Methods {
				methods = append(methods, mm.Name)
			}
		}
	}
	var exported []string
	for name := range m.methods() {
		exported = append(exported, name)
	}
	slices.Sort(methods)
	slices.Sort(exported)
	if !slices.Equal(methods, exported) {
		t.Errorf("methods described %v, exported %v", methods, exported)
	}
	if _, ok := snap.introspect("/org/mpathd/Daemon1/map/nope"); ok {
		t.Error("introspection for a missing map")
	}
	text, _ = snap.introspect(mapsPath)
	node = introspect.Node{}
	if err := xml.Unmarshal([]byte(text), &node); err != nil || len(node.Children) != 1 || node.Children[0].Name != "mpatha" {
		t.Errorf("map node children: %v %+v", err, node.Children)
	}
}

func TestDiff(t *testing.T) {
	st := apitest.New(api.Topology{}).Status()
	topo := apitest.Generate(2, 1, 2)
	old := build(topo, st, api.Stats{})

	next := apitest.Generate(2, 1, 2)
	next.Maps[0].Groups[0].Paths[1].CheckerState = api.CheckerDown
	next.Maps[0].Groups[0].Paths[0].Weight = 99 // volatile: not announced
	next.Maps = next.Maps[:1]
	st.State = "reloading"
	changes := diff(old, build(next, st, api.Stats{}))

	var got []string
	for _, c := range changes {
		switch {
		case c.added:
			got = append(got, "+"+string(c.path))
		case c.removed:
			got = append(got, "-"+string(c.path))
		default:
			var keys []string
			for k := range c.props {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			got = append(got, "~"+string(c.path)+" "+strings.Join(keys, ","))
		}
	}
	want := []string{
		"~/org/mpathd/Daemon1 MapCount,PathCount,State",
		"~/org/mpathd/Daemon1/map/mpatha Health,UsablePaths",
		"~/org/mpathd/Daemon1/path/sdc CheckerState",
		"-/org/mpathd/Daemon1/map/mpathb",
		"-/org/mpathd/Daemon1/path/sdd",
		"-/org/mpathd/Daemon1/path/sde",
	}
	if !slices.Equal(got, want) {
		t.Errorf("diff\n got %q\nwant %q", got, want)
	}
}

func TestErrorNames(t *testing.T) {
	for code, name := range map[string]string{
		api.CodeNotFound: "org.mpathd.Daemon1.Error.NotFound", api.CodePermission: "org.freedesktop.DBus.Error.AccessDenied",
		"weird": "org.mpathd.Daemon1.Error.Internal",
	} {
		e := dbusError(&api.Error{Code: code, Message: "m"})
		if e.Name != name || e.Body[0] != "m" {
			t.Errorf("%s: %+v", code, e)
		}
	}
}

// BenchmarkSync4096 is the D-Bus export's work per burst of events on
// 4,096 paths: a new snapshot and its diff against the previous one.
func BenchmarkSync4096(b *testing.B) {
	f := apitest.New(apitest.Generate(1024, 2, 2))
	st := f.Status()
	prev := build(f.Topology(), st, f.Stats())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f.SetPathState(prev.topo.Paths()[i%4096].Dev, api.CheckerDown, api.DMFailed, "")
		next := build(f.Topology(), st, f.Stats())
		if len(diff(prev, next)) == 0 {
			b.Fatal("no change seen")
		}
		prev = next
		i++
	}
}

// Load figures are read live: Get and GetAll answer with the polling core's current numbers, which
// the snapshot does not announce with PropertiesChanged.
func TestLoadProperties(t *testing.T) {
	f := apitest.New(apitest.Generate(2, 2, 2))
	srv := &Server{Service: f}
	srv.snap.Store(build(f.Topology(), f.Status(), api.Stats{}))
	tr := &tree{s: srv}
	st := f.Stats()
	var busy api.PathStats
	for _, p := range st.Paths {
		if p.IOPS > busy.IOPS {
			busy = p
		}
	}
	if busy.IOPS == 0 {
		t.Fatal("the fake reports no load")
	}
	msg := func(p dbus.ObjectPath) dbus.Message {
		return dbus.Message{Headers: map[dbus.HeaderField]dbus.Variant{dbus.FieldPath: dbus.MakeVariant(p)}}
	}
	v, derr := tr.Get(msg(PathPath(busy.Dev)), PathIface, "IOPS")
	if derr != nil || v.Value().(float64) != busy.IOPS {
		t.Errorf("path %s IOPS = %v, %v; want %v", busy.Dev, v, derr, busy.IOPS)
	}
	all, derr := tr.GetAll(msg(MapPath(busy.Map)), MapIface)
	var want float64
	for _, m := range st.Maps {
		if m.Name == busy.Map {
			want = m.IOPS
		}
	}
	if derr != nil || all["IOPS"].Value().(float64) != want || all["Name"].Value().(string) != busy.Map {
		t.Errorf("map %s GetAll IOPS = %v, %v; want %v", busy.Map, all["IOPS"], derr, want)
	}
	if snapIOPS := srv.snap.Load().objects[MapPath(busy.Map)].props["IOPS"].Value().(float64); snapIOPS != 0 {
		t.Errorf("GetAll wrote into the shared snapshot: %v", snapIOPS)
	}
}
