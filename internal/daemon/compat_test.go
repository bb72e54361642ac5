package daemon

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
)

func TestAddMapIgnoresFindMultipaths(t *testing.T) {
	r := newRig(t, san(1, 2), "", nil) // single paths: find_multipaths on builds nothing
	if n := len(r.d.Topology().Maps); n != 0 {
		t.Fatalf("maps before add map: %d", n)
	}
	if err := r.d.AddMap(t.Context(), lun0); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if _, ok := r.d.Topology().Find(lun0); !ok {
		t.Fatalf("add map %s: no map; topology %+v", lun0, r.d.Topology())
	}
	if err := r.d.AddMap(t.Context(), lun0); err != nil {
		t.Errorf("add map of an existing map: %v", err)
	}
	if err := r.d.AddMap(t.Context(), "3600nosuchwwid"); err == nil {
		t.Error("add map of an unknown WWID succeeded")
	}
}

func TestSuspendResumeReload(t *testing.T) {
	r := newRig(t, san(2, 1), "", nil)
	ctx := t.Context()
	if err := r.d.SuspendMap(ctx, lun0); err != nil {
		t.Fatal(err)
	}
	if info, _ := r.dm.Info(lun0); !info.Suspended {
		t.Errorf("after suspend: %+v", info)
	}
	if err := r.d.ResumeMap(ctx, lun0); err != nil {
		t.Fatal(err)
	}
	if info, _ := r.dm.Info(lun0); info.Suspended {
		t.Errorf("after resume: %+v", info)
	}
	loads := r.ops("DM_TABLE_LOAD", lun0)
	if err := r.d.ReloadMap(ctx, lun0); err != nil {
		t.Fatal(err)
	}
	if got := r.ops("DM_TABLE_LOAD", lun0); got != loads+1 {
		t.Errorf("table loads after reload map = %d, want %d", got, loads+1)
	}
	if err := r.d.SuspendMap(ctx, "nosuchmap"); err == nil {
		t.Error("suspend of an unknown map succeeded")
	}
}

func TestSetQueueingSurvivesReconcile(t *testing.T) {
	r := newRig(t, san(2, 1), "[defaults]\nno_path_retry = \"queue\"\n", nil)
	ctx := t.Context()
	if !r.queueing(lun0) {
		t.Fatal("queueing not on at start")
	}
	if err := r.d.SetQueueing(ctx, "", false); err != nil {
		t.Fatal(err)
	}
	// Both paths go and come back: reconcile runs, queueing must stay off.
	r.check("sda", checker.Down)
	r.check("sdb", checker.Down)
	r.settle()
	if r.queueing(lun0) {
		t.Error("queueing back on after disablequeueing and a reconcile")
	}
	if err := r.d.SetQueueing(ctx, lun0, true); err != nil {
		t.Fatal(err)
	}
	if !r.queueing(lun0) {
		t.Error("queueing not restored")
	}
}

func TestForceQueueWithoutDaemonAndResetStats(t *testing.T) {
	r := newRig(t, san(2, 1), "", nil)
	ctx := t.Context()
	if err := r.d.ForceQueueWithoutDaemon(ctx, true); err != nil {
		t.Fatal(err)
	}
	if !r.d.cfg().Global().QueueWithoutDaemon {
		t.Error("queue_without_daemon not forced")
	}
	if err := r.d.ForceQueueWithoutDaemon(ctx, false); err != nil {
		t.Fatal(err)
	}
	if r.d.cfg().Global().QueueWithoutDaemon {
		t.Error("queue_without_daemon not restored")
	}

	if m, _ := r.d.Topology().Find(lun0); m.TableLoads == 0 {
		t.Fatalf("no table loads counted before reset: %+v", m)
	}
	if err := r.d.ResetStats(ctx, ""); err != nil {
		t.Fatal(err)
	}
	m, _ := r.d.Topology().Find(lun0)
	if got := []uint64{m.PathFaults, m.GroupSwitches, m.TableLoads}; !slices.Equal(got, []uint64{0, 0, 0}) {
		t.Errorf("counters after reset = %v", got)
	}
}

func (r *rig) queueing(name string) bool {
	r.t.Helper()
	tb, _, err := r.dm.Table(name)
	if err != nil {
		r.t.Fatal(err)
	}
	return tb.Features.QueueIfNoPath
}

// Status counts from the shards' own counts what a count over the topology finds, and the
// topology generation moves with every change a reader could see, and not without one.
func TestStatusCountsAndGeneration(t *testing.T) {
	r := newRig(t, san(2, 6), "", nil)
	r.settle()
	want := func() api.Status {
		var s api.Status
		s.CountStates(r.d.Topology())
		return s
	}
	same := func(when string) {
		t.Helper()
		got, w := r.d.Status(), want()
		if got.Maps != w.Maps || got.Paths != w.Paths || !maps.Equal(got.CheckerStates, w.CheckerStates) ||
			!maps.Equal(got.MapStates, w.MapStates) {
			t.Errorf("%s: status counts %d maps %d paths %v %v; the topology's %d maps %d paths %v %v", when,
				got.Maps, got.Paths, got.CheckerStates, got.MapStates, w.Maps, w.Paths, w.CheckerStates, w.MapStates)
		}
	}
	same("at start")
	if n := r.d.Status().Paths; n != 12 {
		t.Fatalf("paths = %d, want 12", n)
	}
	g0 := r.d.TopologyGeneration()
	r.check("sda", checker.Up) // no change
	r.settle()
	if g := r.d.TopologyGeneration(); g != g0 {
		t.Errorf("generation moved from %d to %d with nothing changed", g0, g)
	}
	r.check("sda", checker.Down)
	r.check("sdb", checker.Down)
	r.settle()
	if g := r.d.TopologyGeneration(); g == g0 {
		t.Errorf("generation %d did not move when paths failed", g)
	}
	same("two paths down")
	if st := r.d.Status(); st.CheckerStates[api.CheckerDown] != 2 || st.MapStates[api.MapDegraded] != 2 {
		t.Errorf("two paths down in two maps: %v %v", st.CheckerStates, st.MapStates)
	}
	names := make([]string, 0, 6)
	for _, m := range r.d.Topology().Maps {
		names = append(names, m.Name)
	}
	if !slices.IsSorted(names) || len(names) != 6 {
		t.Errorf("topology maps %v: want 6, sorted by name", names)
	}
}

// A path's ALUA target port group is in the snapshot, for multipathd's %A.
func TestSnapshotTPG(t *testing.T) {
	r := newRig(t, san(2, 1), "", nil)
	r.settle()
	got := map[string]uint16{}
	for _, p := range r.d.Topology().Paths() {
		if !p.Path.HasTPG {
			t.Errorf("%s: no TPG", p.Path.Dev)
		}
		got[p.Path.Dev] = p.Path.TPG
	}
	if got["sda"] != 0x100 || got["sdb"] != 0x200 {
		t.Errorf("TPGs %v, want sda 0x100, sdb 0x200", got)
	}
}

// The last action on a map (multipathd's %A and JSON action): create, then reload and switchpg as
// they happen; orphans are counted in show status.
func TestLastActionAndOrphanCount(t *testing.T) {
	r := newRig(t, san(3, 1), "", nil)
	r.settle()
	last := func() string {
		t.Helper()
		ms := r.d.Topology().Maps
		if len(ms) != 1 {
			t.Fatalf("maps = %d, want 1", len(ms))
		}
		return ms[0].LastAction
	}
	name := r.d.Topology().Maps[0].Name
	if a := last(); a != "create" {
		t.Errorf("after start: action %q, want create", a)
	}
	if err := r.d.ReloadMap(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if a := last(); a != "reload" {
		t.Errorf("after reload map: action %q, want reload", a)
	}
	if err := r.d.SwitchGroup(t.Context(), name, 2); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if a := last(); a != "switchpg" {
		t.Errorf("after switch group: action %q, want switchpg", a)
	}
	if st := r.d.Status(); st.Orphans != 0 || st.Paths != 3 {
		t.Errorf("status: %d paths, %d orphans; want 3 and 0", st.Paths, st.Orphans)
	}
}

// Paths held back by find_multipaths are counted as orphans in show status.
func TestStatusCountsOrphans(t *testing.T) {
	r := newRig(t, san(1, 2), "", nil) // single paths: find_multipaths on holds both back
	r.settle()
	st := r.d.Status()
	if st.Maps != 0 || st.Paths != 0 || st.Orphans != 2 || st.OrphanCheckerStates[api.CheckerUnchecked] != 2 {
		t.Errorf("status: %d maps, %d paths, %d orphans %v; want 0, 0, 2 unchecked", st.Maps, st.Paths, st.Orphans,
			st.OrphanCheckerStates)
	}
}

// setmarginal path puts the path in a marginal group after the normal ones, in the snapshot and
// in the kernel's table; unsetmarginal (path or map) brings it back.
func TestSetMarginal(t *testing.T) {
	r := newRig(t, san(3, 1), "", nil)
	r.settle()
	name := r.d.Topology().Maps[0].Name
	// sda is on the optimized port (host 0): first in the table, 8:0 before sdb's 8:16.
	sdaFirst := func() bool { tab := r.table(name); return strings.Index(tab, " 8:0 ") < strings.Index(tab, " 8:16 ") }
	where := func() (group int, marginal bool) {
		for gi, g := range r.d.Topology().Maps[0].Groups {
			for _, p := range g.Paths {
				if p.Dev == "sda" {
					return gi, p.Marginal && g.Marginal
				}
			}
		}
		return -1, false
	}
	if !sdaFirst() {
		t.Fatalf("sda not first before setmarginal: %s", r.table(name))
	}
	for _, step := range []struct {
		what  string
		do    func() error
		first bool
	}{
		{"setmarginal path sda", func() error { return r.d.SetMarginal(t.Context(), "sda", true) }, false},
		{"unsetmarginal path sda", func() error { return r.d.SetMarginal(t.Context(), "/dev/sda", false) }, true},
		{"setmarginal path sda again", func() error { return r.d.SetMarginal(t.Context(), "sda", true) }, false},
		{"unsetmarginal map", func() error { return r.d.UnsetMarginalMap(t.Context(), name) }, true},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		r.settle()
		g, marginal := where()
		if sdaFirst() != step.first || marginal == step.first || (g == 0) != step.first {
			t.Errorf("after %s: sda in group %d, marginal %v; table %s", step.what, g, marginal, r.table(name))
		}
	}
	if err := r.d.SetMarginal(t.Context(), "sdz", true); !api.IsCode(err, api.CodeNotFound) {
		t.Errorf("setmarginal of an unknown path: %v", err)
	}
}
