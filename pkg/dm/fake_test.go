package dm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"
)

func mustTable(t *testing.T, s string) Table {
	t.Helper()
	tb, err := ParseTable(s)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

const twoGroups = "1 queue_if_no_path 0 2 1 service-time 0 1 2 8:16 1 1 service-time 0 1 2 8:80 1 1"

func TestFakeLifecycle(t *testing.T) {
	f := NewFake()
	tb := mustTable(t, twoGroups)
	info, err := CreateMap(f, "mpatha", "mpath-333333330000007d0", 524288, tb, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !info.LiveTable || info.Dev.Major != FakeMajor {
		t.Errorf("info %+v", info)
	}
	live, size, err := f.Table("mpatha")
	if err != nil || size != 524288 || live.String() != twoGroups {
		t.Errorf("Table = %q %d %v", live.String(), size, err)
	}
	st, err := f.Status("mpatha")
	if err != nil || st.String() != "2 1 0 0 2 1 E 0 1 2 8:16 A 0 0 1 E 0 1 2 8:80 A 0 0 1" {
		t.Errorf("Status = %q, %v", st.String(), err)
	}
	if err := f.SubmitIO("mpatha"); err != nil {
		t.Fatal(err)
	}
	if err := FailPath(f, "mpatha", "8:16"); err != nil {
		t.Fatal(err)
	}
	// The kernel leaves the failed group current until the next I/O.
	st, _ = f.Status("mpatha")
	if st.String() != "2 0 0 0 2 1 A 0 1 2 8:16 F 1 0 1 E 0 1 2 8:80 A 0 0 1" {
		t.Errorf("after fail_path: %q", st.String())
	}
	if err := f.SubmitIO("mpatha"); err != nil {
		t.Fatal(err)
	}
	st, _ = f.Status("mpatha")
	if st.String() != "2 0 0 0 2 2 E 0 1 2 8:16 F 1 0 1 A 0 1 2 8:80 A 0 0 1" {
		t.Errorf("after fail_path and I/O: %q", st.String())
	}
	if err := ReinstatePath(f, "mpatha", "8:16"); err != nil {
		t.Fatal(err)
	}
	if err := SwitchGroup(f, "mpatha", 1); err != nil {
		t.Fatal(err)
	}
	f.SubmitIO("mpatha")
	st, _ = f.Status("mpatha")
	if st.ActiveGroup() != 1 || st.Groups[0].Paths[0].Failed || st.Groups[0].Paths[0].FailCount != 1 {
		t.Errorf("after reinstate+switch: %q", st.String())
	}
	if err := DisableGroup(f, "mpatha", 2); err != nil {
		t.Fatal(err)
	}
	st, _ = f.Status("mpatha")
	if st.Groups[1].State != GroupDisabled {
		t.Errorf("after disable_group: %q", st.String())
	}
	if err := EnableGroup(f, "mpatha", 2); err != nil {
		t.Fatal(err)
	}
	if err := FailIfNoPath(f, "mpatha"); err != nil {
		t.Fatal(err)
	}
	live, _, _ = f.Table("mpatha")
	if live.Features.QueueIfNoPath {
		t.Error("fail_if_no_path did not reach the table readback")
	}
	info, _ = f.Info("mpatha")
	if info.EventNr != 5 {
		t.Errorf("event_nr %d, want 5 (fail, reinstate, switch, disable, enable)", info.EventNr)
	}
	deps, _ := f.Deps("mpatha")
	if !slices.Equal(deps, []Dev{{8, 16}, {8, 80}}) {
		t.Errorf("deps %v", deps)
	}
	if _, err := f.Remove("mpatha", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Info("mpatha"); !IsNotExist(err) {
		t.Errorf("after remove: %v", err)
	}
}

func TestFakeMessageErrors(t *testing.T) {
	f := NewFake()
	if _, err := CreateMap(f, "m", "mpath-1", 8, mustTable(t, twoGroups), 0); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"fail_path 9:9", "switch_group 3", "switch_group x", "bogus 1", "fail_path"} {
		if _, err := f.Message("m", m); !errors.Is(err, unix.EINVAL) {
			t.Errorf("Message(%q) = %v, want EINVAL", m, err)
		}
	}
	if err := f.Suspend("m"); err != nil {
		t.Fatal(err)
	}
	if err := FailPath(f, "m", "8:16"); !IsBusy(err) || err.Error() != `dm: DM_TARGET_MSG m: "fail_path 8:16": device or resource busy` {
		t.Errorf("message while suspended: %v", err)
	}
	if _, err := f.Resume("m", 0); err != nil {
		t.Fatal(err)
	}
	if err := FailPath(f, "nosuch", "8:16"); !IsNotExist(err) {
		t.Errorf("unknown map: %v", err)
	}
}

func TestFakeCreateErrors(t *testing.T) {
	f := NewFake()
	if _, err := f.Create("m", "mpath-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Create("m", "mpath-2"); !IsBusy(err) {
		t.Errorf("duplicate name: %v", err)
	}
	if _, err := f.Create("n", "mpath-1"); !IsBusy(err) {
		t.Errorf("duplicate uuid: %v", err)
	}
	if _, err := f.Create("a/b", ""); !errors.Is(err, unix.EINVAL) {
		t.Errorf("bad name: %v", err)
	}
	if _, _, err := f.Table("m"); !errors.Is(err, ErrNoTable) {
		t.Errorf("empty device table: %v", err)
	}
	if err := f.Load("m", 8, Table{InitialPG: 3}); !errors.Is(err, unix.EINVAL) {
		t.Errorf("invalid table: %v", err)
	}
}

func TestCreateMapRollsBack(t *testing.T) {
	f := NewFake()
	f.InjectError("DM_TABLE_LOAD", "m", unix.EBUSY)
	_, err := CreateMap(f, "m", "mpath-1", 8, mustTable(t, twoGroups), 0)
	if err == nil || err.Error() != "dm: DM_TABLE_LOAD m: device or resource busy" {
		t.Fatalf("err = %v", err)
	}
	if devs, _ := f.List(); len(devs) != 0 {
		t.Errorf("left behind %v", devs)
	}
}

func TestReloadIfChanged(t *testing.T) {
	f := NewFake()
	tb := mustTable(t, twoGroups)
	if _, err := CreateMap(f, "m", "mpath-1", 8, tb, 0); err != nil {
		t.Fatal(err)
	}
	// The readback differs word for word (current PG, defaults) but is
	// equivalent: no reload.
	f.ResetCalls()
	same := mustTable(t, "1 queue_if_no_path 0 2 2 service-time 0 1 1 8:16 1 service-time 0 1 0 8:80")
	if did, err := ReloadIfChanged(f, "m", 8, same, 0); err != nil || did {
		t.Errorf("equivalent table: reloaded %v, %v", did, err)
	}
	if calls := f.Calls(); len(calls) != 1 || calls[0].Op != "DM_TABLE_STATUS" {
		t.Errorf("calls %+v", calls)
	}
	// A new selector reloads with NOFLUSH semantics and the reload flag.
	rr := mustTable(t, "1 queue_if_no_path 0 2 1 round-robin 0 1 1 8:16 1 round-robin 0 1 1 8:80 1")
	if did, err := ReloadIfChanged(f, "m", 8, rr, MpathNoKpartx); err != nil || !did {
		t.Errorf("new selector: reloaded %v, %v", did, err)
	}
	calls := f.Calls()
	if last := calls[len(calls)-1]; last.Op != "DM_DEV_SUSPEND" || last.Arg != "resume" || last.Flags != MpathReload|MpathNoKpartx {
		t.Errorf("resume call %+v", last)
	}
	live, _, _ := f.Table("m")
	if !Equivalent(rr, live) {
		t.Errorf("live %q", live.String())
	}
	// A size change reloads too.
	if did, err := ReloadIfChanged(f, "m", 16, rr, 0); err != nil || !did {
		t.Errorf("resize: %v %v", did, err)
	}
}

func TestReloadRestoresOldTableOnResumeFailure(t *testing.T) {
	f := NewFake()
	tb := mustTable(t, twoGroups)
	if _, err := CreateMap(f, "m", "mpath-1", 8, tb, 0); err != nil {
		t.Fatal(err)
	}
	f.InjectError("DM_DEV_SUSPEND", "m", unix.EINVAL)
	f.ResetCalls()
	err := Reload(f, "m", 8, mustTable(t, "0 0 1 1 round-robin 0 1 1 8:16 1"), 0)
	if !errors.Is(err, unix.EINVAL) {
		t.Fatalf("err = %v", err)
	}
	var ops []string
	for _, c := range f.Calls() {
		ops = append(ops, c.Op)
	}
	if !slices.Equal(ops, []string{"DM_TABLE_LOAD", "DM_DEV_SUSPEND", "DM_TABLE_CLEAR", "DM_DEV_SUSPEND"}) {
		t.Errorf("ops %v", ops)
	}
	live, _, _ := f.Table("m")
	info, _ := f.Info("m")
	if !Equivalent(tb, live) || info.InactiveTable || info.Suspended {
		t.Errorf("after failed reload: %q %+v", live.String(), info)
	}
}

func TestFakeReloadCannotChangeQueueMode(t *testing.T) {
	f := NewFake()
	if _, err := CreateMap(f, "m", "", 8, mustTable(t, twoGroups), 0); err != nil {
		t.Fatal(err)
	}
	bio := mustTable(t, "2 queue_mode bio 0 1 1 round-robin 0 1 1 8:16 1")
	if err := Reload(f, "m", 8, bio, 0); !errors.Is(err, unix.EINVAL) {
		t.Errorf("bio reload: %v", err)
	}
}

func TestFakeRemoveDeferred(t *testing.T) {
	f := NewFake()
	if _, err := CreateMap(f, "m", "mpath-1", 8, mustTable(t, twoGroups), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.SetOpenCount("m", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Remove("m", RemoveOptions{}); !IsBusy(err) {
		t.Errorf("remove while open: %v", err)
	}
	pending, err := f.Remove("m", RemoveOptions{Deferred: true})
	if err != nil || !pending {
		t.Fatalf("deferred: %v %v", pending, err)
	}
	if info, _ := f.Info("m"); !info.DeferredRemove {
		t.Error("deferred flag not shown")
	}
	if err := f.SetOpenCount("m", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Info("m"); !IsNotExist(err) {
		t.Errorf("still there after last close: %v", err)
	}
}

func TestFakeRename(t *testing.T) {
	f := NewFake()
	f.Create("a", "mpath-a")
	f.Create("b", "mpath-b")
	if err := f.Rename("a", "b", 0); !IsBusy(err) {
		t.Errorf("rename onto existing: %v", err)
	}
	if err := f.Rename("a", "c", 0); err != nil {
		t.Fatal(err)
	}
	if info, err := f.Info("c"); err != nil || info.UUID != "mpath-a" {
		t.Errorf("renamed: %+v %v", info, err)
	}
}

func TestFakeTargets(t *testing.T) {
	f := NewFake()
	vs, err := f.Targets()
	if err != nil || !HasTarget(vs, "multipath") {
		t.Errorf("targets %v %v", vs, err)
	}
	f.SetTargets(nil)
	if vs, _ := f.Targets(); HasTarget(vs, "multipath") {
		t.Error("SetTargets ignored")
	}
}

func TestWatcherReportsChanges(t *testing.T) {
	f := NewFake()
	if _, err := CreateMap(f, "mpatha", "mpath-a", 8, mustTable(t, twoGroups), 0); err != nil {
		t.Fatal(err)
	}
	f.Create("vg-root", "LVM-xyz")
	w, err := f.Watcher(WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if devs := w.Devices(); len(devs) != 1 || devs[0].Name != "mpatha" {
		t.Errorf("initial %v", devs)
	}
	ctx := t.Context()

	if err := f.KernelFailPath("mpatha", "8:16"); err != nil {
		t.Fatal(err)
	}
	ch, err := w.Next(ctx)
	if err != nil || len(ch) != 1 || ch[0].Kind != Changed || ch[0].Device.Name != "mpatha" || ch[0].Device.EventNr != 1 {
		t.Errorf("after path failure: %+v %v", ch, err)
	}

	// Non-mpath devices are filtered; the next report is the new map.
	f.Create("other", "LVM-abc")
	f.Create("mpathb", "mpath-b")
	ch, err = w.Next(ctx)
	if err != nil || len(ch) != 1 || ch[0].Kind != Added || ch[0].Device.Name != "mpathb" {
		t.Errorf("added: %+v %v", ch, err)
	}

	// A rename keeps the identity (uuid) and reports a change.
	f.Rename("mpathb", "mpathc", 0)
	f.Remove("mpatha", RemoveOptions{})
	ch, err = w.Next(ctx)
	if err != nil || len(ch) != 2 || ch[0].Kind != Removed || ch[0].Device.Name != "mpatha" ||
		ch[1].Kind != Changed || ch[1].Device.Name != "mpathc" {
		t.Errorf("rename+remove: %+v %v", ch, err)
	}
}

func TestWatcherAllDevices(t *testing.T) {
	f := NewFake()
	f.Create("vg-root", "")
	w, err := f.Watcher(WatchOptions{AllDevices: true})
	if err != nil {
		t.Fatal(err)
	}
	if devs := w.Devices(); len(devs) != 1 {
		t.Errorf("devices %v", devs)
	}
}

func TestWatcherCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := NewFake()
		w, err := f.Watcher(WatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		// Events of other devices do not end the wait.
		f.Create("vg-root", "LVM-1")
		if _, err := w.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next = %v, want deadline", err)
		}
	})
}

func TestFakeInjectErrorIsOneShot(t *testing.T) {
	f := NewFake()
	f.InjectError("DM_LIST_DEVICES", "", unix.EINVAL)
	if _, err := f.List(); err == nil || err.Error() != "dm: DM_LIST_DEVICES: invalid argument" {
		t.Errorf("injected: %v", err)
	}
	if _, err := f.List(); err != nil {
		t.Errorf("second call: %v", err)
	}
}

// ioCounts reads the fake's I/O counters of a map as one string.
func ioState(f *Fake, name string) string {
	return fmt.Sprintf("served %d queued %d failed %d", f.ServedIO(name), f.QueuedIO(name), f.FailedIO(name))
}

func TestFakeQueuedIO(t *testing.T) {
	const queueing = "1 queue_if_no_path 0 1 1 round-robin 0 2 1 8:16 1 8:80 1"
	const failing = "0 0 1 1 round-robin 0 2 1 8:16 1 8:80 1"
	failBoth := func(f *Fake) {
		FailPath(f, "m", "8:16")
		FailPath(f, "m", "8:80")
	}
	for _, tc := range []struct {
		name, table string
		steps       func(t *testing.T, f *Fake)
		want        string
	}{
		{"served on a usable path", queueing, func(t *testing.T, f *Fake) {
			FailPath(f, "m", "8:16")
			mustIO(t, f, nil)
		}, "served 1 queued 0 failed 0"},
		{"held while queue_if_no_path", queueing, func(t *testing.T, f *Fake) {
			failBoth(f)
			mustIO(t, f, nil)
			mustIO(t, f, nil)
		}, "served 0 queued 2 failed 0"},
		{"failed without queueing", failing, func(t *testing.T, f *Fake) {
			failBoth(f)
			mustIO(t, f, unix.EIO)
		}, "served 0 queued 0 failed 1"},
		{"served when a path is reinstated", queueing, func(t *testing.T, f *Fake) {
			failBoth(f)
			mustIO(t, f, nil)
			mustIO(t, f, nil)
			ReinstatePath(f, "m", "8:80")
		}, "served 2 queued 0 failed 0"},
		{"failed by fail_if_no_path", queueing, func(t *testing.T, f *Fake) {
			failBoth(f)
			mustIO(t, f, nil)
			QueueIfNoPath(f, "m")
			FailIfNoPath(f, "m")
		}, "served 0 queued 0 failed 1"},
		{"queue_if_no_path sent later holds", failing, func(t *testing.T, f *Fake) {
			QueueIfNoPath(f, "m")
			failBoth(f)
			mustIO(t, f, nil)
		}, "served 0 queued 1 failed 0"},
		{"held while suspended, served on resume", failing, func(t *testing.T, f *Fake) {
			f.Suspend("m")
			mustIO(t, f, nil)
			if f.QueuedIO("m") != 1 {
				t.Errorf("suspended map: %s", ioState(f, "m"))
			}
			f.Resume("m", 0)
		}, "served 1 queued 0 failed 0"},
		{"reload keeps holding with queueing", queueing, func(t *testing.T, f *Fake) {
			failBoth(f)
			mustIO(t, f, nil)
			// The new table's paths start usable: the request is served.
			if err := Reload(f, "m", 8, mustTable(t, queueing), 0); err != nil {
				t.Fatal(err)
			}
		}, "served 1 queued 0 failed 0"},
		{"reload to a table without paths or queueing fails", queueing, func(t *testing.T, f *Fake) {
			failBoth(f)
			mustIO(t, f, nil)
			if err := Reload(f, "m", 8, mustTable(t, "0 0 0 0"), 0); err != nil {
				t.Fatal(err)
			}
		}, "served 0 queued 0 failed 1"},
		{"reload to a queueing table without paths holds", queueing, func(t *testing.T, f *Fake) {
			failBoth(f)
			mustIO(t, f, nil)
			if err := Reload(f, "m", 8, mustTable(t, "1 queue_if_no_path 0 0 0"), 0); err != nil {
				t.Fatal(err)
			}
		}, "served 0 queued 1 failed 0"},
		{"a map holding I/O is open: remove fails", queueing, func(t *testing.T, f *Fake) {
			failBoth(f)
			mustIO(t, f, nil)
			if info, _ := f.Info("m"); info.OpenCount != 1 {
				t.Errorf("open count %d while holding I/O, want 1", info.OpenCount)
			}
			if _, err := f.Remove("m", RemoveOptions{}); !IsBusy(err) {
				t.Errorf("remove: %v", err)
			}
		}, "served 0 queued 1 failed 0"},
		{"deferred remove waits for the held I/O", queueing, func(t *testing.T, f *Fake) {
			failBoth(f)
			mustIO(t, f, nil)
			if pending, err := f.Remove("m", RemoveOptions{Deferred: true}); err != nil || !pending {
				t.Fatalf("deferred remove: %v %v", pending, err)
			}
			FailIfNoPath(f, "m")
			if _, err := f.Info("m"); !IsNotExist(err) {
				t.Errorf("map still there once its I/O failed: %v", err)
			}
		}, "served 0 queued 0 failed 1"},
		{"deferred remove waits for every opener", queueing, func(t *testing.T, f *Fake) {
			f.SetOpenCount("m", 1)
			failBoth(f)
			mustIO(t, f, nil)
			if info, _ := f.Info("m"); info.OpenCount != 1 {
				t.Errorf("open count %d, want 1: the waiting opener is the one set", info.OpenCount)
			}
			f.Remove("m", RemoveOptions{Deferred: true})
			f.SetOpenCount("m", 0)
			if _, err := f.Info("m"); err != nil {
				t.Errorf("removed while holding I/O: %v", err)
			}
			ReinstatePath(f, "m", "8:16")
			if _, err := f.Info("m"); !IsNotExist(err) {
				t.Errorf("map still there once its I/O was served: %v", err)
			}
		}, "served 1 queued 0 failed 0"},
		{"kernel path failure retries the request", failing, func(t *testing.T, f *Fake) {
			f.KernelFailPath("m", "8:16")
			f.KernelFailPath("m", "8:80")
			f.KernelFailPath("m", "8:80") // already failed: no I/O goes there
		}, "served 1 queued 0 failed 1"},
		{"counters follow a rename", queueing, func(t *testing.T, f *Fake) {
			mustIO(t, f, nil)
			f.Rename("m", "n", 0)
			f.Rename("n", "m", 0)
		}, "served 1 queued 0 failed 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFake()
			if _, err := CreateMap(f, "m", "mpath-1", 8, mustTable(t, tc.table), 0); err != nil {
				t.Fatal(err)
			}
			tc.steps(t, f)
			if got := ioState(f, "m"); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func mustIO(t *testing.T, f *Fake, want error) {
	t.Helper()
	err := f.SubmitIO("m")
	if (want == nil) != (err == nil) || (want != nil && !errors.Is(err, want)) {
		t.Fatalf("SubmitIO = %v, want %v", err, want)
	}
}

func TestFakeSubmitIOErrors(t *testing.T) {
	f := NewFake()
	if err := f.SubmitIO("nosuch"); !IsNotExist(err) {
		t.Errorf("unknown map: %v", err)
	}
	f.Create("m", "")
	if err := f.SubmitIO("m"); !errors.Is(err, ErrNoTable) {
		t.Errorf("map without a table: %v", err)
	}
}

// TestFakeGroupSwitchOnNextIO: like the kernel, the fake changes the
// active group only when a request arrives; until then the status shows
// the pending group number and no group A.
func TestFakeGroupSwitchOnNextIO(t *testing.T) {
	const tb = "0 0 2 1 round-robin 0 1 1 8:16 1 round-robin 0 1 1 8:80 1"
	for _, tc := range []struct {
		name  string
		steps []string // "io" or a message
		want  string
	}{
		{"fresh table", nil, "2 1 0 0 2 1 E 0 1 0 8:16 A 0 E 0 1 0 8:80 A 0"},
		{"first I/O", []string{"io"}, "2 0 0 0 2 1 A 0 1 0 8:16 A 0 E 0 1 0 8:80 A 0"},
		{"switch_group pending", []string{"io", "switch_group 2"}, "2 0 0 0 2 2 E 0 1 0 8:16 A 0 E 0 1 0 8:80 A 0"},
		{"switch_group then I/O", []string{"io", "switch_group 2", "io"}, "2 0 0 0 2 2 E 0 1 0 8:16 A 0 A 0 1 0 8:80 A 0"},
		{"failed current group stays until I/O", []string{"io", "fail_path 8:16"}, "2 0 0 0 2 1 A 0 1 0 8:16 F 1 E 0 1 0 8:80 A 0"},
		{"failed current group, then I/O", []string{"io", "fail_path 8:16", "io"}, "2 0 0 0 2 2 E 0 1 0 8:16 F 1 A 0 1 0 8:80 A 0"},
		{"disable_group drops the current group", []string{"io", "disable_group 1"}, "2 0 0 0 2 1 D 0 1 0 8:16 A 0 E 0 1 0 8:80 A 0"},
		{"I/O skips a bypassed group", []string{"io", "disable_group 1", "io"}, "2 0 0 0 2 2 D 0 1 0 8:16 A 0 A 0 1 0 8:80 A 0"},
		// next_pg is taken without looking at its bypass.
		{"pending group taken though bypassed", []string{"disable_group 1", "io"}, "2 0 0 0 2 1 D 0 1 0 8:16 A 0 E 0 1 0 8:80 A 0"},
		{"switch_group clears every bypass", []string{"disable_group 2", "switch_group 1"}, "2 1 0 0 2 1 E 0 1 0 8:16 A 0 E 0 1 0 8:80 A 0"},
		{"no usable path: no current group", []string{"io", "fail_path 8:16", "fail_path 8:80", "io"}, "2 0 0 0 2 1 E 0 1 0 8:16 F 1 E 0 1 0 8:80 F 1"},
		{"switch to a group without paths", []string{"io", "fail_path 8:80", "switch_group 2", "io"}, "2 0 0 0 2 1 A 0 1 0 8:16 A 0 E 0 1 0 8:80 F 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFake()
			if _, err := CreateMap(f, "m", "", 8, mustTable(t, tb), 0); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.steps {
				var err error
				if s == "io" {
					if err = f.SubmitIO("m"); errors.Is(err, unix.EIO) {
						err = nil // no usable path, no queueing
					}
				} else {
					_, err = f.Message("m", s)
				}
				if err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			if st, _ := f.Status("m"); st.String() != tc.want {
				t.Errorf("status\n got %q\nwant %q", st.String(), tc.want)
			}
		})
	}
}
