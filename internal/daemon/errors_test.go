package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// These tests reach every place the core handles a failed device-mapper call, with the error
// injected into the fake kernel: the daemon must say what failed (map and operation), leave the map
// as the kernel has it, carry on with the other maps, and get it right at a later pass.

// errBase keeps the real ticker out of the way (the tests tick by hand) and the clock under the
// test's control.
const errBase = "[defaults]\npolling_interval = 3600\nmax_polling_interval = 3600\n"

// errClock is a clock the test moves.
type errClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *errClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *errClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuf collects the daemon's JSON log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// failed reports whether the daemon logged a failed map operation op on map.
func (l *logBuf) failed(mapName, op string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, `"message":"map operation failed"`) && strings.Contains(line, `"map":"`+mapName+`"`) &&
			strings.Contains(line, `"op":"`+op+`"`) {
			return true
		}
	}
	return false
}

type errRig struct {
	*rig
	clk  *errClock
	logs *logBuf
}

func newErrRig(t *testing.T, topo *fakeTopo, cfg string, prep func(*dm.Fake)) *errRig {
	t.Helper()
	clk := &errClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	logs := &logBuf{}
	r := newRigWith(t, topo, errBase+cfg, prep, func(o *Options) {
		o.Now = clk.now
		o.Log = zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), logs))
	})
	return &errRig{rig: r, clk: clk, logs: logs}
}

// tick runs one polling interval's pass and waits for it.
func (r *errRig) tick() {
	r.clk.advance(time.Hour)
	r.d.Tick()
	r.settle()
}

// pathFailed reports the kernel's A/F for a path of lun0.
func (r *errRig) pathFailed(devt string) bool {
	r.t.Helper()
	ps, _, ok := r.pathStatus(lun0, devt)
	if !ok {
		r.t.Fatalf("path %s not in %s's status", devt, lun0)
	}
	return ps.Failed
}

var errEIO = syscall.EIO

// A map the kernel refuses to create is left out, the others are made, and the creation is tried
// again after the back-off, whichever step of the creation failed. No half-made device is left.
func TestErrorCreateMap(t *testing.T) {
	for _, op := range []string{"DM_DEV_CREATE", "DM_TABLE_LOAD", "DM_DEV_SUSPEND"} {
		t.Run(op, func(t *testing.T) {
			r := newErrRig(t, san(2, 2), "", func(f *dm.Fake) { f.InjectError(op, lun0, errEIO) })
			if _, err := r.dm.Info(lun0); !dm.IsNotExist(err) {
				t.Fatalf("%s failed, yet the device exists (err %v): a half-made map was left behind", op, err)
			}
			if !r.logs.failed(lun0, "create") {
				t.Errorf("no error logged for the failed creation")
			}
			if _, err := r.dm.Info("333333330000007d1"); err != nil {
				t.Errorf("the other LUN's map was not made: %v", err)
			}
			r.tick()
			if got := r.table(lun0); strings.Count(got, " 8:") != 2 {
				t.Errorf("after the back-off the map was not created with its 2 paths: %q", got)
			}
		})
	}
}

// A reload the kernel refuses leaves the live table as it was; the next pass loads the new one.
func TestErrorReload(t *testing.T) {
	topo := san(3, 1)
	sdc, _ := topo.Path("sdc")
	topo.del("sdc")
	r := newErrRig(t, topo, "", nil)
	before := r.table(lun0)
	r.dm.InjectError("DM_TABLE_LOAD", lun0, errEIO)
	topo.set(sdc)
	r.d.PathsAdded([]string{"sdc"})
	r.settle()
	if got := r.table(lun0); got != before {
		t.Errorf("a refused reload changed the table:\n%s\n%s", before, got)
	}
	if !r.logs.failed(lun0, "reload") {
		t.Errorf("no error logged for the refused reload")
	}
	r.tick()
	if got := r.table(lun0); !strings.Contains(got, " "+sdc.Dev.String()+" ") {
		t.Errorf("the next pass did not load the new path %s: %q", sdc.Dev, got)
	}
}

// A table that cannot be read back after a dm event leaves the map managed as it was; the next pass
// reads it and learns what the event was about (here a path the kernel failed).
func TestErrorReadTable(t *testing.T) {
	r := newErrRig(t, san(2, 1), "", nil)
	sda, _ := r.topo.Path("sda")
	if err := r.dm.KernelFailPath(lun0, sda.Dev.String()); err != nil {
		t.Fatal(err)
	}
	r.dm.InjectError("DM_TABLE_STATUS", lun0, errEIO)
	r.d.MapChanged(lun0)
	r.settle()
	if !r.logs.failed(lun0, "read table") {
		t.Errorf("no error logged for the unreadable table")
	}
	if _, ok := r.d.Topology().Find(lun0); !ok {
		t.Fatalf("the map was dropped because its table could not be read")
	}
	r.tick()
	if !pathInTopology(r.d.Topology(), lun0, "sda", api.DMFailed) {
		t.Errorf("after the next pass the snapshot still does not show sda failed: %+v", r.d.Topology())
	}
}

func pathInTopology(top api.Topology, mapName, dev, dmState string) bool {
	m, ok := top.Find(mapName)
	if !ok {
		return false
	}
	for _, g := range m.Groups {
		for _, p := range g.Paths {
			if p.Dev == dev {
				return p.DMState == dmState
			}
		}
	}
	return false
}

// A dm event for a map whose Info fails for another reason than "no such device" does not make
// the daemon forget the map.
func TestErrorInfoAfterEventIsNotRemoval(t *testing.T) {
	r := newErrRig(t, san(2, 1), "", nil)
	r.dm.InjectError("DM_DEV_STATUS", lun0, errEIO)
	r.d.MapChanged(lun0)
	r.settle()
	if _, ok := r.d.Topology().Find(lun0); !ok {
		t.Errorf("a transient Info error was taken for the map's removal")
	}
	r.tick()
	if _, ok := r.d.Topology().Find(lun0); !ok {
		t.Errorf("the map is gone after the next pass")
	}
}

// fail_path and reinstate_path that the kernel refuses are logged and sent again at the next pass.
func TestErrorPathMessages(t *testing.T) {
	r := newErrRig(t, san(2, 1), "", nil)
	sda, _ := r.topo.Path("sda")
	devt := sda.Dev.String()

	r.dm.InjectError("DM_TARGET_MSG", lun0, errEIO)
	r.check("sda", checker.Down)
	r.settle()
	if r.pathFailed(devt) {
		t.Fatalf("the refused fail_path took effect")
	}
	if !r.logs.failed(lun0, "fail_path sda") {
		t.Errorf("no error logged for the refused fail_path")
	}
	r.tick()
	if !r.pathFailed(devt) {
		t.Fatalf("the next pass did not fail the down path")
	}

	r.dm.InjectError("DM_TARGET_MSG", lun0, errEIO)
	r.check("sda", checker.Up)
	r.settle()
	if !r.pathFailed(devt) {
		t.Fatalf("the refused reinstate_path took effect")
	}
	if !r.logs.failed(lun0, "reinstate_path sda") {
		t.Errorf("no error logged for the refused reinstate_path")
	}
	r.tick()
	if r.pathFailed(devt) {
		t.Errorf("the next pass did not reinstate the path that is up again")
	}
}

// no_path_retry's end that the kernel refuses (fail_if_no_path) keeps queueing until the next pass
// switches it off.
func TestErrorQueueingMessage(t *testing.T) {
	r := newErrRig(t, san(2, 1), "no_path_retry = 1\n", nil)
	if !strings.Contains(r.table(lun0), "queue_if_no_path") {
		t.Fatalf("no_path_retry 1 map does not queue: %s", r.table(lun0))
	}
	r.check("sda", checker.Down)
	r.check("sdb", checker.Down)
	r.settle()
	r.dm.InjectError("DM_TARGET_MSG", lun0, errEIO)
	r.tick() // no_path_retry 1 × polling_interval has passed: queueing must go
	if !strings.Contains(r.table(lun0), "queue_if_no_path") {
		t.Fatalf("the refused fail_if_no_path took effect: %s", r.table(lun0))
	}
	if !r.logs.failed(lun0, "set queueing") {
		t.Errorf("no error logged for the refused fail_if_no_path")
	}
	r.tick()
	if strings.Contains(r.table(lun0), "queue_if_no_path") {
		t.Errorf("the next pass did not switch queueing off: %s", r.table(lun0))
	}
}

// A group the kernel disabled is enabled again once it has usable paths, even when the first
// enable_group is refused.
func TestErrorEnableGroup(t *testing.T) {
	r := newErrRig(t, san(2, 1), "", nil)
	if _, err := r.dm.Message(lun0, "disable_group 2"); err != nil {
		t.Fatal(err)
	}
	r.dm.InjectError("DM_TARGET_MSG", lun0, errEIO)
	r.tick()
	st, err := r.dm.Status(lun0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Groups[1].State != dm.GroupDisabled {
		t.Fatalf("the refused enable_group took effect: %+v", st.Groups)
	}
	if !r.logs.failed(lun0, "enable_group") {
		t.Errorf("no error logged for the refused enable_group")
	}
	r.tick()
	if st, _ := r.dm.Status(lun0); st.Groups[1].State == dm.GroupDisabled {
		t.Errorf("the next pass did not enable group 2: %+v", st.Groups)
	}
}

// The administrator's actions report the kernel's refusal and change nothing.
func TestErrorAdminActions(t *testing.T) {
	ctx := context.Background()
	r := newErrRig(t, san(2, 1), "", nil)
	sda, _ := r.topo.Path("sda")
	devt := sda.Dev.String()
	wantInternal := func(what string, err error, mentions string) {
		t.Helper()
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodeInternal || !strings.Contains(ae.Message, mentions) {
			t.Errorf("%s: error %v, want an internal error mentioning %q", what, err, mentions)
		}
	}

	r.dm.InjectError("DM_TARGET_MSG", lun0, errEIO)
	wantInternal("fail path", r.d.FailPath(ctx, "sda"), "fail_path sda on "+lun0)
	// Not marked as failed by the administrator: a good check keeps it in use.
	r.check("sda", checker.Up)
	r.tick()
	if r.pathFailed(devt) {
		t.Errorf("a refused fail path left the path failed")
	}

	if err := r.d.FailPath(ctx, "sda"); err != nil {
		t.Fatal(err)
	}
	r.dm.InjectError("DM_TARGET_MSG", lun0, errEIO)
	wantInternal("reinstate path", r.d.ReinstatePath(ctx, "sda"), "reinstate_path sda on "+lun0)
	// Still the administrator's failure: good checks do not undo it.
	r.check("sda", checker.Up)
	r.tick()
	if !r.pathFailed(devt) {
		t.Errorf("a refused reinstate path gave up the administrator's failure")
	}
	if err := r.d.ReinstatePath(ctx, "sda"); err != nil {
		t.Fatal(err)
	}
	r.settle()

	r.dm.InjectError("DM_TARGET_MSG", lun0, errEIO)
	wantInternal("switch group", r.d.SwitchGroup(ctx, lun0, 2), "switch_group 2 on "+lun0)

	r.dm.InjectError("DM_DEV_SUSPEND", lun0, errEIO)
	wantInternal("suspend map", r.d.SuspendMap(ctx, lun0), "suspend "+lun0)
	if info, _ := r.dm.Info(lun0); info.Suspended {
		t.Errorf("a refused suspend left the map suspended")
	}
	if err := r.d.SuspendMap(ctx, lun0); err != nil {
		t.Fatal(err)
	}
	r.dm.InjectError("DM_DEV_SUSPEND", lun0, errEIO)
	wantInternal("resume map", r.d.ResumeMap(ctx, lun0), "resume "+lun0)
	if err := r.d.ResumeMap(ctx, lun0); err != nil {
		t.Fatal(err)
	}

	before := r.table(lun0)
	r.dm.InjectError("DM_TABLE_LOAD", lun0, errEIO)
	wantInternal("reload map", r.d.ReloadMap(ctx, lun0), "reload "+lun0)
	if got := r.table(lun0); got != before {
		t.Errorf("a refused reload changed the table:\n%s\n%s", before, got)
	}
}

// flush map: a refused fail_if_no_path stops the flush before the remove; a refused remove keeps
// the map managed; a busy one says so.
func TestErrorFlushMap(t *testing.T) {
	ctx := context.Background()
	r := newErrRig(t, san(2, 1), "no_path_retry = \"queue\"\n", nil)
	code := func(err error) string {
		var ae *api.Error
		if errors.As(err, &ae) {
			return ae.Code
		}
		return ""
	}

	r.dm.InjectError("DM_TARGET_MSG", lun0, errEIO)
	if err := r.d.FlushMap(ctx, lun0); code(err) != api.CodeInternal || !strings.Contains(err.Error(), "fail_if_no_path") {
		t.Errorf("flush with fail_if_no_path refused: %v, want an internal error naming it", err)
	}
	if n := r.ops("DM_DEV_REMOVE", lun0); n != 0 {
		t.Errorf("the map was removed although its queueing could not be switched off (%d removes)", n)
	}

	r.dm.InjectError("DM_DEV_REMOVE", lun0, errEIO)
	if err := r.d.FlushMap(ctx, lun0); code(err) != api.CodeInternal || !strings.Contains(err.Error(), "remove") {
		t.Errorf("flush with remove refused: %v, want an internal error", err)
	}
	if _, ok := r.d.Topology().Find(lun0); !ok {
		t.Fatalf("a map the kernel did not remove is no longer managed")
	}

	r.dm.InjectError("DM_DEV_REMOVE", lun0, syscall.EBUSY)
	if err := r.d.FlushMap(ctx, lun0); code(err) != api.CodeBusy {
		t.Errorf("flush with remove busy: %v, want a busy error", err)
	}
	if _, ok := r.d.Topology().Find(lun0); !ok {
		t.Fatalf("a busy map is no longer managed")
	}
	if err := r.d.FlushMap(ctx, lun0); err != nil {
		t.Fatalf("flush after the errors: %v", err)
	}
	if _, err := r.dm.Info(lun0); !dm.IsNotExist(err) {
		t.Errorf("flushed map still in the kernel: %v", err)
	}
}

// When its last path is removed, a map whose remove the kernel refuses stays and is removed at the
// next pass; one that cannot be told to stop queueing first is still removed when nobody holds it
// open, since no I/O can be queued on a closed map.
func TestErrorLastPathRemoval(t *testing.T) {
	for _, tt := range []struct {
		name, cfg, op string
		logged        string
		removedAtOnce bool
	}{
		{"remove refused", "", "DM_DEV_REMOVE", "remove", false},
		{"fail_if_no_path refused", "no_path_retry = \"queue\"\n", "DM_TARGET_MSG", "fail_if_no_path before remove", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			topo := san(2, 1)
			r := newErrRig(t, topo, tt.cfg, nil)
			r.dm.InjectError(tt.op, lun0, errEIO)
			topo.del("sda")
			topo.del("sdb")
			r.d.PathsRemoved([]string{"sda", "sdb"})
			r.settle()
			if !r.logs.failed(lun0, tt.logged) {
				t.Errorf("no error logged for the refused %s", tt.logged)
			}
			_, err := r.dm.Info(lun0)
			if gone := dm.IsNotExist(err); gone != tt.removedAtOnce {
				t.Fatalf("map removed at once: %v, want %v (err %v)", gone, tt.removedAtOnce, err)
			}
			r.tick()
			if _, err := r.dm.Info(lun0); !dm.IsNotExist(err) {
				t.Errorf("the next pass did not remove the map: %v", err)
			}
			if _, ok := r.d.Topology().Find(lun0); ok {
				t.Errorf("removed map still in the snapshot")
			}
		})
	}
}

// At a clean stop, a map whose queueing cannot be switched off does not keep the others queueing.
func TestErrorShutdownQueueing(t *testing.T) {
	r := newErrRig(t, san(2, 2), "no_path_retry = \"queue\"\n", nil)
	const lun1 = "333333330000007d1"
	r.dm.InjectError("DM_TARGET_MSG", lun0, errEIO)
	r.stop()
	if !r.logs.failed(lun0, "disable queueing at shutdown") {
		t.Errorf("no error logged for the refused fail_if_no_path at shutdown")
	}
	if tab := r.table(lun1); strings.Contains(tab, "queue_if_no_path") {
		t.Errorf("%s still queues after a clean stop: %s", lun1, tab)
	}
}

// A start-up that cannot list the kernel's maps stops with an error naming it, before it creates
// anything (it could not know which maps to adopt).
func TestErrorStartupListing(t *testing.T) {
	f := dm.NewFake()
	f.InjectError("DM_LIST_DEVICES", "", errEIO)
	mon := &fakeMonitor{watched: map[string]CheckSpec{}}
	d := New(Options{Config: config.Builtin(), Topology: san(2, 1), DM: f, Monitor: mon, Log: zerolog.New(zerolog.NewTestWriter(t)), Shards: 2})
	mon.first = func(p sysfs.Path) {
		d.PathChecked(p.Name, CheckResult{State: checker.Up, Prio: prioOf(p), PrioName: "sysfs"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := d.Run(ctx, func() { t.Errorf("ready although the maps could not be listed") })
	if err == nil || !strings.Contains(err.Error(), "list device-mapper maps") {
		t.Errorf("Run = %v, want an error naming the listing", err)
	}
	if n := len(f.Calls()); n != 1 {
		t.Errorf("%d dm calls after the failed listing, want only the listing: %+v", n, f.Calls())
	}
}

// Queueing switched off behind the daemon's back is switched on again, also when the first
// queue_if_no_path is refused.
func TestErrorQueueIfNoPathMessage(t *testing.T) {
	r := newErrRig(t, san(2, 1), "no_path_retry = \"queue\"\n", nil)
	if _, err := r.dm.Message(lun0, "fail_if_no_path"); err != nil {
		t.Fatal(err)
	}
	r.dm.InjectError("DM_TARGET_MSG", lun0, errEIO)
	r.tick()
	if strings.Contains(r.table(lun0), "queue_if_no_path") {
		t.Fatalf("the refused queue_if_no_path took effect: %s", r.table(lun0))
	}
	if !r.logs.failed(lun0, "set queueing") {
		t.Errorf("no error logged for the refused queue_if_no_path")
	}
	r.tick()
	if !strings.Contains(r.table(lun0), "queue_if_no_path") {
		t.Errorf("the next pass did not switch queueing on again: %s", r.table(lun0))
	}
}

// New paths are taken in when the live maps cannot be listed (the listing only serves adoption);
// an explicit add map cannot go on without it and says so.
func TestErrorListingForNewPaths(t *testing.T) {
	topo := san(3, 1)
	sdc, _ := topo.Path("sdc")
	topo.del("sdc")
	r := newErrRig(t, topo, "", nil)
	r.dm.InjectError("DM_LIST_DEVICES", "", errEIO)
	topo.set(sdc)
	r.d.PathsAdded([]string{"sdc"})
	r.settle()
	if got := r.table(lun0); !strings.Contains(got, " "+sdc.Dev.String()+" ") {
		t.Errorf("the new path was not taken in when the listing failed: %q", got)
	}

	r.dm.InjectError("DM_LIST_DEVICES", "", errEIO)
	var ae *api.Error
	if err := r.d.AddMap(context.Background(), "333333330000007d9"); !errors.As(err, &ae) || ae.Code != api.CodeInternal {
		t.Errorf("add map with the listing refused: %v, want an internal error", err)
	}
}

// A deferred remove pending on a map whose paths come back is cancelled; a refused cancel is tried
// again at the next pass, or the kernel would delete the live map at its next close.
func TestErrorCancelDeferredRemove(t *testing.T) {
	topo := san(2, 1)
	r := newErrRig(t, topo, "", nil)
	if err := r.dm.SetOpenCount(lun0, 1); err != nil {
		t.Fatal(err)
	}
	if pending, err := r.dm.Remove(lun0, dm.RemoveOptions{Deferred: true}); err != nil || !pending {
		t.Fatalf("deferred remove: pending %v, %v", pending, err)
	}
	sdb, _ := topo.Path("sdb")
	topo.del("sdb")
	r.d.PathsRemoved([]string{"sdb"})
	r.settle()
	r.tick() // the daemon reads the pending deferred remove
	r.dm.InjectError("DM_TARGET_MSG", lun0, errEIO)
	topo.set(sdb)
	r.d.PathsAdded([]string{"sdb"})
	r.settle()
	if !r.logs.failed(lun0, "cancel deferred remove") {
		t.Errorf("no error logged for the refused cancel")
	}
	r.tick()
	if info, err := r.dm.Info(lun0); err != nil || info.DeferredRemove {
		t.Errorf("the refused cancel was not tried again: %+v, %v", info, err)
	}
	if n := slices.Index(r.messages(lun0), "@cancel_deferred_remove"); n < 0 || !slices.Contains(r.messages(lun0)[n+1:], "@cancel_deferred_remove") {
		t.Errorf("cancel sent %q, want a retry after the refusal", r.messages(lun0))
	}
}
