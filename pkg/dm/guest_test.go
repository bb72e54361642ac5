package dm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mpathd/mpathd/tests/vm/guest"
)

// Guest-side tests: they run inside the VM test bed (tests/vm/dm_test.go)
// as root against the real dm-multipath target on a 2-host scsi_debug SAN,
// with dmsetup as the independent oracle.

const lun0WWID = "naa.33333330000007d0"

type sanPath struct {
	name string // sdX
	dev  string // MAJ:MIN
	host int
}

// lunPaths finds the paths of one LUN by WWID, ordered by SCSI host.
func lunPaths(t *testing.T, wwid string) ([]sanPath, uint64) {
	t.Helper()
	blocks, _ := filepath.Glob("/sys/block/sd*")
	var ps []sanPath
	var size uint64
	for _, b := range blocks {
		w, err := os.ReadFile(b + "/device/wwid")
		if err != nil || strings.TrimSpace(string(w)) != wwid {
			continue
		}
		dev, _ := os.ReadFile(b + "/dev")
		link, _ := os.Readlink(b + "/device")
		host, _ := strconv.Atoi(strings.Split(filepath.Base(link), ":")[0])
		sz, _ := os.ReadFile(b + "/size")
		size, _ = strconv.ParseUint(strings.TrimSpace(string(sz)), 10, 64)
		ps = append(ps, sanPath{name: filepath.Base(b), dev: strings.TrimSpace(string(dev)), host: host})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].host < ps[j].host })
	if len(ps) < 2 || size == 0 {
		t.Fatalf("LUN %s: paths %v, size %d; want 2 paths", wwid, ps, size)
	}
	return ps, size
}

func dmsetup(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("dmsetup", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("dmsetup %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimRight(string(out), " \n")
}

// dmsetupParams returns the params of a one-target "dmsetup table|status"
// line and checks the prefix "0 <size> multipath".
func dmsetupParams(t *testing.T, line string, size uint64) string {
	t.Helper()
	prefix := fmt.Sprintf("0 %d multipath ", size)
	if !strings.HasPrefix(line, prefix) {
		t.Fatalf("dmsetup line %q does not start with %q", line, prefix)
	}
	return strings.TrimPrefix(line, prefix)
}

// twoGroupTable is the acceptance map: two groups, one path each, no
// queueing so that a broken test fails fast instead of hanging I/O.
func twoGroupTable(selector string, ps []sanPath) Table {
	args := []string{"1"}
	if selector == "service-time" {
		args = []string{"1", "1"}
	}
	return Table{
		InitialPG: 1,
		Groups: []Group{
			{Selector: selector, Paths: []Path{{Dev: ps[0].dev, Args: args}}},
			{Selector: selector, Paths: []Path{{Dev: ps[1].dev, Args: args}}},
		},
	}
}

// reader reads the map with O_DIRECT in a loop and counts errors.
type reader struct {
	reads, errs atomic.Int64
	firstErr    atomic.Value
	stop        chan struct{}
	wg          sync.WaitGroup
}

func startReader(t *testing.T, path string, size uint64) *reader {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s O_DIRECT: %v", path, err)
	}
	r := &reader{stop: make(chan struct{})}
	const bs = 64 << 10
	// O_DIRECT needs a block-aligned buffer.
	raw := make([]byte, bs+4096)
	off := (4096 - int(uintptr(unsafe.Pointer(&raw[0]))%4096)) % 4096
	buf := raw[off : off+bs]
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer unix.Close(fd)
		blocks := int64(size*512) / bs
		for i := int64(0); ; i++ {
			select {
			case <-r.stop:
				return
			default:
			}
			if _, err := unix.Pread(fd, buf, (i%blocks)*bs); err != nil {
				if r.errs.Add(1) == 1 {
					r.firstErr.Store(err.Error())
				}
			}
			r.reads.Add(1)
		}
	}()
	t.Cleanup(r.halt)
	return r
}

func (r *reader) halt() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.wg.Wait()
}

// waitReads blocks until the reader has done n more reads.
func (r *reader) waitReads(t *testing.T, n int64) {
	t.Helper()
	target := r.reads.Load() + n
	deadline := time.Now().Add(30 * time.Second)
	for r.reads.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("reader stalled at %d reads", r.reads.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *reader) check(t *testing.T, what string) {
	t.Helper()
	if n := r.errs.Load(); n > 0 {
		t.Errorf("%s: %d read errors of %d, first: %v", what, n, r.reads.Load(), r.firstErr.Load())
	} else {
		t.Logf("%s: %d reads, no error", what, r.reads.Load())
	}
}

func setState(t *testing.T, sd, state string) {
	t.Helper()
	p := "/sys/block/" + sd + "/device/state"
	if err := os.WriteFile(p, []byte(state+"\n"), 0); err != nil {
		t.Fatalf("write %s: %v", p, err)
	}
	if got, _ := os.ReadFile(p); strings.TrimSpace(string(got)) != state {
		t.Fatalf("%s = %q after writing %q", p, got, state)
	}
}

func openGuestClient(t *testing.T) *Client {
	t.Helper()
	c, err := Open(Options{ManageNodes: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func isBlockNode(path string, dev Dev) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK && uint64(st.Rdev) == dev.Mkdev()
}

// TestGuestDM is the acceptance sequence of pkg/dm on the real kernel.
func TestGuestDM(t *testing.T) {
	guest.Require(t)
	const name, uuid = "mpatha", "mpath-333333330000007d0"
	ps, size := lunPaths(t, lun0WWID)
	t.Logf("LUN0 paths %+v, %d sectors, udev running %v", ps, size, UdevRunning())
	c := openGuestClient(t)
	t.Logf("kernel dm ioctl %v", c.KernelVersion())
	node := "/dev/mapper/" + name

	vs, err := c.Targets()
	if err != nil || !HasTarget(vs, "multipath") {
		t.Fatalf("targets %v, %v", vs, err)
	}
	// The bed loads these selector modules at boot.
	for _, sel := range []string{"round-robin", "queue-length", "service-time"} {
		if ok, err := SelectorLoaded("/sys", sel); !ok || err != nil {
			t.Errorf("SelectorLoaded(%s) = %v, %v", sel, ok, err)
		}
	}

	tb := twoGroupTable("round-robin", ps)
	info, err := CreateMap(c, name, uuid, size, tb, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove(name, RemoveOptions{}) })

	t.Run("create", func(t *testing.T) {
		want, _ := tb.MarshalText()
		if got := dmsetupParams(t, dmsetup(t, "table", name), size); got != string(want) {
			t.Errorf("dmsetup table params:\n got %q\nwant %q", got, want)
		}
		live, lsize, err := c.Table(name)
		if err != nil || lsize != size || !live.Equal(tb) {
			t.Errorf("Table = %q, %d, %v", live.String(), lsize, err)
		}
		st, err := c.Status(name)
		if err != nil {
			t.Fatal(err)
		}
		oracle, err := ParseStatus(dmsetupParams(t, dmsetup(t, "status", name), size))
		if err != nil {
			t.Fatal(err)
		}
		if st.String() != oracle.String() {
			t.Errorf("status: ours %q, dmsetup %q", st.String(), oracle.String())
		}
		if !info.LiveTable || info.UUID != uuid || !isBlockNode(node, info.Dev) {
			t.Errorf("info %+v, node %s ok=%v", info, node, isBlockNode(node, info.Dev))
		}
		devs, err := c.List()
		i := slices.IndexFunc(devs, func(d Device) bool { return d.Name == name })
		if err != nil || i < 0 || devs[i].UUID != uuid || devs[i].Dev != info.Dev {
			t.Errorf("List = %+v, %v", devs, err)
		}
		// Asked without DM_UUID_FLAG, this kernel lists as kernels before 5.13
		// do (no uuids, flags 0): the DEV_STATUS fallback must give the same list.
		old, err := c.list(0)
		if err != nil || !slices.Equal(old, devs) {
			t.Errorf("listing as before 5.13 = %+v, %v; want %+v", old, err, devs)
		}
		deps, err := c.Deps(name)
		if err != nil || len(deps) != 2 {
			t.Errorf("Deps = %v, %v", deps, err)
		}
		for _, d := range deps {
			if d.String() != ps[0].dev && d.String() != ps[1].dev {
				t.Errorf("dep %v is not a LUN0 path", d)
			}
		}
		out, err := exec.Command("dd", "if="+node, "of=/dev/null", "bs=64k", "count=64", "iflag=direct").CombinedOutput()
		if err != nil {
			t.Errorf("dd iflag=direct: %v: %s", err, out)
		}
	})

	t.Run("errors", func(t *testing.T) {
		if _, err := c.Create(name, uuid); !IsBusy(err) {
			t.Errorf("duplicate create: %v", err)
		}
		if _, err := c.Info("nosuch"); !IsNotExist(err) || err.Error() != "dm: DM_DEV_STATUS nosuch: no such device or address" {
			t.Errorf("missing device: %v", err)
		}
		bad := twoGroupTable("no-such-selector", ps)
		if err := c.Load(name, size, bad); !errors.Is(err, unix.EINVAL) {
			t.Errorf("bad selector: %v", err)
		}
		if _, err := c.Message(name, "bogus_message"); !errors.Is(err, unix.EINVAL) {
			t.Errorf("bad message: %v", err)
		}
		if err := c.Suspend(name); err != nil {
			t.Fatal(err)
		}
		if err := FailPath(c, name, ps[0].dev); !IsBusy(err) {
			t.Errorf("message while suspended: %v", err)
		}
		if info, err := c.Resume(name, 0); err != nil || info.Suspended {
			t.Errorf("resume: %+v %v", info, err)
		}
	})

	t.Run("messages", func(t *testing.T) {
		if err := FailPath(c, name, ps[0].dev); err != nil {
			t.Fatal(err)
		}
		st, _ := c.Status(name)
		if p, _, _ := st.Path(ps[0].dev); !p.Failed || p.FailCount != 1 {
			t.Errorf("after fail_path: %q", st.String())
		}
		if !strings.Contains(dmsetup(t, "status", name), ps[0].dev+" F 1") {
			t.Errorf("dmsetup status after fail_path: %q", dmsetup(t, "status", name))
		}
		if err := ReinstatePath(c, name, ps[0].dev); err != nil {
			t.Fatal(err)
		}
		st, _ = c.Status(name)
		if p, _, _ := st.Path(ps[0].dev); p.Failed || p.FailCount != 1 {
			t.Errorf("after reinstate_path: %q", st.String())
		}
		if err := SwitchGroup(c, name, 2); err != nil {
			t.Fatal(err)
		}
		// The kernel switches on the next I/O.
		if out, err := exec.Command("dd", "if="+node, "of=/dev/null", "bs=4k", "count=8", "iflag=direct").CombinedOutput(); err != nil {
			t.Fatalf("dd: %v %s", err, out)
		}
		st, _ = c.Status(name)
		if st.ActiveGroup() != 2 {
			t.Errorf("after switch_group 2: %q", st.String())
		}
		if err := DisableGroup(c, name, 1); err != nil {
			t.Fatal(err)
		}
		st, _ = c.Status(name)
		if st.Groups[0].State != GroupDisabled {
			t.Errorf("after disable_group 1: %q", st.String())
		}
		if err := EnableGroup(c, name, 1); err != nil {
			t.Fatal(err)
		}
		if err := QueueIfNoPath(c, name); err != nil {
			t.Fatal(err)
		}
		live, _, _ := c.Table(name)
		if !live.Features.QueueIfNoPath {
			t.Errorf("queue_if_no_path not in readback %q", live.String())
		}
		if err := FailIfNoPath(c, name); err != nil {
			t.Fatal(err)
		}
		live, _, _ = c.Table(name)
		// disable_group dropped the current group, so without I/O since
		// the kernel prints 1 as the initial group.
		if live.Features.QueueIfNoPath {
			t.Errorf("readback after fail_if_no_path %q", live.String())
		}
		if !Equivalent(tb, live) {
			t.Errorf("Equivalent(desired, live %q) = false", live.String())
		}
	})

	t.Run("kernel path failure", func(t *testing.T) {
		w, err := OpenWatcher(WatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if devs := w.Devices(); len(devs) != 1 || devs[0].Name != name {
			t.Errorf("watcher sees %+v", devs)
		}
		// With nothing happening, cancellation ends the wait on the real fd.
		quiet, cancelQuiet := context.WithTimeout(t.Context(), 100*time.Millisecond)
		ch, err := w.Next(quiet)
		cancelQuiet()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("idle watcher: %+v, %v", ch, err)
		}
		r := startReader(t, node, size)
		r.waitReads(t, 20)
		st, _ := c.Status(name)
		if st.ActiveGroup() == 0 {
			t.Fatalf("no active group under I/O: %q", st.String())
		}
		active := ps[st.ActiveGroup()-1]
		other := ps[2-st.ActiveGroup()]
		start := time.Now()
		setState(t, active.name, "offline")
		defer func() {
			setState(t, active.name, "running")
			ReinstatePath(c, name, active.dev)
		}()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		var got []Change
		for len(got) == 0 {
			ch, err := w.Next(ctx)
			if err != nil {
				t.Fatalf("watcher: %v", err)
			}
			for _, c := range ch {
				if c.Device.Name == name && c.Kind == Changed {
					got = append(got, c)
				}
			}
		}
		elapsed := time.Since(start)
		t.Logf("watcher reported %+v %v after offline", got, elapsed)
		if elapsed > time.Second {
			t.Errorf("watcher took %v, want < 1s", elapsed)
		}
		st, err = c.Status(name)
		p, _, _ := st.Path(active.dev)
		if err != nil || !p.Failed {
			t.Errorf("status after offline %s: %q %v", active.dev, st.String(), err)
		}
		if q, _, _ := st.Path(other.dev); q.Failed {
			t.Errorf("other path failed too: %q", st.String())
		}
		r.waitReads(t, 50)
		r.halt()
		r.check(t, "reads while the active path went offline")
	})

	t.Run("reload under I/O", func(t *testing.T) {
		r := startReader(t, node, size)
		r.waitReads(t, 20)
		st := twoGroupTable("service-time", ps)
		st.Features.QueueIfNoPath = true
		for i, want := range []Table{st, tb, st} {
			did, err := ReloadIfChanged(c, name, size, want, 0)
			if err != nil || !did {
				t.Fatalf("reload %d: %v %v", i, did, err)
			}
			r.waitReads(t, 20)
			live, _, err := c.Table(name)
			if err != nil || !Equivalent(want, live) {
				t.Errorf("reload %d: live %q, want %q", i, live.String(), want.String())
			}
		}
		did, err := ReloadIfChanged(c, name, size, st, 0)
		if err != nil || did {
			t.Errorf("reload of the live table: %v %v", did, err)
		}
		if got := dmsetup(t, "table", name); !strings.Contains(got, "service-time 0 1 2 "+ps[0].dev+" 1 1") {
			t.Errorf("dmsetup table after reload: %q", got)
		}
		r.halt()
		r.check(t, "reads during 3 reloads")
		FailIfNoPath(c, name)
	})

	t.Run("rename", func(t *testing.T) {
		if err := c.Rename(name, "mpathz", 0); err != nil {
			t.Fatal(err)
		}
		info, err := c.Info("mpathz")
		if err != nil || info.UUID != uuid || !isBlockNode("/dev/mapper/mpathz", info.Dev) {
			t.Errorf("after rename: %+v %v", info, err)
		}
		if _, err := os.Lstat(node); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("old node: %v", err)
		}
		if err := c.Rename("mpathz", name, 0); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("remove", func(t *testing.T) {
		fd, err := unix.Open(node, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Remove(name, RemoveOptions{}); !IsBusy(err) {
			t.Errorf("remove while open: %v", err)
		}
		pending, err := c.Remove(name, RemoveOptions{Deferred: true})
		if err != nil || !pending {
			t.Errorf("deferred remove: %v %v", pending, err)
		}
		info, err := c.Info(name)
		if err != nil || !info.DeferredRemove || info.OpenCount != 1 {
			t.Errorf("info while deferred: %+v %v", info, err)
		}
		unix.Close(fd)
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := c.Info(name); IsNotExist(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("device still there 10 s after last close")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := c.SyncNodes(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(node); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("node after deferred remove + SyncNodes: %v", err)
		}
		// Plain remove of a closed map takes its node along.
		if _, err := CreateMap(c, name, uuid, size, tb, 0); err != nil {
			t.Fatal(err)
		}
		if pending, err := c.Remove(name, RemoveOptions{Deferred: true}); err != nil || pending {
			t.Errorf("deferred remove of a closed map: %v %v", pending, err)
		}
		if _, err := os.Lstat(node); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("node after remove: %v", err)
		}
	})
}

// TestGuestDMKeep leaves a map for the host-side oracle check in
// tests/vm/dm_test.go: it writes our rendering of the table line and our
// parse of the status line where the scenario script emits them next to
// dmsetup's.
func TestGuestDMKeep(t *testing.T) {
	guest.Require(t)
	ps, size := lunPaths(t, lun0WWID)
	c := openGuestClient(t)
	tb := Table{
		Features:  Features{PGInitRetries: 5, HasPGInitDelay: true, PGInitDelayMsecs: 100},
		InitialPG: 2,
		Groups: []Group{
			{Selector: "service-time", Paths: []Path{{Dev: ps[0].dev, Args: []string{"1", "2"}}}},
			{Selector: "queue-length", Paths: []Path{{Dev: ps[1].dev, Args: []string{"1"}}}},
		},
	}
	if _, err := CreateMap(c, "mpathkeep", "mpath-333333330000007d0", size, tb, 0); err != nil {
		t.Fatal(err)
	}
	render, _ := tb.MarshalText()
	st, err := c.Status("mpathkeep")
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("0 %d multipath %s", size, render)
	if err := os.WriteFile("/tmp/mpathkeep.table", []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/tmp/mpathkeep.status", []byte(fmt.Sprintf("0 %d multipath %s", size, st.String())), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGuestReadback loads tables that the kernel canonicalises and checks
// the readback against the expected string, against Normalize, and that
// Equivalent sees no difference (so the daemon would not reload).
// {A} and {B} stand for the two LUN0 paths.
func TestGuestReadback(t *testing.T) {
	guest.Require(t)
	ps, size := lunPaths(t, lun0WWID)
	c := openGuestClient(t)
	const name = "mpathnorm"
	for _, tc := range []struct{ load, readback string }{
		{"0 0 2 1 round-robin 0 1 0 {A} round-robin 0 1 0 {B}", "0 0 2 1 round-robin 0 1 1 {A} 1 round-robin 0 1 1 {B} 1"},
		{"0 0 1 1 round-robin 0 2 1 {A} 128 {B} 128", "0 0 1 1 round-robin 0 2 1 {A} 1 {B} 1"},
		{"0 0 2 2 queue-length 0 1 1 {A} 1 queue-length 0 1 0 {B}", "0 0 2 2 queue-length 0 1 1 {A} 1 queue-length 0 1 1 {B} 1"},
		{"1 queue_if_no_path 0 2 1 service-time 0 1 1 {A} 1 service-time 0 1 1 {B} 1", "1 queue_if_no_path 0 2 1 service-time 0 1 2 {A} 1 1 service-time 0 1 2 {B} 1 1"},
		{"0 0 1 1 service-time 0 2 2 {A} 1 5 {B} 1 0", "0 0 1 1 service-time 0 2 2 {A} 1 5 {B} 1 0"},
		{"6 queue_mode mq pg_init_delay_msecs 0 pg_init_retries 3 0 1 1 round-robin 0 2 1 {A} 1 {B} 1", "4 pg_init_retries 3 pg_init_delay_msecs 0 0 1 1 round-robin 0 2 1 {A} 1 {B} 1"},
		{"1 QUEUE_IF_NO_PATH 2 alua 1 1 1 round-robin 0 2 1 {A} 1 {B} 1", "1 queue_if_no_path 1 alua 1 1 round-robin 0 2 1 {A} 1 {B} 1"},
		// With retain, the handler already attached to the paths (scsi_dh_alua
		// on scsi_debug) replaces the table's.
		{"1 retain_attached_hw_handler 0 1 1 round-robin 0 2 1 {A} 1 {B} 1", "1 retain_attached_hw_handler 1 alua 1 1 round-robin 0 2 1 {A} 1 {B} 1"},
		{"2 queue_mode bio 0 1 1 round-robin 0 2 1 {A} 1 {B} 1", "3 retain_attached_hw_handler queue_mode bio 1 alua 1 1 round-robin 0 2 1 {A} 1 {B} 1"},
	} {
		sub := strings.NewReplacer("{A}", ps[0].dev, "{B}", ps[1].dev)
		load, readback := sub.Replace(tc.load), sub.Replace(tc.readback)
		t.Run(tc.load, func(t *testing.T) {
			desired, err := ParseTable(load)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := CreateMap(c, name, "", size, desired, 0); err != nil {
				t.Fatal(err)
			}
			defer c.Remove(name, RemoveOptions{})
			if got := dmsetupParams(t, dmsetup(t, "table", name), size); got != readback {
				t.Errorf("dmsetup table:\n got %q\nwant %q", got, readback)
			}
			live, _, err := c.Table(name)
			if err != nil {
				t.Fatal(err)
			}
			if live.String() != readback {
				t.Errorf("Table = %q, want %q", live.String(), readback)
			}
			if !Equivalent(desired, live) {
				t.Errorf("Equivalent(%q, %q) = false", load, live.String())
			}
			if n := desired.Normalize(); !n.Features.RetainAttachedHWHandler && !n.Equal(live) {
				t.Errorf("Normalize = %q, kernel %q", n.String(), live.String())
			}
		})
	}
}

// udevProps returns the udev database properties of a block device.
func udevProps(t *testing.T, dev string) map[string]string {
	t.Helper()
	if out, err := exec.Command("udevadm", "settle", "--timeout=20").CombinedOutput(); err != nil {
		t.Fatalf("udevadm settle: %v %s", err, out)
	}
	out, err := exec.Command("udevadm", "info", "-q", "property", "-n", dev).Output()
	if err != nil {
		t.Fatalf("udevadm info %s: %v", dev, err)
	}
	props := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			props[k] = v
		}
	}
	return props
}

// TestGuestUdev runs with udevd and the distribution's dm rules: the
// client must leave /dev/mapper to udev, and the cookie flags must reach
// the rules (dmsetup udevflags decodes them into the udev database).
func TestGuestUdev(t *testing.T) {
	guest.Require(t)
	if !UdevRunning() {
		t.Fatal("udev is not running in this scenario")
	}
	ps, size := lunPaths(t, lun0WWID)
	c := openGuestClient(t) // ManageNodes is set: with udev it must not act
	const name, uuid = "mpathu", "mpath-333333330000007d0"
	info, err := CreateMap(c, name, uuid, size, twoGroupTable("round-robin", ps), MpathNoKpartx)
	if err != nil {
		t.Fatal(err)
	}
	dmN := fmt.Sprintf("/dev/dm-%d", info.Dev.Minor)
	props := udevProps(t, dmN)
	link, err := os.Readlink("/dev/mapper/" + name)
	if err != nil || filepath.Base(link) != filepath.Base(dmN) {
		t.Errorf("/dev/mapper/%s -> %q (%v), want a udev symlink to %s", name, link, err, dmN)
	}
	want := map[string]string{
		"DM_NAME":                               name,
		"DM_UUID":                               uuid,
		"DM_UDEV_PRIMARY_SOURCE_FLAG":           "1",
		"DM_UDEV_DISABLE_LIBRARY_FALLBACK_FLAG": "1",
		"DM_SUBSYSTEM_UDEV_FLAG1":               "1", // MpathNoKpartx
	}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("after create: %s = %q, want %q", k, props[k], v)
		}
	}

	did, err := ReloadIfChanged(c, name, size, twoGroupTable("service-time", ps), 0)
	if err != nil || !did {
		t.Fatalf("reload: %v %v", did, err)
	}
	props = udevProps(t, dmN)
	// DM_COOKIE itself is not kept in the udev database; the flags
	// "dmsetup udevflags" decoded from it are.
	if props["DM_SUBSYSTEM_UDEV_FLAG0"] != "1" || props["DM_UDEV_PRIMARY_SOURCE_FLAG"] != "1" {
		t.Errorf("after reload: flag0 %q primary %q", props["DM_SUBSYSTEM_UDEV_FLAG0"], props["DM_UDEV_PRIMARY_SOURCE_FLAG"])
	}
	if props["DM_SUBSYSTEM_UDEV_FLAG1"] == "1" {
		t.Errorf("after reload: no-kpartx flag still set")
	}

	if err := c.SyncNodes(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Remove(name, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	udevProps(t, "/dev/mapper/control") // settle
	if _, err := os.Lstat("/dev/mapper/" + name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/dev/mapper/%s after remove: %v", name, err)
	}
}

// TestGuestUdevWait proves Options.UdevWait next to udevd and the
// distribution's dm rules (95-dm-notify.rules runs "dmsetup udevcomplete").
// With udevd working, create, reload and remove return only once udev has
// run its rules: the /dev/mapper link and the udev database are already
// right when the call returns, with no settle. With udevd stopped, every
// wait ends after UdevTimeout, the calls still succeed and the map is
// right. No cookie semaphore is ever left behind. The call times go to
// /tmp/udevwait.txt for the host.
func TestGuestUdevWait(t *testing.T) {
	guest.Require(t)
	if !UdevRunning() {
		t.Fatal("udev is not running in this scenario")
	}
	ps, size := lunPaths(t, lun0WWID)
	rec := &logRecorder{}
	const timeout = 2 * time.Second
	c, err := Open(Options{ManageNodes: true, UdevWait: true, UdevTimeout: timeout, Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	noCookies := func(when string) {
		t.Helper()
		keys, err := sysvSemKeys()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k>>16 == cookieMagic {
				t.Errorf("%s: cookie semaphore %#x left behind", when, k)
			}
		}
	}
	var figures []string
	timed := func(what string, f func() error) time.Duration {
		t.Helper()
		start := time.Now()
		err := f()
		d := time.Since(start)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		figures = append(figures, fmt.Sprintf("%s=%dms", what, d.Milliseconds()))
		return d
	}
	// props reads the udev database without settling.
	props := func(dev string) map[string]string {
		t.Helper()
		out, err := exec.Command("udevadm", "info", "-q", "property", "-n", dev).Output()
		if err != nil {
			t.Fatalf("udevadm info %s: %v", dev, err)
		}
		m := map[string]string{}
		for _, l := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	liveIs := func(name string, want Table) {
		t.Helper()
		info := dmsetup(t, "info", name)
		if flat := strings.Join(strings.Fields(info), " "); !strings.Contains(flat, "State: ACTIVE") || !strings.Contains(flat, "Tables present: LIVE Open") {
			t.Errorf("dmsetup info %s:\n%s", name, info)
		}
		got, err := ParseTable(dmsetupParams(t, dmsetup(t, "table", name), size))
		if err != nil || !Equivalent(want, got) {
			t.Errorf("dmsetup table %s = %+v (%v), want %+v", name, got, err, want)
		}
	}
	noCookies("before")
	const name, uuid = "mpathw", "mpath-333333330000007d0"
	rr, st := twoGroupTable("round-robin", ps), twoGroupTable("service-time", ps)
	var info Info

	// For comparison, flags-only cookies: the calls do not wait for udev.
	flagsOnly := openGuestClient(t)
	timed("create.flagsonly", func() (err error) { info, err = CreateMap(flagsOnly, name, uuid, size, rr, 0); return err })
	_, err = os.Lstat("/dev/mapper/" + name)
	figures = append(figures, fmt.Sprintf("link.flagsonly=%v", err == nil))
	udevProps(t, "/dev/mapper/control") // settle
	timed("remove.flagsonly", func() error { _, err := flagsOnly.Remove(name, RemoveOptions{}); return err })
	udevProps(t, "/dev/mapper/control")

	// udevd working: every call returns after udev has run the rules.
	timed("create", func() (err error) {
		info, err = CreateMap(c, name, uuid, size, rr, MpathNoKpartx)
		return err
	})
	dmN := fmt.Sprintf("/dev/dm-%d", info.Dev.Minor)
	if link, err := os.Readlink("/dev/mapper/" + name); err != nil || filepath.Base(link) != filepath.Base(dmN) {
		t.Errorf("right after create: /dev/mapper/%s -> %q (%v), want a link to %s", name, link, err, dmN)
	}
	if p := props(dmN); p["DM_NAME"] != name || p["DM_SUBSYSTEM_UDEV_FLAG1"] != "1" || p["DM_SUBSYSTEM_UDEV_FLAG0"] == "1" {
		t.Errorf("right after create: DM_NAME %q flag1 %q flag0 %q", p["DM_NAME"], p["DM_SUBSYSTEM_UDEV_FLAG1"], p["DM_SUBSYSTEM_UDEV_FLAG0"])
	}
	noCookies("after create")
	timed("reload", func() error { return Reload(c, name, size, st, 0) })
	// The reload's flag (MpathReload) can only be in the database if udev
	// has already run the rules for the reload's uevent.
	if p := props(dmN); p["DM_SUBSYSTEM_UDEV_FLAG0"] != "1" || p["DM_SUBSYSTEM_UDEV_FLAG1"] == "1" {
		t.Errorf("right after reload: flag0 %q flag1 %q", p["DM_SUBSYSTEM_UDEV_FLAG0"], p["DM_SUBSYSTEM_UDEV_FLAG1"])
	}
	liveIs(name, st)
	noCookies("after reload")
	timed("remove", func() error { _, err := c.Remove(name, RemoveOptions{}); return err })
	if _, err := os.Lstat("/dev/mapper/" + name); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("right after remove: /dev/mapper/%s: %v", name, err)
	}
	noCookies("after remove")
	if w := rec.warnings(); len(w) != 0 {
		t.Errorf("warnings with udevd working: %v", w)
	}

	// udevd stopped: the rules never run, each wait times out, the
	// operations stand.
	udevd := udevdPIDs(t)
	signal := func(sig unix.Signal) {
		for _, pid := range udevd {
			if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
				t.Errorf("kill %d %v: %v", pid, sig, err)
			}
		}
	}
	signal(unix.SIGSTOP)
	defer signal(unix.SIGCONT)
	const name2 = "mpathw2"
	for _, d := range []time.Duration{
		timed("create.stopped", func() (err error) { info, err = CreateMap(c, name2, uuid, size, rr, 0); return err }),
		timed("reload.stopped", func() error { return Reload(c, name2, size, st, 0) }),
	} {
		if d < timeout {
			t.Errorf("a call returned after %v with udevd stopped, before the %v timeout", d, timeout)
		}
	}
	liveIs(name2, st)
	noCookies("after timeouts")
	timed("remove.stopped", func() error { _, err := c.Remove(name2, RemoveOptions{}); return err })
	if out, err := exec.Command("dmsetup", "info", name2).CombinedOutput(); err == nil {
		t.Errorf("%s still exists after remove:\n%s", name2, out)
	}
	w := rec.warnings()
	for _, err := range w {
		if !errors.Is(err, ErrUdevTimeout) {
			t.Errorf("warning %v, want ErrUdevTimeout", err)
		}
	}
	// create: the resume; reload: its resume; remove.
	if len(w) != 3 {
		t.Errorf("%d warnings, want 3 timeouts: %v", len(w), w)
	}
	noCookies("after remove with udevd stopped")

	// udevd back: it runs the stale events; their udevcomplete finds no
	// semaphore, which is harmless.
	signal(unix.SIGCONT)
	if out, err := exec.Command("udevadm", "settle", "--timeout=20").CombinedOutput(); err != nil {
		t.Fatalf("udevadm settle: %v %s", err, out)
	}
	if _, err := os.Lstat("/dev/mapper/" + name2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/dev/mapper/%s after udevd resumed: %v", name2, err)
	}
	noCookies("after udevd resumed")
	t.Logf("call times: %s", strings.Join(figures, " "))
	if err := os.WriteFile("/tmp/udevwait.txt", []byte(strings.Join(figures, " ")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// udevdPIDs finds every systemd-udevd process (the manager and its
// workers).
func udevdPIDs(t *testing.T) []int {
	t.Helper()
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	var pids []int
	for _, p := range comms {
		b, err := os.ReadFile(p)
		if err != nil || strings.TrimSpace(string(b)) != "systemd-udevd" {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		t.Fatal("no systemd-udevd process")
	}
	return pids
}

// TestGuestListBefore513 lists the real kernel's devices the way kernels
// before 5.13 answer (no DM_UUID_FLAG: no uuids, flags 0) and checks that
// the DEV_STATUS fallback finds every map with its uuid, as List does.
func TestGuestListBefore513(t *testing.T) {
	guest.Require(t)
	const name, uuid = "mpathold", "mpath-333333330000007d0"
	ps, size := lunPaths(t, lun0WWID)
	c := openGuestClient(t)
	if _, err := CreateMap(c, name, uuid, size, twoGroupTable("round-robin", ps), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove(name, RemoveOptions{}) })
	devs, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	old, err := c.list(0)
	t.Logf("kernel dm %v: List %+v; listed as before 5.13 %+v", c.KernelVersion(), devs, old)
	if err != nil || !slices.Equal(old, devs) {
		t.Errorf("listing as before 5.13 = %+v, %v; want %+v", old, err, devs)
	}
	if i := slices.IndexFunc(old, func(d Device) bool { return d.Name == name }); i < 0 || old[i].UUID != uuid {
		t.Errorf("map %s with uuid %s not found: %+v", name, uuid, old)
	}
}
