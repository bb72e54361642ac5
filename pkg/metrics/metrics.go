// Package metrics exposes the daemon's state to Prometheus with the ecosystem's own library
// (client_golang): the HTTP handler for metrics_listen and the text `mpathctl show metrics` prints
// for node_exporter's textfile collector are the same exposition.
//
// Everything is read at scrape time from what the daemon publishes for readers: the topology
// snapshots, the polling core's estimates and atomic counters. A scrape never takes a map shard's
// lock and never waits for a check, a reload or a udev cookie, so scraping cannot delay a failover.
//
// The families that grow with the topology (per map and per path) are built directly as client
// model families in a few slab allocations per scrape, not as one prometheus.Metric per series: a
// Collector pays a channel send, a consistency hash and a sort for every series, which on 32,768
// paths costs many times the scrape budget. The daemon-wide families are ordinary Collectors in a
// registry, and the tests run the whole output through client_golang's own consistency checks.
package metrics

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mpathd/mpathd/pkg/api"
)

// Source is what the exposition reads: the daemon's published snapshots. Status and Topology must
// not wait on map work (api.Service promises that).
type Source interface {
	Topology() api.Topology
	Status() api.Status
}

// IOSource gives the polling core's latest estimates for one block device ("sdc", "dm-3"). A
// Source that implements it gets the per-map and per-path load families.
type IOSource interface {
	IOStats(dev string) (api.IOStats, bool)
}

// CounterSource gives the daemon's cumulative counters. A Source that implements it gets the
// event, check, reload, shard and watchdog families.
type CounterSource interface {
	Counters() Counters
	// MapCounters returns the counters kept for one map by name; false for a map the daemon has
	// not published yet.
	MapCounters(name string) (MapCounters, bool)
}

// Counters are the daemon's cumulative counts since it started.
type Counters struct {
	Uevents  map[string]uint64 // path uevents handled, by action (add, remove, change)
	DMEvents uint64            // device-mapper events handled
	// Checks counts path check results by checker state; CheckDuration is their latency.
	Checks        map[string]uint64
	CheckDuration Histogram
	// PathFailures counts paths going down by cause: checker, kernel, admin.
	PathFailures       map[string]uint64
	PathReinstatements uint64
	GroupSwitches      uint64            // switch_group sent by mpathd (failback, administrator)
	TableLoads         map[string]uint64 // by reason: create, layout, resize, admin
	ConfigReloads      map[string]uint64 // by result: success, invalid, error
	Shards             []Shard
}

// Histogram is a cumulative histogram: Buckets[i] counts observations ≤ Bounds[i].
type Histogram struct {
	Count   uint64
	Sum     float64
	Bounds  []float64
	Buckets []uint64
}

// Shard is the load of one map owner.
type Shard struct {
	Queued int // pieces of work queued or running
	// OldestSeconds is the age of the oldest piece of work not yet done; 0 when idle.
	OldestSeconds float64
	// StalledSeconds is how long a shard with work has not moved on (the watchdog's measure).
	StalledSeconds float64
}

// MapCounters are what the daemon counts per map beyond the snapshot's own counters.
type MapCounters struct {
	// QueueingSeconds is the time the map spent with no usable path and I/O queued.
	QueueingSeconds float64
	// GroupChanges counts changes of the group the kernel uses, by the kernel (failover) or by
	// mpathd (failback, administrator).
	GroupChanges uint64
}

// Options configure an Exporter.
type Options struct {
	Version string // mpathd_build_info's version label
	// StallLimit is how long a shard may spend on one step before mpathd_watchdog_healthy reads
	// 0; 0 leaves the family out.
	StallLimit time.Duration
	// Load adds the polling core's load families: IOPS, bytes per second, in-flight requests
	// and service time per map and per path, and each path's weight. Eleven series per map of
	// four paths, against nine without: on a large SAN it more than doubles a scrape.
	Load bool
}

// Exporter gathers the exposition. It is safe for concurrent scrapes.
type Exporter struct {
	src  Source
	io   IOSource
	cnt  CounterSource
	opts Options
	reg  *prometheus.Registry
	sl   slabs // reused by transactional gathers, one at a time
}

// New makes an Exporter over src.
func New(src Source, opts Options) *Exporter {
	e := &Exporter{src: src, opts: opts, reg: prometheus.NewRegistry()}
	e.io, _ = src.(IOSource)
	e.cnt, _ = src.(CounterSource)
	e.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&daemonCollector{e: e},
	)
	return e
}

// Registry is where the exporter's daemon-wide collectors live; more may be registered (the
// HTTP handler's own request counters are).
func (e *Exporter) Registry() *prometheus.Registry { return e.reg }

// Gather implements prometheus.Gatherer: the registry's families and the topology's, sorted by
// name as the registry sorts them. Each call builds its families afresh; the HTTP handler and
// WriteText use the transactional gather, which reuses its memory.
func (e *Exporter) Gather() ([]*dto.MetricFamily, error) {
	return e.gather(new(slabs))
}

// topology is the topology's part as a prometheus.TransactionalGatherer: its families live in the
// exporter's slabs until done is called.
type topology struct{ e *Exporter }

func (t topology) Gather() ([]*dto.MetricFamily, func(), error) {
	t.e.sl.mu.Lock()
	return t.e.topologyFamilies(&t.e.sl), t.e.sl.mu.Unlock, nil
}

// transactional joins the registry and the topology, sorted by name.
func (e *Exporter) transactional() prometheus.TransactionalGatherer {
	return prometheus.NewMultiTRegistry(prometheus.ToTransactionalGatherer(e.reg), topology{e})
}

func (e *Exporter) gather(sl *slabs) ([]*dto.MetricFamily, error) {
	mfs, err := e.reg.Gather()
	mfs = append(mfs, e.topologyFamilies(sl)...)
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return mfs, err
}

// Handler serves the exposition over HTTP in whatever format the scraper negotiates (text,
// OpenMetrics, protobuf), with promhttp's own request counters.
func (e *Exporter) Handler() http.Handler {
	h := promhttp.HandlerForTransactional(e.transactional(), promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		// Scrapes of a large topology are not free: two at once is plenty.
		MaxRequestsInFlight: 2,
		// No Timeout: promhttp implements it with http.TimeoutHandler, which holds the whole
		// response in memory (tens of megabytes on a large SAN) before sending it.
		EnableOpenMetrics: true,
		// The listener is meant for loopback or a local reverse proxy: compressing tens of
		// megabytes would cost more CPU than the scrape itself.
		DisableCompression: true,
	})
	return promhttp.InstrumentMetricHandler(e.reg, noEscaping(h))
}

// noEscaping asks the encoder for names as they are when the scraper states no escaping scheme.
// Every family here has a legacy Prometheus name, so the underscore escaping promhttp applies by
// default (what Prometheus 2 gets) changes nothing in the output, but it costs a copy of every
// family and a check of every label name on every scrape.
func noEscaping(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if accept := r.Header.Get("Accept"); !strings.Contains(accept, model.EscapingKey+"=") {
			if accept == "" {
				accept = "text/plain;version=0.0.4"
			}
			ranges := strings.Split(accept, ",")
			for i := range ranges {
				ranges[i] += ";" + model.EscapingKey + "=" + model.AllowUTF8
			}
			r = r.Clone(r.Context())
			r.Header.Set("Accept", strings.Join(ranges, ","))
		}
		h.ServeHTTP(w, r)
	})
}

// WriteText writes the exposition in Prometheus' text format, as node_exporter's textfile
// collector reads it.
func (e *Exporter) WriteText(w io.Writer) error {
	mfs, done, err := e.transactional().Gather()
	defer done()
	if err != nil {
		return err
	}
	// Every name is a legacy Prometheus name, so allowing UTF-8 changes nothing in the output; it
	// only spares the encoder a copy of each family made to escape names that need none.
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain)+"; escaping="+expfmt.Format(model.AllowUTF8))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("metrics: encode %s: %w", mf.GetName(), err)
		}
	}
	return nil
}

// daemonCollector exposes the daemon-wide families.
type daemonCollector struct{ e *Exporter }

var (
	descBuildInfo = prometheus.NewDesc("mpathd_build_info", "A metric with a constant 1 value labelled by the mpathd version and the Go version that built it.",
		[]string{"version", "goversion"}, nil)
	descState = prometheus.NewDesc("mpathd_daemon_state", "The daemon's phase: 1 for the current one (startup, configure, running, reloading, stopping).",
		[]string{"state"}, nil)
	descStart      = prometheus.NewDesc("mpathd_start_time_seconds", "When mpathd started, in seconds since the Unix epoch.", nil, nil)
	descLastConfig = prometheus.NewDesc("mpathd_config_last_reload_success_timestamp_seconds",
		"When the configuration in force was loaded, in seconds since the Unix epoch.", nil, nil)
	descConfigWarnings = prometheus.NewDesc("mpathd_config_warnings", "Settings of the configuration in force that mpathd does not apply.", nil, nil)
	descSubscribers    = prometheus.NewDesc("mpathd_event_subscribers", "Open event streams (control socket and D-Bus).", nil, nil)
	descMaps           = prometheus.NewDesc("mpathd_maps", "Maps by health: optimal (every path usable), degraded, queueing (no usable path, I/O queued), failed.",
		[]string{"health"}, nil)
	descPaths = prometheus.NewDesc("mpathd_paths", "Paths by checker state.", []string{"state"}, nil)

	descUevents  = prometheus.NewDesc("mpathd_uevents_total", "Path uevents handled, by action.", []string{"action"}, nil)
	descDMEvents = prometheus.NewDesc("mpathd_dm_events_total", "Device-mapper events handled (a map's event counter moved).", nil, nil)
	descChecks   = prometheus.NewDesc("mpathd_path_checks_total", "Path check results, by checker state.", []string{"state"}, nil)
	descCheckDur = prometheus.NewDesc("mpathd_path_check_duration_seconds", "How long path checks take, prioritizer included.", nil, nil)
	descFailures = prometheus.NewDesc("mpathd_path_failures_total",
		"Path failures by who reported them: kernel (an I/O error), checker (a failed check), admin (fail path); an outage the kernel sees and a check confirms counts once for each.", []string{"cause"}, nil)
	descReinstated = prometheus.NewDesc("mpathd_path_reinstatements_total", "Paths that became usable again.", nil, nil)
	descSwitches   = prometheus.NewDesc("mpathd_group_switches_total", "Group switches sent by mpathd (failback or administrator).", nil, nil)
	descLoads      = prometheus.NewDesc("mpathd_table_loads_total",
		"Tables loaded into maps, by reason: create, layout (paths, groups, order or weights changed), resize, admin.", []string{"reason"}, nil)
	descReloads = prometheus.NewDesc("mpathd_config_reloads_total",
		"Configuration reloads (SIGHUP, reconfigure), by result: success, invalid (file refused, old one kept), error.", []string{"result"}, nil)
	descShardQueue  = prometheus.NewDesc("mpathd_shard_queue_length", "Pieces of work queued on a map shard or running.", []string{"shard"}, nil)
	descShardOldest = prometheus.NewDesc("mpathd_shard_oldest_work_age_seconds", "Age of the oldest piece of work a map shard has not finished.", []string{"shard"}, nil)
	descWatchdog    = prometheus.NewDesc("mpathd_watchdog_healthy",
		"1 while every map shard makes progress (the systemd watchdog is fed), 0 when one is stuck in one step.", nil, nil)
)

// Daemon phases, as Status.State reports them.
var daemonStates = []string{"startup", "configure", "running", "reloading", "stopping"}

// Label values of bounded sets, always exposed so that rate() sees a series from its first event.
var (
	ueventActions  = []string{"add", "remove", "change"}
	failureCauses  = []string{"checker", "kernel", "admin"}
	loadReasons    = []string{"create", "layout", "resize", "admin"}
	reloadResults  = []string{"success", "invalid", "error"}
	mapHealthNames = []string{api.MapOptimal, api.MapDegraded, api.MapQueueing, api.MapFailed}
)

func (c *daemonCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBuildInfo, descState, descStart, descLastConfig, descConfigWarnings, descSubscribers,
		descMaps, descPaths, descUevents, descDMEvents, descChecks, descCheckDur, descFailures, descReinstated, descSwitches,
		descLoads, descReloads, descShardQueue, descShardOldest, descWatchdog} {
		ch <- d
	}
}

func (c *daemonCollector) Collect(ch chan<- prometheus.Metric) {
	e := c.e
	st := e.src.Status()
	ch <- prometheus.MustNewConstMetric(descBuildInfo, prometheus.GaugeValue, 1, valid(e.opts.Version), runtime.Version())
	for _, s := range daemonStates {
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, b2f(st.State == s), s)
	}
	ch <- prometheus.MustNewConstMetric(descStart, prometheus.GaugeValue, unixSeconds(st.Started))
	ch <- prometheus.MustNewConstMetric(descLastConfig, prometheus.GaugeValue, unixSeconds(st.LastReconfigure))
	ch <- prometheus.MustNewConstMetric(descConfigWarnings, prometheus.GaugeValue, float64(len(st.ConfigWarnings)))
	ch <- prometheus.MustNewConstMetric(descSubscribers, prometheus.GaugeValue, float64(st.EventSubscribers))
	for _, h := range mapHealthNames {
		ch <- prometheus.MustNewConstMetric(descMaps, prometheus.GaugeValue, float64(st.MapStates[h]), h)
	}
	for _, s := range api.CheckerStates {
		ch <- prometheus.MustNewConstMetric(descPaths, prometheus.GaugeValue, float64(st.CheckerStates[s]), s)
	}
	if e.cnt == nil {
		return
	}
	cs := e.cnt.Counters()
	counterSet(ch, descUevents, ueventActions, cs.Uevents)
	ch <- prometheus.MustNewConstMetric(descDMEvents, prometheus.CounterValue, float64(cs.DMEvents))
	counterSet(ch, descChecks, api.CheckerStates, cs.Checks)
	h := cs.CheckDuration
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		buckets[b] = h.Buckets[i]
	}
	ch <- prometheus.MustNewConstHistogram(descCheckDur, h.Count, h.Sum, buckets)
	counterSet(ch, descFailures, failureCauses, cs.PathFailures)
	ch <- prometheus.MustNewConstMetric(descReinstated, prometheus.CounterValue, float64(cs.PathReinstatements))
	ch <- prometheus.MustNewConstMetric(descSwitches, prometheus.CounterValue, float64(cs.GroupSwitches))
	counterSet(ch, descLoads, loadReasons, cs.TableLoads)
	counterSet(ch, descReloads, reloadResults, cs.ConfigReloads)
	healthy := true
	for i, s := range cs.Shards {
		id := fmt.Sprint(i)
		ch <- prometheus.MustNewConstMetric(descShardQueue, prometheus.GaugeValue, float64(s.Queued), id)
		ch <- prometheus.MustNewConstMetric(descShardOldest, prometheus.GaugeValue, s.OldestSeconds, id)
		healthy = healthy && s.StalledSeconds <= e.opts.StallLimit.Seconds()
	}
	if e.opts.StallLimit > 0 {
		ch <- prometheus.MustNewConstMetric(descWatchdog, prometheus.GaugeValue, b2f(healthy))
	}
}

// counterSet exposes one counter per label value of a bounded set, zero included.
func counterSet(ch chan<- prometheus.Metric, d *prometheus.Desc, values []string, counts map[string]uint64) {
	for _, v := range values {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(counts[v]), v)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
