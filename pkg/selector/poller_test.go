package selector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeDevice derives its counters from the (fake) clock: a steady load of
// iops reads of 4 KiB, each taking svc, keeping the device busy util of the
// time.
type fakeDevice struct {
	start  time.Time
	iops   float64
	svc    time.Duration
	util   float64
	failed atomic.Bool
	closed atomic.Bool
}

func (d *fakeDevice) ReadSample(s *Sample) error {
	if d.failed.Load() {
		return errors.New("stat: no such device")
	}
	sec := time.Since(d.start).Seconds()
	ios := uint64(d.iops * sec)
	*s = Sample{
		ReadIOs:     ios,
		ReadSectors: ios * 8,
		ReadTicks:   ios * uint64(d.svc/time.Millisecond),
		InFlight:    2,
		IOTicks:     uint64(d.util * sec * 1000),
	}
	return nil
}

func (d *fakeDevice) Close() error {
	d.closed.Store(true)
	return nil
}

func TestPollerPublishesEstimates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Shards = 4
		p, err := NewPoller(cfg)
		if err != nil {
			t.Fatal(err)
		}
		devs := map[string]*fakeDevice{}
		for i := range 40 {
			d := &fakeDevice{start: time.Now(), iops: float64(100 * (i + 1)), svc: time.Duration(i%5+1) * time.Millisecond, util: 0.5}
			id := fmt.Sprintf("sd%d", i)
			devs[id] = d
			p.Add(id, d)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()

		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()
		for id, d := range devs {
			st, ok := p.Stats(id)
			if !ok {
				t.Fatalf("%s not registered", id)
			}
			if st.Samples != 10 || !near(st.ReadIOPS, d.iops) || st.ServiceTime != d.svc ||
				!near(st.Utilization, 0.5) || !near(st.AvgRequestBytes, 4096) || st.InFlightNow != 2 {
				t.Errorf("%s: %+v, want 10 samples, %v IOPS, %v service time", id, st, d.iops, d.svc)
			}
		}
		snap := p.Snapshot(nil)
		if len(snap) != 40 || snap[0].ID != "sd0" || snap[1].ID != "sd1" {
			t.Errorf("snapshot: %d devices, first %q %q", len(snap), snap[0].ID, snap[1].ID)
		}
		perShard := make([]int, len(p.shards))
		for i, s := range p.shards {
			perShard[i] = len(s.view.Load().entries)
			if perShard[i] == 0 {
				t.Errorf("shard %d owns no device: %v", i, perShard)
			}
		}

		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
		for id, d := range devs {
			if !d.closed.Load() {
				t.Errorf("%s not closed after Run returned", id)
			}
		}
	})
}

func TestPollerAddRemoveAndErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.StatsInterval = 10 * time.Millisecond
		cfg.Shards = 2
		p, err := NewPoller(cfg)
		if err != nil {
			t.Fatal(err)
		}
		a := &fakeDevice{start: time.Now(), iops: 1000, svc: time.Millisecond}
		b := &fakeDevice{start: time.Now(), iops: 50, svc: 4 * time.Millisecond}
		p.Add("sda", a)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go p.Run(ctx)

		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if st, _ := p.Stats("sda"); st.Samples != 100 {
			t.Errorf("sda at 10ms for 1s: %d samples, want 100", st.Samples)
		}
		if _, ok := p.Stats("sdb"); ok {
			t.Error("sdb known before Add")
		}

		p.Add("sdb", b)
		p.Remove("sda")
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		if _, ok := p.Stats("sda"); ok || !a.closed.Load() {
			t.Errorf("sda after Remove: registered %v, closed %v", ok, a.closed.Load())
		}
		if _, ok := p.Stats("sdb"); !ok {
			t.Error("sdb not registered after Add")
		}

		before, _ := p.Stats("sdb")
		b.failed.Store(true)
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		st, _ := p.Stats("sdb")
		if st.ReadErrors != 5 || st.Samples != before.Samples {
			t.Errorf("failing reader: %d errors, %d samples; want 5 errors, %d samples",
				st.ReadErrors, st.Samples, before.Samples)
		}
		// Replacing a device's Reader restarts its estimates.
		c := &fakeDevice{start: time.Now(), iops: 10}
		p.Add("sdb", c)
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		if st, _ := p.Stats("sdb"); st.Samples != 1 || st.ReadErrors != 0 || !b.closed.Load() {
			t.Errorf("after replacing sdb's reader: %+v, old reader closed %v", st, b.closed.Load())
		}
	})
}

// Readers of the published estimates run concurrently with the shards;
// under -race this checks that publishing is free of data races.
func TestPollerConcurrentReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.StatsInterval = 10 * time.Millisecond
		p, err := NewPoller(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 8 {
			p.Add(fmt.Sprintf("sd%c", 'a'+i), &fakeDevice{start: time.Now(), iops: 100, svc: time.Millisecond})
		}
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { p.Run(ctx) })
		for range 4 {
			wg.Go(func() {
				var buf []DeviceStats
				for ctx.Err() == nil {
					buf = p.Snapshot(buf[:0])
					_, _ = p.Stats("sda")
					time.Sleep(3 * time.Millisecond)
				}
			})
		}
		time.Sleep(500 * time.Millisecond)
		cancel()
		wg.Wait()
	})
}

func TestNewPollerRejectsBadConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.StatsInterval = time.Millisecond
	if _, err := NewPoller(cfg); err == nil {
		t.Error("1ms interval accepted")
	}
}

// A reader must never see a record mixing two stores.
func TestPublishedNeverTorn(t *testing.T) {
	var pub published
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range uint64(20000) {
			st := Stats{Valid: true, ReadIOPS: float64(i), Samples: i, Resets: i, At: time.Duration(i)}
			pub.store(&st)
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		st := pub.load()
		if st.ReadIOPS != float64(st.Samples) || st.Resets != st.Samples || st.At != time.Duration(st.Samples) {
			t.Fatalf("torn record: %+v", st)
		}
	}
}

func TestPollerBatchMembership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Shards = 1
		p, err := NewPoller(cfg)
		if err != nil {
			t.Fatal(err)
		}
		a, b := &fakeDevice{start: time.Now()}, &fakeDevice{start: time.Now()}
		// One batch: sda added twice with the same reader, sdb added and
		// replaced, sdc added and removed.
		p.Add("sda", a)
		p.Add("sda", a)
		p.Add("sdb", &fakeDevice{})
		p.Add("sdb", b)
		c := &fakeDevice{}
		p.Add("sdc", c)
		p.Remove("sdc")
		for i := range 5000 {
			p.Add(fmt.Sprintf("sdx%d", i), &fakeDevice{start: time.Now()})
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go p.Run(ctx)
		synctest.Wait()
		entries := p.shards[0].view.Load().entries
		if len(entries) != 5002 || entries[0].id != "sda" || entries[1].id != "sdb" || entries[1].r != b {
			t.Errorf("%d entries, first %q %q", len(entries), entries[0].id, entries[1].id)
		}
		if a.closed.Load() || !c.closed.Load() {
			t.Errorf("closed: sda %v (want false), sdc %v (want true)", a.closed.Load(), c.closed.Load())
		}
	})
}

// idleDevice counts its samples and has I/O only while busy is set.
type idleDevice struct {
	busy    atomic.Bool
	ios     atomic.Uint64
	samples atomic.Int64
}

func (d *idleDevice) ReadSample(s *Sample) error {
	d.samples.Add(1)
	if d.busy.Load() {
		d.ios.Add(10)
	}
	*s = Sample{ReadIOs: d.ios.Load()}
	return nil
}

// Devices without I/O are sampled less and less often, down to one sample per idleBackoff
// intervals; the first sample that sees I/O brings the interval back.
func TestPollerBacksOffWhileIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Shards = 1
		p, err := NewPoller(cfg)
		if err != nil {
			t.Fatal(err)
		}
		d := &idleDevice{}
		p.Add("sda", d)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go p.Run(ctx)
		time.Sleep(time.Minute)
		synctest.Wait()
		// 0 s (first), then 2, 4, 8 s gaps and 8 s after: 1+1+1+1+6 samples in 60 s, not 61.
		if n := d.samples.Load(); n > 12 {
			t.Errorf("%d samples of an idle device in a minute", n)
		}
		d.busy.Store(true)
		time.Sleep(8 * time.Second) // the next sample sees the I/O
		synctest.Wait()
		before := d.samples.Load()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := d.samples.Load() - before; n != 10 {
			t.Errorf("%d samples in 10 s of I/O, want 10", n)
		}
	})
}
