package kerneltopo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// The fc fixture has two NETAPP LUNs over two FC hosts: mpatha (dm-0) on sda
// and sdc, mpathb (dm-1) on sdb and sdd, sdd offline.
const (
	wwidA = "3600a0980383030534f2b4d3153324d70"
	wwidB = "3600a0980383030534f2b4d3153324d71"
)

func fcKernel(t *testing.T) *dm.Fake {
	t.Helper()
	f := dm.NewFake()
	st := func(devs ...string) dm.Group {
		g := dm.Group{Selector: "service-time"}
		for _, d := range devs {
			g.Paths = append(g.Paths, dm.Path{Dev: d, Args: []string{"1", "1"}})
		}
		return g
	}
	a := dm.Table{Features: dm.Features{QueueIfNoPath: true}, HWHandler: "alua", InitialPG: 1,
		Groups: []dm.Group{st("8:0"), st("8:32")}}
	b := dm.Table{InitialPG: 1, Groups: []dm.Group{{Selector: "round-robin",
		Paths: []dm.Path{{Dev: "8:16", Args: []string{"1"}}, {Dev: "8:48", Args: []string{"1"}}}}}}
	for _, m := range []struct {
		name, wwid string
		t          dm.Table
	}{{"mpatha", wwidA, a}, {"mpathb", wwidB, b}} {
		if _, err := dm.CreateMap(f, m.name, UUIDPrefix+m.wwid, 2097152, m.t, 0); err != nil {
			t.Fatal(err)
		}
	}
	// A map of another kind is not listed.
	if _, err := f.Create("other", "LVM-abc"); err != nil {
		t.Fatal(err)
	}
	if err := f.KernelFailPath("mpathb", "8:48"); err != nil {
		t.Fatal(err)
	}
	return f
}

type fakeProber map[string]Probe

func (p fakeProber) Probe(_ context.Context, _ api.Map, sp sysfs.Path) Probe { return p[sp.Name] }

func TestTopologyFromKernel(t *testing.T) {
	r := Reader{DM: fcKernel(t), Sys: sysfs.New("../sysfs/testdata/fc")}
	top, err := r.Topology(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	path := func(dev, devt, hcil, dmst, chk, devst string, fails uint64) api.Path {
		return api.Path{Dev: dev, DevT: devt, HCIL: hcil, DMState: dmst, CheckerState: chk, DevState: devst, FailCount: fails}
	}
	want := api.Topology{Maps: []api.Map{{
		Name: "mpatha", UUID: "mpath-" + wwidA, WWID: wwidA, DM: "dm-0", DevT: "253:0", SizeSectors: 2097152,
		Features: "1 queue_if_no_path", HWHandler: "1 alua", Vendor: "NETAPP", Product: "LUN C-Mode", Revision: "9800",
		DMState: "active", Queueing: api.Queueing{Active: true},
		Groups: []api.Group{
			{Index: 1, State: api.GroupEnabled, Selector: "service-time 0", Paths: []api.Path{
				path("sda", "8:0", "2:0:0:0", api.DMActive, api.CheckerUnchecked, "running", 0)}},
			{Index: 2, State: api.GroupEnabled, Selector: "service-time 0", Paths: []api.Path{
				path("sdc", "8:32", "3:0:0:0", api.DMActive, api.CheckerUnchecked, "running", 0)}},
		},
	}, {
		Name: "mpathb", UUID: "mpath-" + wwidB, WWID: wwidB, DM: "dm-1", DevT: "253:1", SizeSectors: 2097152,
		Features: "0", HWHandler: "0", Vendor: "NETAPP", Product: "LUN C-Mode", Revision: "9800", DMState: "active",
		Groups: []api.Group{
			{Index: 1, State: api.GroupActive, Selector: "round-robin 0", Paths: []api.Path{
				path("sdb", "8:16", "2:0:0:1", api.DMActive, api.CheckerUnchecked, "running", 0),
				path("sdd", "8:48", "3:0:0:1", api.DMFailed, api.CheckerDown, "offline", 1)}},
		},
	}}}
	if !reflect.DeepEqual(top, want) {
		t.Errorf("topology:\n got %+v\nwant %+v", top, want)
	}
}

func TestTopologyProbedGroupPrio(t *testing.T) {
	r := Reader{DM: fcKernel(t), Sys: sysfs.New("../sysfs/testdata/fc"), Prober: fakeProber{
		"sda": {State: api.CheckerUp, Prio: 50, Checker: "tur"},
		"sdc": {State: api.CheckerGhost, Prio: 1, Checker: "tur"},
		"sdb": {State: api.CheckerUp, Prio: 50, Checker: "tur"},
		"sdd": {State: api.CheckerDown, Prio: 10, Checker: "tur"},
	}}
	top, err := r.Topology(context.Background(), func(d MapDevice) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, m := range top.Maps {
		for _, g := range m.Groups {
			got = append(got, g.Prio)
		}
	}
	// mpathb's group: the mean over usable paths only (sdd is down), as multipath computes it.
	if want := []int{50, 1, 50}; !reflect.DeepEqual(got, want) {
		t.Errorf("group prios = %v, want %v", got, want)
	}
	if p := top.Maps[1].Groups[0].Paths[1]; p.CheckerState != api.CheckerDown || p.Prio != 10 || p.Checker != "tur" {
		t.Errorf("probed sdd = %+v", p)
	}
}

func TestTopologyFilterAndErrors(t *testing.T) {
	f := fcKernel(t)
	r := Reader{DM: f, Sys: sysfs.New("../sysfs/testdata/fc")}
	top, err := r.Topology(context.Background(), func(d MapDevice) bool { return d.WWID == wwidB })
	if err != nil || len(top.Maps) != 1 || top.Maps[0].Name != "mpathb" {
		t.Fatalf("filtered = %+v, %v", top, err)
	}
	f.InjectError("DM_TABLE_STATUS", "mpatha", errors.New("boom"))
	top, err = r.Topology(context.Background(), nil)
	if err == nil || len(top.Maps) != 1 || top.Maps[0].Name != "mpathb" {
		t.Errorf("with mpatha unreadable: %+v, %v; want mpathb and an error", top, err)
	}
	// A path in the table that sysfs no longer has: shown by number, down.
	r.Sys = sysfs.New(t.TempDir())
	top, _ = r.Topology(context.Background(), nil)
	if p := top.Maps[0].Groups[0].Paths[0]; p.Dev != "" || p.DevT != "8:0" || p.CheckerState != api.CheckerDown {
		t.Errorf("vanished path = %+v", p)
	}
}

func TestFeatureWords(t *testing.T) {
	for _, tc := range []struct {
		t           dm.Table
		feat, hwhan string
	}{
		{dm.Table{InitialPG: 1, Groups: []dm.Group{{Selector: "round-robin", Paths: []dm.Path{{Dev: "8:0", Args: []string{"1"}}}}}}, "0", "0"},
		{dm.Table{Features: dm.Features{QueueIfNoPath: true, PGInitRetries: 50}, HWHandler: "alua", HWArgs: []string{"x"},
			InitialPG: 1, Groups: []dm.Group{{Selector: "round-robin", Paths: []dm.Path{{Dev: "8:0", Args: []string{"1"}}}}}},
			"3 queue_if_no_path pg_init_retries 50", "2 alua x"},
	} {
		f, h := FeatureWords(tc.t)
		if f != tc.feat || h != tc.hwhan {
			t.Errorf("FeatureWords(%v) = %q, %q; want %q, %q", tc.t, f, h, tc.feat, tc.hwhan)
		}
	}
}

// TestPathIndexDevLinks: with /sys/dev/block, a path is read through its link alone; a number
// without a link falls back to reading every path once.
func TestPathIndexDevLinks(t *testing.T) {
	fixture, err := filepath.Abs("../sysfs/testdata/fc/sys")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, d := range []string{"block", "class", "devices"} {
		if err := os.MkdirAll(filepath.Join(root, "sys"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(fixture, d), filepath.Join(root, "sys", d)); err != nil {
			t.Fatal(err)
		}
	}
	links := filepath.Join(root, "sys", "dev", "block")
	if err := os.MkdirAll(links, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../devices/pci0000:00/0000:00:02.0/host2/rport-2:0-0/target2:0:0/2:0:0:0/block/sda", filepath.Join(links, "8:0")); err != nil {
		t.Fatal(err)
	}
	ix := &pathIndex{sys: sysfs.New(root)}
	if p, ok := ix.lookup("8:0"); !ok || p.Name != "sda" || ix.scanned {
		t.Errorf("lookup 8:0 = %s %v, scanned %v; want sda through its link", p.Name, ok, ix.scanned)
	}
	if p, ok := ix.lookup("8:48"); !ok || p.Name != "sdd" || !ix.scanned {
		t.Errorf("lookup 8:48 = %s %v, scanned %v; want sdd from a scan", p.Name, ok, ix.scanned)
	}
	if _, ok := ix.lookup("8:99"); ok {
		t.Errorf("lookup 8:99 found a path")
	}
}
