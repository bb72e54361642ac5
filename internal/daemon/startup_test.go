package daemon

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// udevLag is a fake kernel whose udev takes lag to confirm each new map, as dm.Client's cookie
// wait does; it can hand the wait back (dm.UdevDeferrer).
type udevLag struct {
	*dm.Fake
	lag       time.Duration
	confirmed atomic.Int64
}

func (u *udevLag) Resume(name string, flags dm.UdevFlags) (dm.Info, error) {
	info, wait, err := u.ResumeDeferred(name, flags)
	wait()
	return info, err
}

func (u *udevLag) ResumeDeferred(name string, flags dm.UdevFlags) (dm.Info, func(), error) {
	info, err := u.Fake.Resume(name, flags)
	return info, func() { time.Sleep(u.lag); u.confirmed.Add(1) }, err
}

// Start-up creates a shard's maps one after the other without waiting for udev between them; READY
// comes once udev has confirmed every new map (so /dev/mapper links exist), after about one udev
// lag, not one per map of the busiest shard.
func TestStartupAwaitsUdevConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const luns, lag = 16, 2 * time.Second
		topo := san(2, luns)
		f := &udevLag{Fake: dm.NewFake(), lag: lag}
		mon := &fakeMonitor{watched: map[string]CheckSpec{}}
		d := New(Options{Config: config.Builtin(), Topology: topo, DM: f, Monitor: mon,
			Log: zerolog.New(zerolog.NewTestWriter(t)), Shards: 2})
		mon.first = func(p sysfs.Path) {
			d.PathChecked(p.Name, CheckResult{State: checker.Up, Prio: prioOf(p), PrioName: "sysfs"})
		}
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		var confirmedAtReady int64
		readyAt := make(chan time.Duration, 1)
		done := make(chan error, 1)
		go func() {
			done <- d.Run(ctx, func() {
				confirmedAtReady = f.confirmed.Load()
				readyAt <- time.Since(start)
			})
		}()
		took := <-readyAt
		if confirmedAtReady != luns {
			t.Errorf("READY with %d of %d new maps confirmed by udev", confirmedAtReady, luns)
		}
		if took > 2*lag {
			t.Errorf("READY after %v: udev waits of %v each held creates back (serial would be %v)", took, lag, luns/2*lag)
		}
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// A change uevent of a device no map holds costs no device-mapper call when it cannot make a map:
// a blacklisted disk, or a single path find_multipaths holds back. A held path whose WWID changed
// is looked at again.
func TestUnmanagedChangeCostsNoIoctl(t *testing.T) {
	topo := san(2, 2)
	sdb, _ := topo.Path("sdb") // LUN 1 on host 0
	topo.del("sdd")            // LUN 1 on host 1: sdb stays single
	r := newRig(t, topo, "[blacklist]\nwwid = [\""+lun0+"\"]\n", nil)
	r.settle()
	if n := len(r.d.Topology().Maps); n != 0 {
		t.Fatalf("%d maps, want none", n)
	}
	r.dm.ResetCalls()
	for _, dev := range []string{"sda", "sdb", "sdc"} {
		r.d.PathChanged(dev)
	}
	r.settle()
	if n := len(r.dm.Calls()); n != 0 {
		t.Errorf("change uevents of unmanaged devices made %d dm calls: %v", n, r.dm.Calls())
	}
	sdb.WWID = "3333333300000beef"
	topo.set(sdb)
	r.d.PathChanged("sdb")
	r.settle()
	if r.ops("DM_LIST_DEVICES", "") == 0 {
		t.Errorf("a held path whose WWID changed was not looked at again")
	}
}

// A host that goes and comes back costs work for its own paths: each returning path is read from
// sysfs once, its siblings in the maps are not read again, the kernel's map list is not asked for,
// and each map is reloaded once for the return.
func TestHostReturnReadsOnlyItsPaths(t *testing.T) {
	const luns = 16
	topo := san(4, luns)
	r := newRig(t, topo, "", nil)
	r.settle()
	var host3 []string
	for name, p := range topo.paths {
		if p.HCTL.Host == 3 {
			host3 = append(host3, name)
		}
	}
	r.removeAll(host3...)
	r.settle()
	r.dm.ResetCalls()
	for _, n := range host3 {
		topo.set(r.gone[n])
	}
	topo.mu.Lock()
	topo.reads = 0
	topo.mu.Unlock()
	r.d.PathsAdded(host3)
	r.settle()
	topo.mu.Lock()
	reads := topo.reads
	topo.mu.Unlock()
	if reads != luns {
		t.Errorf("%d sysfs path reads for %d returning paths", reads, luns)
	}
	if n := r.ops("DM_LIST_DEVICES", ""); n != 0 {
		t.Errorf("%d map listings for paths of existing maps", n)
	}
	if n := r.ops("DM_TABLE_LOAD", ""); n != luns {
		t.Errorf("%d table loads, want one per map (%d)", n, luns)
	}
}
