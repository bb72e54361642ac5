package metrics

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/api/apitest"
	"github.com/mpathd/mpathd/pkg/metrics/promtest"
)

// source is a Source with load estimates and counters, over an apitest topology.
type source struct {
	*apitest.Fake
	io  map[string]api.IOStats
	cnt Counters
	mc  map[string]MapCounters
}

func (s *source) IOStats(dev string) (api.IOStats, bool) { v, ok := s.io[dev]; return v, ok }
func (s *source) Counters() Counters                     { return s.cnt }
func (s *source) MapCounters(name string) (MapCounters, bool) {
	v, ok := s.mc[name]
	return v, ok
}

// troubled is a topology of three maps with a path down, a map queueing and load everywhere.
func troubled() *source {
	t := apitest.Generate(3, 2, 2)
	// mpatha: its first path failed by the kernel and down by the checker.
	p := &t.Maps[0].Groups[0].Paths[0]
	p.DMState, p.CheckerState, p.FailCount = api.DMFailed, api.CheckerDown, 3
	// mpathb: every path down, I/O queued, 4 intervals left.
	for gi := range t.Maps[1].Groups {
		t.Maps[1].Groups[gi].State = api.GroupEnabled
		for pi := range t.Maps[1].Groups[gi].Paths {
			q := &t.Maps[1].Groups[gi].Paths[pi]
			q.DMState, q.CheckerState = api.DMFailed, api.CheckerDown
		}
	}
	t.Maps[1].Queueing.Active, t.Maps[1].Queueing.RetriesLeft = true, 4
	s := &source{Fake: apitest.New(t), io: map[string]api.IOStats{}, mc: map[string]MapCounters{}}
	for _, m := range t.Maps {
		s.io[m.DM] = api.IOStats{IOPS: 100, ReadBytesSec: 4096 * 100, InFlight: 2, ServiceTimeMs: 1.5}
		s.mc[m.Name] = MapCounters{GroupChanges: 2, QueueingSeconds: 1.25}
		for _, g := range m.Groups {
			for _, p := range g.Paths {
				s.io[p.Dev] = api.IOStats{IOPS: 50, WriteBytesSec: 8192 * 50, InFlight: 1, ServiceTimeMs: 0.5}
			}
		}
	}
	s.cnt = Counters{
		Uevents: map[string]uint64{"add": 4}, DMEvents: 7, Checks: map[string]uint64{"up": 10, "down": 3},
		CheckDuration: Histogram{Count: 13, Sum: 0.013, Bounds: []float64{0.001, 0.01}, Buckets: []uint64{12, 13}},
		PathFailures:  map[string]uint64{"kernel": 1, "checker": 2}, PathReinstatements: 1, GroupSwitches: 1,
		TableLoads: map[string]uint64{"create": 3}, ConfigReloads: map[string]uint64{"success": 1},
		Shards: []Shard{{}, {Queued: 2, OldestSeconds: 0.5, StalledSeconds: 0.5}},
	}
	return s
}

// scrape gathers through the HTTP handler and parses the text format.
func scrape(t testing.TB, e *Exporter) (map[string]*dto.MetricFamily, []byte) {
	t.Helper()
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %v\n%s", resp.StatusCode, err, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return mfs, body
}

// value finds the series of a family whose labels include want.
func value(t testing.TB, mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil {
		t.Fatalf("no family %s", name)
	}
	var found []float64
	for _, m := range mf.Metric {
		ok := true
		for k, v := range want {
			has := false
			for _, lp := range m.Label {
				has = has || lp.GetName() == k && lp.GetValue() == v
			}
			ok = ok && has
		}
		if ok {
			switch {
			case m.Gauge != nil:
				found = append(found, m.Gauge.GetValue())
			case m.Counter != nil:
				found = append(found, m.Counter.GetValue())
			case m.Untyped != nil:
				found = append(found, m.Untyped.GetValue())
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, want, len(found))
	}
	return found[0]
}

func TestExposition(t *testing.T) {
	s := troubled()
	e := New(s, Options{Version: "1.2.3", StallLimit: time.Second, Load: true})
	mfs, _ := scrape(t, e)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mpathd_build_info", map[string]string{"version": "1.2.3"}, 1},
		{"mpathd_path_checker_state", map[string]string{"path": "sdb", "state": "down"}, 1},
		{"mpathd_path_checker_state", map[string]string{"path": "sdc", "state": "up"}, 1},
		{"mpathd_path_dm_state", map[string]string{"path": "sdb", "state": "failed"}, 1},
		{"mpathd_path_kernel_failures_total", map[string]string{"path": "sdb"}, 3},
		{"mpathd_path_info", map[string]string{"path": "sdb", "map": "mpatha", "group": "1", "hcil": "1:0:0:0"}, 1},
		{"mpathd_path_iops", map[string]string{"path": "sdc"}, 50},
		{"mpathd_path_service_time_seconds", map[string]string{"path": "sdc"}, 0.0005},
		{"mpathd_map_health", map[string]string{"map": "mpatha", "state": "degraded"}, 1},
		{"mpathd_map_health", map[string]string{"map": "mpathb", "state": "queueing"}, 1},
		{"mpathd_map_health", map[string]string{"map": "mpathc", "state": "optimal"}, 1},
		{"mpathd_map_queueing", map[string]string{"map": "mpathb"}, 1},
		{"mpathd_map_no_path_retry_intervals_left", map[string]string{"map": "mpathb"}, 4},
		{"mpathd_map_usable_paths", map[string]string{"map": "mpatha"}, 3},
		{"mpathd_path_weight", map[string]string{"path": "sdc"}, 50},
		{"mpathd_map_group_changes_total", map[string]string{"map": "mpatha"}, 2},
		{"mpathd_map_queueing_seconds_total", map[string]string{"map": "mpathb"}, 1.25},
		{"mpathd_map_info", map[string]string{"map": "mpatha", "dm": "dm-0", "vendor": "NETAPP"}, 1},
		{"mpathd_map_read_bytes_per_second", map[string]string{"map": "mpatha"}, 409600},
		{"mpathd_maps", map[string]string{"health": "queueing"}, 1},
		{"mpathd_paths", map[string]string{"state": "down"}, 5},
		{"mpathd_path_failures_total", map[string]string{"cause": "kernel"}, 1},
		{"mpathd_path_failures_total", map[string]string{"cause": "admin"}, 0},
		{"mpathd_table_loads_total", map[string]string{"reason": "create"}, 3},
		{"mpathd_config_reloads_total", map[string]string{"result": "success"}, 1},
		{"mpathd_uevents_total", map[string]string{"action": "add"}, 4},
		{"mpathd_dm_events_total", nil, 7},
		{"mpathd_shard_queue_length", map[string]string{"shard": "1"}, 2},
		{"mpathd_watchdog_healthy", nil, 1},
		{"mpathd_daemon_state", map[string]string{"state": "running"}, 1},
	} {
		if got := value(t, mfs, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// An enumeration has one series per path: the current state's.
	for _, name := range []string{"mpathd_path_checker_state", "mpathd_path_dm_state"} {
		if n := len(mfs[name].Metric); n != 12 {
			t.Errorf("%s: %d series for 12 paths", name, n)
		}
	}
	if n := len(mfs["mpathd_map_health"].Metric); n != 3 {
		t.Errorf("mpathd_map_health: %d series for 3 maps", n)
	}
	h := mfs["mpathd_path_check_duration_seconds"].Metric[0].Histogram
	if h.GetSampleCount() != 13 || h.Bucket[0].GetCumulativeCount() != 12 {
		t.Errorf("check duration histogram = %v", h)
	}
	// A shard stuck beyond the limit turns the watchdog family to 0.
	s.cnt.Shards[1].StalledSeconds = 2
	mfs, _ = scrape(t, e)
	if got := value(t, mfs, "mpathd_watchdog_healthy", nil); got != 0 {
		t.Errorf("watchdog with a stuck shard = %v", got)
	}
}

// TestConsistent runs the exposition through client_golang's own checks (what the registry does
// for its collectors): valid names and label values, no duplicate series, labels matching the
// family's type.
func TestConsistent(t *testing.T) {
	s := troubled()
	t0 := s.Topology()
	// A map name that is not UTF-8 must still give a valid exposition.
	t0.Maps[2].Name = "bad\xffname"
	s.Fake = apitest.New(t0)
	e := New(s, Options{Version: "v", StallLimit: time.Second, Load: true})
	if _, err := (prometheus.Gatherers{e}).Gather(); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := e.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `map="bad`+"\uFFFD"+`name"`) {
		t.Errorf("invalid UTF-8 name not repaired")
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "# TYPE ") {
			name := strings.Fields(line)[2]
			if !model.LegacyValidation.IsValidMetricName(name) || !strings.HasPrefix(name, "mpathd_") &&
				!strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
				t.Errorf("family %s", name)
			}
		}
	}
}

// TestWithoutOptionalSources: a plain api.Service gets the snapshot families only.
func TestWithoutOptionalSources(t *testing.T) {
	e := New(apitest.New(apitest.Generate(1, 1, 2)), Options{})
	mfs, _ := scrape(t, e)
	for _, name := range []string{"mpathd_path_iops", "mpathd_path_weight", "mpathd_map_iops", "mpathd_map_group_changes_total", "mpathd_uevents_total", "mpathd_watchdog_healthy"} {
		if mfs[name] != nil {
			t.Errorf("%s exposed without its source", name)
		}
	}
	if value(t, mfs, "mpathd_path_checker_state", map[string]string{"path": "sdb", "state": "up"}) != 1 {
		t.Error("checker state missing")
	}
}

// TestPromtool runs `promtool check metrics` (Debian's prometheus package) on the exposition of
// a topology with failures in progress.
func TestPromtool(t *testing.T) {
	var b bytes.Buffer
	if err := New(troubled(), Options{Version: "v", StallLimit: time.Second, Load: true}).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	promtest.Check(t, b.Bytes())
}

// BenchmarkGather32768 measures the exposition alone (gather and text encoding) over a generated
// topology of 8,192 maps of 2 groups of 2 paths, with load estimates for every device, without and
// with the per-path load families.
func BenchmarkGather32768(b *testing.B) {
	t := apitest.Generate(8192, 2, 2)
	s := &source{Fake: apitest.New(t), io: map[string]api.IOStats{}, mc: map[string]MapCounters{}}
	for _, m := range t.Maps {
		s.io[m.DM] = api.IOStats{IOPS: 100}
		for _, g := range m.Groups {
			for _, p := range g.Paths {
				s.io[p.Dev] = api.IOStats{IOPS: 50, ServiceTimeMs: 0.5}
			}
		}
	}
	for _, load := range []bool{false, true} {
		b.Run(fmt.Sprintf("load=%v", load), func(b *testing.B) {
			e := New(s, Options{Version: "v", Load: load})
			var w countWriter
			if err := e.WriteText(&w); err != nil { // the first scrape sizes the slabs
				b.Fatal(err)
			}
			cpu := cpuTime()
			for b.Loop() {
				w = 0
				if err := e.WriteText(&w); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(w), "bytes/scrape")
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

type countWriter int

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }

// cpuTime is the process's CPU time: on a machine shared with other work it tells the cost of a
// scrape better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Asking the encoder for no escaping changes nothing in what a scraper gets: every name is a
// legacy one.
func TestNoEscapingSameOutput(t *testing.T) {
	e := New(troubled(), Options{Version: "v", Load: true})
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	get := func(accept string) string {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var keep []string
		for _, line := range strings.Split(string(body), "\n") {
			if strings.Contains(line, "mpathd_") {
				keep = append(keep, line)
			}
		}
		return strings.Join(keep, "\n")
	}
	for _, accept := range []string{"", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"} {
		explicit := "text/plain;version=0.0.4;escaping=underscores"
		if accept != "" {
			explicit = "application/openmetrics-text;version=1.0.0;escaping=underscores"
		}
		if a, b := get(accept), get(explicit); a != b || len(a) == 0 {
			t.Errorf("Accept %q: output differs from underscore escaping (%d and %d bytes)", accept, len(a), len(b))
		}
	}
}
