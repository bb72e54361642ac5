package daemon

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/metrics"
	"github.com/mpathd/mpathd/pkg/metrics/promtest"
	"github.com/mpathd/mpathd/pkg/selector"
)

// families scrapes an exporter through its text output and parses it back.
func families(t testing.TB, e *metrics.Exporter) (map[string]*dto.MetricFamily, []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := e.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, b.Bytes())
	}
	return mfs, b.Bytes()
}

// sample returns the value of the one series of a family whose labels include want; ok is false
// when there is none.
func sample(t testing.TB, mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	t.Helper()
	var vals []float64
	for _, m := range mfs[name].GetMetric() {
		match := true
		for k, v := range want {
			has := false
			for _, lp := range m.Label {
				has = has || lp.GetName() == k && lp.GetValue() == v
			}
			match = match && has
		}
		if match {
			switch {
			case m.Gauge != nil:
				vals = append(vals, m.Gauge.GetValue())
			case m.Counter != nil:
				vals = append(vals, m.Counter.GetValue())
			case m.Histogram != nil:
				vals = append(vals, float64(m.Histogram.GetSampleCount()))
			}
		}
	}
	if len(vals) > 1 {
		t.Fatalf("%s%v: %d series", name, want, len(vals))
	}
	if len(vals) == 0 {
		return 0, false
	}
	return vals[0], true
}

// failover makes the kernel fail sda, the optimized path of LUN 0, under I/O: the kernel moves the
// I/O to the other group, the dm event reaches the daemon, and the checker confirms the path down.
func failover(t testing.TB, r *rig) {
	t.Helper()
	if err := r.dm.SubmitIO(lun0); err != nil { // I/O makes group 1 the active one
		t.Fatal(err)
	}
	r.d.MapChanged(lun0)
	r.settle()
	if err := r.dm.KernelFailPath(lun0, "8:0"); err != nil {
		t.Fatal(err)
	}
	r.d.MapChanged(lun0)
	r.d.PathChecked("sda", CheckResult{State: checker.Down, Reason: "test", Prio: checker.PrioUndefined, Took: 30 * time.Millisecond})
	r.settle()
}

// The exposition of a running daemon with a failure in progress: the path's states, the causes,
// the failover counted, and the text accepted by client_golang's consistency checks and by
// promtool.
func TestMetricsOnDaemon(t *testing.T) {
	stats := &constStats{s: selector.Stats{Valid: true, ReadIOPS: 100, ReadBytesPerSec: 409600, ServiceTime: time.Millisecond}}
	r := newRigWith(t, san(2, 2), "", nil, func(o *Options) { o.Stats = stats })
	exp := metrics.New(r.d, metrics.Options{Version: "test", StallLimit: time.Minute, Load: true})
	r.d.PathChecked("sdb", CheckResult{State: checker.Up, Prio: 50, PrioName: "sysfs", Took: 200 * time.Microsecond})
	r.settle()
	mfs, _ := families(t, exp)
	if v, _ := sample(t, mfs, "mpathd_map_group_changes_total", map[string]string{"map": lun0}); v != 0 {
		t.Errorf("group changes before any failure = %v", v)
	}
	failover(t, r)

	mfs, text := families(t, exp)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mpathd_path_checker_state", map[string]string{"map": lun0, "path": "sda", "state": "down"}, 1},
		{"mpathd_path_dm_state", map[string]string{"map": lun0, "path": "sda", "state": "failed"}, 1},
		{"mpathd_path_checker_state", map[string]string{"map": lun0, "path": "sdc", "state": "up"}, 1},
		{"mpathd_path_kernel_failures_total", map[string]string{"map": lun0, "path": "sda"}, 1},
		{"mpathd_path_failures_total", map[string]string{"cause": "kernel"}, 1},
		{"mpathd_path_failures_total", map[string]string{"cause": "checker"}, 1}, // the check that confirmed it
		{"mpathd_map_health", map[string]string{"map": lun0, "state": "degraded"}, 1},
		{"mpathd_map_group_changes_total", map[string]string{"map": lun0}, 1},
		{"mpathd_map_usable_paths", map[string]string{"map": lun0}, 1},
		{"mpathd_map_path_faults_total", map[string]string{"map": lun0}, 1},
		{"mpathd_map_table_loads_total", map[string]string{"map": lun0}, 1},
		{"mpathd_table_loads_total", map[string]string{"reason": "create"}, 2},
		{"mpathd_dm_events_total", nil, 0}, // counted by the dm event pump, not in this rig
		{"mpathd_path_check_duration_seconds", nil, 2},
		{"mpathd_path_iops", map[string]string{"path": "sdc"}, 100},
		{"mpathd_path_service_time_seconds", map[string]string{"path": "sdc"}, 0.001},
		{"mpathd_maps", map[string]string{"health": "degraded"}, 1},
		{"mpathd_paths", map[string]string{"state": "down"}, 1},
		{"mpathd_watchdog_healthy", nil, 1},
		{"mpathd_daemon_state", map[string]string{"state": "running"}, 1},
	} {
		if got, ok := sample(t, mfs, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := sample(t, mfs, "mpathd_path_checker_state", map[string]string{"path": "sda", "state": "up"}); ok {
		t.Error("sda still has an up series")
	}
	if _, err := (prometheus.Gatherers{exp}).Gather(); err != nil {
		t.Errorf("client_golang's consistency checks: %v", err)
	}
	promtest.Check(t, text)
}

// constStats is a polling core that has the same estimates for every device, without a lock.
type constStats struct{ s selector.Stats }

func (c *constStats) Add(string)                          {}
func (c *constStats) Remove(string)                       {}
func (c *constStats) Stats(string) (selector.Stats, bool) { return c.s, true }

// A map with no usable path that queues accumulates queueing time until a path returns; the time
// is the daemon's clock, read at scrape time.
func TestQueueingSeconds(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	r := newRigWith(t, san(2, 1), "[defaults]\nno_path_retry = \"queue\"\n", nil, func(o *Options) { o.Now = clock })
	exp := metrics.New(r.d, metrics.Options{})
	seconds := func() float64 {
		mfs, _ := families(t, exp)
		v, _ := sample(t, mfs, "mpathd_map_queueing_seconds_total", map[string]string{"map": lun0})
		return v
	}
	r.check("sda", checker.Down)
	r.check("sdb", checker.Down)
	r.settle()
	mfs, _ := families(t, exp)
	if v, _ := sample(t, mfs, "mpathd_map_health", map[string]string{"map": lun0, "state": "queueing"}); v != 1 {
		t.Fatalf("map not queueing: %v", r.d.Topology())
	}
	now.Add(int64(5 * time.Second))
	if got := seconds(); got != 5 {
		t.Errorf("queueing seconds while queueing = %v, want 5", got)
	}
	r.check("sda", checker.Up)
	r.settle()
	now.Add(int64(time.Minute))
	if got := seconds(); got != 5 {
		t.Errorf("queueing seconds after a path returned = %v, want 5", got)
	}
}

// gatedStats is a polling core whose Stats blocks while the gate is closed: a scrape that reads
// load estimates stops in the middle of its gather.
type gatedStats struct {
	constStats
	gate    chan struct{}
	waiting atomic.Bool
	once    sync.Once
	stopped chan struct{}
}

func (g *gatedStats) Stats(dev string) (selector.Stats, bool) {
	if g.waiting.Load() {
		g.once.Do(func() { close(g.stopped) })
		<-g.gate
	}
	return g.constStats.Stats(dev)
}

// A scrape holds nothing the daemon needs: with a scrape stopped in the middle of its gather, check
// results are applied, the kernel's failover is seen and the snapshots are republished; and a loop
// of scrapes running through a storm of check results leaves every result applied. Nothing here
// measures time: a shard that waited on a scrape would hang the test.
func TestScrapeNeverDelaysChecks(t *testing.T) {
	stats := &gatedStats{gate: make(chan struct{}), stopped: make(chan struct{})}
	r := newRigWith(t, san(2, 2), "", nil, func(o *Options) { o.Stats = stats })
	exp := metrics.New(r.d, metrics.Options{Load: true})

	stats.waiting.Store(true)
	scraped := make(chan error, 1)
	go func() {
		var b bytes.Buffer
		scraped <- exp.WriteText(&b)
	}()
	<-stats.stopped // the scrape is inside its gather, holding its slabs
	failover(t, r)
	m, _ := r.d.Topology().Find(lun0)
	if p := m.Groups[0].Paths[0]; p.Dev != "sda" || p.CheckerState != api.CheckerDown || p.DMState != api.DMFailed {
		t.Errorf("failure not applied while a scrape was stuck: %+v", p)
	}
	if c, _ := r.d.MapCounters(lun0); c.GroupChanges != 1 {
		t.Errorf("failover not counted while a scrape was stuck: %+v", c)
	}
	stats.waiting.Store(false)
	close(stats.gate)
	if err := <-scraped; err != nil {
		t.Fatal(err)
	}

	// Scrapes in a loop while every path flaps down and up: every result lands.
	stop := make(chan struct{})
	var scrapes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var b bytes.Buffer
			if err := exp.WriteText(&b); err != nil {
				t.Error(err)
				return
			}
			scrapes.Add(1)
		}
	}()
	devs := []string{"sdb", "sdc", "sdd"}
	for i := 0; i < 200 || scrapes.Load() < 3; i++ {
		st := checker.Down
		if i%2 == 1 {
			st = checker.Up
		}
		for _, dev := range devs {
			r.check(dev, st)
		}
		if i%20 == 0 {
			r.settle()
		}
	}
	for _, dev := range devs {
		r.check(dev, checker.Ghost)
	}
	r.settle()
	close(stop)
	wg.Wait()
	for _, p := range r.d.Topology().Paths() {
		if p.Dev != "sda" && p.CheckerState != api.CheckerGhost {
			t.Errorf("%s: last result ghost not applied: %s", p.Dev, p.CheckerState)
		}
	}
	if c := r.d.Counters(); c.Checks["ghost"] < 3 {
		t.Errorf("check results counted: %v", c.Checks)
	}
}

// BenchmarkScrape32768 measures one scrape of a daemon on a 32,768-path fake kernel (8,192 LUNs
// on 4 hosts), load estimates for every device, through the HTTP handler as Prometheus asks for
// it (OpenMetrics) and as the textfile export writes it; with and without the per-path load
// families. cpu-ms/op is the process CPU time per scrape: on a shared machine it tells the cost
// better than the wall clock. retained-MB is the heap kept between scrapes (the reused slabs).
func BenchmarkScrape32768(b *testing.B) {
	stats := &constStats{s: selector.Stats{Valid: true, ReadIOPS: 100, ReadBytesPerSec: 409600, ServiceTime: time.Millisecond}}
	// No tick during the measurement: the process's CPU time is then the scrapes'.
	r := newRigWith(b, san(4, 8192), "[defaults]\npolling_interval = 3600\n", nil, func(o *Options) { o.Stats = stats })
	r.settle()
	if n := len(r.d.Topology().Paths()); n != 32768 {
		b.Fatalf("paths = %d", n)
	}
	for _, load := range []bool{false, true} {
		for _, format := range []string{"openmetrics", "text"} {
			b.Run(fmtName(load, format), func(b *testing.B) {
				benchScrape(b, metrics.New(r.d, metrics.Options{Version: "bench", Load: load}), format)
			})
		}
	}
}

func fmtName(load bool, format string) string {
	if load {
		return "load/" + format
	}
	return "default/" + format
}

func benchScrape(b *testing.B, exp *metrics.Exporter, format string) {
	h := exp.Handler()
	accept := "text/plain;version=0.0.4"
	if format == "openmetrics" {
		// What Prometheus 2.42 sends.
		accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	}
	scrape := func() int {
		w := &discardResponse{header: http.Header{}}
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept", accept)
		h.ServeHTTP(w, req)
		if w.code != 0 && w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
		return w.n
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	scrape() // sizes the slabs
	size := 0
	cpu := cpuTime()
	for b.Loop() {
		size = scrape()
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
	b.ReportMetric(float64(size)/1e6, "MB/scrape")
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/1e6, "retained-MB")
	runtime.KeepAlive(h) // the exporter keeps its slabs between scrapes; count them

}

// discardResponse is an http.ResponseWriter that counts the body.
type discardResponse struct {
	header http.Header
	code   int
	n      int
}

func (w *discardResponse) Header() http.Header         { return w.header }
func (w *discardResponse) WriteHeader(code int)        { w.code = code }
func (w *discardResponse) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// cpuTime is the process's CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
