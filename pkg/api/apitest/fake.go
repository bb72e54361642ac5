// Package apitest provides a fake api.Service and generated topologies for
// tests of the daemon's clients (control socket, D-Bus export, mpathctl).
package apitest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
)

// Fake is an api.Service over an in-memory topology. Reads return the
// current snapshot; SetPathState and SwitchGroup publish a new snapshot and
// an event, the way the daemon core does. Other actions are recorded in Calls
// and answered with Err when set.
type Fake struct {
	Hub *api.Hub

	topo    atomic.Pointer[api.Topology]
	started time.Time

	mu    sync.Mutex
	calls []string
	errs  map[string]error // by action name
}

// New returns a Fake serving t.
func New(t api.Topology) *Fake {
	f := &Fake{Hub: api.NewHub(0), started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f.topo.Store(&t)
	return f
}

// Generate builds a deterministic topology: maps maps of groups groups with
// perGroup paths each. Paths are named sd<letters> in order and numbered on
// SCSI hosts by group, like a dual-fabric SAN. The first path is sdb (sda is
// the boot disk on most hosts).
func Generate(maps, groups, perGroup int) api.Topology {
	var t api.Topology
	minor := 0
	for m := range maps {
		wwid := fmt.Sprintf("3600a0980383%020x", m)
		mp := api.Map{
			Name: fmt.Sprintf("mpath%s", letters(m)), UUID: "mpath-" + wwid, WWID: wwid,
			DM: fmt.Sprintf("dm-%d", m), DevT: fmt.Sprintf("253:%d", m), SizeSectors: 209715200,
			Features: "1 queue_if_no_path", HWHandler: "1 alua", Vendor: "NETAPP", Product: "LUN C-Mode",
			DMState:  "active",
			Queueing: api.Queueing{Mode: api.QueueingRetries, Configured: "12"}, Failback: "immediate",
		}
		for g := range groups {
			grp := api.Group{Index: g + 1, State: api.GroupEnabled, Prio: 50 - 40*min(g, 1), Selector: "service-time 0"}
			if g == 0 {
				grp.State = api.GroupActive
			}
			for p := range perGroup {
				grp.Paths = append(grp.Paths, api.Path{
					Dev: "sd" + letters(minor+1), DevT: sdDevT(minor + 1),
					HCIL:    fmt.Sprintf("%d:0:%d:%d", p+1, g, m),
					DMState: api.DMActive, CheckerState: api.CheckerUp, DevState: "running",
					Prio: grp.Prio, Checker: "tur", Weight: 100 / perGroup,
				})
				minor++
			}
			mp.Groups = append(mp.Groups, grp)
		}
		t.Maps = append(t.Maps, mp)
	}
	return t
}

// sdDevT numbers the n-th sd disk the way the sd driver's static majors do.
func sdDevT(n int) string {
	switch {
	case n < 16:
		return fmt.Sprintf("8:%d", n*16)
	case n < 128:
		return fmt.Sprintf("%d:%d", 65+(n-16)/16, (n%16)*16)
	case n < 256:
		return fmt.Sprintf("%d:%d", 128+(n-128)/16, (n%16)*16)
	default:
		return fmt.Sprintf("259:%d", n) // extended dev_t, dynamic in real life
	}
}

// letters names 0 → a, 25 → z, 26 → aa, as the sd driver does.
func letters(n int) string {
	s := ""
	for n >= 0 {
		s = string(rune('a'+n%26)) + s
		n = n/26 - 1
	}
	return s
}

// Calls returns the actions called so far, as "name arg…".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// FailNext makes the action named op (e.g. "FlushMap") return err.
func (f *Fake) FailNext(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errs == nil {
		f.errs = make(map[string]error)
	}
	f.errs[op] = err
}

func (f *Fake) record(op string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := op
	for _, a := range args {
		call += " " + fmt.Sprint(a)
	}
	f.calls = append(f.calls, call)
	if err, ok := f.errs[op]; ok {
		delete(f.errs, op)
		return err
	}
	return nil
}

// Topology implements api.Service.
func (f *Fake) Topology() api.Topology { return *f.topo.Load() }

// SetTopology replaces the snapshot.
func (f *Fake) SetTopology(t api.Topology) { f.topo.Store(&t) }

// mutate publishes a modified copy of the topology. fn gets a copy whose
// Maps slice is fresh but whose maps still share groups with the published
// snapshot: it must call own(i) before changing map i. Unchanged maps stay
// shared, the way the daemon core's per-map snapshots do.
func (f *Fake) mutate(fn func(t *api.Topology, own func(i int)) error) error {
	for {
		old := f.topo.Load()
		t := api.Topology{Maps: slices.Clone(old.Maps), Orphans: old.Orphans}
		own := func(i int) {
			m := &t.Maps[i]
			m.Groups = slices.Clone(m.Groups)
			for j := range m.Groups {
				m.Groups[j].Paths = slices.Clone(m.Groups[j].Paths)
			}
		}
		if err := fn(&t, own); err != nil {
			return err
		}
		if f.topo.CompareAndSwap(old, &t) {
			return nil
		}
	}
}

// SetPathState changes a path's checker and dm state and publishes the
// matching path_down, path_up or path_state event.
func (f *Fake) SetPathState(dev, checker, dm, reason string) error {
	var ev api.Event
	err := f.mutate(func(t *api.Topology, own func(int)) error {
		for i := range t.Maps {
			for j := range t.Maps[i].Groups {
				for k := range t.Maps[i].Groups[j].Paths {
					if t.Maps[i].Groups[j].Paths[k].Dev != dev {
						continue
					}
					own(i)
					p := &t.Maps[i].Groups[j].Paths[k]
					ev = api.Event{Time: time.Now(), Type: api.EventPathState, Map: t.Maps[i].Name, Path: dev,
						Old: p.CheckerState, New: checker, Reason: reason}
					switch {
					case dm == api.DMFailed && p.DMState == api.DMActive:
						ev.Type = api.EventPathDown
					case dm == api.DMActive && p.DMState == api.DMFailed:
						ev.Type = api.EventPathUp
					}
					p.CheckerState, p.DMState = checker, dm
					return nil
				}
			}
		}
		return api.Errorf(api.CodeNotFound, "no path %q", dev)
	})
	if err == nil {
		f.Hub.Publish(ev)
	}
	return err
}

// Status implements api.Service.
func (f *Fake) Status() api.Status {
	s := api.Status{Version: "test", PID: 4242, Started: f.started, UptimeSec: 3600,
		ConfigFile: "/etc/mpathd/mpathd.toml", State: "running", DBus: "disabled",
		EventSubscribers: f.Hub.Subscribers()}
	s.CountStates(f.Topology())
	return s
}

// Stats implements api.Service with figures derived from the topology, so
// they are stable for golden tests.
func (f *Fake) Stats() api.Stats {
	t := f.Topology()
	st := api.Stats{Time: f.started.Add(time.Hour), WindowSec: 1}
	for mi, m := range t.Maps {
		ms := api.MapStats{Name: m.Name}
		for _, g := range m.Groups {
			for pi, p := range g.Paths {
				ps := api.PathStats{Dev: p.Dev, Map: m.Name, Group: g.Index, DMState: p.DMState,
					CheckerState: p.CheckerState, Weight: p.Weight}
				if g.State == api.GroupActive && p.DMState == api.DMActive {
					ps.IOStats = api.IOStats{IOPS: float64(1000 * (mi + 1) * (pi + 1)),
						ReadBytesSec: float64(4 << 20 * (mi + 1)), WriteBytesSec: float64(1 << 20 * (pi + 1)),
						AvgReqBytes: 8192, InFlight: pi + 2, ServiceTimeMs: 0.25 * float64(pi+1),
						Utilisation: 0.1 * float64(pi+1)}
				}
				ms.IOPS += ps.IOPS
				ms.ReadBytesSec += ps.ReadBytesSec
				ms.WriteBytesSec += ps.WriteBytesSec
				ms.InFlight += ps.InFlight
				ms.ServiceTimeMs = max(ms.ServiceTimeMs, ps.ServiceTimeMs)
				ms.Utilisation = max(ms.Utilisation, ps.Utilisation)
				st.Paths = append(st.Paths, ps)
			}
		}
		if ms.IOPS > 0 {
			ms.AvgReqBytes = 8192
		}
		st.Maps = append(st.Maps, ms)
	}
	return st
}

// EffectiveConfig implements api.Service.
func (f *Fake) EffectiveConfig() (string, error) {
	return "[defaults]\npolling_interval = 5\nfind_multipaths = \"on\"\n", nil
}

// Explain implements api.Service.
func (f *Fake) Explain(target string) (api.Explanation, error) {
	t := f.Topology()
	e := api.Explanation{Target: target}
	m, ok := t.Find(target)
	if !ok {
		for _, p := range t.Paths() {
			if p.Dev == target {
				m, _ = t.Find(p.Map)
				e.Path, ok = p.Dev, true
				break
			}
		}
	}
	if !ok {
		return e, api.Errorf(api.CodeNotFound, "no map or path %q", target)
	}
	e.Map, e.WWID = m.Name, m.WWID
	e.Settings = []api.Setting{
		{Key: "path_selector", Value: "service-time 0", Origin: "built-in"},
		{Key: "path_grouping_policy", Value: "group_by_prio", Origin: "devices[vendor=NETAPP,product=LUN] (built-in)"},
		{Key: "no_path_retry", Value: "12", Origin: "defaults"},
		{Key: "alias", Value: m.Name, Origin: "multipaths[wwid=" + m.WWID + "]"},
	}
	return e, nil
}

// CheckConfig implements api.Service.
func (f *Fake) CheckConfig(path string) error { return f.record("CheckConfig", path) }

// FailPath implements api.Service: it fails the path and emits path_down.
func (f *Fake) FailPath(ctx context.Context, dev string) error {
	if err := f.record("FailPath", dev); err != nil {
		return err
	}
	return f.SetPathState(dev, api.CheckerDown, api.DMFailed, "failed by administrator")
}

// ReinstatePath implements api.Service.
func (f *Fake) ReinstatePath(ctx context.Context, dev string) error {
	if err := f.record("ReinstatePath", dev); err != nil {
		return err
	}
	return f.SetPathState(dev, api.CheckerUp, api.DMActive, "reinstated by administrator")
}

// SwitchGroup implements api.Service.
func (f *Fake) SwitchGroup(ctx context.Context, mapName string, group int) error {
	if err := f.record("SwitchGroup", mapName, group); err != nil {
		return err
	}
	var ev api.Event
	err := f.mutate(func(t *api.Topology, own func(int)) error {
		for i := range t.Maps {
			if t.Maps[i].Name != mapName {
				continue
			}
			own(i)
			m := &t.Maps[i]
			if group < 1 || group > len(m.Groups) {
				return api.Errorf(api.CodeInvalid, "map %s has no group %d (it has %d)", mapName, group, len(m.Groups))
			}
			old := 0
			for j := range m.Groups {
				if m.Groups[j].State == api.GroupActive {
					old = j + 1
					m.Groups[j].State = api.GroupEnabled
				}
			}
			m.Groups[group-1].State = api.GroupActive
			m.GroupSwitches++
			ev = api.Event{Time: time.Now(), Type: api.EventGroupSwitch, Map: mapName,
				Old: fmt.Sprint(old), New: fmt.Sprint(group), Reason: "switched by administrator"}
			return nil
		}
		return api.Errorf(api.CodeNotFound, "no map %q", mapName)
	})
	if err == nil {
		f.Hub.Publish(ev)
	}
	return err
}

// Reconfigure implements api.Service.
func (f *Fake) Reconfigure(ctx context.Context) error { return f.record("Reconfigure") }

// ResizeMap implements api.Service.
func (f *Fake) ResizeMap(ctx context.Context, m string) error { return f.record("ResizeMap", m) }

// FlushMap implements api.Service.
func (f *Fake) FlushMap(ctx context.Context, m string) error { return f.record("FlushMap", m) }

// AddPath implements api.Service.
func (f *Fake) AddPath(ctx context.Context, dev string) error { return f.record("AddPath", dev) }

// DelPath implements api.Service.
func (f *Fake) DelPath(ctx context.Context, dev string) error { return f.record("DelPath", dev) }

// Rescan implements api.Service.
func (f *Fake) Rescan(ctx context.Context, host int) error { return f.record("Rescan", host) }

// AddMap implements api.Service.
func (f *Fake) AddMap(ctx context.Context, target string) error { return f.record("AddMap", target) }

// SuspendMap implements api.Service.
func (f *Fake) SuspendMap(ctx context.Context, m string) error { return f.record("SuspendMap", m) }

// ResumeMap implements api.Service.
func (f *Fake) ResumeMap(ctx context.Context, m string) error { return f.record("ResumeMap", m) }

// ReloadMap implements api.Service.
func (f *Fake) ReloadMap(ctx context.Context, m string) error { return f.record("ReloadMap", m) }

// SetQueueing implements api.Service.
func (f *Fake) SetQueueing(ctx context.Context, m string, on bool) error {
	return f.record("SetQueueing", m, on)
}

// ForceQueueWithoutDaemon implements api.Service.
func (f *Fake) ForceQueueWithoutDaemon(ctx context.Context, force bool) error {
	return f.record("ForceQueueWithoutDaemon", force)
}

// ResetStats implements api.Service.
func (f *Fake) ResetStats(ctx context.Context, m string) error { return f.record("ResetStats", m) }

// Reservation implements api.Service: the map's Reservation in the
// topology, or none (status and hold unset).
func (f *Fake) Reservation(mapName string) (api.Reservation, error) {
	m, ok := f.Topology().Find(mapName)
	if !ok {
		return api.Reservation{}, api.Errorf(api.CodeNotFound, "no map %q", mapName)
	}
	if m.Reservation != nil {
		return *m.Reservation, nil
	}
	return api.NoReservation(m.Name), nil
}

// SetPRStatus implements api.Service.
func (f *Fake) SetPRStatus(ctx context.Context, m string, set bool) error {
	return f.record("SetPRStatus", m, set)
}

// SetPRKey implements api.Service.
func (f *Fake) SetPRKey(ctx context.Context, m, key string) error {
	return f.record("SetPRKey", m, key)
}

// SetPRHold implements api.Service.
func (f *Fake) SetPRHold(ctx context.Context, m string, set bool) error {
	return f.record("SetPRHold", m, set)
}

// Subscribe implements api.Service.
func (f *Fake) Subscribe(ctx context.Context) <-chan api.Event { return f.Hub.Subscribe(ctx) }

var _ api.Service = (*Fake)(nil)
