package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/selector"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// fakeStats is the polling core with estimates set by the test.
type fakeStats struct {
	mu      sync.Mutex
	sampled map[string]int // Add minus Remove per device
	adds    []string
	est     map[string]selector.Stats
}

func newFakeStats() *fakeStats {
	return &fakeStats{sampled: map[string]int{}, est: map[string]selector.Stats{}}
}

func (f *fakeStats) Add(dev string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sampled[dev] = 1 // Add of a sampled device restarts it
	f.adds = append(f.adds, dev)
}

func (f *fakeStats) Remove(dev string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sampled, dev)
}

func (f *fakeStats) Stats(dev string) (selector.Stats, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sampled[dev] == 0 {
		return selector.Stats{}, false
	}
	return f.est[dev], true
}

// set gives a device a steady 4 KiB read load with the given IOPS and service time.
func (f *fakeStats) set(dev string, iops float64, st time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.est[dev] = selector.Stats{
		Valid: true, ReadIOPS: iops, ReadBytesPerSec: iops * 4096, AvgRequestBytes: 4096,
		InFlight: 2, InFlightNow: 2, ServiceTime: st, Utilization: 0.5, Samples: 10,
	}
}

func (f *fakeStats) devices() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ds []string
	for d := range f.sampled {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds
}

// newStatsRig is newRig with a polling core.
func newStatsRig(t *testing.T, topo *fakeTopo, cfgText string, src StatsSource, prep func(*dm.Fake)) *rig {
	t.Helper()
	return newRigWith(t, topo, cfgText, prep, func(o *Options) { o.Stats = src })
}

// One group of every path, ticks every second, weights at most every 10 s.
const multibusST = `[defaults]
polling_interval = 1
detect_pgpolicy = false
path_grouping_policy = "multibus"
path_selector = "service-time 0"
weight_min_interval = "10s"
`

// pass lets n seconds of fake time go by, one daemon tick per second.
func pass(n int) {
	for range n {
		time.Sleep(time.Second)
		synctest.Wait()
	}
}

func TestWeightsReachTableOnlyWhenPlannerAllows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeStats()
		r := newStatsRig(t, san(2, 1), multibusST, src, nil)
		r.settle()
		if got, want := src.devices(), []string{"dm-0", "sda", "sdb"}; !slices.Equal(got, want) {
			t.Fatalf("sampled devices = %q, want %q", got, want)
		}
		const fresh = "0 1 alua 1 1 service-time 0 2 2 8:0 1 1 8:16 1 1"
		if got := r.table(lun0); got != fresh {
			t.Fatalf("fresh map table = %q, want the kernel's weight 1 everywhere: %q", got, fresh)
		}
		r.dm.ResetCalls()

		// sdb is four times slower than sda: weights 100 and 25 once the planner allows.
		src.set("sda", 1000, time.Millisecond)
		src.set("sdb", 250, 4*time.Millisecond)
		pass(9)
		if n := r.ops("DM_TABLE_LOAD", lun0); n != 0 {
			t.Fatalf("reloaded %d times within weight_min_interval of the first estimates: %s", n, r.table(lun0))
		}
		pass(2)
		const weighted = "0 1 alua 1 1 service-time 0 2 2 8:0 1 100 8:16 1 25"
		if got := r.table(lun0); got != weighted {
			t.Fatalf("table after weight_min_interval = %q, want %q", got, weighted)
		}
		// Steady measurements: no further reload, however long it runs.
		pass(60)
		if n := r.ops("DM_TABLE_LOAD", lun0); n != 1 {
			t.Errorf("weight reloads = %d, want 1", n)
		}
		// A change inside the 20% band is not worth a reload.
		src.set("sdb", 250, 3500*time.Microsecond) // 28.6
		pass(30)
		if n := r.ops("DM_TABLE_LOAD", lun0); n != 1 {
			t.Errorf("reloaded for a change within the band: %d loads, table %s", n, r.table(lun0))
		}

		st := r.d.Stats()
		if len(st.Maps) != 1 || st.Maps[0].Name != lun0 || st.Maps[0].IOPS != 0 {
			t.Errorf("map stats = %+v", st.Maps)
		}
		var got []string
		for _, p := range st.Paths {
			got = append(got, fmt.Sprintf("%s g%d w%d %.0f iops %.1f ms", p.Dev, p.Group, p.Weight, p.IOPS, p.ServiceTimeMs))
		}
		want := []string{"sda g1 w100 1000 iops 1.0 ms", "sdb g1 w25 250 iops 3.5 ms"}
		if !slices.Equal(got, want) {
			t.Errorf("path stats = %q, want %q", got, want)
		}
		if st.WindowSec != 5 {
			t.Errorf("window = %v s, want the half-life, 5", st.WindowSec)
		}
	})
}

func TestAdoptKeepsLiveWeights(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// An earlier mpathd left weights in the table; the paths now measure the same.
		live := "0 1 alua 1 1 service-time 0 2 2 8:0 1 37 8:16 1 80"
		prep := liveMap(t, "mpatha", live)
		src := newFakeStats()
		src.set("sda", 500, time.Millisecond)
		src.set("sdb", 500, time.Millisecond)
		r := newStatsRig(t, san(2, 1), multibusST, src, prep)
		r.settle()
		pass(9)
		if n := r.ops("DM_TABLE_LOAD", ""); n != 0 {
			t.Fatalf("adoption reloaded the map %d times: %s", n, r.table("mpatha"))
		}
		if got := r.table("mpatha"); got != live {
			t.Errorf("table = %q, want %q", got, live)
		}
		// Only the planner moves them, after its interval.
		pass(3)
		if got, want := r.table("mpatha"), "0 1 alua 1 1 service-time 0 2 2 8:0 1 100 8:16 1 100"; got != want {
			t.Errorf("table after the interval = %q, want %q", got, want)
		}
	})
}

func TestIdleMapKeepsLiveWeights(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// After a restart an idle map has no measurements: no reason to touch its weights.
		live := "0 1 alua 1 1 service-time 0 2 2 8:0 1 37 8:16 1 80"
		prep := liveMap(t, "mpatha", live)
		src := newFakeStats()
		r := newStatsRig(t, san(2, 1), multibusST, src, prep)
		src.set("sda", 0, 0)
		src.set("sdb", 0, 0)
		pass(60)
		if n := r.ops("DM_TABLE_LOAD", ""); n != 0 {
			t.Errorf("idle map reloaded %d times: %s", n, r.table("mpatha"))
		}
	})
}

func TestNewPathJoinsWithLargestLiveWeight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		topo := san(3, 1)
		sdc := topo.paths["sdc"]
		topo.del("sdc")
		src := newFakeStats()
		r := newStatsRig(t, topo, multibusST, src, nil)
		src.set("sda", 1000, time.Millisecond)
		src.set("sdb", 250, 4*time.Millisecond)
		pass(11)
		topo.set(sdc)
		r.d.PathsAdded([]string{"sdc"})
		r.settle()
		if got, want := r.table(lun0), "0 1 alua 1 1 service-time 0 3 2 8:0 1 100 8:16 1 25 8:32 1 100"; got != want {
			t.Errorf("table = %q, want %q", got, want)
		}
	})
}

func TestMarginalPathRegroupedAndRestored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := multibusST + `weight_update = false
marginal_detection = true
marginal_time = "5s"
marginal_recovery_time = "10s"
`
		src := newFakeStats()
		r := newStatsRig(t, san(3, 1), cfg, src, nil)
		r.settle()
		events := r.d.Subscribe(t.Context())
		r.dm.ResetCalls()
		src.set("sda", 100, 20*time.Millisecond)
		src.set("sdb", 500, time.Millisecond)
		src.set("sdc", 500, time.Millisecond)
		pass(4)
		if n := r.ops("DM_TABLE_LOAD", lun0); n != 0 {
			t.Fatalf("regrouped before marginal_time: %s", r.table(lun0))
		}
		pass(3)
		const split = "0 1 alua 2 1 service-time 0 2 2 8:16 1 1 8:32 1 1 service-time 0 1 2 8:0 1 1"
		if got := r.table(lun0); got != split {
			t.Fatalf("table with sda marginal = %q, want %q", got, split)
		}
		if n := r.ops("DM_TABLE_LOAD", lun0); n != 1 {
			t.Errorf("reloads entering marginal = %d, want 1", n)
		}
		ev := waitEvent(t, events, api.EventPathState)
		if ev.Path != "sda" || ev.New != "marginal" || !strings.Contains(ev.Reason, "service time") {
			t.Errorf("event = %+v", ev)
		}
		m, _ := r.d.Topology().Find(lun0)
		if len(m.Groups) != 2 || !m.Groups[1].Marginal || !m.Groups[1].Paths[0].Marginal || m.Groups[0].Marginal {
			t.Errorf("topology groups = %+v", m.Groups)
		}

		// In the marginal group sda carries no I/O, so it is restored after the recovery time.
		src.set("sda", 0, 20*time.Millisecond)
		pass(8)
		if got := r.table(lun0); got != split {
			t.Fatalf("restored before marginal_recovery_time: %s", got)
		}
		pass(4)
		if got, want := r.table(lun0), "0 1 alua 1 1 service-time 0 3 2 8:0 1 1 8:16 1 1 8:32 1 1"; got != want {
			t.Errorf("table after recovery = %q, want %q", got, want)
		}
		if n := r.ops("DM_TABLE_LOAD", lun0); n != 2 {
			t.Errorf("reloads = %d, want one to enter and one to leave", n)
		}
		if ev := waitEvent(t, events, api.EventPathState); ev.Path != "sda" || ev.New != "normal" {
			t.Errorf("event = %+v", ev)
		}
	})
}

func TestMarginalDetectionOffRestores(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeStats()
		r := newStatsRig(t, san(3, 1), multibusST+"marginal_detection = true\nmarginal_time = \"2s\"\n", src, nil)
		src.set("sda", 100, 20*time.Millisecond)
		src.set("sdb", 500, time.Millisecond)
		src.set("sdc", 500, time.Millisecond)
		pass(4)
		if m, _ := r.d.Topology().Find(lun0); len(m.Groups) != 2 {
			t.Fatalf("sda not marginal: %s", r.table(lun0))
		}
		r.d.config.Store(mustParse(t, multibusST))
		pass(1)
		if m, _ := r.d.Topology().Find(lun0); len(m.Groups) != 1 {
			t.Errorf("marginal_detection off kept sda apart: %s", r.table(lun0))
		}
	})
}

func TestMarginalSettingsChangeJudgesAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newFakeStats()
		r := newStatsRig(t, san(3, 1), multibusST+"marginal_detection = true\nmarginal_time = \"2s\"\n", src, nil)
		src.set("sda", 100, 20*time.Millisecond)
		src.set("sdb", 500, time.Millisecond)
		src.set("sdc", 500, time.Millisecond)
		pass(4)
		if m, _ := r.d.Topology().Find(lun0); len(m.Groups) != 2 {
			t.Fatalf("sda not marginal: %s", r.table(lun0))
		}
		// New settings, new detector: sda is restored, then judged again under the new rules.
		r.d.config.Store(mustParse(t, multibusST+"marginal_detection = true\nmarginal_time = \"5s\"\n"))
		pass(1)
		if m, _ := r.d.Topology().Find(lun0); len(m.Groups) != 1 {
			t.Errorf("sda kept apart by a forgotten detector: %s", r.table(lun0))
		}
		pass(6)
		if m, _ := r.d.Topology().Find(lun0); len(m.Groups) != 2 {
			t.Errorf("sda not judged again under the new marginal_time: %s", r.table(lun0))
		}
	})
}

func TestStatsDevicesFollowMaps(t *testing.T) {
	src := newFakeStats()
	topo := san(2, 2)
	r := newStatsRig(t, topo, "[defaults]\npolling_interval = 1\n", src, nil)
	r.settle()
	if got, want := src.devices(), []string{"dm-0", "dm-1", "sda", "sdb", "sdc", "sdd"}; !slices.Equal(got, want) {
		t.Fatalf("sampled = %q, want %q", got, want)
	}
	// sda and sdc are LUN 0: removing both removes the map and its dm device.
	topo.del("sda")
	topo.del("sdc")
	r.d.PathsRemoved([]string{"sda", "sdc"})
	r.settle()
	if got := src.devices(); len(got) != 3 || slices.Contains(got, "sda") || slices.Contains(got, "sdc") {
		t.Errorf("sampled after removing LUN 0 = %q", got)
	}
	m, _ := r.d.Topology().Find("333333330000007d1")
	if err := r.d.FlushMap(t.Context(), m.Name); err != nil {
		t.Fatal(err)
	}
	if got := src.devices(); len(got) != 0 {
		t.Errorf("sampled after flush = %q", got)
	}
}

func mustParse(t *testing.T, text string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(text), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitEvent returns the next event of type typ.
func waitEvent(t *testing.T, ch <-chan api.Event, typ string) api.Event {
	t.Helper()
	for {
		if ev := next(t, ch); ev.Type == typ {
			return ev
		}
	}
}

// pollerSource is the real polling core over readers that return a constant sample.
type pollerSource struct{ p *selector.Poller }

type constReader struct{}

func (constReader) ReadSample(s *selector.Sample) error {
	*s = selector.Sample{ReadIOs: 1000, ReadSectors: 8000, ReadTicks: 1000, IOTicks: 500}
	return nil
}

func (s pollerSource) Add(dev string)                          { s.p.Add(dev, constReader{}) }
func (s pollerSource) Remove(dev string)                       { s.p.Remove(dev) }
func (s pollerSource) Stats(dev string) (selector.Stats, bool) { return s.p.Stats(dev) }

// BenchmarkStats measures `show stats` (Daemon.Stats) on 1,024 maps of 4 paths each: the merged
// topology snapshot plus one lookup in the polling core per map and path.
func BenchmarkStats(b *testing.B) {
	cfg := selector.DefaultConfig()
	p, err := selector.NewPoller(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	topo := san(4, 1024)
	mon := &fakeMonitor{watched: map[string]CheckSpec{}}
	d := New(Options{Config: config.Builtin(), Topology: topo, DM: dm.NewFake(), Monitor: mon, Log: zerolog.Nop(), Shards: 16, Stats: pollerSource{p}})
	mon.first = func(sp sysfs.Path) {
		d.PathChecked(sp.Name, CheckResult{State: healthy(sp), Prio: prioOf(sp), PrioName: "sysfs"})
	}
	ready := make(chan struct{})
	go d.Run(ctx, func() { close(ready) })
	<-ready
	// Every map and path is sampled once the poller's shards have taken the additions.
	for len(d.Stats().Paths) != 4096 || len(p.Snapshot(nil)) != 4096+1024 {
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		if st := d.Stats(); len(st.Paths) != 4096 {
			b.Fatalf("paths = %d", len(st.Paths))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/4096, "ns/path")
}
