package dbusapi

import (
	"reflect"
	"slices"

	"github.com/godbus/dbus/v5"
	"github.com/mpathd/mpathd/pkg/api"
)

// object is one exported object: its own interface and its properties.
type object struct {
	iface string
	props map[string]dbus.Variant
}

// snapshot is everything exported at one moment; it is immutable once built
// and replaced as a whole, so method calls read it without locks.
type snapshot struct {
	topo    api.Topology
	objects map[dbus.ObjectPath]*object // manager, maps and paths
	maps    []dbus.ObjectPath           // in topology order
	paths   []dbus.ObjectPath
}

// volatile properties change with the load and are not announced with
// PropertiesChanged (their introspection says so).
var volatile = map[string]bool{"Weight": true, "IOPS": true, "ReadBytesPerSec": true, "WriteBytesPerSec": true,
	"AvgRequestBytes": true, "InFlight": true, "ServiceTimeMs": true, "Utilisation": true}

// setLoad writes the polling core's figures into an object's properties.
func setLoad(props map[string]dbus.Variant, s api.IOStats) {
	props["IOPS"] = dbus.MakeVariant(s.IOPS)
	props["ReadBytesPerSec"] = dbus.MakeVariant(s.ReadBytesSec)
	props["WriteBytesPerSec"] = dbus.MakeVariant(s.WriteBytesSec)
	props["AvgRequestBytes"] = dbus.MakeVariant(s.AvgReqBytes)
	props["InFlight"] = dbus.MakeVariant(uint32(max(s.InFlight, 0)))
	props["ServiceTimeMs"] = dbus.MakeVariant(s.ServiceTimeMs)
	props["Utilisation"] = dbus.MakeVariant(s.Utilisation)
}

// loadIndex finds the figures of a map (by name) or a path (by device).
type loadIndex struct {
	maps  map[string]api.MapStats
	paths map[string]api.PathStats
}

func indexLoad(st api.Stats) loadIndex {
	ix := loadIndex{maps: make(map[string]api.MapStats, len(st.Maps)), paths: make(map[string]api.PathStats, len(st.Paths))}
	for _, m := range st.Maps {
		ix.maps[m.Name] = m
	}
	for _, p := range st.Paths {
		ix.paths[p.Dev] = p
	}
	return ix
}

// withLoad returns o's properties with fresh load figures, leaving the snapshot untouched.
func (o *object) withLoad(ix loadIndex) map[string]dbus.Variant {
	props := make(map[string]dbus.Variant, len(o.props))
	for k, v := range o.props {
		props[k] = v
	}
	switch o.iface {
	case MapIface:
		name, _ := o.props["Name"].Value().(string)
		setLoad(props, ix.maps[name].IOStats)
	case PathIface:
		dev, _ := o.props["Dev"].Value().(string)
		p := ix.paths[dev]
		setLoad(props, p.IOStats)
		props["Weight"] = dbus.MakeVariant(int32(p.Weight))
	}
	return props
}

// group is a Map's Groups element: index, state, prio, selector, paths.
type group struct {
	Index    int32
	State    string
	Prio     int32
	Selector string
	Paths    []dbus.ObjectPath
}

func variants(kv ...any) map[string]dbus.Variant {
	m := make(map[string]dbus.Variant, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = dbus.MakeVariant(kv[i+1])
	}
	return m
}

func build(t api.Topology, st api.Status, load api.Stats) *snapshot {
	ix := indexLoad(load)
	s := &snapshot{topo: t, objects: map[dbus.ObjectPath]*object{}}
	s.objects[ManagerPath] = &object{iface: ManagerIface, props: variants(
		"Version", st.Version,
		"State", st.State,
		"ConfigFile", st.ConfigFile,
		"MapCount", uint32(len(t.Maps)),
	)}
	for _, m := range t.Maps {
		mp := MapPath(m.Name)
		if _, dup := s.objects[mp]; dup {
			continue // two maps cannot share a name; keep the first
		}
		s.maps = append(s.maps, mp)
		var groups []group
		var all []dbus.ObjectPath
		active := int32(0)
		for _, g := range m.Groups {
			grp := group{Index: int32(g.Index), State: g.State, Prio: int32(g.Prio), Selector: g.Selector, Paths: []dbus.ObjectPath{}}
			if g.State == api.GroupActive {
				active = int32(g.Index)
			}
			for _, p := range g.Paths {
				pp := PathPath(p.Dev)
				grp.Paths = append(grp.Paths, pp)
				all = append(all, pp)
				if _, dup := s.objects[pp]; dup {
					continue
				}
				s.paths = append(s.paths, pp)
				s.objects[pp] = &object{iface: PathIface, props: variants(
					"Dev", p.Dev,
					"DevT", p.DevT,
					"HCIL", p.HCIL,
					"Map", mp,
					"MapName", m.Name,
					"Group", int32(g.Index),
					"DMState", p.DMState,
					"CheckerState", p.CheckerState,
					"DevState", p.DevState,
					"Prio", int32(p.Prio),
					"Checker", p.Checker,
					"FailCount", p.FailCount,
					"Marginal", p.Marginal,
					"Weight", int32(p.Weight),
				)}
				setLoad(s.objects[pp].props, ix.paths[p.Dev].IOStats)
			}
			groups = append(groups, grp)
		}
		if groups == nil {
			groups = []group{}
		}
		if all == nil {
			all = []dbus.ObjectPath{}
		}
		total, usable := m.PathCount()
		s.objects[mp] = &object{iface: MapIface, props: variants(
			"Name", m.Name,
			"UUID", m.UUID,
			"WWID", m.WWID,
			"DM", m.DM,
			"DevT", m.DevT,
			"SizeSectors", m.SizeSectors,
			"Features", m.Features,
			"HWHandler", m.HWHandler,
			"Vendor", m.Vendor,
			"Product", m.Product,
			"ReadOnly", m.ReadOnly,
			"Health", m.Health(),
			"QueueingMode", m.Queueing.Mode,
			"Queueing", m.Queueing.Active,
			"Failback", m.Failback,
			"ActiveGroup", active,
			"Groups", groups,
			"Paths", all,
			"PathCount", uint32(total),
			"UsablePaths", uint32(usable),
			"PathFaults", m.PathFaults,
			"GroupSwitches", m.GroupSwitches,
			"TableLoads", m.TableLoads,
		)}
		setLoad(s.objects[mp].props, ix.maps[m.Name].IOStats)
	}
	s.objects[ManagerPath].props["PathCount"] = dbus.MakeVariant(uint32(len(s.paths)))
	return s
}

// change is what a new snapshot means for one object.
type change struct {
	path    dbus.ObjectPath
	iface   string
	added   bool
	removed bool
	props   map[string]dbus.Variant // changed, announced properties
}

// diff lists the objects added, removed and changed from old to new, in a
// stable order (manager, maps, paths; removals last).
func diff(old, new *snapshot) []change {
	var out []change
	order := append(append([]dbus.ObjectPath{ManagerPath}, new.maps...), new.paths...)
	for _, p := range order {
		n := new.objects[p]
		o, ok := old.objects[p]
		if !ok {
			out = append(out, change{path: p, iface: n.iface, added: true, props: n.props})
			continue
		}
		var changed map[string]dbus.Variant
		for k, v := range n.props {
			if volatile[k] {
				continue
			}
			if ov, ok := o.props[k]; !ok || !reflect.DeepEqual(ov.Value(), v.Value()) {
				if changed == nil {
					changed = map[string]dbus.Variant{}
				}
				changed[k] = v
			}
		}
		if changed != nil {
			out = append(out, change{path: p, iface: n.iface, props: changed})
		}
	}
	for _, p := range slices.Concat(old.maps, old.paths) {
		if _, ok := new.objects[p]; !ok {
			out = append(out, change{path: p, iface: old.objects[p].iface, removed: true})
		}
	}
	return out
}
