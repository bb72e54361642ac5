package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/bindings"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

const lun1 = "333333330000007d1"

// fileNames is the real bindings file behind daemon.Names, as cmd/mpathd wires it.
type fileNames struct{ f *bindings.File }

func (n fileNames) Alias(wwid, prefix string, taken func(string) bool) (string, error) {
	return n.f.Alias(bindings.Request{WWID: wwid, Prefix: prefix, InUse: taken})
}

// createHook is the fake kernel with something happening just before each DM_DEV_CREATE: another
// program creating the same map, say.
type createHook struct {
	*dm.Fake
	before func(name, uuid string)
}

func (c *createHook) Create(name, uuid string) (dm.Info, error) {
	c.before(name, uuid)
	return c.Fake.Create(name, uuid)
}

// Scenario 17: show status is served (control socket, D-Bus) while Run is still starting; reading
// the start time must not race with Run setting it up.
func TestStatusWhileStarting(t *testing.T) {
	d := New(Options{Config: config.Builtin(), Topology: san(2, 1), DM: dm.NewFake(),
		Monitor: &fakeMonitor{watched: map[string]CheckSpec{}}, Log: zerolog.New(zerolog.NewTestWriter(t))})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.Run(ctx, nil); err != nil {
			t.Error(err)
		}
	}()
	for range 100 {
		if st := d.Status(); st.Started.IsZero() {
			t.Fatalf("status reports no start time: %+v", st)
		}
	}
	cancel()
	wg.Wait()
}

// Scenario 8: at start-up a live map (made by an initramfs or multipathd, not in the bindings file)
// holds mpatha for LUN 1. LUN 0 comes first in SCSI order and is new: it must not be given mpatha.
func TestNewMapNotGivenALiveMapsAlias(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bindings")
	bf, _, err := bindings.Open(file, false)
	if err != nil {
		t.Fatal(err)
	}
	prep := func(f *dm.Fake) {
		tab, err := dm.ParseTable("0 1 alua 2 2 service-time 0 1 2 8:16 1 1 service-time 0 1 2 8:48 1 1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dm.CreateMap(f, "mpatha", "mpath-"+lun1, 32768, tab, 0); err != nil {
			t.Fatal(err)
		}
	}
	r := newRigWith(t, san(2, 2), "[defaults]\nuser_friendly_names = true\n", prep, func(o *Options) { o.Names = fileNames{bf} })
	m0, ok0 := r.d.Topology().Find(lun0)
	m1, ok1 := r.d.Topology().Find(lun1)
	if !ok0 || !ok1 || m1.Name != "mpatha" || m0.Name == "mpatha" || m0.Name == "" {
		t.Fatalf("LUN 0 map %q (%v), LUN 1 map %q (%v): want LUN 1 to keep mpatha and LUN 0 another name", m0.Name, ok0, m1.Name, ok1)
	}
	if _, err := r.dm.Info(m0.Name); err != nil {
		t.Errorf("LUN 0 has no map in the kernel: %v", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "mpatha "+lun0) {
		t.Errorf("bindings file binds the live map's alias to another LUN:\n%s", data)
	}
}

// Scenario 8, a bad binding saved by an earlier run: the bindings file gives LUN 0 the alias a live
// map of LUN 1 holds. LUN 0 still gets a map, named by its WWID, and LUN 1 keeps its map.
func TestStaleBindingStillGetsAMap(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bindings")
	writeFile(t, file, "mpatha "+lun0+"\n")
	bf, _, err := bindings.Open(file, false)
	if err != nil {
		t.Fatal(err)
	}
	prep := func(f *dm.Fake) {
		tab, _ := dm.ParseTable("0 1 alua 2 2 service-time 0 1 2 8:16 1 1 service-time 0 1 2 8:48 1 1")
		if _, err := dm.CreateMap(f, "mpatha", "mpath-"+lun1, 32768, tab, 0); err != nil {
			t.Fatal(err)
		}
	}
	r := newRigWith(t, san(2, 2), "[defaults]\nuser_friendly_names = true\n", prep, func(o *Options) { o.Names = fileNames{bf} })
	if _, err := r.dm.Info(lun0); err != nil {
		t.Errorf("LUN 0 has no map named by its WWID: %v", err)
	}
	if m1, _ := r.d.Topology().Find(lun1); m1.Name != "mpatha" {
		t.Errorf("LUN 1's map is %q, want mpatha kept", m1.Name)
	}
}

// Scenario 8, the configuration's side: an alias a [[multipaths]] entry gives LUN 1 is not handed to
// LUN 0 as a user-friendly name.
func TestNewMapNotGivenAConfiguredAlias(t *testing.T) {
	bf, _, err := bindings.Open(filepath.Join(t.TempDir(), "bindings"), false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := "[defaults]\nuser_friendly_names = true\n[[multipaths]]\nwwid = \"" + lun1 + "\"\nalias = \"mpatha\"\n"
	r := newRigWith(t, san(2, 2), cfg, nil, func(o *Options) { o.Names = fileNames{bf} })
	m0, _ := r.d.Topology().Find(lun0)
	m1, _ := r.d.Topology().Find(lun1)
	if m1.Name != "mpatha" || m0.Name == "mpatha" || m0.Name == "" {
		t.Errorf("LUN 0 map %q, LUN 1 map %q: want LUN 1 as mpatha and LUN 0 under another name", m0.Name, m1.Name)
	}
}

// Scenario 14: the map appears between discovery and creation (another program made it, under our
// name or another): the daemon adopts it, and its dm events are handled like any other map's.
func TestCreateAdoptsAMapThatAppeared(t *testing.T) {
	for _, other := range []string{"", "mpatha"} { // "": under the name the daemon chose
		t.Run("name="+other, func(t *testing.T) {
			var once sync.Once
			r := newRigWith(t, san(2, 1), "", nil, func(o *Options) {
				f := o.DM.(*dm.Fake)
				o.DM = &createHook{Fake: f, before: func(name, uuid string) {
					once.Do(func() {
						tab, _ := dm.ParseTable("0 1 alua 2 2 service-time 0 1 2 8:0 1 1 service-time 0 1 2 8:16 1 1")
						if other != "" {
							name = other
						}
						if _, err := dm.CreateMap(f, name, uuid, 32768, tab, 0); err != nil {
							t.Error(err)
						}
					})
				}}
			})
			name := lun0
			if other != "" {
				name = other
			}
			m, ok := r.d.Topology().Find(lun0)
			if !ok || m.Name != name || m.DM == "" {
				t.Fatalf("map = %+v (found %v), want the live %s adopted", m, ok, name)
			}
			// The kernel fails a path: the dm event must reach the map.
			r.mon.takeNow()
			if err := r.dm.KernelFailPath(name, "8:0"); err != nil {
				t.Fatal(err)
			}
			r.d.MapChanged(name)
			r.settle()
			if now := r.mon.takeNow(); len(now) == 0 {
				t.Errorf("dm event on the adopted map ignored: no path re-checked")
			}
			m, _ = r.d.Topology().Find(lun0)
			if len(m.Groups) == 0 || m.Groups[0].Paths[0].DMState != api.DMFailed {
				t.Errorf("snapshot does not show the kernel's failure: %+v", m.Groups)
			}
		})
	}
}

// Scenario 14: a map adopted at creation whose table differs from the wanted one is brought in
// line at once, as one adopted at start-up is, not at some later tick.
func TestCreateAdoptsAndReconcilesAMapThatAppeared(t *testing.T) {
	var once sync.Once
	r := newRigWith(t, san(2, 1), "", nil, func(o *Options) {
		f := o.DM.(*dm.Fake)
		o.DM = &createHook{Fake: f, before: func(name, uuid string) {
			once.Do(func() {
				tab, _ := dm.ParseTable("0 0 1 1 round-robin 0 2 1 8:0 1 8:16 1")
				if _, err := dm.CreateMap(f, name, uuid, 32768, tab, 0); err != nil {
					t.Error(err)
				}
			})
		}}
	})
	r.settle()
	if tab := r.table(lun0); !strings.Contains(tab, "service-time") {
		t.Errorf("adopted map keeps the other program's layout: %s", tab)
	}
}

type brokenNames struct{}

func (brokenNames) Alias(wwid, prefix string, taken func(string) bool) (string, error) {
	return "", errors.New("bindings: write /etc/multipath/bindings: read-only file system")
}

// A bindings file that cannot give a name (read-only root, full disk) must not cost the map: it is
// named by its WWID.
func TestUnusableBindingsNameMapByWWID(t *testing.T) {
	r := newRigWith(t, san(2, 1), "[defaults]\nuser_friendly_names = true\n", nil, func(o *Options) { o.Names = brokenNames{} })
	if _, err := r.dm.Info(lun0); err != nil {
		t.Errorf("no map named by its WWID: %v", err)
	}
}

// hold blocks shard s until the returned release is called, as a slow reload or udev wait would.
func hold(s *shard) (release func()) {
	ch := make(chan struct{})
	started := make(chan struct{})
	s.post(func() { close(started); <-ch })
	<-started
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// drain waits until shard s has run everything queued on it so far, and what that queued.
func drain(s *shard) {
	for {
		done := make(chan struct{})
		s.post(func() { close(done) })
		<-done
		if s.idle() {
			return
		}
	}
}

// wwidOnOtherShard returns a WWID whose shard is not the one of wwid.
func wwidOnOtherShard(d *Daemon, wwid string) string {
	for i := 0; ; i++ {
		w := fmt.Sprintf("36000d310000000000000000000%05d", i)
		if d.shardOf(w) != d.shardOf(wwid) {
			return w
		}
	}
}

// Scenario 7: sdb is removed and the name comes back for another LUN while the old LUN's shard is
// still busy. The old shard's late removal must not take the new path out of checking.
func TestReusedDeviceNameKeepsNewPath(t *testing.T) {
	topo := san(2, 1) // sda, sdb: LUN 0
	r := newRig(t, topo, "", nil)
	newWWID := wwidOnOtherShard(r.d, lun0)
	oldShard, newShard := r.d.shardOf(lun0), r.d.shardOf(newWWID)

	release := hold(oldShard)
	defer release()
	topo.del("sdb")
	r.d.PathsRemoved([]string{"sdb"})
	// The name comes back for a new LUN with two paths (sdb and sdc).
	var names []string
	for i, n := range []string{"sdb", "sdc"} {
		p, _ := topo.Path("sda")
		p.Name, p.WWID = n, newWWID
		p.Dev.Minor = uint32(16 * (i + 1))
		p.HCTL.Host, p.HCTL.LUN = i, 5
		topo.set(p)
		names = append(names, n)
	}
	r.d.PathsAdded(names)
	drain(newShard)
	release()
	r.settle()

	if w, ok := r.d.PathWWID("sdb"); !ok || w != newWWID {
		t.Errorf("sdb belongs to %q (%v), want the new LUN %s", w, ok, newWWID)
	}
	r.mon.mu.Lock()
	_, watched := r.mon.watched["sdb"]
	r.mon.mu.Unlock()
	if !watched {
		t.Errorf("the new sdb is not checked any more")
	}
	if m, ok := r.d.Topology().Find(newWWID); !ok || len(m.Groups) == 0 || !strings.Contains(r.table(m.Name), "8:16") {
		t.Fatalf("new LUN's map = %+v (%v), want it over sdb", m, ok)
	}
	// A check result for sdb reaches the new map.
	r.check("sdb", checker.Down)
	r.settle()
	if ps, _, ok := r.pathStatus(newWWID, "8:16"); !ok || !ps.Failed {
		t.Errorf("sdb's check result did not reach the new map: %+v %v", ps, ok)
	}
	if strings.Contains(r.table(lun0), "8:16") {
		t.Errorf("the old LUN's map still has sdb: %s", r.table(lun0))
	}
}

// Scenario 7: a path removed while its add is still queued on a busy shard must end up removed.
func TestRemoveWhileAddQueued(t *testing.T) {
	topo := san(2, 1)
	r := newRig(t, topo, "", nil)
	wwid := wwidOnOtherShard(r.d, lun0)
	var names []string
	for i, n := range []string{"sdx", "sdy", "sdz"} {
		p, _ := topo.Path("sda")
		p.Name, p.WWID = n, wwid
		p.Dev.Minor = uint32(100 + i)
		p.HCTL.Host, p.HCTL.LUN = i, 7
		topo.set(p)
		names = append(names, n)
	}
	release := hold(r.d.shardOf(wwid))
	defer release()
	r.d.PathsAdded(names)
	topo.del("sdx")
	r.d.PathsRemoved([]string{"sdx"})
	release()
	r.settle()

	if _, ok := r.d.PathWWID("sdx"); ok {
		t.Errorf("removed sdx is still managed")
	}
	r.mon.mu.Lock()
	_, watched := r.mon.watched["sdx"]
	r.mon.mu.Unlock()
	if watched {
		t.Errorf("removed sdx is still checked")
	}
	m, ok := r.d.Topology().Find(wwid)
	if !ok {
		t.Fatalf("no map for the new LUN")
	}
	if tab := r.table(m.Name); strings.Contains(tab, "8:100") || !strings.Contains(tab, "8:101") {
		t.Errorf("table %q: want sdy and sdz, not the removed sdx", tab)
	}
}

// memWWIDs is the wwids file in memory.
type memWWIDs struct {
	mu    sync.Mutex
	known map[string]bool
}

func (w *memWWIDs) Known(wwid string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.known[wwid]
}

func (w *memWWIDs) Remember(wwid string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.known[wwid] = true
	return nil
}

// Scenario 5: with find_multipaths "on", a LUN whose second path arrives in a later uevent batch
// (hosts rescanned one by one, FC ports logging in apart) is multipathed when that path comes.
func TestFindMultipathsOnSecondPathInLaterBatch(t *testing.T) {
	for _, at := range []string{"start", "batch"} { // the first path found at start-up, or in an earlier batch
		t.Run(at, func(t *testing.T) {
			topo := san(2, 1)
			sdb, _ := topo.Path("sdb")
			sda, _ := topo.Path("sda")
			topo.del("sdb")
			if at == "batch" {
				topo.del("sda")
			}
			wwids := &memWWIDs{known: map[string]bool{}}
			r := newRigWith(t, topo, "", nil, func(o *Options) { o.WWIDs = wwids })
			if at == "batch" {
				topo.set(sda)
				r.d.PathsAdded([]string{"sda"})
				r.settle()
			}
			if n := len(r.d.Topology().Maps); n != 0 {
				t.Fatalf("a single path was multipathed: %d maps", n)
			}
			topo.set(sdb)
			r.d.PathsAdded([]string{"sdb"})
			r.settle()
			if _, err := r.dm.Info(lun0); err != nil {
				t.Fatalf("second path arrived, no map: %v", err)
			}
			if tab := r.table(lun0); !strings.Contains(tab, "8:0") || !strings.Contains(tab, "8:16") {
				t.Errorf("table %q: want both paths", tab)
			}
			if !wwids.Known(lun0) {
				t.Errorf("WWID not recorded in the wwids file")
			}
		})
	}
}

// slowResume is the fake kernel with a udev wait on every resume (create and reload), as
// dm.Client has when udevd is slow.
type slowResume struct {
	*dm.Fake
	delay atomic.Int64 // time.Duration
}

func (s *slowResume) Resume(name string, flags dm.UdevFlags) (dm.Info, error) {
	time.Sleep(time.Duration(s.delay.Load()))
	return s.Fake.Resume(name, flags)
}

// Scenario 6: a reconfigure that reloads many maps, each waiting for udev up to its 10 s bound,
// keeps a shard busy far longer than the watchdog's bound; the daemon is alive as long as every
// shard moves on from map to map. A shard stuck in one step beyond the bound is not.
func TestAliveDuringLongReconfigure(t *testing.T) {
	for _, tt := range []struct {
		name  string
		delay time.Duration
		alive bool
	}{{"each reload 9s", 9 * time.Second, true}, {"one reload 30s", 30 * time.Second, false}} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				file := filepath.Join(t.TempDir(), "mpathd.toml")
				writeFile(t, file, "")
				var slow *slowResume
				r := newRigWith(t, san(2, 8), "", nil, func(o *Options) {
					slow = &slowResume{Fake: o.DM.(*dm.Fake)}
					o.DM = slow
					o.ConfigPath = file
				})
				slow.delay.Store(int64(tt.delay))
				// Every map changes: 8 reloads on 4 shards, so some shard has two or more.
				writeFile(t, file, "[defaults]\npath_selector = \"round-robin 0\"\n")
				done := make(chan error, 1)
				go func() { done <- r.d.Reconfigure(context.Background()) }()
				var errs []error
				start := time.Now()
				for {
					time.Sleep(time.Second)
					select {
					case err := <-done:
						if err != nil {
							t.Fatal(err)
						}
						if took := time.Since(start); took < 18*time.Second && tt.alive {
							t.Fatalf("reconfigure took %v: want a shard busy for 18 s or more", took)
						}
						if tt.alive && len(errs) > 0 {
							t.Errorf("watchdog would have killed the daemon during a reconfigure that moved on: %v", errs)
						}
						if !tt.alive && len(errs) == 0 {
							t.Errorf("a shard stuck 30 s in one reload was reported alive")
						}
						if err := r.d.Alive(10 * time.Second); err != nil {
							t.Errorf("idle daemon not alive: %v", err)
						}
						return
					default:
					}
					if err := r.d.Alive(10 * time.Second); err != nil {
						errs = append(errs, err)
					}
				}
			})
		})
	}
}

// slowPaths is a sysfs whose full scan takes a while (a SAN with thousands of devices, a hung
// attribute read).
type slowPaths struct {
	*fakeTopo
	delay time.Duration
}

func (s slowPaths) Paths() ([]sysfs.Path, error) {
	time.Sleep(s.delay)
	return s.fakeTopo.Paths()
}

// Scenario 9: READY=1 goes out at the latest 35 s after start, even while maps are still being
// created (each waiting 20 s for udev) or the first scan still runs; the maps follow.
func TestReadyWithin35s(t *testing.T) {
	for _, tt := range []struct {
		name         string
		resume, scan time.Duration
	}{{"slow udev", 20 * time.Second, 0}, {"slow scan", 0, 60 * time.Second}} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				topo := san(2, 8)
				f := &slowResume{Fake: dm.NewFake()}
				f.delay.Store(int64(tt.resume))
				mon := &fakeMonitor{watched: map[string]CheckSpec{}}
				d := New(Options{Config: config.Builtin(), Topology: slowPaths{topo, tt.scan}, DM: f, Monitor: mon,
					Log: zerolog.New(zerolog.NewTestWriter(t)), Shards: 4})
				mon.first = func(p sysfs.Path) {
					d.PathChecked(p.Name, CheckResult{State: checker.Up, Prio: prioOf(p), PrioName: "sysfs"})
				}
				ctx, cancel := context.WithCancel(context.Background())
				start := time.Now()
				readyAt := make(chan time.Duration, 1)
				done := make(chan error, 1)
				go func() { done <- d.Run(ctx, func() { readyAt <- time.Since(start) }) }()
				if took := <-readyAt; took > 35*time.Second {
					t.Errorf("READY after %v, want at most 35 s", took)
				}
				// Assembly goes on after READY: every map is made.
				for len(d.Topology().Maps) < 8 || d.unassembled(ctx) > 0 {
					time.Sleep(time.Second)
				}
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			})
		})
	}
}

// busyLoad is the fake kernel refusing a map's table with EBUSY while busy is set, as the kernel
// does when a path is held open exclusively (mounted, or claimed by LVM).
type busyLoad struct {
	*dm.Fake
	name string
	busy atomic.Bool
}

func (b *busyLoad) Load(name string, sectors uint64, t dm.Table) error {
	if name == b.name && b.busy.Load() {
		return &dm.Error{Op: "DM_TABLE_LOAD", Name: name, Err: unix.EBUSY}
	}
	return b.Fake.Load(name, sectors, t)
}

// lockedBuffer is a log sink tests read while the daemon writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Scenario 10: a map whose table the kernel refuses (a path held by a mount) must not be created
// and removed again on every check result for ever: creation backs off exponentially, retries at
// once on a real change (a path added), and the failure is logged once at error level.
func TestCreateBacksOffWhenTableCannotLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		topo := san(3, 1)
		topo.del("sdc")
		logs := &lockedBuffer{}
		var kernel *busyLoad
		r := newRigWith(t, topo, "[defaults]\npolling_interval = 1\n", nil, func(o *Options) {
			kernel = &busyLoad{Fake: o.DM.(*dm.Fake), name: lun0}
			kernel.busy.Store(true)
			o.DM = kernel
			o.Log = zerolog.New(logs)
		})
		r.dm.ResetCalls()
		for range 120 { // two minutes of check results, one per path per second
			time.Sleep(time.Second)
			r.d.Tick()
			r.check("sda", checker.Up)
			r.check("sdb", checker.Up)
			r.settle()
		}
		if n := r.ops("DM_DEV_CREATE", lun0); n > 8 || n == 0 {
			t.Errorf("%d create attempts in 2 minutes, want a handful (exponential backoff)", n)
		}
		if n := strings.Count(logs.String(), `"level":"error"`); n != 1 {
			t.Errorf("%d error lines, want the failure logged once at error level:\n%s", n, logs.String())
		}
		// A real change retries at once.
		kernel.busy.Store(false)
		p, _ := topo.Path("sda")
		p.Name, p.Dev.Minor, p.HCTL.Host, p.AccessState = "sdc", 32, 2, "standby"
		topo.set(p)
		r.d.PathsAdded([]string{"sdc"})
		r.settle()
		if _, err := r.dm.Info(lun0); err != nil {
			t.Errorf("no map right after a path was added: %v", err)
		}
	})
}

// retainingKernel applies the kernel's retain_attached_hw_handler rule (always in force for
// request-based maps since Linux 4.3) to every table load: parsing the paths in table order, a
// path with a handler already attached makes that handler the map's, and the readback shows the
// map's handler as it ends up.
type retainingKernel struct {
	*dm.Fake
	attached map[string]string // path MAJ:MIN → attached scsi_dh ("" none)
}

func (k *retainingKernel) Load(name string, sectors uint64, t dm.Table) error {
	handler := t.HWHandler
	for _, g := range t.Groups {
		for _, p := range g.Paths {
			if a := k.attached[p.Dev]; a != "" {
				handler = a
			}
		}
	}
	if handler != t.HWHandler {
		t.HWHandler, t.HWArgs = handler, nil
	}
	return k.Fake.Load(name, sectors, t)
}

// Scenario 16: a configured hardware_handler that differs from the handler the kernel keeps
// attached, or paths of which only some have one attached, must not make every reconcile reload
// the map: the desired table names the handler the kernel will really show.
func TestHardwareHandlerFollowsTheAttachedOne(t *testing.T) {
	for _, tt := range []struct {
		name, config string
		detached     []string // paths without a handler attached
		noTPG        []string // paths that report no target port group
		want         string
	}{
		{"configured emc, alua attached", "[defaults]\nhardware_handler = \"1 emc\"\n", nil, nil, "alua"},
		{"none configured, one path attached", "", []string{"sda"}, nil, "alua"},
		{"alua configured, none attached", "[defaults]\nhardware_handler = \"1 alua\"\n", []string{"sda", "sdb"}, nil, "alua"},
		// The kernel would refuse the table: it cannot attach alua to a path without ALUA.
		{"alua configured, a path without ALUA", "[defaults]\nhardware_handler = \"1 alua\"\n", []string{"sda", "sdb"}, []string{"sdb"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			topo := san(2, 1)
			for _, n := range tt.detached {
				p, _ := topo.Path(n)
				p.DHState = "detached"
				topo.set(p)
			}
			for _, n := range tt.noTPG {
				p, _ := topo.Path(n)
				p.TPG, p.HasTPG = 0, false
				topo.set(p)
			}
			attached := map[string]string{}
			ps, _ := topo.Paths()
			for _, p := range ps {
				if p.DHState != "detached" {
					attached[p.Dev.String()] = p.DHState
				}
			}
			r := newRigWith(t, topo, tt.config, nil, func(o *Options) {
				o.DM = &retainingKernel{Fake: o.DM.(*dm.Fake), attached: attached}
			})
			if tab, _, err := r.dm.Table(lun0); err != nil || tab.HWHandler != tt.want {
				t.Errorf("table %q (%v): want hardware handler %q", tab, err, tt.want)
			}
			r.dm.ResetCalls()
			for range 5 {
				r.d.Tick()
				r.check("sda", checker.Up)
				r.settle()
			}
			if n := r.ops("DM_TABLE_LOAD", lun0); n != 0 {
				t.Errorf("%d reloads in 5 reconcile passes, want none", n)
			}
		})
	}
}

// A map the kernel refuses at start-up is backing off with its error logged: READY=1 goes out as
// soon as the other maps are made, not at the 35 s cap, since waiting cannot change the refusal.
func TestRefusedMapDoesNotHoldReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		topo := san(2, 2)
		f := &busyLoad{Fake: dm.NewFake(), name: "333333330000007d0"}
		f.busy.Store(true)
		mon := &fakeMonitor{watched: map[string]CheckSpec{}}
		d := New(Options{Config: config.Builtin(), Topology: topo, DM: f, Monitor: mon,
			Log: zerolog.New(zerolog.NewTestWriter(t)), Shards: 2})
		mon.first = func(p sysfs.Path) {
			d.PathChecked(p.Name, CheckResult{State: checker.Up, Prio: prioOf(p), PrioName: "sysfs"})
		}
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		readyAt := make(chan time.Duration, 1)
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx, func() { readyAt <- time.Since(start) }) }()
		if took := <-readyAt; took >= time.Second {
			t.Errorf("READY after %v with one map refused by the kernel, want it as soon as the other map exists", took)
		}
		if _, err := f.Info("333333330000007d1"); err != nil {
			t.Errorf("the other map was not made before READY: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// A name the kernel cannot be asked about is not free: with the device-mapper answering EIO for
// mpatha, which a map of a WWID with no paths here holds, LUN 0 must get another name, get its map,
// and no binding of mpatha to it may be saved.
func TestUnreadableNameIsNotHandedOut(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bindings")
	bf, _, err := bindings.Open(file, false)
	if err != nil {
		t.Fatal(err)
	}
	const foreign = "36000000000000000000000000000dead"
	prep := func(f *dm.Fake) {
		tab, err := dm.ParseTable("0 1 alua 1 1 service-time 0 1 2 8:240 1 1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dm.CreateMap(f, "mpatha", "mpath-"+foreign, 32768, tab, 0); err != nil {
			t.Fatal(err)
		}
		for range 8 {
			f.InjectError("DM_DEV_STATUS", "mpatha", unix.EIO)
		}
	}
	r := newRigWith(t, san(2, 1), "[defaults]\nuser_friendly_names = true\n", prep, func(o *Options) { o.Names = fileNames{bf} })
	m0, ok := r.d.Topology().Find(lun0)
	if !ok || m0.Name == "" || m0.Name == "mpatha" {
		t.Fatalf("LUN 0 map %q (found %v): want a map under a name other than mpatha", m0.Name, ok)
	}
	if _, err := r.dm.Info(m0.Name); err != nil {
		t.Errorf("LUN 0 has no map in the kernel: %v", err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "mpatha "+lun0) {
		t.Errorf("bindings file binds a name held by another map to LUN 0:\n%s", data)
	}
}

// racingCreate is another program making a map under the name mpathd chose, between the name's
// choice and mpathd's create, as the kernel then sees it: the create fails with EBUSY.
type racingCreate struct {
	*dm.Fake
	t    *testing.T
	once sync.Once
}

func (r *racingCreate) Create(name, uuid string) (dm.Info, error) {
	r.once.Do(func() {
		tab, _ := dm.ParseTable("0 1 alua 1 1 service-time 0 1 2 8:240 1 1")
		if _, err := dm.CreateMap(r.Fake, name, "mpath-36000000000000000000000000000beef", 32768, tab, 0); err != nil {
			r.t.Errorf("racing create of %s: %v", name, err)
		}
	})
	return r.Fake.Create(name, uuid)
}

// A chosen name that another WWID's map takes before mpathd's create is chosen again at the
// next try, so the LUN gets its map; retrying under the taken name would fail for ever.
func TestNameTakenAtCreateIsChosenAgain(t *testing.T) {
	clk := &errClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	bf, _, err := bindings.Open(filepath.Join(t.TempDir(), "bindings"), false)
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, san(2, 1), "[defaults]\nuser_friendly_names = true\n", nil, func(o *Options) {
		o.Names = fileNames{bf}
		o.Now = clk.now
		o.DM = &racingCreate{Fake: o.DM.(*dm.Fake), t: t}
	})
	clk.advance(time.Hour)
	r.d.Tick()
	r.settle()
	m0, ok := r.d.Topology().Find(lun0)
	if !ok || m0.Name == "" || m0.Name == "mpatha" {
		t.Fatalf("LUN 0 map %q (found %v): want it made under another name after the race", m0.Name, ok)
	}
	if info, err := r.dm.Info(m0.Name); err != nil || info.UUID != "mpath-"+lun0 {
		t.Errorf("LUN 0's map %s in the kernel: %+v, %v", m0.Name, info, err)
	}
}
