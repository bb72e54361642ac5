package daemon

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/dm"
)

// The edges of failure handling: what happens to queued I/O and to path states when paths are
// removed, fail in the kernel, flap, are failed by the administrator, or when the daemon reloads,
// restarts or stops. Every test here but the last (a guard of the marginal-path design) failed
// before the fix it guards.

// failed reports whether the kernel has failed path devt of map name.
func (r *rig) failed(name, devt string) bool {
	r.t.Helper()
	ps, _, ok := r.pathStatus(name, devt)
	if !ok {
		r.t.Fatalf("%s: path %s not in the live table", name, devt)
	}
	return ps.Failed
}

// sent counts the messages msg sent to map name since the last ResetCalls.
func (r *rig) sent(name, msg string) int {
	n := 0
	for _, m := range r.messages(name) {
		if m == msg {
			n++
		}
	}
	return n
}

// snapPath returns a path as the topology snapshot shows it.
func (r *rig) snapPath(wwid, dev string) api.Path {
	r.t.Helper()
	m, ok := r.d.Topology().Find(wwid)
	if !ok {
		r.t.Fatalf("no map %s in the snapshot", wwid)
	}
	for _, g := range m.Groups {
		for _, p := range g.Paths {
			if p.Dev == dev {
				return p
			}
		}
	}
	r.t.Fatalf("map %s has no path %s in the snapshot", wwid, dev)
	return api.Path{}
}

// addPath brings a new path to LUN 0 (host 5), which reloads the map's table.
func (r *rig) addPath(name string, minor uint32) {
	p, _ := r.topo.Path("sda")
	p.Name, p.Dev.Minor, p.HCTL.Host = name, minor, 5
	r.topo.set(p)
	r.d.PathsAdded([]string{name})
	r.settle()
}

// removeAll removes paths from the system; restore brings them back.
func (r *rig) removeAll(names ...string) {
	for _, n := range names {
		if p, err := r.topo.Path(n); err == nil {
			r.gone[n] = p
		}
		r.topo.del(n)
	}
	r.d.PathsRemoved(names)
	r.settle()
}

func (r *rig) restore(names ...string) {
	for _, n := range names {
		r.topo.set(r.gone[n])
	}
	r.d.PathsAdded(names)
	r.settle()
}

// submit sends n requests to a map and fails the test if one fails at once.
func (r *rig) submit(name string, n int) {
	r.t.Helper()
	for range n {
		if err := r.dm.SubmitIO(name); err != nil {
			r.t.Fatalf("I/O on %s: %v", name, err)
		}
	}
}

// Scenario 1: with deferred_remove and the default flush_on_last_del (unused), an open map that
// queues is left alone when its last path is removed: no remove, not even deferred, and no
// queueing change, so the I/O it holds waits for a path.
func TestDeferredRemoveLeavesOpenQueueingMap(t *testing.T) {
	r := newRig(t, san(2, 1), "[defaults]\ndeferred_remove = true\nno_path_retry = \"queue\"\n", nil)
	r.dm.SetOpenCount(lun0, 1) // mounted
	r.check("sda", checker.Down)
	r.check("sdb", checker.Down)
	r.settle()
	r.submit(lun0, 3)
	r.dm.ResetCalls()
	r.removeAll("sda", "sdb")
	r.d.Tick()
	r.settle()
	if n := r.ops("DM_DEV_REMOVE", lun0); n != 0 {
		t.Errorf("open queueing map: %d removes, want none", n)
	}
	if n := r.sent(lun0, "fail_if_no_path"); n != 0 {
		t.Errorf("open queueing map: queueing switched off %d times", n)
	}
	if got, failed := r.dm.QueuedIO(lun0), r.dm.FailedIO(lun0); got != 3 || failed != 0 {
		t.Errorf("queued I/O: %d held, %d failed; want 3 held, 0 failed", got, failed)
	}
	if info, err := r.dm.Info(lun0); err != nil || info.DeferredRemove {
		t.Errorf("map after its last path: %+v, %v", info, err)
	}
	if _, ok := r.d.Topology().Find(lun0); !ok {
		t.Errorf("kept map dropped from the snapshot")
	}
}

// Scenario 2: a map kept after its last path was removed (open) still follows no_path_retry N:
// queueing stops after N intervals, and the map stays.
func TestNoPathRetryExpiresOnKeptMap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, san(2, 1), "[defaults]\nno_path_retry = 2\npolling_interval = 1\n", nil)
		r.dm.SetOpenCount(lun0, 1)
		time.Sleep(500 * time.Millisecond) // between two ticks
		r.dm.ResetCalls()
		// The devices go away: the kernel fails them under I/O, then they are removed.
		r.submit(lun0, 1)
		r.dm.KernelFailPath(lun0, "8:0")
		r.dm.KernelFailPath(lun0, "8:16")
		r.removeAll("sda", "sdb")
		if q := r.dm.QueuedIO(lun0); q != 1 {
			t.Fatalf("kept map holds %d requests, want 1 (does it queue?)", q)
		}
		time.Sleep(1900 * time.Millisecond)
		r.settle()
		if r.sent(lun0, "fail_if_no_path") != 0 || r.dm.FailedIO(lun0) != 0 {
			t.Fatalf("queueing stopped before 2 polling intervals")
		}
		time.Sleep(time.Second)
		r.settle()
		if r.sent(lun0, "fail_if_no_path") != 1 {
			t.Fatalf("no_path_retry 2 never expired on a kept map: %q", r.messages(lun0))
		}
		if n := r.dm.FailedIO(lun0); n != 1 {
			t.Errorf("failed I/O after expiry = %d, want the 1 held request", n)
		}
		if _, err := r.dm.Info(lun0); err != nil {
			t.Errorf("open map removed: %v", err)
		}
	})
}

// Scenario 3: only paths in use keep a map out of recovery mode. Paths the kernel failed (with no
// check since) and paths an administrator failed do not, although their checker last said up.
func TestNoPathRetryCountsOnlyPathsInUse(t *testing.T) {
	for _, tt := range []struct {
		name string
		lose func(r *rig)
	}{
		{"kernel-failed", func(r *rig) {
			// The kernel fails both paths under I/O; their fresh checks hang.
			r.dm.KernelFailPath(lun0, "8:0")
			r.dm.KernelFailPath(lun0, "8:16")
			r.d.MapChanged(lun0)
		}},
		{"admin-failed", func(r *rig) {
			if err := r.d.FailPath(context.Background(), "sda"); err != nil {
				r.t.Fatal(err)
			}
			r.check("sdb", checker.Down)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, san(2, 1), "[defaults]\nno_path_retry = 2\npolling_interval = 1\n", nil)
				r.submit(lun0, 1)
				time.Sleep(500 * time.Millisecond)
				r.dm.ResetCalls()
				tt.lose(r)
				r.settle()
				r.submit(lun0, 1)
				if m, _ := r.d.Topology().Find(lun0); m.Queueing.RetriesLeft != 2 {
					t.Errorf("recovery mode not entered: %+v", m.Queueing)
				}
				time.Sleep(3 * time.Second)
				r.settle()
				if r.sent(lun0, "fail_if_no_path") != 1 {
					t.Fatalf("no_path_retry never expired: %q", r.messages(lun0))
				}
			})
		})
	}
}

// Scenario 4: an administrator's fail stands until reinstate path, whatever the checks say, and
// the snapshot shows it.
func TestAdminFailedPathStaysFailed(t *testing.T) {
	r := newRig(t, san(2, 1), "", nil)
	ctx := context.Background()
	if err := r.d.FailPath(ctx, "sda"); err != nil {
		t.Fatal(err)
	}
	r.dm.ResetCalls()
	for range 3 {
		r.check("sda", checker.Up)
		r.d.Tick()
	}
	r.settle()
	if !r.failed(lun0, "8:0") || r.sent(lun0, "reinstate_path 8:0") != 0 {
		t.Fatalf("admin-failed path reinstated by a check: %q", r.messages(lun0))
	}
	if p := r.snapPath(lun0, "sda"); p.Held != api.HeldAdmin || p.DMState != api.DMFailed {
		t.Errorf("snapshot = held %q, dm %s; want %s, failed", p.Held, p.DMState, api.HeldAdmin)
	}
	if err := r.d.ReinstatePath(ctx, "sda"); err != nil {
		t.Fatal(err)
	}
	r.check("sda", checker.Up)
	r.settle()
	if r.failed(lun0, "8:0") {
		t.Errorf("reinstate path left it failed")
	}
	if p := r.snapPath(lun0, "sda"); p.Held != "" {
		t.Errorf("snapshot still holds it: %q", p.Held)
	}
}

// Scenario 11: failback followover fails back only when the first path of the best group returns:
// not beside a healthy sibling, not on a pending→up blip.
func TestFollowoverFailsBackOnFirstPathOfGroup(t *testing.T) {
	// group_by_prio over 4 hosts: [sda sdd] (optimized, 50), [sdb] (10), [sdc] (standby, 1).
	const cfg = "[defaults]\nfailback = \"followover\"\npath_grouping_policy = \"group_by_prio\"\n"
	onGroup2 := func(r *rig) {
		r.dm.Message(lun0, "switch_group 2")
		r.submit(lun0, 1)
		r.d.MapChanged(lun0)
		r.settle()
	}
	for _, tt := range []struct {
		name  string
		setup func(r *rig)
		back  func(r *rig)
		want  bool
	}{
		{"first path back", func(r *rig) {
			r.check("sda", checker.Down)
			r.check("sdd", checker.Down)
			r.settle()
			r.submit(lun0, 1) // the kernel moves I/O to group 2
			r.d.MapChanged(lun0)
			r.settle()
		}, func(r *rig) { r.check("sda", checker.Up) }, true},
		{"first path confirmed after a kernel failure", func(r *rig) {
			r.check("sdd", checker.Down)
			r.settle()
			r.submit(lun0, 1)
			r.dm.KernelFailPath(lun0, "8:0") // the kernel moves I/O to group 2
			r.d.MapChanged(lun0)
			r.settle()
		}, func(r *rig) { r.check("sda", checker.Up) }, true},
		{"beside a healthy sibling", func(r *rig) {
			r.check("sda", checker.Down)
			r.settle()
			onGroup2(r)
		}, func(r *rig) { r.check("sda", checker.Up) }, false},
		{"pending blip", func(r *rig) {
			r.check("sdd", checker.Down)
			r.settle()
			onGroup2(r)
		}, func(r *rig) {
			r.check("sda", checker.Pending)
			r.settle()
			r.check("sda", checker.Up)
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, san(4, 1), cfg, nil)
			if got := r.table(lun0); !strings.Contains(got, "8:0 1 1 8:48 1 1") {
				t.Fatalf("not grouped by prio: %s", got)
			}
			tt.setup(r)
			if st, _ := r.dm.Status(lun0); st.CurrentPG != 2 {
				t.Fatalf("I/O on group %d, want 2", st.CurrentPG)
			}
			r.dm.ResetCalls()
			tt.back(r)
			r.settle()
			if got := r.sent(lun0, "switch_group 1") > 0; got != tt.want {
				t.Errorf("failed back = %v, want %v: %q", got, tt.want, r.messages(lun0))
			}
		})
	}
}

// Scenario 12: paths returning to a map with a deferred remove pending cancel the removal, so the
// kernel does not delete a live map at its next close.
func TestDeferredRemoveCancelledWhenPathsReturn(t *testing.T) {
	r := newRig(t, san(2, 1), "[defaults]\ndeferred_remove = true\n", nil)
	r.dm.SetOpenCount(lun0, 1)
	r.removeAll("sda", "sdb")
	if info, err := r.dm.Info(lun0); err != nil || !info.DeferredRemove {
		t.Fatalf("no deferred remove pending: %+v, %v", info, err)
	}
	r.dm.ResetCalls()
	r.restore("sda", "sdb")
	if r.sent(lun0, "@cancel_deferred_remove") != 1 {
		t.Errorf("deferred remove not cancelled: %q", r.messages(lun0))
	}
	r.dm.SetOpenCount(lun0, 0)
	if _, err := r.dm.Info(lun0); err != nil {
		t.Fatalf("live map deleted at its close: %v", err)
	}
	r.submit(lun0, 1)
	if r.dm.ServedIO(lun0) != 1 {
		t.Errorf("I/O not served by the returned paths")
	}
}

// A deferred remove asked for by someone else while the map has its paths is theirs: mpathd's
// reconcile passes leave it pending.
func TestForeignDeferredRemoveLeftAlone(t *testing.T) {
	r := newRig(t, san(2, 1), "", nil)
	r.dm.SetOpenCount(lun0, 1)
	if _, err := r.dm.Remove(lun0, dm.RemoveOptions{Deferred: true}); err != nil {
		t.Fatal(err)
	}
	r.dm.ResetCalls()
	r.d.MapChanged(lun0)
	r.d.Tick()
	r.settle()
	if r.sent(lun0, "@cancel_deferred_remove") != 0 {
		t.Errorf("a foreign deferred remove was cancelled")
	}
	r.dm.SetOpenCount(lun0, 0)
	if _, err := r.dm.Info(lun0); !dm.IsNotExist(err) {
		t.Errorf("map still there after its last close: %v", err)
	}
}

// Scenario 13: a reload starts every path of the new table active; paths the kernel failed (not
// checked since), held-out paths and admin-failed paths are failed again at once.
func TestReloadKeepsFailedPathsFailed(t *testing.T) {
	for _, tt := range []struct {
		name string
		out  func(r *rig)
	}{
		{"kernel-failed", func(r *rig) {
			r.dm.KernelFailPath(lun0, "8:0")
			r.d.MapChanged(lun0)
		}},
		{"held", func(r *rig) {
			for range 2 { // the second quick failure holds it out
				r.dm.KernelFailPath(lun0, "8:0")
				r.d.MapChanged(lun0)
				r.settle()
				r.check("sda", checker.Up)
				r.settle()
			}
		}},
		{"admin-failed", func(r *rig) {
			if err := r.d.FailPath(context.Background(), "sda"); err != nil {
				r.t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, san(2, 1), "[defaults]\npolling_interval = 1\n", nil)
				tt.out(r)
				r.settle()
				if !r.failed(lun0, "8:0") {
					t.Fatalf("8:0 not failed before the reload")
				}
				r.dm.ResetCalls()
				r.addPath("sdx", 200)
				if n := r.ops("DM_TABLE_LOAD", lun0); n != 1 {
					t.Fatalf("reloads = %d, want 1", n)
				}
				if !r.failed(lun0, "8:0") {
					t.Errorf("the reload put 8:0 back in use: %q", r.messages(lun0))
				}
				if r.failed(lun0, "8:16") || r.failed(lun0, "8:200") {
					t.Errorf("healthy paths failed after the reload")
				}
			})
		})
	}
}

// Scenario 13: a restart while a path is down adopts the map without a reload; a fail_path message
// is all it takes when the kernel has not failed the path yet.
func TestRestartWithPathDownNeedsNoReload(t *testing.T) {
	live := "0 1 alua 2 2 service-time 0 1 2 8:0 1 1 service-time 0 1 2 8:16 1 1"
	for _, kernelFailed := range []bool{true, false} {
		t.Run(map[bool]string{true: "kernel failed it", false: "kernel has not failed it"}[kernelFailed], func(t *testing.T) {
			topo := san(2, 1)
			sda, _ := topo.Path("sda")
			sda.State = "offline"
			topo.set(sda)
			prep := func(f *dm.Fake) {
				liveMap(t, "mpatha", live)(f)
				if kernelFailed {
					f.KernelFailPath("mpatha", "8:0")
				}
				f.ResetCalls()
			}
			r := newRig(t, topo, "", prep)
			r.settle()
			for _, op := range []string{"DM_DEV_CREATE", "DM_TABLE_LOAD", "DM_DEV_SUSPEND"} {
				if n := r.ops(op, ""); n != 0 {
					t.Errorf("restart with a path down: %d %s", n, op)
				}
			}
			want := []string{"fail_path 8:0"}
			if kernelFailed {
				want = nil
			}
			if got := r.messages("mpatha"); !slices.Equal(got, want) {
				t.Errorf("messages = %q, want %q", got, want)
			}
			// The path returns: reinstated by message, still no reload.
			sda.State = "running"
			r.topo.set(sda)
			r.check("sda", checker.Up)
			r.settle()
			if r.failed("mpatha", "8:0") {
				t.Errorf("returned path not reinstated")
			}
			if n := r.ops("DM_TABLE_LOAD", ""); n != 0 {
				t.Errorf("the returning path cost %d reloads", n)
			}
		})
	}
}

// The live order kept for a path whose priority is unknown does not outlast a reconfigure: a new
// grouping policy is applied at once.
func TestReconfigureRegroupsAdoptedMapWithPathDown(t *testing.T) {
	topo := san(2, 1)
	sda, _ := topo.Path("sda")
	sda.State = "offline"
	topo.set(sda)
	r := newRig(t, topo, "", liveMap(t, "mpatha", "0 1 alua 2 2 service-time 0 1 2 8:0 1 1 service-time 0 1 2 8:16 1 1"))
	r.settle()
	if n := r.ops("DM_TABLE_LOAD", ""); n != 0 {
		t.Fatalf("adoption reloaded %d times", n)
	}
	file := t.TempDir() + "/mpathd.toml"
	writeFile(t, file, "[overrides]\ndetect_pgpolicy = false\npath_grouping_policy = \"multibus\"\n")
	r.d.o.ConfigPath = file
	if err := r.d.Reconfigure(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if got := r.table("mpatha"); !strings.Contains(got, " 1 1 service-time 0 2 2 ") {
		t.Errorf("multibus not applied: %s", got)
	}
	if !r.failed("mpatha", "8:0") {
		t.Errorf("the reload put the offline path back in use")
	}
}

// Scenario 15: a resync keeps paths it cannot read; only paths whose device is gone are removed,
// so a map whose last readable path went is not flushed.
func TestResyncKeepsUnreadablePaths(t *testing.T) {
	r := newRig(t, san(2, 2), "", nil) // LUN 0: sda (8:0), sdc (8:32)
	r.dm.ResetCalls()
	r.topo.mu.Lock()
	r.topo.unreadable["sda"] = true
	r.topo.mu.Unlock()
	if err := r.d.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if n := r.ops("DM_TABLE_LOAD", lun0) + r.ops("DM_DEV_REMOVE", lun0); n != 0 {
		t.Errorf("an unreadable path cost %d loads/removes", n)
	}
	// sdc is really gone; sda is still unreadable.
	r.topo.del("sdc")
	if err := r.d.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if _, err := r.dm.Info(lun0); err != nil {
		t.Fatalf("map flushed by a resync that could not read its last path: %v", err)
	}
	if got := r.table(lun0); strings.Contains(got, "8:32") || !strings.Contains(got, "8:0") {
		t.Errorf("table after the resync: %s; want 8:0 kept and 8:32 gone", got)
	}
	r.snapPath(lun0, "sda")
}

// Scenario 17: a pending result says nothing new: a path the kernel failed stays marked until a
// real result, so a reload meanwhile keeps it failed.
func TestPendingKeepsKernelFailedMark(t *testing.T) {
	r := newRig(t, san(2, 1), "", nil)
	r.dm.KernelFailPath(lun0, "8:0")
	r.d.MapChanged(lun0)
	r.settle()
	r.check("sda", checker.Pending)
	r.settle()
	r.addPath("sdx", 200)
	if !r.failed(lun0, "8:0") {
		t.Errorf("kernel-failed path back in use after a pending result and a reload")
	}
	if p := r.snapPath(lun0, "sda"); p.CheckerState != api.CheckerUp {
		t.Errorf("pending result changed the checker state to %s", p.CheckerState)
	}
}

// Scenario 17: an error exit leaves queueing as it is; only a clean stop follows
// queue_without_daemon.
func TestErrorExitKeepsQueueing(t *testing.T) {
	r := newRig(t, san(2, 1), "[defaults]\nno_path_retry = \"queue\"\n", nil)
	r.check("sda", checker.Down)
	r.check("sdb", checker.Down)
	r.settle()
	r.submit(lun0, 2)
	r.stopWith(errors.New("uevent listener: socket closed"))
	if !strings.Contains(r.table(lun0), "queue_if_no_path") {
		t.Errorf("error exit switched queueing off")
	}
	if q, f := r.dm.QueuedIO(lun0), r.dm.FailedIO(lun0); q != 2 || f != 0 {
		t.Errorf("after an error exit: %d held, %d failed; want 2, 0", q, f)
	}
}

// Hold-outs never cost a map its last path: when every other path is lost, the held path that
// passes its check is released at once, and I/O goes on.
func TestHeldPathReleasedWhenNoOtherPathInUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, san(2, 1), "[defaults]\npolling_interval = 1\nno_path_retry = 2\n", nil)
		for range 2 { // the second quick failure holds sda out
			r.dm.KernelFailPath(lun0, "8:0")
			r.d.MapChanged(lun0)
			r.settle()
			r.check("sda", checker.Up)
			r.settle()
		}
		if p := r.snapPath(lun0, "sda"); !r.failed(lun0, "8:0") || p.Held != api.HeldFlapping {
			t.Fatalf("sda not held out: %+v", p)
		}
		r.dm.ResetCalls()
		r.submit(lun0, 1)
		r.dm.KernelFailPath(lun0, "8:16") // sdb dies under I/O
		r.d.MapChanged(lun0)
		r.settle()
		if r.failed(lun0, "8:0") {
			t.Fatalf("held path not released when the map lost its other path: %q", r.messages(lun0))
		}
		r.check("sdb", checker.Down)
		r.settle()
		if m, _ := r.d.Topology().Find(lun0); m.Queueing.RetriesLeft != 0 {
			t.Errorf("recovery mode entered with a path in use: %+v", m.Queueing)
		}
		r.submit(lun0, 1)
		if q, f := r.dm.QueuedIO(lun0), r.dm.FailedIO(lun0); q != 0 || f != 0 {
			t.Errorf("I/O: %d held, %d failed; want all served", q, f)
		}
	})
}

// A hold is mpathd's own decision, so it must not fail I/O even in the moment between the kernel
// failing the last path in use and mpathd releasing the held one: while a path is held out, the
// map queues (here with no_path_retry fail), and stops queueing once the hold is over.
func TestHoldQueuesRatherThanFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, san(2, 1), "[defaults]\npolling_interval = 1\n", nil)
		for range 2 { // the second quick failure holds sda out
			r.dm.KernelFailPath(lun0, "8:0")
			r.d.MapChanged(lun0)
			r.settle()
			r.check("sda", checker.Up)
			r.settle()
		}
		if !strings.Contains(r.table(lun0), "queue_if_no_path") {
			t.Fatalf("no queueing while a path is held out: %s", r.table(lun0))
		}
		served := r.dm.ServedIO(lun0)
		r.submit(lun0, 1)
		r.dm.KernelFailPath(lun0, "8:16") // the request is retried: no path left in the kernel
		if q, f := r.dm.QueuedIO(lun0), r.dm.FailedIO(lun0); q != 1 || f != 0 {
			t.Fatalf("before the release: %d held, %d failed; want 1 held", q, f)
		}
		r.d.MapChanged(lun0)
		r.settle()
		if q, f, sv := r.dm.QueuedIO(lun0), r.dm.FailedIO(lun0), r.dm.ServedIO(lun0)-served; q != 0 || f != 0 || sv != 2 {
			// 2: the request, and the one the kernel retried after failing sdb
			t.Errorf("after the release: %d held, %d failed, %d served; want 0, 0, 2", q, f, sv)
		}
		if strings.Contains(r.table(lun0), "queue_if_no_path") {
			t.Errorf("queueing left on after the hold ended (no_path_retry fail)")
		}
	})
}

// An outage is not a flap: a path the kernel failed whose fresh check finds it down (offlined, a
// cable pulled) is reinstated as soon as it is back, however often that happens.
func TestOutageIsNotAFlap(t *testing.T) {
	r := newRig(t, san(2, 1), "", nil)
	r.dm.ResetCalls()
	for i := 1; i <= 3; i++ {
		r.submit(lun0, 1)
		r.dm.KernelFailPath(lun0, "8:0")
		r.d.MapChanged(lun0)
		r.settle()
		r.check("sda", checker.Down)
		r.settle()
		r.check("sda", checker.Up)
		r.settle()
		if n := r.sent(lun0, "reinstate_path 8:0"); n != i {
			t.Fatalf("outage %d: reinstated %d times, want %d (held as a flap?)", i, n, i)
		}
	}
}

// The flapping drill of the VM test bed on the fake kernel: two paths offlined in turn for 2 s every
// 8 s, eight times, under I/O, with no_path_retry fail: no request may fail.
func TestFlappingDrillLosesNoIO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, san(2, 1), "", nil)
		paths := [][2]string{{"sda", "8:0"}, {"sdb", "8:16"}}
		for i := range 8 {
			dev, devt := paths[i%2][0], paths[i%2][1]
			r.submit(lun0, 1)
			r.dm.KernelFailPath(lun0, devt) // offlined under I/O: the request is retried elsewhere
			r.d.MapChanged(lun0)
			r.settle()
			r.check(dev, checker.Down)
			r.settle()
			r.submit(lun0, 1)
			time.Sleep(2 * time.Second)
			r.settle()
			r.check(dev, checker.Up) // back online
			r.settle()
			r.submit(lun0, 1)
			time.Sleep(8 * time.Second)
			r.settle()
		}
		if f := r.dm.FailedIO(lun0); f != 0 {
			t.Errorf("%d requests failed during the drill", f)
		}
	})
}

// A marginal path is grouped apart, never failed: when every normal path dies it carries the I/O,
// and the map does not enter recovery mode.
func TestMarginalPathCarriesIOWhenNormalPathsDie(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeStats()
		r := newStatsRig(t, san(3, 1), multibusST+"no_path_retry = 2\nmarginal_detection = true\nmarginal_time = \"2s\"\n", src, nil)
		src.set("sda", 100, 20*time.Millisecond)
		src.set("sdb", 500, time.Millisecond)
		src.set("sdc", 500, time.Millisecond)
		pass(4)
		if m, _ := r.d.Topology().Find(lun0); len(m.Groups) != 2 || !m.Groups[1].Marginal {
			t.Fatalf("sda not marginal: %s", r.table(lun0))
		}
		r.submit(lun0, 1)
		for _, p := range [][2]string{{"sdb", "8:16"}, {"sdc", "8:32"}} {
			r.dm.KernelFailPath(lun0, p[1])
			r.check(p[0], checker.Down)
		}
		r.d.MapChanged(lun0)
		r.settle()
		r.submit(lun0, 1)
		if r.failed(lun0, "8:0") {
			t.Errorf("marginal path failed")
		}
		if m, _ := r.d.Topology().Find(lun0); m.Queueing.RetriesLeft != 0 {
			t.Errorf("recovery mode entered while the marginal path works: %+v", m.Queueing)
		}
		if q, f := r.dm.QueuedIO(lun0), r.dm.FailedIO(lun0); q != 0 || f != 0 {
			t.Errorf("I/O: %d held, %d failed; want all served by the marginal path", q, f)
		}
	})
}

// A map made by another daemon (multipathd, whose paths within a group follow its discovery order)
// is adopted as it is when it differs from mpathd's layout only in the order of the paths inside a
// group: the order within a group decides only where I/O starts, which is no reason for a reload
// on the day mpathd takes over.
func TestAdoptionKeepsPathOrderWithinGroup(t *testing.T) {
	cfg := "[overrides]\ndetect_pgpolicy = false\npath_grouping_policy = \"multibus\"\n"
	live := "0 1 alua 1 1 service-time 0 2 2 8:16 1 1 8:0 1 1"
	r := newRig(t, san(2, 1), cfg, liveMap(t, "mpatha", live))
	r.settle()
	if n := r.ops("DM_TABLE_LOAD", ""); n != 0 {
		tab, _, _ := r.dm.Table("mpatha")
		t.Errorf("adoption reloaded %d times; table now %s", n, tab)
	}
}
