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
