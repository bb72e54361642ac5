package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/bindings"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
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
