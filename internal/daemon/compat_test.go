package daemon

import (
	"slices"
	"testing"

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
