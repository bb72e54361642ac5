package metrics

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"

	"github.com/mpathd/mpathd/pkg/api"
)

// A family of the topology: its name, help, type and label names (sorted, as client_golang sorts
// them), and a function that gives one series' value for a map (perPath false) or a path.
type famSpec struct {
	name, help string
	typ        dto.MetricType
	labels     []string
	perPath    bool
	// state makes an enumeration: one series per map or path, labelled with its current state
	// (the last label), value 1. A series per possible state, 0 for all but one, would make the
	// checker state alone 229,376 series on 32,768 paths, more than every other family together.
	state func(r *row) string
	// needIO and needCounters leave a family out when the source lacks the data; load marks the
	// load families, exposed only with Options.Load.
	needIO, needCounters, load bool
	// sparse leaves out the series whose value is 0 (a countdown not running).
	sparse bool
	value  func(r *row) float64
	// labelPairs, for the info families, appends every label in order; the others are labelled
	// map, path (per path) and state (enumerations).
	labelPairs func(r *row, dst []*dto.LabelPair) []*dto.LabelPair
}

// row is what one series is made from. Its label pairs are made once per scrape and shared by
// every series of the map or path: a scrape touches far less memory than with a pair per series.
type row struct {
	m        *api.Map
	g        *api.Group
	p        *api.Path
	mapPair  *dto.LabelPair
	pathPair *dto.LabelPair
	info     []*dto.LabelPair // mpathd_map_info's dm, product, vendor, wwid; mpathd_path_info's hcil
	io       api.IOStats
	mc       MapCounters
}

// Label names, shared by every series that uses them.
var (
	lnMap, lnPath, lnState, lnGroup = "map", "path", "state", "group"
	lnDM, lnProduct, lnVendor       = "dm", "product", "vendor"
	lnWWID, lnHCIL, lnHeld          = "wwid", "hcil", "held"
	groupNames                      [64]string
)

func init() {
	for i := range groupNames {
		groupNames[i] = strconv.Itoa(i)
	}
}

func groupName(i int) *string {
	if i >= 0 && i < len(groupNames) {
		return &groupNames[i]
	}
	s := strconv.Itoa(i)
	return &s
}

var (
	gauge   = dto.MetricType_GAUGE
	counter = dto.MetricType_COUNTER
)

func mapGauge(name, help string, v func(r *row) float64) famSpec {
	return famSpec{name: name, help: help, typ: gauge, labels: []string{"map"}, value: v}
}

func mapCounter(name, help string, v func(r *row) float64) famSpec {
	return famSpec{name: name, help: help, typ: counter, labels: []string{"map"}, value: v}
}

func mapLoad(name, help string, v func(r *row) float64) famSpec {
	f := mapGauge(name, help, v)
	f.needIO, f.load = true, true
	return f
}

func pathLoad(name, help string, v func(r *row) float64) famSpec {
	return famSpec{name: name, help: help, typ: gauge, labels: []string{"map", "path"}, perPath: true, load: true, needIO: true, value: v}
}

func one(*row) float64 { return 1 }

// families lists the topology's families in exposition order.
var families = []famSpec{
	{name: "mpathd_map_info", help: "A metric with a constant 1 value per map, labelled with what identifies it.", typ: gauge,
		labels: []string{"dm", "map", "product", "vendor", "wwid"}, value: one,
		labelPairs: func(r *row, dst []*dto.LabelPair) []*dto.LabelPair {
			return append(dst, r.info[0], r.mapPair, r.info[1], r.info[2], r.info[3])
		}},
	{name: "mpathd_map_health", help: "A map's health, as its state label: optimal (every path usable), degraded, queueing (no usable path, I/O queued), failed (no usable path, I/O failing).",
		typ: gauge, labels: []string{"map", "state"}, value: one, state: func(r *row) string { return r.m.Health() }},
	mapGauge("mpathd_map_usable_paths", "Paths of a map the kernel has active and the checker finds up or ghost.",
		func(r *row) float64 { _, u := r.m.PathCount(); return float64(u) }),
	mapGauge("mpathd_map_queueing", "1 while the kernel would queue a map's I/O when no path is usable (queue_if_no_path set).",
		func(r *row) float64 { return b2f(r.m.Queueing.Active) }),
	{name: "mpathd_map_no_path_retry_intervals_left", help: "Checker intervals left before a map with no usable path stops queueing (no_path_retry N); present only while it counts down.",
		typ: gauge, labels: []string{"map"}, sparse: true, value: func(r *row) float64 { return float64(r.m.Queueing.RetriesLeft) }},
	mapCounter("mpathd_map_path_faults_total", "Path failures in a map since mpathd took it over (or its counters were reset).",
		func(r *row) float64 { return float64(r.m.PathFaults) }),
	mapCounter("mpathd_map_table_loads_total", "Tables mpathd loaded into a map since it took it over (or its counters were reset).",
		func(r *row) float64 { return float64(r.m.TableLoads) }),
	{name: "mpathd_map_group_changes_total", help: "Changes of the group the kernel sends a map's I/O to: failovers by the kernel, failbacks and switches by mpathd.",
		typ: counter, labels: []string{"map"}, needCounters: true, value: func(r *row) float64 { return float64(r.mc.GroupChanges) }},
	{name: "mpathd_map_queueing_seconds_total", help: "Time a map spent with no usable path and its I/O queued.",
		typ: counter, labels: []string{"map"}, needCounters: true, value: func(r *row) float64 { return r.mc.QueueingSeconds }},
	mapLoad("mpathd_map_iops", "Reads and writes a map completes per second (polling core estimate).", func(r *row) float64 { return r.io.IOPS }),
	mapLoad("mpathd_map_read_bytes_per_second", "Bytes a map reads per second (polling core estimate).", func(r *row) float64 { return r.io.ReadBytesSec }),
	mapLoad("mpathd_map_write_bytes_per_second", "Bytes a map writes per second (polling core estimate).", func(r *row) float64 { return r.io.WriteBytesSec }),
	mapLoad("mpathd_map_in_flight_requests", "Requests issued to a map and not completed, at the last sample.", func(r *row) float64 { return float64(r.io.InFlight) }),
	mapLoad("mpathd_map_service_time_seconds", "Mean time a map takes per completed request (polling core estimate).", func(r *row) float64 { return r.io.ServiceTimeMs / 1000 }),

	{name: "mpathd_path_info", help: "A metric with a constant 1 value per path, labelled with its group (0 until its first check), SCSI address and why mpathd holds it failed (admin-failed, flapping).",
		typ: gauge, labels: []string{"group", "hcil", "held", "map", "path"}, perPath: true, value: one,
		labelPairs: func(r *row, dst []*dto.LabelPair) []*dto.LabelPair {
			return append(dst, groupPair(r.g.Index), r.info[0], fixedPair(heldPairs, &lnHeld, r.p.Held), r.mapPair, r.pathPair)
		}},
	{name: "mpathd_path_checker_state", help: "A path's last check result, as its state label: up, down, ghost, pending, timeout, disconnected, unchecked.",
		typ: gauge, labels: []string{"map", "path", "state"}, perPath: true, value: one, state: func(r *row) string { return r.p.CheckerState }},
	{name: "mpathd_path_dm_state", help: "A path's state in the kernel's map, as its state label: active or failed.",
		typ: gauge, labels: []string{"map", "path", "state"}, perPath: true, value: one, state: func(r *row) string { return r.p.DMState }},
	{name: "mpathd_path_kernel_failures_total", help: "Times the kernel failed a path since its map's table was last loaded (the dm status fail count).",
		typ: counter, labels: []string{"map", "path"}, perPath: true, value: func(r *row) float64 { return float64(r.p.FailCount) }},
	{name: "mpathd_path_weight", help: "A path's relative_throughput in a service-time group (0 when its selector takes no weight).",
		typ: gauge, labels: []string{"map", "path"}, perPath: true, load: true, value: func(r *row) float64 { return float64(r.p.Weight) }},
	pathLoad("mpathd_path_iops", "Reads and writes a path completes per second (polling core estimate).", func(r *row) float64 { return r.io.IOPS }),
	pathLoad("mpathd_path_read_bytes_per_second", "Bytes a path reads per second (polling core estimate).", func(r *row) float64 { return r.io.ReadBytesSec }),
	pathLoad("mpathd_path_write_bytes_per_second", "Bytes a path writes per second (polling core estimate).", func(r *row) float64 { return r.io.WriteBytesSec }),
	pathLoad("mpathd_path_in_flight_requests", "Requests issued to a path and not completed, at the last sample.", func(r *row) float64 { return float64(r.io.InFlight) }),
	pathLoad("mpathd_path_service_time_seconds", "Mean time a path takes per completed request (polling core estimate).", func(r *row) float64 { return r.io.ServiceTimeMs / 1000 }),
}

// slabs hold one scrape's topology families. A scrape through the HTTP handler reuses them (it
// says when it is done with them), so a steady scrape allocates almost nothing and its memory is
// bounded by the largest topology seen.
type slabs struct {
	mu       sync.Mutex
	maps     []row
	paths    []row
	metrics  []dto.Metric
	ptrs     []*dto.Metric
	vals     []float64
	gauges   []dto.Gauge
	counters []dto.Counter
	pairs    []dto.LabelPair  // the rows' own label pairs
	infos    []*dto.LabelPair // the rows' info pairs
	pairPtrs []*dto.LabelPair // each series' labels, pointing at shared pairs
	fams     []dto.MetricFamily
}

// grow returns s[:n], reusing s when it is large enough and not more than twice too large.
func grow[T any](s []T, n int) []T {
	if cap(s) >= n && cap(s) <= 2*n+1024 {
		return s[:n]
	}
	return make([]T, n)
}

// topologyFamilies builds every per-map and per-path family from one topology snapshot into sl.
func (e *Exporter) topologyFamilies(sl *slabs) []*dto.MetricFamily {
	top := e.src.Topology()
	nPaths := 0
	for _, m := range top.Maps {
		for _, g := range m.Groups {
			nPaths += len(g.Paths)
		}
	}
	sl.maps, sl.paths = grow(sl.maps, len(top.Maps)), grow(sl.paths, nPaths)[:0]
	// Per map: map, dm, product, vendor, wwid; per path: path, hcil.
	sl.pairs, sl.infos = grow(sl.pairs, 5*len(top.Maps)+2*nPaths)[:0], grow(sl.infos, 4*len(top.Maps)+nPaths)[:0]
	pair := func(name, value *string) *dto.LabelPair {
		sl.pairs = append(sl.pairs, dto.LabelPair{Name: name, Value: str(value)})
		return &sl.pairs[len(sl.pairs)-1]
	}
	info := func(ps ...*dto.LabelPair) []*dto.LabelPair {
		start := len(sl.infos)
		sl.infos = append(sl.infos, ps...)
		return sl.infos[start:len(sl.infos):len(sl.infos)]
	}
	for i := range top.Maps {
		m := &top.Maps[i]
		r := row{m: m, mapPair: pair(&lnMap, &m.Name)}
		r.info = info(pair(&lnDM, &m.DM), pair(&lnProduct, &m.Product), pair(&lnVendor, &m.Vendor), pair(&lnWWID, &m.WWID))
		if e.io != nil && e.opts.Load && m.DM != "" {
			r.io, _ = e.io.IOStats(m.DM)
		}
		if e.cnt != nil {
			r.mc, _ = e.cnt.MapCounters(m.Name)
		}
		sl.maps[i] = r
		for gi := range m.Groups {
			g := &m.Groups[gi]
			for pi := range g.Paths {
				r := row{m: m, g: g, p: &g.Paths[pi], mapPair: sl.maps[i].mapPair}
				r.pathPair = pair(&lnPath, &r.p.Dev)
				r.info = info(pair(&lnHCIL, &r.p.HCIL))
				if e.io != nil && e.opts.Load {
					r.io, _ = e.io.IOStats(r.p.Dev)
				}
				sl.paths = append(sl.paths, r)
			}
		}
	}
	// Size every slab for the whole scrape, then hand out consecutive pieces.
	var series, gauges, counters, pairs, fams int
	for i := range families {
		f := &families[i]
		if !e.wants(f) {
			continue
		}
		rows := sl.maps
		if f.perPath {
			rows = sl.paths
		}
		n := len(rows)
		if f.sparse {
			n = 0
			for ri := range rows {
				if f.value(&rows[ri]) != 0 {
					n++
				}
			}
		}
		series += n
		if f.typ == counter {
			counters += n
		} else {
			gauges += n
		}
		pairs += n * len(f.labels)
		fams++
	}
	sl.metrics, sl.ptrs, sl.vals = grow(sl.metrics, series), grow(sl.ptrs, series), grow(sl.vals, series)
	sl.gauges, sl.counters = grow(sl.gauges, gauges)[:0], grow(sl.counters, counters)[:0]
	sl.pairPtrs = grow(sl.pairPtrs, pairs)
	sl.fams = grow(sl.fams, fams)
	out := make([]*dto.MetricFamily, 0, fams)
	k, kp := 0, 0
	for i := range families {
		f := &families[i]
		if !e.wants(f) {
			continue
		}
		rows := sl.maps
		if f.perPath {
			rows = sl.paths
		}
		start := k
		k, kp = sl.build(f, rows, k, kp)
		if k == start {
			continue // the text formats have no empty family
		}
		mf := &sl.fams[len(out)]
		*mf = dto.MetricFamily{Name: &f.name, Help: &f.help, Type: &f.typ, Metric: sl.ptrs[start:k:k]}
		out = append(out, mf)
	}
	return out
}

// wants reports whether the source has what a family needs.
func (e *Exporter) wants(f *famSpec) bool {
	return (!f.load || e.opts.Load) && (!f.needIO || e.io != nil) && (!f.needCounters || e.cnt != nil)
}

// build renders one family over rows into the slabs from series k and label pair kp on, and
// returns where the next family starts.
func (sl *slabs) build(f *famSpec, rows []row, k, kp int) (int, int) {
	nl := len(f.labels)
	for ri := range rows {
		r := &rows[ri]
		v := f.value(r)
		if f.sparse && v == 0 {
			continue
		}
		// Labels in the order of f.labels, which is sorted.
		lp := sl.pairPtrs[kp : kp : kp+nl]
		if f.labelPairs != nil {
			lp = f.labelPairs(r, lp)
		} else {
			lp = append(lp, r.mapPair)
			if f.perPath {
				lp = append(lp, r.pathPair)
			}
			if f.state != nil {
				lp = append(lp, fixedPair(statePairs, &lnState, f.state(r)))
			}
		}
		kp += nl
		sl.vals[k] = v
		m := &sl.metrics[k]
		// The slabs were sized for the scrape, so append never moves them.
		if f.typ == counter {
			sl.counters = append(sl.counters, dto.Counter{Value: &sl.vals[k]})
			*m = dto.Metric{Label: lp, Counter: &sl.counters[len(sl.counters)-1]}
		} else {
			sl.gauges = append(sl.gauges, dto.Gauge{Value: &sl.vals[k]})
			*m = dto.Metric{Label: lp, Gauge: &sl.gauges[len(sl.gauges)-1]}
		}
		sl.ptrs[k] = m
		k++
	}
	return k, kp
}

// Label pairs of bounded values, made once and shared by every series that has them.
var (
	statePairs = func() map[string]*dto.LabelPair {
		m := map[string]*dto.LabelPair{}
		for _, set := range [][]string{api.CheckerStates, {api.DMActive, api.DMFailed}, mapHealthNames} {
			for i := range set {
				m[set[i]] = &dto.LabelPair{Name: &lnState, Value: &set[i]}
			}
		}
		return m
	}()
	heldValues = []string{"", api.HeldAdmin, api.HeldFlapping}
	heldPairs  = func() map[string]*dto.LabelPair {
		m := map[string]*dto.LabelPair{}
		for i := range heldValues {
			m[heldValues[i]] = &dto.LabelPair{Name: &lnHeld, Value: &heldValues[i]}
		}
		return m
	}()
	groupPairs [len(groupNames)]dto.LabelPair
)

func init() {
	for i := range groupPairs {
		groupPairs[i] = dto.LabelPair{Name: &lnGroup, Value: &groupNames[i]}
	}
}

// fixedPair returns the shared pair of a known value, or a new one for a value the table lacks.
func fixedPair(known map[string]*dto.LabelPair, name *string, value string) *dto.LabelPair {
	if p, ok := known[value]; ok {
		return p
	}
	v := valid(value)
	return &dto.LabelPair{Name: name, Value: &v}
}

func groupPair(i int) *dto.LabelPair {
	if i >= 0 && i < len(groupPairs) {
		return &groupPairs[i]
	}
	return &dto.LabelPair{Name: &lnGroup, Value: groupName(i)}
}

// valid makes a label value valid UTF-8, as the exposition formats require: device and map names
// come from the kernel and the configuration.
func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// str points at a snapshot's string as a label value, or at a valid copy when it is not UTF-8. The
// snapshot is shared with other readers and never written.
func str(s *string) *string {
	if utf8.ValidString(*s) {
		return s
	}
	v := valid(*s)
	return &v
}
