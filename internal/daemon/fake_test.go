package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// fakeTopo is an in-memory sysfs.
type fakeTopo struct {
	mu    sync.Mutex
	torn  string // a path Paths reports as unreadable, beside the readable ones
	paths map[string]sysfs.Path
	// unreadable paths exist but cannot be read: Paths leaves them out with an error, Path fails
	// with EIO, as sysfs does when an attribute read fails.
	unreadable map[string]bool
	scans      []string
	reads      int // Path calls
}

func (f *fakeTopo) Paths() ([]sysfs.Path, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ps []sysfs.Path
	var errs []error
	for _, p := range f.paths {
		if f.unreadable[p.Name] {
			errs = append(errs, fmt.Errorf("sysfs: path %s: read size: %w", p.Name, syscall.EIO))
			continue
		}
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b sysfs.Path) int { return strings.Compare(a.Name, b.Name) })
	if f.torn != "" {
		errs = append(errs, fmt.Errorf("sysfs: path %s: read vpd_pg83: %w", f.torn, sysfs.ErrNotSCSI))
	}
	return ps, errors.Join(errs...)
}

func (f *fakeTopo) Path(name string) (sysfs.Path, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	p, ok := f.paths[name]
	switch {
	case !ok:
		return sysfs.Path{}, fmt.Errorf("sysfs: path %s: resolve: %w", name, fs.ErrNotExist)
	case f.unreadable[name]:
		return sysfs.Path{}, fmt.Errorf("sysfs: path %s: read size: %w", name, syscall.EIO)
	}
	return p, nil
}

func (f *fakeTopo) ScanHost(host int, a sysfs.ScanAddr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scans = append(f.scans, fmt.Sprint(host))
	return nil
}

func (f *fakeTopo) Hosts() ([]sysfs.Host, error) { return []sysfs.Host{{Number: 0}, {Number: 1}}, nil }

func (f *fakeTopo) set(p sysfs.Path) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths[p.Name] = p
}

func (f *fakeTopo) del(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.paths, name)
}

// fakeMonitor records what the daemon asks of the checker; tests deliver results themselves.
type fakeMonitor struct {
	mu      sync.Mutex
	watched map[string]CheckSpec
	now     []string
	// first answers a newly watched path's first check, as the real runner checks new paths at once.
	first func(p sysfs.Path)
}

func (m *fakeMonitor) Watch(p sysfs.Path, spec CheckSpec) {
	m.mu.Lock()
	_, known := m.watched[p.Name]
	m.watched[p.Name] = spec
	first := m.first
	m.mu.Unlock()
	if !known && first != nil {
		first(p) // PathChecked only queues work, so answering inline is safe and keeps order
	}
}

func (m *fakeMonitor) Unwatch(dev string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.watched, dev)
}

func (m *fakeMonitor) CheckNow(dev string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = append(m.now, dev)
}

func (m *fakeMonitor) takeNow() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.now
	m.now = nil
	return n
}

// san builds the scsi_debug-like SAN of the VM test bed: hosts × LUNs, LUN k on every host is one
// WWID, ALUA state by host number (0 optimized, 1 non-optimized, 2 standby).
func san(hosts, luns int) *fakeTopo {
	t := &fakeTopo{paths: map[string]sysfs.Path{}, unreadable: map[string]bool{}}
	alua := []string{"active/optimized", "active/non-optimized", "standby"}
	n := 0
	for h := range hosts {
		for l := range luns {
			name := "sd" + string(rune('a'+n))
			if n >= 26 {
				name = fmt.Sprintf("sdx%d", n)
			}
			t.paths[name] = sysfs.Path{
				Name: name, Dev: sysfs.DevT{Major: 8, Minor: uint32(16 * n)},
				HCTL: sysfs.HCTL{Host: h, LUN: uint64(l)}, Vendor: "Linux", Model: "scsi_debug", Rev: "0191",
				Size: 32768, State: "running", Timeout: 30, AccessState: alua[h%3], DHState: "alua",
				WWID: fmt.Sprintf("333333330000007d%d", l), TPG: uint16((h + 1) << 8), HasTPG: true,
			}
			n++
		}
	}
	return t
}

// prioOf is the sysfs prioritizer's value for the fake's ALUA states.
func prioOf(p sysfs.Path) int {
	switch p.AccessState {
	case "active/optimized":
		return 50
	case "active/non-optimized":
		return 10
	case "standby":
		return 1
	}
	return 0
}

type rig struct {
	t      testing.TB
	d      *Daemon
	dm     *dm.Fake
	topo   *fakeTopo
	mon    *fakeMonitor
	cancel context.CancelCauseFunc
	done   chan struct{}
	gone   map[string]sysfs.Path // paths removeAll took out, for restore
}

func newRig(t testing.TB, topo *fakeTopo, cfgText string, prep func(*dm.Fake)) *rig {
	t.Helper()
	return newRigWith(t, topo, cfgText, prep, nil)
}

func newRigWith(t testing.TB, topo *fakeTopo, cfgText string, prep func(*dm.Fake), opt func(*Options)) *rig {
	t.Helper()
	cfg := config.Builtin()
	if cfgText != "" {
		var err error
		if cfg, err = config.Parse([]byte(cfgText), "test.toml"); err != nil {
			t.Fatal(err)
		}
	}
	f := dm.NewFake()
	if prep != nil {
		prep(f)
	}
	r := &rig{t: t, dm: f, topo: topo, mon: &fakeMonitor{watched: map[string]CheckSpec{}}, done: make(chan struct{}),
		gone: map[string]sysfs.Path{}}
	log := zerolog.New(zerolog.NewTestWriter(t))
	if _, bench := t.(*testing.B); bench {
		log = zerolog.New(io.Discard) // the daemon logs to a file or journald, not to a test buffer
	}
	o := Options{Config: cfg, Topology: topo, DM: f, Monitor: r.mon, Log: log, Shards: 4}
	if opt != nil {
		opt(&o)
	}
	r.d = New(o)
	r.mon.first = func(p sysfs.Path) { r.check(p.Name, healthy(p)) }
	ctx, cancel := context.WithCancelCause(context.Background())
	r.cancel = cancel
	ready := make(chan struct{})
	go func() {
		defer close(r.done)
		if err := r.d.Run(ctx, func() { close(ready) }); err != nil {
			t.Error(err)
		}
	}()
	<-ready
	t.Cleanup(r.stop)
	return r
}

// stop stops the daemon cleanly, as SIGTERM does.
func (r *rig) stop() { r.stopWith(ErrStop) }

// stopWith stops the daemon with a cause: ErrStop for a clean stop, another error for an error exit.
func (r *rig) stopWith(cause error) {
	r.cancel(cause)
	<-r.done
}

// settle waits until every shard is idle: work that queued more work (a first check answered while
// a path was being added) is done too.
func (r *rig) settle() {
	for {
		// A persistent reservation job starts on a shard and posts its result before it ends: none
		// in flight before and after the barrier, with every shard idle between, is quiet.
		before := r.d.prJobs.Load()
		r.d.barrier(context.Background())
		idle := before == 0
		for _, s := range r.d.shards {
			idle = idle && s.idle()
		}
		if idle && r.d.prJobs.Load() == 0 {
			return
		}
		runtime.Gosched()
	}
}

// check delivers a check result for one path, with the prio its ALUA state gives.
func (r *rig) check(dev string, st checker.State) {
	r.topo.mu.Lock()
	p := r.topo.paths[dev] // not Path: a checker does not read the topology, and tests count its reads
	r.topo.mu.Unlock()
	prio := checker.PrioUndefined
	if st.Usable() {
		prio = prioOf(p)
	}
	r.d.PathChecked(dev, CheckResult{State: st, Reason: "test", Prio: prio, PrioName: "sysfs"})
}

// healthy is what TUR says of a path: up, ghost on a standby one, down on an offline one.
func healthy(p sysfs.Path) checker.State {
	switch {
	case p.State == "offline":
		return checker.Down
	case p.AccessState == "standby":
		return checker.Ghost
	}
	return checker.Up
}

func (r *rig) table(name string) string {
	r.t.Helper()
	t, _, err := r.dm.Table(name)
	if err != nil {
		r.t.Fatalf("table %s: %v", name, err)
	}
	return strings.TrimSpace(t.String())
}

func (r *rig) pathStatus(name, devt string) (dm.PathStatus, int, bool) {
	r.t.Helper()
	st, err := r.dm.Status(name)
	if err != nil {
		r.t.Fatalf("status %s: %v", name, err)
	}
	return st.Path(devt)
}

// ops counts the recorded dm calls of one kind on one map since the last reset.
func (r *rig) ops(op, name string) int {
	n := 0
	for _, c := range r.dm.Calls() {
		if c.Op == op && (name == "" || c.Name == name) {
			n++
		}
	}
	return n
}

func (r *rig) messages(name string) []string {
	var ms []string
	for _, c := range r.dm.Calls() {
		if c.Op == "DM_TARGET_MSG" && c.Name == name {
			ms = append(ms, c.Arg)
		}
	}
	return ms
}

// liveMap returns a prep that puts a map for LUN 0 with the given table into the fake kernel
// before the daemon starts, as an initramfs, multipathd or an earlier mpathd would have left it.
func liveMap(t testing.TB, name, table string) func(*dm.Fake) {
	return func(f *dm.Fake) {
		tab, err := dm.ParseTable(table)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dm.CreateMap(f, name, "mpath-"+lun0, 32768, tab, 0); err != nil {
			t.Fatal(err)
		}
		f.ResetCalls()
	}
}
