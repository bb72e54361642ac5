package dm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fdCall is one ioctl seen by fakeFD, decoded.
type fdCall struct {
	cmd     uintptr
	h       header
	payload []byte
	size    int
}

// fakeFD plays the kernel side of the control node: it decodes each
// request, asks handle for the reply and writes it back the way dm-ioctl.c
// does, including DM_BUFFER_FULL_FLAG when the data does not fit.
type fakeFD struct {
	version [3]uint32
	handle  func(c fdCall) (header, []byte, error)
	calls   []fdCall
}

func (f *fakeFD) ioctl(req uintptr, buf []byte) error {
	h, _, err := decodeReply(buf)
	if err != nil {
		return err
	}
	c := fdCall{cmd: req, h: h, payload: append([]byte(nil), buf[h.DataStart:]...), size: len(buf)}
	f.calls = append(f.calls, c)
	// The kernel writes its version back even on failure.
	for i, v := range f.version {
		ne.PutUint32(buf[offVersion+4*i:], v)
	}
	if req == cmdVersion.req {
		return nil
	}
	rh, data, err := f.handle(c)
	if err != nil {
		return err
	}
	ne.PutUint32(buf[offDataStart:], headerSize)
	ne.PutUint32(buf[offTargetCount:], rh.TargetCount)
	ne.PutUint32(buf[offOpenCount:], uint32(rh.OpenCount))
	ne.PutUint32(buf[offEventNr:], rh.EventNr)
	ne.PutUint64(buf[offDev:], rh.Dev)
	copy(buf[offName:offName+nameLen], make([]byte, nameLen))
	copy(buf[offName:], rh.Name)
	copy(buf[offUUID:offUUID+uuidLen], make([]byte, uuidLen))
	copy(buf[offUUID:], rh.UUID)
	if headerSize+len(data) > len(buf) {
		ne.PutUint32(buf[offFlags:], rh.Flags|flagBufferFull)
		ne.PutUint32(buf[offDataSize:], uint32(len(buf)))
		return nil
	}
	ne.PutUint32(buf[offFlags:], rh.Flags)
	ne.PutUint32(buf[offDataSize:], uint32(headerSize+len(data)))
	copy(buf[headerSize:], data)
	return nil
}

func (f *fakeFD) close() error { return nil }

func (f *fakeFD) last() fdCall { return f.calls[len(f.calls)-1] }

func newTestClient(t *testing.T, udev bool, handle func(fdCall) (header, []byte, error)) (*Client, *fakeFD) {
	t.Helper()
	fd := &fakeFD{version: [3]uint32{4, 47, 0}, handle: handle}
	c, err := newClient(fd, Options{UdevRunning: func() bool { return udev }})
	if err != nil {
		t.Fatal(err)
	}
	return c, fd
}

func TestHandshake(t *testing.T) {
	c, fd := newTestClient(t, false, nil)
	if c.KernelVersion() != [3]uint32{4, 47, 0} || !c.nameListTail() {
		t.Errorf("version %v", c.KernelVersion())
	}
	if v := fd.calls[0].h.Version; v != [3]uint32{4, 0, 0} {
		t.Errorf("handshake sent version %v, want 4.0.0", v)
	}
	_, err := newClient(&fakeFD{version: [3]uint32{5, 0, 0}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "DM_VERSION") {
		t.Errorf("major 5 accepted: %v", err)
	}
	old, err := newClient(&fakeFD{version: [3]uint32{4, 36, 0}}, Options{})
	if err != nil || old.nameListTail() {
		t.Errorf("4.36: tail %v, err %v", old.nameListTail(), err)
	}
}

func TestErrorsNameCallDeviceErrno(t *testing.T) {
	for _, errno := range []unix.Errno{unix.EBUSY, unix.ENXIO, unix.EINVAL} {
		c, _ := newTestClient(t, false, func(fdCall) (header, []byte, error) { return header{}, nil, errno })
		checks := []struct {
			want string
			err  error
		}{
			{"dm: DM_DEV_CREATE mpatha: " + errno.Error(), second(c.Create("mpatha", "mpath-1"))},
			{"dm: DM_TABLE_LOAD mpatha: " + errno.Error(), c.Load("mpatha", 8, Table{})},
			{"dm: DM_DEV_SUSPEND mpatha: " + errno.Error(), c.Suspend("mpatha")},
			{"dm: DM_DEV_SUSPEND mpatha: " + errno.Error(), second(c.Resume("mpatha", 0))},
			{"dm: DM_DEV_REMOVE mpatha: " + errno.Error(), second(c.Remove("mpatha", RemoveOptions{}))},
			{"dm: DM_DEV_RENAME mpatha: " + errno.Error(), c.Rename("mpatha", "mpathb", 0)},
			{"dm: DM_DEV_STATUS mpatha: " + errno.Error(), second(c.Info("mpatha"))},
			{"dm: DM_TABLE_STATUS mpatha: " + errno.Error(), second(c.Status("mpatha"))},
			{"dm: DM_TABLE_DEPS mpatha: " + errno.Error(), second(c.Deps("mpatha"))},
			{"dm: DM_TABLE_CLEAR mpatha: " + errno.Error(), c.Clear("mpatha")},
			{"dm: DM_TARGET_MSG mpatha: \"fail_path 8:16\": " + errno.Error(), FailPath(c, "mpatha", "8:16")},
			{"dm: DM_LIST_DEVICES: " + errno.Error(), second(c.List())},
			{"dm: DM_LIST_VERSIONS: " + errno.Error(), second(c.Targets())},
		}
		for _, ch := range checks {
			if ch.err == nil || ch.err.Error() != ch.want {
				t.Errorf("got %v, want %q", ch.err, ch.want)
			}
			if !errors.Is(ch.err, errno) {
				t.Errorf("%v does not wrap %v", ch.err, errno)
			}
			var de *Error
			if !errors.As(ch.err, &de) {
				t.Errorf("%v is not *Error", ch.err)
			}
		}
		if IsBusy(checks[0].err) != (errno == unix.EBUSY) || IsNotExist(checks[0].err) != (errno == unix.ENXIO) {
			t.Errorf("IsBusy/IsNotExist wrong for %v", errno)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestBadNamesNeverReachTheKernel(t *testing.T) {
	c, fd := newTestClient(t, false, nil)
	n := len(fd.calls)
	for _, name := range []string{"", "a/b", "control", strings.Repeat("x", 200)} {
		if _, err := c.Info(name); !errors.Is(err, unix.EINVAL) {
			t.Errorf("Info(%q) = %v, want EINVAL", name, err)
		}
	}
	err := c.Load("ok", 8, Table{InitialPG: 1})
	if want := "dm: DM_TABLE_LOAD ok: invalid argument: multipath table: initial_pg 1 invalid for 0 groups"; err == nil || err.Error() != want {
		t.Errorf("invalid table: %v, want %q", err, want)
	}
	if _, err := c.Create("ok", strings.Repeat("u", 200)); err == nil {
		t.Error("long uuid accepted")
	}
	if err := c.Rename("ok", "a/b", 0); err == nil {
		t.Error("bad new name accepted")
	}
	if len(fd.calls) != n {
		t.Errorf("%d ioctls issued for invalid input", len(fd.calls)-n)
	}
}

func TestListGrowsBufferOnBufferFull(t *testing.T) {
	var devs []Device
	for i := range 400 {
		devs = append(devs, Device{Name: fmt.Sprintf("mpath%03d", i), UUID: fmt.Sprintf("mpath-3600a0980383030534f2b4d3153324d%03d", i), Dev: Dev{253, uint32(i)}, EventNr: uint32(i)})
	}
	c, fd := newTestClient(t, false, func(call fdCall) (header, []byte, error) {
		if call.h.Flags&flagUUID == 0 || call.h.Name != "" || call.h.UUID != "" {
			return header{}, nil, fmt.Errorf("LIST_DEVICES request flags %#x name %q uuid %q", call.h.Flags, call.h.Name, call.h.UUID)
		}
		return header{}, kernelNameList(devs, true), nil
	})
	got, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(devs) || got[399] != devs[399] {
		t.Errorf("List returned %d devices, last %+v", len(got), got[len(got)-1])
	}
	var sizes []int
	for _, call := range fd.calls[1:] {
		sizes = append(sizes, call.size)
	}
	if len(sizes) < 2 || sizes[0] != initialBuffer || sizes[1] != 2*initialBuffer {
		t.Errorf("buffer sizes %v, want 16 KiB then doubling", sizes)
	}
}

func TestBufferFullGivesUp(t *testing.T) {
	c, fd := newTestClient(t, false, func(call fdCall) (header, []byte, error) {
		return header{Flags: flagBufferFull}, nil, nil
	})
	_, err := c.List()
	if err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("err = %v", err)
	}
	if last := fd.last().size; last != maxBuffer {
		t.Errorf("last size %d, want %d", last, maxBuffer)
	}
}

// Kernels before 5.13 list no uuids (DM 4.37–4.44: flags 0; before 4.37: no
// flags): List asks each device's uuid with DEV_STATUS, drops a device that
// went away meanwhile, and fails rather than report a map without its uuid.
func TestListWithoutUUIDsBefore513(t *testing.T) {
	devs := []Device{
		{Name: "mpatha", UUID: "mpath-333333330000007d0", Dev: Dev{253, 0}, EventNr: 4},
		{Name: "gone", UUID: "mpath-333333330000007d9", Dev: Dev{253, 1}, EventNr: 1},
		{Name: "vg-root", Dev: Dev{253, 2}},
		{Name: "mpathb", UUID: "mpath-333333330000007d1", Dev: Dev{253, 3}, EventNr: 9},
	}
	for _, k := range []struct {
		version [3]uint32
		list    []byte
	}{
		{[3]uint32{4, 44, 0}, kernelNameList(devs, false)}, // 5.12
		{[3]uint32{4, 36, 0}, kernelNameListNoTail(devs)},  // 4.x before 4.37
	} {
		var statusOf []string
		failStatus := false
		fd := &fakeFD{version: k.version, handle: func(call fdCall) (header, []byte, error) {
			switch call.cmd {
			case cmdListDevices.req:
				return header{}, k.list, nil
			case cmdDevStatus.req:
				statusOf = append(statusOf, call.h.Name)
				if failStatus {
					return header{}, nil, unix.EACCES
				}
				for _, d := range devs {
					if d.Name == call.h.Name && d.Name != "gone" {
						return header{Name: d.Name, UUID: d.UUID, Dev: d.Dev.Mkdev(), EventNr: d.EventNr}, nil, nil
					}
				}
				return header{}, nil, unix.ENXIO
			}
			return header{}, nil, fmt.Errorf("unexpected ioctl %#x", call.cmd)
		}}
		c, err := newClient(fd, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.List()
		if err != nil {
			t.Fatalf("%v: %v", k.version, err)
		}
		want := []Device{devs[0], devs[2], devs[3]} // event numbers from DEV_STATUS before 4.37
		if !slices.Equal(got, want) {
			t.Errorf("%v: List = %+v, want %+v", k.version, got, want)
		}
		if !slices.Equal(statusOf, []string{"mpatha", "gone", "vg-root", "mpathb"}) {
			t.Errorf("%v: DEV_STATUS of %v", k.version, statusOf)
		}
		failStatus = true
		if _, err := c.List(); !errors.Is(err, unix.EACCES) || !strings.Contains(err.Error(), "mpatha") {
			t.Errorf("%v: a failed DEV_STATUS gave %v, want the error naming the device", k.version, err)
		}
	}

	// 5.13 and later say which devices have no uuid: no DEV_STATUS at all.
	c, fd := newTestClient(t, false, func(call fdCall) (header, []byte, error) {
		if call.cmd != cmdListDevices.req {
			return header{}, nil, fmt.Errorf("unexpected ioctl %#x", call.cmd)
		}
		return header{}, kernelNameList(devs, true), nil
	})
	if got, err := c.List(); err != nil || !slices.Equal(got, devs) || len(fd.calls) != 2 {
		t.Errorf("5.13: List = %+v, %v after %d ioctls", got, err, len(fd.calls))
	}
}

func TestListEmpty(t *testing.T) {
	c, _ := newTestClient(t, false, func(fdCall) (header, []byte, error) { return header{}, nil, nil })
	devs, err := c.List()
	if err != nil || len(devs) != 0 {
		t.Errorf("List = %v, %v", devs, err)
	}
}

func TestCreateLoadResume(t *testing.T) {
	tb, err := ParseTable(tableExamples[0].load)
	if err != nil {
		t.Fatal(err)
	}
	c, fd := newTestClient(t, false, func(call fdCall) (header, []byte, error) {
		return header{Name: call.h.Name, UUID: call.h.UUID, Dev: unix.Mkdev(253, 3), Flags: flagActivePresent}, nil, nil
	})
	info, err := CreateMap(c, "mpatha", "mpath-3600a0980383030534f2b4d3153324d71", 2097152, tb, MpathNoKpartx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Dev != (Dev{253, 3}) || !info.LiveTable || info.Name != "mpatha" {
		t.Errorf("info %+v", info)
	}
	calls := fd.calls[1:]
	if len(calls) != 3 || calls[0].cmd != cmdDevCreate.req || calls[1].cmd != cmdTableLoad.req || calls[2].cmd != cmdDevSuspend.req {
		t.Fatalf("calls %+v", calls)
	}
	if calls[0].h.UUID != "mpath-3600a0980383030534f2b4d3153324d71" || calls[0].h.Name != "mpatha" {
		t.Errorf("create header %+v", calls[0].h)
	}
	load := calls[1]
	ts, err := decodeTargets(load.payload, load.h.TargetCount)
	if err != nil || len(ts) != 1 {
		t.Fatalf("load payload: %v %v", ts, err)
	}
	if ts[0] != (Target{Start: 0, Length: 2097152, Type: "multipath", Params: tableExamples[0].load}) {
		t.Errorf("loaded %+v", ts[0])
	}
	res := calls[2].h
	if res.Flags != flagNoFlush|flagSkipLockfs {
		t.Errorf("resume flags %#x, want NOFLUSH|SKIP_LOCKFS", res.Flags)
	}
	if res.EventNr != uint32(UdevPrimarySource|MpathNoKpartx)<<16 {
		t.Errorf("resume cookie %#x", res.EventNr)
	}
}

func TestCookieWithUdev(t *testing.T) {
	c, fd := newTestClient(t, true, func(call fdCall) (header, []byte, error) { return header{}, nil, nil })
	if _, err := c.Resume("m", MpathReload); err != nil {
		t.Fatal(err)
	}
	if got, want := fd.last().h.EventNr, uint32(0x40|0x20|0x100)<<16; got != want {
		t.Errorf("cookie %#x, want %#x", got, want)
	}
	if _, err := c.Remove("m", RemoveOptions{Udev: MpathNoPaths}); err != nil {
		t.Fatal(err)
	}
	if got, want := fd.last().h.EventNr, uint32(0x40|0x20|0x400)<<16; got != want {
		t.Errorf("remove cookie %#x, want %#x", got, want)
	}
	if Cookie(UdevPrimarySource) != 0x400000 {
		t.Errorf("Cookie = %#x", Cookie(UdevPrimarySource))
	}
}

func TestSuspendFlags(t *testing.T) {
	c, fd := newTestClient(t, false, func(call fdCall) (header, []byte, error) { return header{}, nil, nil })
	if err := c.Suspend("m"); err != nil {
		t.Fatal(err)
	}
	if f := fd.last().h.Flags; f != flagSuspend|flagNoFlush|flagSkipLockfs {
		t.Errorf("suspend flags %#x", f)
	}
}

func TestRemoveDeferred(t *testing.T) {
	open := true
	c, fd := newTestClient(t, false, func(call fdCall) (header, []byte, error) {
		f := call.h.Flags
		if !open {
			f &^= flagDeferredRemove // removed at once
		}
		return header{Flags: f}, nil, nil
	})
	pending, err := c.Remove("m", RemoveOptions{Deferred: true})
	if err != nil || !pending || fd.last().h.Flags != flagDeferredRemove {
		t.Errorf("open: pending %v err %v flags %#x", pending, err, fd.last().h.Flags)
	}
	open = false
	pending, err = c.Remove("m", RemoveOptions{Deferred: true})
	if err != nil || pending {
		t.Errorf("closed: pending %v err %v", pending, err)
	}
}

func TestRenamePayload(t *testing.T) {
	c, fd := newTestClient(t, false, func(call fdCall) (header, []byte, error) { return header{}, nil, nil })
	if err := c.Rename("mpatha", "mpathz", 0); err != nil {
		t.Fatal(err)
	}
	if got := cstring(fd.last().payload); got != "mpathz" || fd.last().h.Name != "mpatha" {
		t.Errorf("rename %q -> %q", fd.last().h.Name, got)
	}
}

func TestTableAndStatus(t *testing.T) {
	replies := map[bool][]Target{
		true:  {{0, 2097152, "multipath", tableExamples[0].readback}},
		false: {{0, 2097152, "multipath", statusExamples[0] + " "}},
	}
	c, fd := newTestClient(t, false, func(call fdCall) (header, []byte, error) {
		ts := replies[call.h.Flags&flagStatusTable != 0]
		return header{TargetCount: uint32(len(ts))}, kernelStatus(ts), nil
	})
	tb, size, err := c.Table("mpatha")
	if err != nil || size != 2097152 || tb.String()+" " != tableExamples[0].readback {
		t.Errorf("Table = %q, %d, %v", tb.String(), size, err)
	}
	if fd.last().h.Flags != flagStatusTable {
		t.Errorf("table flags %#x", fd.last().h.Flags)
	}
	st, err := c.Status("mpatha")
	if err != nil || st.String() != statusExamples[0] {
		t.Errorf("Status = %q, %v", st.String(), err)
	}
	replies[true] = nil
	if _, _, err := c.Table("mpatha"); !errors.Is(err, ErrNoTable) {
		t.Errorf("no table: %v", err)
	}
	replies[false] = []Target{{0, 8, "linear", "8:16 0 "}}
	if _, err := c.Status("mpatha"); !errors.Is(err, ErrNotMultipath) || !strings.Contains(err.Error(), "DM_TABLE_STATUS mpatha") {
		t.Errorf("linear: %v", err)
	}
	replies[false] = []Target{{0, 8, "multipath", "garbage"}}
	if _, err := c.Status("mpatha"); err == nil || !strings.Contains(err.Error(), "garbage") {
		t.Errorf("garbage: %v", err)
	}
}

func TestMessageOutput(t *testing.T) {
	c, fd := newTestClient(t, false, func(call fdCall) (header, []byte, error) {
		if string(call.payload[8:8+len("@stats_list")]) == "@stats_list" {
			return header{Flags: flagDataOut}, []byte("0: 0+8 8 dm\n\x00"), nil
		}
		return header{}, nil, nil
	})
	out, err := c.Message("m", "@stats_list")
	if err != nil || out != "0: 0+8 8 dm\n" {
		t.Errorf("Message = %q, %v", out, err)
	}
	for _, f := range []func() error{
		func() error { return FailPath(c, "m", "8:16") },
		func() error { return ReinstatePath(c, "m", "8:16") },
		func() error { return SwitchGroup(c, "m", 2) },
		func() error { return EnableGroup(c, "m", 2) },
		func() error { return DisableGroup(c, "m", 1) },
		func() error { return QueueIfNoPath(c, "m") },
		func() error { return FailIfNoPath(c, "m") },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	var msgs []string
	for _, call := range fd.calls[2:] {
		if ne.Uint64(call.payload) != 0 {
			t.Errorf("message sector %d", ne.Uint64(call.payload))
		}
		msgs = append(msgs, cstring(call.payload[8:]))
	}
	want := "fail_path 8:16|reinstate_path 8:16|switch_group 2|enable_group 2|disable_group 1|queue_if_no_path|fail_if_no_path"
	if got := strings.Join(msgs, "|"); got != want {
		t.Errorf("messages %q", got)
	}
}

func TestDepsAndTargets(t *testing.T) {
	vs := []TargetVersion{{"multipath", [3]uint32{1, 14, 0}}, {"linear", [3]uint32{1, 4, 0}}}
	c, _ := newTestClient(t, false, func(call fdCall) (header, []byte, error) {
		switch call.cmd {
		case cmdTableDeps.req:
			return header{}, kernelDeps([]Dev{{8, 16}, {8, 80}}), nil
		case cmdListVersions.req:
			return header{}, kernelVersions(vs), nil
		}
		return header{}, nil, unix.ENOTTY
	})
	deps, err := c.Deps("m")
	if err != nil || len(deps) != 2 || deps[1] != (Dev{8, 80}) {
		t.Errorf("Deps = %v, %v", deps, err)
	}
	got, err := c.Targets()
	if err != nil || !HasTarget(got, "multipath") || HasTarget(got, "round-robin") {
		t.Errorf("Targets = %v, %v", got, err)
	}
}

func TestNodesWithoutUdev(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	dir := t.TempDir()
	fd := &fakeFD{version: [3]uint32{4, 47, 0}}
	live := map[string]Dev{}
	fd.handle = func(call fdCall) (header, []byte, error) {
		switch call.cmd {
		case cmdDevCreate.req:
			live[call.h.Name] = Dev{253, 7}
			return header{Name: call.h.Name, Dev: unix.Mkdev(253, 7)}, nil, nil
		case cmdDevRemove.req:
			delete(live, call.h.Name)
		case cmdDevRename.req:
			live[cstring(call.payload)] = live[call.h.Name]
			delete(live, call.h.Name)
			return header{Dev: unix.Mkdev(253, 7)}, nil, nil
		case cmdListDevices.req:
			var devs []Device
			for n, d := range live {
				devs = append(devs, Device{Name: n, Dev: d})
			}
			return header{}, kernelNameList(devs, true), nil
		}
		return header{}, nil, nil
	}
	c, err := newClient(fd, Options{ControlPath: filepath.Join(dir, "control"), ManageNodes: true, UdevRunning: func() bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	isNode := func(name string, want Dev) bool {
		var st unix.Stat_t
		err := unix.Lstat(filepath.Join(dir, name), &st)
		return err == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK && uint64(st.Rdev) == want.Mkdev() && st.Mode&0o777 == nodeMode
	}
	if _, err := c.Create("mpatha", ""); err != nil || !isNode("mpatha", Dev{253, 7}) {
		t.Fatalf("create: %v, node %v", err, isNode("mpatha", Dev{253, 7}))
	}
	if err := c.Rename("mpatha", "mpathb", 0); err != nil || isNode("mpatha", Dev{253, 7}) || !isNode("mpathb", Dev{253, 7}) {
		t.Fatalf("rename: %v", err)
	}
	if _, err := c.Remove("mpathb", RemoveOptions{}); err != nil || isNode("mpathb", Dev{253, 7}) {
		t.Fatalf("remove: %v", err)
	}
	// A stale node (device gone behind our back) and a missing one.
	if err := unix.Mknod(filepath.Join(dir, "stale"), unix.S_IFBLK|0o600, int(unix.Mkdev(253, 9))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	live["fresh"] = Dev{253, 11}
	if err := c.SyncNodes(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "stale")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale node kept: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "notes")); err != nil {
		t.Errorf("regular file touched: %v", err)
	}
	if !isNode("fresh", Dev{253, 11}) {
		t.Error("missing node not created")
	}
	// A node with the wrong number is replaced.
	live["fresh"] = Dev{253, 12}
	if err := c.SyncNodes(); err != nil || !isNode("fresh", Dev{253, 12}) {
		t.Errorf("renumbered node: %v", err)
	}
	// With udev running the client leaves /dev/mapper alone.
	c.opts.UdevRunning = func() bool { return true }
	if _, err := c.Create("udevmap", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "udevmap")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("node created while udev runs: %v", err)
	}
}

func TestCreateRollsBackWhenNodeFails(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	dir := t.TempDir()
	// A directory where the node should be makes mknod impossible.
	if err := os.Mkdir(filepath.Join(dir, "mpatha"), 0o755); err != nil {
		t.Fatal(err)
	}
	fd := &fakeFD{version: [3]uint32{4, 47, 0}, handle: func(call fdCall) (header, []byte, error) {
		return header{Name: call.h.Name, Dev: unix.Mkdev(253, 1)}, nil, nil
	}}
	c, err := newClient(fd, Options{ControlPath: filepath.Join(dir, "control"), ManageNodes: true, UdevRunning: func() bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("mpatha", ""); err == nil || !strings.Contains(err.Error(), "not a block device") {
		t.Fatalf("Create = %v", err)
	}
	if last := fd.last(); last.cmd != cmdDevRemove.req || last.h.Name != "mpatha" {
		t.Errorf("last ioctl %#x %q, want DM_DEV_REMOVE of the new device", last.cmd, last.h.Name)
	}
}
