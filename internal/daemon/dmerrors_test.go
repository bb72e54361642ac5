package daemon

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/dm"
)

// mapErr is the last error the daemon recorded acting on a map.
func (r *rig) mapErr(wwid string) string {
	r.t.Helper()
	var msg string
	if err := r.d.call(context.Background(), wwid, func(s *shard, m *mpath) error {
		msg = m.err
		return nil
	}); err != nil {
		r.t.Fatal(err)
	}
	return msg
}

// Every device-mapper call the reconcile pass makes can fail. The daemon records the error, carries
// on, and the next pass (a tick) retries until the kernel's map is right.
func TestDMErrorsAreRetried(t *testing.T) {
	boom := errors.New("injected")
	for _, tt := range []struct {
		name   string
		cfg    string
		before func(r *rig)                         // brings the map to the state the case needs
		act    func(r *rig)                         // the change whose dm calls fail
		inject [][2]string                          // op, map: failing calls, in order
		wantOp string                               // in the recorded error
		done   func(r *rig) (ok bool, state string) // the state the retries must reach
	}{
		{
			name: "reload", inject: [][2]string{{"DM_TABLE_LOAD", lun0}}, wantOp: "reload",
			act:  func(r *rig) { r.addPath("sdx", 200) },
			done: func(r *rig) (bool, string) { t := r.table(lun0); return strings.Contains(t, "8:200"), t },
		},
		{
			name: "fail_path", inject: [][2]string{{"DM_TARGET_MSG", lun0}}, wantOp: "fail_path sda",
			act:  func(r *rig) { r.check("sda", checker.Down) },
			done: func(r *rig) (bool, string) { return r.failed(lun0, "8:0"), "8:0 active" },
		},
		{
			name:   "reinstate_path and switch_group",
			cfg:    "[defaults]\nfailback = \"immediate\"\n",
			inject: [][2]string{{"DM_TARGET_MSG", lun0}, {"DM_TARGET_MSG", lun0}}, wantOp: "switch_group",
			before: func(r *rig) {
				r.check("sda", checker.Down)
				r.settle()
				r.submit(lun0, 1) // the kernel moves I/O to group 2
				r.d.MapChanged(lun0)
				r.settle()
			},
			act: func(r *rig) { r.check("sda", checker.Up) },
			done: func(r *rig) (bool, string) {
				st, _ := r.dm.Status(lun0)
				return !r.failed(lun0, "8:0") && st.CurrentPG == 1, st.String()
			},
		},
		{
			name: "enable_group", inject: [][2]string{{"DM_TARGET_MSG", lun0}}, wantOp: "enable_group",
			before: func(r *rig) { r.dm.Message(lun0, "disable_group 1") }, // unseen until act
			act:    func(r *rig) { r.d.MapChanged(lun0) },
			done: func(r *rig) (bool, string) {
				st, _ := r.dm.Status(lun0)
				return st.Groups[0].State != dm.GroupDisabled, st.String()
			},
		},
		{
			name: "queueing", cfg: "[defaults]\nno_path_retry = \"queue\"\n",
			inject: [][2]string{{"DM_TARGET_MSG", lun0}}, wantOp: "set queueing",
			before: func(r *rig) { r.dm.Message(lun0, "fail_if_no_path") }, // someone switched it off
			act:    func(r *rig) { r.d.MapChanged(lun0) },
			done: func(r *rig) (bool, string) {
				t := r.table(lun0)
				return strings.Contains(t, "queue_if_no_path"), t
			},
		},
		{
			name: "read status", inject: [][2]string{{"DM_TABLE_STATUS", lun0}}, wantOp: "read table",
			act: func(r *rig) {
				r.dm.KernelFailPath(lun0, "8:0")
				r.d.MapChanged(lun0)
			},
			done: func(r *rig) (bool, string) {
				p := r.snapPath(lun0, "sda")
				return p.DMState == api.DMFailed, p.DMState
			},
		},
		{
			name: "remove", inject: [][2]string{{"DM_DEV_REMOVE", lun0}}, wantOp: "remove",
			act: func(r *rig) { r.removeAll("sda", "sdb") },
			done: func(r *rig) (bool, string) {
				_, err := r.dm.Info(lun0)
				return dm.IsNotExist(err), "map still there"
			},
		},
		{
			name: "cancel deferred remove", cfg: "[defaults]\ndeferred_remove = true\n",
			inject: [][2]string{{"DM_TARGET_MSG", lun0}}, wantOp: "cancel deferred remove",
			before: func(r *rig) {
				r.dm.SetOpenCount(lun0, 1)
				r.removeAll("sda", "sdb")
			},
			act: func(r *rig) { r.restore("sda", "sdb") },
			done: func(r *rig) (bool, string) {
				info, err := r.dm.Info(lun0)
				return err == nil && !info.DeferredRemove, "deferred remove still pending"
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, san(2, 1), tt.cfg, nil)
			if tt.before != nil {
				tt.before(r)
				r.settle()
			}
			r.dm.ResetCalls()
			for _, in := range tt.inject {
				r.dm.InjectError(in[0], in[1], boom)
			}
			tt.act(r)
			r.settle()
			if got := r.mapErr(lun0); !strings.Contains(got, tt.wantOp) || !strings.Contains(got, "injected") {
				t.Errorf("recorded error %q, want one naming %q", got, tt.wantOp)
			}
			for range len(tt.inject) {
				r.d.Tick()
				r.settle()
			}
			if ok, state := tt.done(r); !ok {
				t.Errorf("not retried: %s; calls %q", state, r.messages(lun0))
			}
		})
	}
}

// A map going away whose queueing cannot be switched off first is removed all the same: the
// kernel's remove stops queueing itself (presuspend with flush).
func TestRemoveProceedsWhenQueueingCannotBeStopped(t *testing.T) {
	r := newRig(t, san(2, 1), "[defaults]\nno_path_retry = \"queue\"\n", nil)
	r.dm.ResetCalls()
	r.dm.InjectError("DM_TARGET_MSG", lun0, errors.New("injected"))
	r.removeAll("sda", "sdb")
	var ops []string
	for _, c := range r.dm.Calls() {
		if c.Op == "DM_TARGET_MSG" || c.Op == "DM_DEV_REMOVE" {
			ops = append(ops, c.Op+" "+c.Arg)
		}
	}
	if want := []string{"DM_TARGET_MSG fail_if_no_path", "DM_DEV_REMOVE "}; !slices.Equal(ops, want) {
		t.Errorf("calls %q, want %q", ops, want)
	}
	if _, err := r.dm.Info(lun0); !dm.IsNotExist(err) {
		t.Errorf("map kept: %v", err)
	}
}

// statusFails is the fake kernel with the next status reads failing.
type statusFails struct {
	*dm.Fake
	fails atomic.Int32
}

func (s *statusFails) Status(name string) (dm.Status, error) {
	if s.fails.Add(-1) >= 0 {
		return dm.Status{}, &dm.Error{Op: "DM_TABLE_STATUS", Name: name, Err: errors.New("injected")}
	}
	return s.Fake.Status(name)
}

// A status read that fails leaves the map as the daemon knew it; the next pass reads it again.
func TestStatusReadErrorIsRetried(t *testing.T) {
	var sf statusFails
	r := newRigWith(t, san(2, 1), "", nil, func(o *Options) {
		sf.Fake = o.DM.(*dm.Fake)
		o.DM = &sf
	})
	sf.fails.Store(1)
	r.dm.KernelFailPath(lun0, "8:0")
	r.d.MapChanged(lun0)
	r.settle()
	if got := r.mapErr(lun0); !strings.Contains(got, "read status") || !strings.Contains(got, "injected") {
		t.Errorf("recorded error %q", got)
	}
	if p := r.snapPath(lun0, "sda"); p.DMState != api.DMActive {
		t.Fatalf("the failed read was taken for a status: %+v", p)
	}
	r.d.Tick()
	r.settle()
	if p := r.snapPath(lun0, "sda"); p.DMState != api.DMFailed {
		t.Errorf("status not read again: %+v", p)
	}
}

// The administrator's requests report a failed dm call with its code and leave the map usable.
func TestServiceDMErrors(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("injected")
	r := newRig(t, san(2, 1), "", nil)
	for _, tt := range []struct {
		name   string
		op     string
		call   func() error
		code   string
		failed bool // 8:0 afterwards
	}{
		{"fail path", "DM_TARGET_MSG", func() error { return r.d.FailPath(ctx, "sda") }, api.CodeInternal, false},
		{"switch group", "DM_TARGET_MSG", func() error { return r.d.SwitchGroup(ctx, lun0, 2) }, api.CodeInternal, false},
		{"flush", "DM_DEV_REMOVE", func() error { return r.d.FlushMap(ctx, lun0) }, api.CodeInternal, false},
	} {
		r.dm.InjectError(tt.op, lun0, boom)
		if err := tt.call(); !api.IsCode(err, tt.code) || !strings.Contains(err.Error(), "injected") {
			t.Errorf("%s: %v, want %s naming the cause", tt.name, err, tt.code)
		}
		r.settle()
		if r.failed(lun0, "8:0") != tt.failed {
			t.Errorf("%s: 8:0 failed = %v", tt.name, !tt.failed)
		}
	}
	// reinstate path: the admin's fail stands while the reinstatement fails.
	if err := r.d.FailPath(ctx, "sda"); err != nil {
		t.Fatal(err)
	}
	r.dm.InjectError("DM_TARGET_MSG", lun0, boom)
	if err := r.d.ReinstatePath(ctx, "sda"); !api.IsCode(err, api.CodeInternal) {
		t.Errorf("reinstate path: %v", err)
	}
	r.check("sda", checker.Up)
	r.settle()
	if !r.failed(lun0, "8:0") || r.snapPath(lun0, "sda").Held != api.HeldAdmin {
		t.Errorf("a failed reinstate path undid the admin's fail")
	}
	// A busy map: flush says so.
	r.dm.InjectError("DM_DEV_REMOVE", lun0, syscall.EBUSY)
	if err := r.d.FlushMap(ctx, lun0); !api.IsCode(err, api.CodeBusy) {
		t.Errorf("flush of a busy map: %v", err)
	}
}

// flush map on a map whose open count cannot be read changes nothing: switching its queueing off
// would fail the I/O an opener has queued.
func TestFlushMapUnknownOpenCountChangesNothing(t *testing.T) {
	r := newRig(t, san(2, 1), "[defaults]\nno_path_retry = \"queue\"\n", nil)
	r.check("sda", checker.Down)
	r.check("sdb", checker.Down)
	r.settle()
	r.submit(lun0, 1)
	r.dm.ResetCalls()
	r.dm.InjectError("DM_DEV_STATUS", lun0, syscall.EIO)
	if err := r.d.FlushMap(context.Background(), lun0); !api.IsCode(err, api.CodeInternal) {
		t.Errorf("flush with the open count unknown: %v", err)
	}
	if got := r.messages(lun0); len(got) != 0 || r.ops("DM_DEV_REMOVE", lun0) != 0 {
		t.Errorf("flush acted on a map it could not check: %q", got)
	}
	if q, f := r.dm.QueuedIO(lun0), r.dm.FailedIO(lun0); q != 1 || f != 0 {
		t.Errorf("queued I/O: %d held, %d failed; want 1 held", q, f)
	}
}

// flush_on_last_del always on an open map: when queueing cannot be switched off, the map is not
// deferred-removed (its opener's queued I/O would be held with no daemon to fail it); the next
// pass tries again.
func TestLastPathGoneRetriesWhenQueueingCannotStop(t *testing.T) {
	r := newRig(t, san(2, 1), "[defaults]\nno_path_retry = \"queue\"\nflush_on_last_del = \"always\"\n", nil)
	r.check("sda", checker.Down)
	r.check("sdb", checker.Down)
	r.settle()
	r.submit(lun0, 1) // holds the map open
	r.dm.ResetCalls()
	r.dm.InjectError("DM_TARGET_MSG", lun0, errors.New("injected"))
	r.removeAll("sda", "sdb")
	if n := r.ops("DM_DEV_REMOVE", lun0); n != 0 {
		t.Errorf("removed (deferred) while still queueing: %d removes", n)
	}
	if _, ok := r.d.Topology().Find(lun0); !ok {
		t.Fatalf("map forgotten with its queueing still on")
	}
	r.d.Tick()
	r.settle()
	if r.sent(lun0, "fail_if_no_path") != 2 || r.ops("DM_DEV_REMOVE", lun0) != 1 {
		t.Errorf("not retried: %q, %d removes", r.messages(lun0), r.ops("DM_DEV_REMOVE", lun0))
	}
	if f := r.dm.FailedIO(lun0); f != 1 {
		t.Errorf("flush_on_last_del always: %d failed, want the queued request failed", f)
	}
}
