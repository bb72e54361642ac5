package daemon

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/dm"
)

const lun0 = "333333330000007d0"

func TestAssembleGroupsByPrio(t *testing.T) {
	r := newRig(t, san(3, 4), "", nil)
	top := r.d.Topology()
	if len(top.Maps) != 4 {
		t.Fatalf("maps = %d, want 4", len(top.Maps))
	}
	want := "0 1 alua 3 1 service-time 0 1 2 8:0 1 1 service-time 0 1 2 8:64 1 1 service-time 0 1 2 8:128 1 1"
	if got := r.table(lun0); got != want {
		t.Errorf("table\n got %q\nwant %q", got, want)
	}
	m, _ := top.Find(lun0)
	if m.UUID != "mpath-"+lun0 || len(m.Groups) != 3 {
		t.Fatalf("map = %+v", m)
	}
	var prios []int
	for _, g := range m.Groups {
		prios = append(prios, g.Prio)
	}
	if !slices.Equal(prios, []int{50, 10, 1}) {
		t.Errorf("group prios = %v, want [50 10 1]", prios)
	}
	if g := m.Groups[2].Paths[0]; g.CheckerState != "ghost" || g.DMState != "active" {
		t.Errorf("standby path = %+v", g)
	}
	if n := r.ops("DM_DEV_CREATE", ""); n != 4 {
		t.Errorf("creates = %d, want 4", n)
	}
	if n := r.ops("DM_TABLE_LOAD", ""); n != 4 {
		t.Errorf("table loads = %d, want 4 (one per map)", n)
	}
}

func TestFindMultipathsOnSkipsSinglePaths(t *testing.T) {
	r := newRig(t, san(1, 2), "", nil)
	if n := len(r.d.Topology().Maps); n != 0 {
		t.Errorf("single-path LUNs multipathed: %d maps", n)
	}
	r2 := newRig(t, san(1, 2), "[defaults]\nfind_multipaths = \"greedy\"\n", nil)
	if n := len(r2.d.Topology().Maps); n != 2 {
		t.Errorf("greedy: %d maps, want 2", n)
	}
}

func TestPathDownUpAndImmediateFailback(t *testing.T) {
	r := newRig(t, san(2, 1), "[defaults]\nfailback = \"immediate\"\n", nil)
	// I/O starts on group 1 (optimized).
	if _, err := r.dm.Message(lun0, "switch_group 1"); err != nil {
		t.Fatal(err)
	}
	r.dm.ResetCalls()
	events := r.d.Subscribe(t.Context())

	r.check("sda", checker.Down)
	r.settle()
	if got := r.messages(lun0); !slices.Equal(got, []string{"fail_path 8:0"}) {
		t.Errorf("messages after path down = %q", got)
	}
	if ps, _, _ := r.pathStatus(lun0, "8:0"); !ps.Failed {
		t.Errorf("8:0 not failed: %+v", ps)
	}
	if ev := next(t, events); ev.Type != api.EventPathDown || ev.Path != "sda" {
		t.Errorf("event = %+v", ev)
	}

	r.dm.ResetCalls()
	r.check("sda", checker.Up)
	r.settle()
	got := r.messages(lun0)
	if len(got) == 0 || got[0] != "reinstate_path 8:0" {
		t.Errorf("messages after path up = %q", got)
	}
	if r.d.Topology().Maps[0].Groups[0].Paths[0].DMState != api.DMActive {
		t.Errorf("path not reinstated in the snapshot")
	}
	if n := r.ops("DM_TABLE_LOAD", ""); n != 0 {
		t.Errorf("a path state change reloaded the table %d times", n)
	}
}

func TestFailbackSwitchesToBetterGroup(t *testing.T) {
	for _, tt := range []struct {
		failback string
		want     bool
	}{{"immediate", true}, {"manual", false}, {"followover", true}} {
		t.Run(tt.failback, func(t *testing.T) {
			r := newRig(t, san(2, 1), "[defaults]\nfailback = \""+tt.failback+"\"\n", nil)
			// The optimized path dies; the kernel moves I/O to group 2.
			r.check("sda", checker.Down)
			r.settle()
			if _, err := r.dm.Message(lun0, "switch_group 2"); err != nil {
				t.Fatal(err)
			}
			r.d.MapChanged(lun0)
			r.settle()
			r.dm.ResetCalls()
			r.check("sda", checker.Up)
			r.settle()
			switched := slices.Contains(r.messages(lun0), "switch_group 1")
			if switched != tt.want {
				t.Errorf("failback %s: switched = %v, messages %q", tt.failback, switched, r.messages(lun0))
			}
		})
	}
}

func TestDeferredFailback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, san(2, 1), "[defaults]\nfailback = 3\npolling_interval = 1\n", nil)
		r.check("sda", checker.Down)
		r.settle()
		r.dm.Message(lun0, "switch_group 2")
		r.d.MapChanged(lun0)
		r.settle()
		r.dm.ResetCalls()
		r.check("sda", checker.Up)
		r.settle()
		for tick := 1; tick <= 3; tick++ {
			if slices.Contains(r.messages(lun0), "switch_group 1") {
				t.Fatalf("switched back after %d ticks, want 3", tick-1)
			}
			r.d.Tick()
			r.settle()
		}
		if !slices.Contains(r.messages(lun0), "switch_group 1") {
			t.Errorf("no failback after 3 ticks: %q", r.messages(lun0))
		}
	})
}

func TestNoPathRetryCountdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, san(2, 1), "[defaults]\nno_path_retry = 2\npolling_interval = 1\n", nil)
		if !strings.Contains(r.table(lun0), "queue_if_no_path") {
			t.Fatalf("no_path_retry 2 map does not queue: %s", r.table(lun0))
		}
		time.Sleep(500 * time.Millisecond) // the last path goes between two ticks
		r.dm.ResetCalls()
		r.check("sda", checker.Down)
		r.check("sdb", checker.Down)
		r.settle()
		m, _ := r.d.Topology().Find(lun0)
		if m.Queueing.Mode != api.QueueingRetries || m.Queueing.RetriesLeft != 2 || !m.Queueing.Active {
			t.Errorf("queueing = %+v", m.Queueing)
		}
		// Two intervals of queueing are promised: nothing fails at the ticks 0.5 s and 1.5 s later.
		time.Sleep(1900 * time.Millisecond)
		r.settle()
		if slices.Contains(r.messages(lun0), "fail_if_no_path") {
			t.Fatalf("queueing stopped before 2 polling intervals")
		}
		time.Sleep(time.Second) // the tick 2.5 s after the last path went
		r.settle()
		if !slices.Contains(r.messages(lun0), "fail_if_no_path") {
			t.Fatalf("queueing not stopped after 2 intervals: %q", r.messages(lun0))
		}
		if strings.Contains(r.table(lun0), "queue_if_no_path") {
			t.Errorf("kernel still queues")
		}
		// A path coming back restores queueing, by message, without a reload.
		r.dm.ResetCalls()
		r.check("sdb", checker.Up)
		r.settle()
		if !slices.Contains(r.messages(lun0), "queue_if_no_path") {
			t.Errorf("queueing not restored: %q", r.messages(lun0))
		}
		if n := r.ops("DM_TABLE_LOAD", ""); n != 0 {
			t.Errorf("queueing changes reloaded the table %d times", n)
		}
	})
}

func TestNoPathRetryQueueAndFail(t *testing.T) {
	r := newRig(t, san(2, 1), "[defaults]\nno_path_retry = \"queue\"\n", nil)
	r.check("sda", checker.Down)
	r.check("sdb", checker.Down)
	r.settle()
	for range 5 {
		r.d.Tick()
	}
	r.settle()
	if !strings.Contains(r.table(lun0), "queue_if_no_path") {
		t.Errorf("no_path_retry queue stopped queueing")
	}
	r2 := newRig(t, san(2, 1), "", nil)
	if strings.Contains(r2.table(lun0), "queue_if_no_path") {
		t.Errorf("built-in no_path_retry fail queues: %s", r2.table(lun0))
	}
}

func TestKernelFailedPathIsRecheckedNotReinstated(t *testing.T) {
	r := newRig(t, san(2, 1), "", nil)
	r.mon.takeNow()
	r.dm.ResetCalls()
	if err := r.dm.KernelFailPath(lun0, "8:0"); err != nil {
		t.Fatal(err)
	}
	r.d.MapChanged(lun0)
	r.settle()
	now := r.mon.takeNow()
	slices.Sort(now)
	if !slices.Equal(now, []string{"sda", "sdb"}) {
		t.Errorf("re-checked %v, want the failed path and its sibling", now)
	}
	if slices.Contains(r.messages(lun0), "reinstate_path 8:0") {
		t.Errorf("reinstated on a stale check result")
	}
	m, _ := r.d.Topology().Find(lun0)
	if m.Groups[0].Paths[0].DMState != api.DMFailed {
		t.Errorf("snapshot does not show the kernel's failure: %+v", m.Groups[0].Paths[0])
	}
	// The fresh check decides.
	r.check("sda", checker.Up)
	r.settle()
	if !slices.Contains(r.messages(lun0), "reinstate_path 8:0") {
		t.Errorf("not reinstated after a fresh check: %q", r.messages(lun0))
	}
}

func TestAdoptWithoutReload(t *testing.T) {
	// A map made earlier (by an initramfs, multipathd or an earlier mpathd) with the same layout.
	live := "0 1 alua 2 2 service-time 0 1 2 8:0 1 1 service-time 0 1 2 8:16 1 1"
	prep := liveMap(t, "mpatha", live)
	r := newRig(t, san(2, 1), "", prep)
	for _, op := range []string{"DM_DEV_CREATE", "DM_TABLE_LOAD", "DM_DEV_SUSPEND"} {
		if n := r.ops(op, ""); n != 0 {
			t.Errorf("adoption issued %d %s", n, op)
		}
	}
	m, ok := r.d.Topology().Find(lun0)
	if !ok || m.Name != "mpatha" {
		t.Errorf("adopted map = %+v", m)
	}
}

func TestAdoptReloadsWrongLayout(t *testing.T) {
	prep := liveMap(t, lun0, "0 0 1 1 round-robin 0 2 1 8:0 1 8:16 1")
	r := newRig(t, san(2, 1), "", prep)
	if n := r.ops("DM_TABLE_LOAD", lun0); n != 1 {
		t.Errorf("table loads = %d, want 1", n)
	}
	if got := r.table(lun0); !strings.Contains(got, "service-time") {
		t.Errorf("not reloaded to the desired layout: %s", got)
	}
}

func TestPathRemovedAndBatchAdded(t *testing.T) {
	topo := san(3, 2)
	r := newRig(t, topo, "", nil)
	r.dm.ResetCalls()
	// sde is host 2, LUN 0 (n = 4).
	topo.del("sde")
	r.d.PathsRemoved([]string{"sde"})
	r.settle()
	if n := r.ops("DM_TABLE_LOAD", lun0); n != 1 {
		t.Errorf("path removal: %d loads, want 1", n)
	}
	if strings.Contains(r.table(lun0), "8:64") {
		t.Errorf("removed path still in the table")
	}
	// A new host brings one path to each LUN in one burst: one reload per map.
	r.dm.ResetCalls()
	var names []string
	for i, l := range []int{0, 1} {
		p, _ := topo.Path("sda")
		p.Name = "sd" + string(rune('x'+i))
		p.Dev.Minor = uint32(200 + i)
		p.HCTL.Host = 5
		p.WWID = "333333330000007d" + string(rune('0'+l))
		topo.set(p)
		names = append(names, p.Name)
	}
	r.d.PathsAdded(names)
	r.settle()
	for _, w := range []string{lun0, "333333330000007d1"} {
		if n := r.ops("DM_TABLE_LOAD", w); n != 1 {
			t.Errorf("%s: %d loads for a burst, want 1", w, n)
		}
	}
}

func TestLastPathRemovedFlushes(t *testing.T) {
	topo := san(2, 1)
	r := newRig(t, topo, "", nil)
	topo.del("sda")
	topo.del("sdb")
	r.d.PathsRemoved([]string{"sda", "sdb"})
	r.settle()
	if _, err := r.dm.Info(lun0); !dm.IsNotExist(err) {
		t.Errorf("map kept after its last path: %v", err)
	}
	if len(r.d.Topology().Maps) != 0 {
		t.Errorf("snapshot still has the map")
	}
}

// flush_on_last_del unused keeps an open map: mpathd must not even try to remove it (the kernel
// would refuse, but a deferred or forced remove would not), and removes it once it is closed.
func TestLastPathRemovedKeepsOpenMap(t *testing.T) {
	topo := san(2, 1)
	r := newRig(t, topo, "", nil)
	r.dm.SetOpenCount(lun0, 1)
	r.dm.ResetCalls()
	topo.del("sda")
	topo.del("sdb")
	r.d.PathsRemoved([]string{"sda", "sdb"})
	r.settle()
	if n := r.ops("DM_DEV_REMOVE", lun0); n != 0 {
		t.Errorf("open map: %d remove attempts, want none (flush_on_last_del unused)", n)
	}
	if _, ok := r.d.Topology().Find(lun0); !ok {
		t.Errorf("open map dropped from the snapshot")
	}
	r.dm.SetOpenCount(lun0, 0)
	r.d.Tick()
	r.settle()
	if _, err := r.dm.Info(lun0); !dm.IsNotExist(err) {
		t.Errorf("closed map kept after its last path: %v", err)
	}
}

func TestReconfigureReloadsOnlyChangedMaps(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/mpathd.toml"
	writeFile(t, file, "")
	r := newRig(t, san(2, 2), "", nil)
	r.d.o.ConfigPath = file
	r.dm.ResetCalls()
	writeFile(t, file, "[[multipaths]]\nwwid = \"333333330000007d1\"\npath_selector = \"round-robin 0\"\n")
	if err := r.d.Reconfigure(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if n := r.ops("DM_TABLE_LOAD", "333333330000007d1"); n != 1 {
		t.Errorf("changed map: %d loads, want 1", n)
	}
	if n := r.ops("DM_TABLE_LOAD", lun0); n != 0 {
		t.Errorf("unchanged map reloaded %d times", n)
	}
	// A broken file keeps the running configuration.
	writeFile(t, file, "[defaults]\nno_such_key = 1\n")
	err := r.d.Reconfigure(context.Background())
	if !api.IsCode(err, api.CodeInvalid) || !strings.Contains(err.Error(), "no_such_key") {
		t.Errorf("broken config: %v", err)
	}
	if !strings.Contains(r.table("333333330000007d1"), "round-robin") {
		t.Errorf("running config lost")
	}
}

func TestShutdownDisablesQueueing(t *testing.T) {
	r := newRig(t, san(2, 1), "[defaults]\nno_path_retry = \"queue\"\n", nil)
	r.stop()
	if strings.Contains(r.table(lun0), "queue_if_no_path") {
		t.Errorf("queueing left on at shutdown")
	}
	if _, err := r.dm.Info(lun0); err != nil {
		t.Errorf("map removed at shutdown: %v", err)
	}
	r2 := newRig(t, san(2, 1), "[defaults]\nno_path_retry = \"queue\"\nqueue_without_daemon = true\n", nil)
	r2.stop()
	if !strings.Contains(r2.table(lun0), "queue_if_no_path") {
		t.Errorf("queue_without_daemon ignored")
	}
}

func TestActions(t *testing.T) {
	r := newRig(t, san(2, 1), "", nil)
	ctx := context.Background()
	if err := r.d.FailPath(ctx, "/dev/sda"); err != nil {
		t.Fatal(err)
	}
	if ps, _, _ := r.pathStatus(lun0, "8:0"); !ps.Failed {
		t.Errorf("fail path did not fail it")
	}
	r.settle()
	if ps, _, _ := r.pathStatus(lun0, "8:0"); !ps.Failed {
		t.Errorf("failed path reinstated before a new check")
	}
	if err := r.d.ReinstatePath(ctx, "sda"); err != nil {
		t.Fatal(err)
	}
	if ps, _, _ := r.pathStatus(lun0, "8:0"); ps.Failed {
		t.Errorf("reinstate path did not reinstate")
	}
	if err := r.d.SwitchGroup(ctx, lun0, 2); err != nil {
		t.Fatal(err)
	}
	if err := r.d.SwitchGroup(ctx, lun0, 7); !api.IsCode(err, api.CodeInvalid) {
		t.Errorf("switch to group 7: %v", err)
	}
	if err := r.d.FailPath(ctx, "sdz"); !api.IsCode(err, api.CodeNotFound) {
		t.Errorf("unknown path: %v", err)
	}
	ex, err := r.d.Explain("sda")
	if err != nil || ex.Map != lun0 || len(ex.Settings) == 0 {
		t.Errorf("explain = %+v, %v", ex, err)
	}
	if err := r.d.Rescan(ctx, -1); err != nil || len(r.topo.scans) != 2 {
		t.Errorf("rescan: %v %v", err, r.topo.scans)
	}
	if err := r.d.DelPath(ctx, "sdb"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.table(lun0), "8:16") {
		t.Errorf("del path left it in the table")
	}
	if err := r.d.FlushMap(ctx, lun0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.dm.Info(lun0); !dm.IsNotExist(err) {
		t.Errorf("flush left the map")
	}
}

func next(t *testing.T, ch <-chan api.Event) api.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-t.Context().Done():
		t.Fatal("no event")
	}
	return api.Event{}
}

// fakeNames allocates mpatha, mpathb, ... in call order.
type fakeNames struct {
	mu    sync.Mutex
	bound map[string]string
}

func (f *fakeNames) Alias(wwid, prefix string, taken func(string) bool) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a, ok := f.bound[wwid]; ok {
		return a, nil
	}
	a := prefix + string(rune('a'+len(f.bound)))
	f.bound[wwid] = a
	return a, nil
}

func TestFriendlyNamesFollowSCSIOrder(t *testing.T) {
	for range 5 { // shards run in any order; names must not
		topo := san(2, 4)
		names := &fakeNames{bound: map[string]string{}}
		r := newRigWith(t, topo, "[defaults]\nuser_friendly_names = true\n", nil, func(o *Options) { o.Names = names })
		for l, want := range []string{"mpatha", "mpathb", "mpathc", "mpathd"} {
			wwid := "333333330000007d" + string(rune('0'+l))
			if m, ok := r.d.Topology().Find(wwid); !ok || m.Name != want {
				t.Fatalf("LUN %d named %q, want %s", l, m.Name, want)
			}
		}
	}
}

// A path that answers TEST UNIT READY but fails every I/O (an implicit-ALUA standby path, a broken
// link that still passes TUR) must not flap in and out of the map: each quick re-failure doubles
// the time it is held out.
func TestFlappingPathIsHeldOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, san(2, 1), "[defaults]\npolling_interval = 1\n", nil)
		reinstated := func() int {
			n := 0
			for _, m := range r.messages(lun0) {
				if m == "reinstate_path 8:0" {
					n++
				}
			}
			return n
		}
		flap := func() {
			r.dm.KernelFailPath(lun0, "8:0")
			r.d.MapChanged(lun0)
			r.settle()
			r.check("sda", checker.Up) // TUR still passes
			r.settle()
		}
		r.dm.ResetCalls()
		flap() // first failure: not a flap yet, reinstated at once
		if reinstated() != 1 {
			t.Fatalf("first failure: reinstated %d times", reinstated())
		}
		flap() // fails again right after: held out for 2 intervals
		if reinstated() != 1 {
			t.Fatalf("flapping path reinstated at once: %q", r.messages(lun0))
		}
		time.Sleep(3 * time.Second) // ticks pass the hold
		r.settle()
		if reinstated() != 2 {
			t.Fatalf("held path not reinstated after its hold: %q", r.messages(lun0))
		}
		flap() // again: hold doubles to 4 intervals
		time.Sleep(3 * time.Second)
		r.settle()
		if reinstated() != 2 {
			t.Fatalf("second hold shorter than doubled: %q", r.messages(lun0))
		}
		time.Sleep(2 * time.Second)
		r.settle()
		if reinstated() != 3 {
			t.Fatalf("not reinstated after the doubled hold: %q", r.messages(lun0))
		}
	})
}

// A path deleted during discovery (sysfs reports an error beside the readable paths) must not stop
// the daemon from multipathing the rest.
func TestAssembleSurvivesTornTopology(t *testing.T) {
	topo := san(2, 2)
	topo.torn = "sdz"
	r := newRig(t, topo, "", nil)
	if n := len(r.d.Topology().Maps); n != 2 {
		t.Errorf("maps = %d, want 2 despite one unreadable path", n)
	}
}

// A reload for a new group order (here: the path in use falls to non-optimized, then the standby
// one rises to optimized) must not move I/O by itself unless failback allows it now: the table's
// initial group is then the one the kernel uses, its path still working, and syncGroups decides as
// it would without the reload. With failback immediate the better group takes the I/O at once.
func TestReorderKeepsGroupInUseUnlessFailbackImmediate(t *testing.T) {
	for _, tt := range []struct {
		failback string
		want     string // the path the I/O is on after the reorder
	}{{`"manual"`, "8:0"}, {`"followover"`, "8:0"}, {"3", "8:0"}, {`"immediate"`, "8:16"}} {
		t.Run(tt.failback, func(t *testing.T) {
			topo := san(2, 1)
			p, _ := topo.Path("sdb")
			p.AccessState = "standby"
			topo.set(p)
			r := newRig(t, topo, "[defaults]\nfailback = "+tt.failback+"\n", nil)
			r.submit(lun0, 1)
			if got := activePaths(r); got != "8:0" {
				t.Fatalf("I/O at the start on %q, want the optimized 8:0; table %s", got, r.table(lun0))
			}
			for _, c := range []struct{ dev, st string }{{"sda", "active/non-optimized"}, {"sdb", "active/optimized"}} {
				p, _ := r.topo.Path(c.dev)
				p.AccessState = c.st
				r.topo.set(p)
				r.check(c.dev, checker.Up)
				r.settle()
			}
			if tb := r.table(lun0); !strings.Contains(tb, "service-time 0 1 2 8:16 1 1 service-time 0 1 2 8:0 ") {
				t.Fatalf("table %s, want 8:16's group first", tb)
			}
			r.submit(lun0, 1)
			if got := activePaths(r); got != tt.want {
				t.Errorf("failback %s: I/O on %q after the reorder, want %s; messages %q", tt.failback, got, tt.want, r.messages(lun0))
			}
		})
	}
}

// activePaths lists the paths of lun0's group in use, from the kernel's status.
func activePaths(r *rig) string {
	r.t.Helper()
	st, err := r.dm.Status(lun0)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, g := range st.Groups {
		if g.State == dm.GroupActive {
			for _, p := range g.Paths {
				out = append(out, p.Dev)
			}
		}
	}
	return strings.Join(out, ",")
}
