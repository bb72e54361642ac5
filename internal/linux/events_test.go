package linux

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpathd/mpathd/internal/daemon"
	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/parttable"
	"github.com/mpathd/mpathd/pkg/sysfs"
	"github.com/mpathd/mpathd/pkg/uevent"
)

// fixture is a sysfs tree captured from the VM test bed: 2 hosts × 4 LUNs of scsi_debug, sda–sdh.
const fixture = "../../pkg/sysfs/testdata/scsi_debug"

const (
	lun0 = "333333330000007d0" // sda 8:0 and sde 8:64
	lun1 = "333333330000007d1" // sdc 8:32 and sdh 8:112
)

// hidingFS is the fixture with some paths hidden, as if not there yet or gone.
type hidingFS struct {
	sysfs.FS
	mu     sync.Mutex
	hidden map[string]bool
}

func (h *hidingFS) set(name string, hidden bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hidden[name] = hidden
}

func (h *hidingFS) Paths() ([]sysfs.Path, error) {
	ps, err := h.FS.Paths()
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.DeleteFunc(ps, func(p sysfs.Path) bool { return h.hidden[p.Name] }), err
}

func (h *hidingFS) Path(name string) (sysfs.Path, error) {
	h.mu.Lock()
	hidden := h.hidden[name]
	h.mu.Unlock()
	if hidden {
		return sysfs.Path{}, fmt.Errorf("sysfs: path %s: %w", name, fs.ErrNotExist)
	}
	return h.FS.Path(name)
}

// upMonitor answers every check at once: up, priority 50. It records CheckNow calls.
type upMonitor struct {
	d      func() *daemon.Daemon
	mu     sync.Mutex
	checks []string
}

func (m *upMonitor) Watch(p sysfs.Path, _ daemon.CheckSpec) {
	m.d().PathChecked(p.Name, daemon.CheckResult{State: checker.Up, Prio: 50, PrioName: "const"})
}

func (m *upMonitor) Unwatch(string) {}

func (m *upMonitor) CheckNow(dev string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checks = append(m.checks, dev)
}

func (m *upMonitor) checkedNow(dev string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Contains(m.checks, dev)
}

type bed struct {
	t     *testing.T
	d     *daemon.Daemon
	dm    *dm.Fake
	fs    *hidingFS
	mon   *upMonitor
	disks *countingDisks
	ctx   context.Context
	stop  context.CancelFunc
}

// countingDisks counts partition-table reads per device; every device has no table.
type countingDisks struct {
	mu    sync.Mutex
	reads map[dm.Dev]int
}

func (c *countingDisks) PartitionTable(ctx context.Context, dev dm.Dev) (*parttable.Table, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads[dev]++
	return nil, parttable.ErrNoTable
}

func (c *countingDisks) count(dev dm.Dev) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads[dev]
}

// newBed runs a daemon over the fixture (with hidden paths left out) and the fake kernel. The
// polling interval is an hour: whatever the daemon learns, it learns from the pumps under test.
func newBed(t *testing.T, hidden ...string) *bed {
	t.Helper()
	h := &hidingFS{FS: sysfs.New(fixture), hidden: map[string]bool{}}
	for _, n := range hidden {
		h.hidden[n] = true
	}
	cfg, err := config.Parse([]byte("[defaults]\npolling_interval = 3600\nmax_polling_interval = 3600\nfind_multipaths = \"off\"\n"), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	f := dm.NewFake()
	var devs []dm.PathDevice
	for i := range 8 {
		devs = append(devs, dm.PathDevice{Dev: fmt.Sprintf("8:%d", 16*i), Sectors: 32768})
	}
	f.SetPathDevices(devs)
	b := &bed{t: t, dm: f, fs: h, disks: &countingDisks{reads: map[dm.Dev]int{}}}
	b.mon = &upMonitor{d: func() *daemon.Daemon { return b.d }}
	b.d = daemon.New(daemon.Options{Config: cfg, Topology: h, DM: f, Monitor: b.mon, Log: zerolog.New(zerolog.NewTestWriter(t)), Shards: 2, Disks: b.disks})
	ctx, cancel := context.WithCancel(context.Background())
	b.ctx = ctx
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := b.d.Run(ctx, func() { close(ready) }); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-ready:
	case <-done:
		t.Fatal("the daemon stopped before it was ready")
	}
	b.stop = func() { cancel(); <-done }
	t.Cleanup(b.stop)
	return b
}

// eventually waits for cond, which the daemon makes true asynchronously. The bound is far above
// what the work takes (milliseconds); it only keeps a broken pump from hanging the test.
func (b *bed) eventually(what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *bed) hasPath(mapName, devt string) bool {
	t, _, err := b.dm.Table(mapName)
	return err == nil && strings.Contains(t.String(), " "+devt+" ")
}

func diskEvent(action uevent.Action, dev string) uevent.Event {
	return uevent.Event{Source: uevent.Kernel, Action: action, Subsystem: "block", DevType: "disk", DevName: dev,
		DevPath: "/devices/pseudo_0/adapter0/host1/target1:0:0/1:0:0:1/block/" + dev, Env: map[string]string{}}
}

var quiet = slog.New(slog.DiscardHandler)

// The uevent pump turns path add, remove and change events into the daemon's inputs, and an
// overflow into a resync that finds what the lost events were about.
func TestUeventPump(t *testing.T) {
	b := newBed(t, "sdh", "sde")
	if b.hasPath(lun1, "8:112") || b.hasPath(lun0, "8:64") {
		t.Fatalf("hidden paths in the tables at start")
	}
	src := uevent.NewFake()
	ctx, cancel := context.WithCancel(b.ctx)
	pumped := make(chan error, 1)
	go func() { pumped <- pumpUevents(ctx, b.d, b.fs, src, quiet) }()

	b.fs.set("sdh", false)
	src.Send(diskEvent(uevent.Add, "sdh"))
	b.eventually("sdh added to "+lun1, func() bool { return b.hasPath(lun1, "8:112") })

	b.fs.set("sdh", true)
	src.Send(diskEvent(uevent.Remove, "sdh"))
	b.eventually("sdh removed from "+lun1, func() bool { return !b.hasPath(lun1, "8:112") })

	src.Send(diskEvent(uevent.Change, "sda"))
	b.eventually("a check of sda after its change event", func() bool { return b.mon.checkedNow("sda") })

	// sde appears without an event (the socket lost it): the overflow's resync finds it.
	b.fs.set("sde", false)
	src.Send(uevent.Event{Overflow: true})
	b.eventually("sde found by the resync", func() bool { return b.hasPath(lun0, "8:64") })

	cancel()
	if err := <-pumped; err != nil {
		t.Errorf("pump stopped by its context: %v, want nil", err)
	}
	if _, err := src.Receive(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("the pump did not close its source: Receive = %v", err)
	}
}

// failingReceiver fails its first Receive with err.
type failingReceiver struct {
	err    error
	closed bool
}

func (f *failingReceiver) Receive() (uevent.Event, error) { return uevent.Event{}, f.err }
func (f *failingReceiver) Close() error                   { f.closed = true; return nil }

// A uevent socket that fails ends the pump with its error (the daemon then stops rather than run
// blind); a source closed under it is not an error.
func TestUeventPumpReceiveError(t *testing.T) {
	b := newBed(t)
	boom := errors.New("recvmsg: ENOTSOCK")
	r := &failingReceiver{err: boom}
	if err := pumpUevents(b.ctx, b.d, b.fs, r, quiet); !errors.Is(err, boom) || !strings.Contains(err.Error(), "uevent receive") {
		t.Errorf("pump = %v, want the receive error", err)
	}
	if !r.closed {
		t.Errorf("the pump did not close its source")
	}
	closed := &failingReceiver{err: fmt.Errorf("uevent: %w", fs.ErrClosed)}
	if err := pumpUevents(b.ctx, b.d, b.fs, closed, quiet); err != nil {
		t.Errorf("pump over a closed source = %v, want nil", err)
	}
}

// The dm event pump tells the daemon at once of a path the kernel failed.
func TestDMEventPump(t *testing.T) {
	b := newBed(t)
	w, err := b.dm.Watcher(dm.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.ctx)
	pumped := make(chan error, 1)
	go func() { pumped <- pumpDMEvents(ctx, b.d, w) }()
	if err := b.dm.KernelFailPath(lun0, "8:0"); err != nil {
		t.Fatal(err)
	}
	b.eventually("sda shown failed after the dm event", func() bool {
		m, ok := b.d.Topology().Find(lun0)
		if !ok {
			return false
		}
		for _, g := range m.Groups {
			for _, p := range g.Paths {
				if p.Dev == "sda" {
					return p.DMState == api.DMFailed
				}
			}
		}
		return false
	})
	cancel()
	if err := <-pumped; err != nil {
		t.Errorf("pump stopped by its context: %v, want nil", err)
	}
}

type failingWatcher struct{ err error }

func (f failingWatcher) Next(context.Context) ([]dm.Change, error) { return nil, f.err }

// A dm event watcher that fails ends the pump with its error.
func TestDMEventPumpError(t *testing.T) {
	b := newBed(t)
	boom := errors.New("poll: EBADF")
	if err := pumpDMEvents(b.ctx, b.d, failingWatcher{boom}); !errors.Is(err, boom) || !strings.Contains(err.Error(), "dm event watcher") {
		t.Errorf("pump = %v, want the watcher's error", err)
	}
}

// A change uevent of a map that no dm operation raised (no DM_COOKIE: udev's watch after a
// partitioning tool, a trigger) has the map's partition table read again; one with a cookie (a
// resume) does not.
func TestUeventPartitionRescan(t *testing.T) {
	b := newBed(t)
	info, err := b.dm.Info(lun0)
	if err != nil {
		t.Fatal(err)
	}
	b.eventually("the first read of "+lun0, func() bool { return b.disks.count(info.Dev) == 1 })
	src := uevent.NewFake()
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	go pumpUevents(ctx, b.d, b.fs, src, quiet)
	dmEvent := func(env map[string]string) uevent.Event {
		name := fmt.Sprintf("dm-%d", info.Dev.Minor)
		return uevent.Event{Source: uevent.Kernel, Action: uevent.Change, Subsystem: "block", DevType: "disk", DevName: name,
			DevPath: "/devices/virtual/block/" + name, Env: env}
	}
	src.Send(dmEvent(map[string]string{"DM_COOKIE": "4194304"}))
	src.Send(dmEvent(map[string]string{}))
	b.eventually("a second read after the change uevent", func() bool { return b.disks.count(info.Dev) == 2 })
	src.Send(dmEvent(map[string]string{"DM_COOKIE": "4194304"}))
	src.Send(dmEvent(map[string]string{}))
	b.eventually("a third read", func() bool { return b.disks.count(info.Dev) == 3 })
	time.Sleep(50 * time.Millisecond) // a read for a cookie event would come within this
	if n := b.disks.count(info.Dev); n != 3 {
		t.Errorf("%d reads, want 3: a resume's uevent read the table", n)
	}
}
