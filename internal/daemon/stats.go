package daemon

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/selector"
)

// StatsSource is the polling core (pkg/selector's Poller over /proc/diskstats, in internal/linux):
// it samples the I/O counters of the block devices the daemon names, paths ("sdc") and maps
// ("dm-3"). Add starts sampling a device, or restarts it with fresh estimates when it is already
// sampled (the name may now belong to another device); Remove stops it. Neither may block. Stats
// returns the latest estimates without waiting for a sample.
type StatsSource interface {
	Add(dev string)
	Remove(dev string)
	Stats(dev string) (selector.Stats, bool)
}

// SelectorConfig takes the polling core's settings from the [defaults] section.
func SelectorConfig(cfg *config.Config) selector.Config {
	g := cfg.Global()
	return selector.Config{
		StatsInterval:          g.StatsInterval,
		StatsHalfLife:          g.StatsHalfLife,
		Shards:                 g.Shards,
		WeightUpdate:           g.WeightUpdate,
		WeightMinInterval:      g.WeightMinInterval,
		WeightHysteresis:       g.WeightHysteresis,
		MarginalDetection:      g.MarginalDetection,
		MarginalLatencyFactor:  g.MarginalLatencyFactor,
		MarginalMinServiceTime: g.MarginalMinServiceTime,
		MarginalMinIOPS:        g.MarginalMinIOPS,
		MarginalTime:           g.MarginalTime,
		MarginalErrors:         g.MarginalErrors,
		MarginalRecoveryTime:   g.MarginalRecoveryTime,
	}
}

// statsCore is the daemon's side of the polling core: which devices are sampled, and the weight
// planner and marginal detector shared by every shard.
type statsCore struct {
	mu sync.Mutex
	// refs counts the maps that sample a device. Device names are reused (a dm minor, an sd name
	// after a replacement) by maps on other shards, so the last map to let go removes it.
	refs     map[string]int
	from     *config.Config // the configuration the tools below were made from
	cfg      selector.Config
	planner  *selector.Planner
	detector *selector.MarginalDetector
}

// mapStats is a map's share of the polling core's state; it lives on the map's shard.
type mapStats struct {
	devs map[string]bool // devices this map registered with the StatsSource
	// weights are the ones the planner chose last, kept until the live table shows them.
	weights map[string]int
	loads   uint64 // tableLoads when the planner last saw the map
	planned bool   // the planner knows the map
}

func (d *Daemon) acquireStats(dev string) {
	c := &d.stats
	c.mu.Lock()
	if c.refs == nil {
		c.refs = map[string]int{}
	}
	c.refs[dev]++
	c.mu.Unlock()
	// Always (re)start: a name taken over from another map is a new device.
	d.o.Stats.Add(dev)
}

func (d *Daemon) releaseStats(dev string) {
	c := &d.stats
	c.mu.Lock()
	c.refs[dev]--
	last := c.refs[dev] <= 0
	if last {
		delete(c.refs, dev)
	}
	c.mu.Unlock()
	if last {
		d.o.Stats.Remove(dev)
	}
}

// statsTools returns the planner and detector for the configuration in force. A reconfiguration
// replaces only the tool whose settings changed, so the planner's clock and the marginal paths'
// histories survive an unrelated change.
func (d *Daemon) statsTools() (*selector.Planner, *selector.MarginalDetector, selector.Config) {
	c := &d.stats
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := d.cfg()
	if c.from == cfg {
		return c.planner, c.detector, c.cfg
	}
	n := SelectorConfig(cfg)
	if start := SelectorConfig(d.o.Config); n.StatsInterval != start.StatsInterval || n.StatsHalfLife != start.StatsHalfLife || n.Shards != start.Shards {
		d.log.Warn().Msg("stats_interval, stats_half_life and shards take effect at the next start of mpathd")
	}
	if c.planner == nil || n.WeightUpdate != c.cfg.WeightUpdate || n.WeightMinInterval != c.cfg.WeightMinInterval ||
		n.WeightHysteresis != c.cfg.WeightHysteresis {
		c.planner = selector.NewPlanner(n)
	}
	if c.detector == nil || n.MarginalDetection != c.cfg.MarginalDetection || n.MarginalLatencyFactor != c.cfg.MarginalLatencyFactor ||
		n.MarginalMinServiceTime != c.cfg.MarginalMinServiceTime || n.MarginalMinIOPS != c.cfg.MarginalMinIOPS ||
		n.MarginalTime != c.cfg.MarginalTime || n.MarginalErrors != c.cfg.MarginalErrors ||
		n.MarginalRecoveryTime != c.cfg.MarginalRecoveryTime {
		c.detector = selector.NewMarginalDetector(n)
	}
	c.from, c.cfg = cfg, n
	return c.planner, c.detector, n
}

// dmName is the kernel name of the map's block device, "" while it has none.
func (m *mpath) dmName() string {
	if !m.exists || m.info.Dev.Major == 0 {
		return ""
	}
	return "dm-" + strconv.FormatUint(uint64(m.info.Dev.Minor), 10)
}

// trackStats registers the map's paths and its dm device with the polling core, and unregisters
// what the map no longer has; a map no longer owned by its shard lets go of everything. It runs on
// the shard after every change to the map and costs no allocation when nothing changed.
func (s *shard) trackStats(m *mpath) {
	d := s.d
	if d.o.Stats == nil {
		return
	}
	owned := s.maps[m.wwid] == m
	dmDev := m.dmName()
	if owned {
		n, same := 0, true
		for _, p := range m.paths {
			n++
			same = same && m.st.devs[p.info.Name]
		}
		if dmDev != "" {
			n++
			same = same && m.st.devs[dmDev]
		}
		if same && n == len(m.st.devs) {
			return
		}
	}
	want := map[string]bool{}
	if owned {
		for _, p := range m.paths {
			want[p.info.Name] = true
		}
		if dmDev != "" {
			want[dmDev] = true
		}
	}
	planner, detector, _ := d.statsTools()
	for dev := range m.st.devs {
		if !want[dev] {
			d.releaseStats(dev)
			delete(m.st.devs, dev)
			detector.Forget(dev)
		}
	}
	if m.st.devs == nil {
		m.st.devs = map[string]bool{}
	}
	for dev := range want {
		if !m.st.devs[dev] {
			d.acquireStats(dev)
			m.st.devs[dev] = true
		}
	}
	if !owned && m.name != "" {
		planner.Forget(m.name)
	}
}

// selectorName is the first word of a path_selector setting: "service-time".
func selectorName(sel string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(sel), " ")
	return name
}

// rtOf is a path's relative_throughput in a live service-time group (the kernel's default 1 when
// the argument is absent), or 0 when the group's selector takes no weight.
func rtOf(g dm.Group, p dm.Path) int {
	if g.Selector != "service-time" {
		return 0
	}
	if len(p.Args) < 2 {
		return 1
	}
	rt, err := strconv.Atoi(p.Args[1])
	if err != nil {
		return 1
	}
	return rt
}

// liveWeight is the relative_throughput of path devt in group gi (0-based) of a live table; 0 when
// the group's selector takes no weight or the path is not there.
func liveWeight(t dm.Table, gi int, devt string) int {
	if gi >= len(t.Groups) {
		return 0
	}
	for _, p := range t.Groups[gi].Paths {
		if p.Dev == devt {
			return rtOf(t.Groups[gi], p)
		}
	}
	return 0
}

// liveWeights are the relative_throughput values of the map's paths in the live table, by kernel
// name; paths in groups whose selector takes no weight are absent.
func (m *mpath) liveWeights() map[string]int {
	w := map[string]int{}
	for _, g := range m.live.Groups {
		if g.Selector != "service-time" {
			continue
		}
		for _, lp := range g.Paths {
			if p := m.pathByDevT(lp.Dev); p != nil {
				w[p.info.Name] = rtOf(g, lp)
			}
		}
	}
	return w
}

// desiredWeights are the weights the next table of a service-time map carries: the live table's,
// so that adopting a map or restarting the daemon never reloads it for weights alone, overlaid
// with the planner's last choice. A path new to the table gets the largest live weight, as capable
// as the best known path until it is measured; a fresh map has no weights (the kernel's 1).
func (m *mpath) desiredWeights() map[string]int {
	if selectorName(m.res.PathSelector) != "service-time" {
		return nil
	}
	live := m.liveWeights()
	if len(live) == 0 && m.st.weights == nil {
		return nil
	}
	top := 0
	for _, w := range live {
		top = max(top, w)
	}
	w := make(map[string]int, len(m.paths))
	for _, p := range m.paths {
		if lw, ok := live[p.info.Name]; ok {
			w[p.info.Name] = lw
		} else if top > 0 {
			w[p.info.Name] = top
		}
		if pw, ok := m.st.weights[p.info.Name]; ok {
			w[p.info.Name] = pw
		}
	}
	return w
}

// statsTick runs on the map's shard at every tick: it acts on marginal-path transitions and lets
// the planner update service-time weights, reloading the map once for both.
func (s *shard) statsTick(m *mpath) {
	d := s.d
	if d.o.Stats == nil || !m.exists || !m.ready() {
		return
	}
	planner, detector, cfg := d.statsTools()
	now := d.now()
	if m.tableLoads != m.st.loads {
		if m.st.planned {
			planner.Reloaded(m.name, now) // a reload for another reason restarts the interval
		}
		m.st.loads = m.tableLoads
	}
	changed := s.marginalTick(m, detector, cfg, now)
	changed = s.weightTick(m, planner, cfg, now) || changed
	if changed {
		s.sync(m)
		m.st.loads = m.tableLoads
	}
}

// weightTick asks the planner whether measured weights are worth a reload; it reports whether the
// desired weights changed.
func (s *shard) weightTick(m *mpath, planner *selector.Planner, cfg selector.Config, now time.Time) bool {
	d := s.d
	if selectorName(m.res.PathSelector) != "service-time" || !cfg.WeightUpdate {
		m.st.weights = nil
		return false
	}
	if m.st.weights != nil {
		live := m.liveWeights()
		for dev, w := range m.st.weights {
			if lw, ok := live[dev]; ok && lw != w {
				return false // the reload has not happened yet; sync retries it
			}
		}
		m.st.weights = nil
	}
	want := m.desiredWeights()
	var current []selector.PathWeight
	var paths []selector.PathStats
	measured := map[int]bool{} // groups with at least one measured path
	for gi, g := range m.groups {
		for _, mem := range g {
			st, _ := d.o.Stats.Stats(mem.dev)
			if selector.Capacity(st, st.AvgRequestBytes) > 0 {
				measured[gi] = true
			}
			paths = append(paths, selector.PathStats{Path: mem.dev, Group: gi, Stats: st})
			w, ok := want[mem.dev]
			if !ok {
				w = 1
			}
			current = append(current, selector.PathWeight{Path: mem.dev, Group: gi, Weight: uint8(min(max(w, 0), selector.MaxRelativeThroughput))})
		}
	}
	if len(measured) == 0 {
		return false // the planner's clock starts with the first measurements
	}
	// A group without any measurement (idle since the daemon started) keeps its weights: having no
	// information is no reason to reset them to 1.
	proposed := selector.ProposeWeights(paths)
	for i := range proposed {
		if !measured[proposed[i].Group] {
			proposed[i].Weight = current[i].Weight
		}
	}
	m.st.planned = true
	dec, ok := planner.Plan(m.name, now, current, proposed)
	if !ok {
		return false
	}
	m.st.weights = make(map[string]int, len(dec.After))
	for _, pw := range dec.After {
		m.st.weights[pw.Path] = int(pw.Weight)
	}
	d.log.Info().Str("map", m.name).Str("before", formatWeights(dec.Before)).Str("after", formatWeights(dec.After)).
		Str("why", dec.Reason).Msg("path weights changed")
	return true
}

// formatWeights renders weights as "sdb=100 sdc=46", groups separated by " | ".
func formatWeights(ws []selector.PathWeight) string {
	var b strings.Builder
	for i, w := range ws {
		switch {
		case i > 0 && w.Group != ws[i-1].Group:
			b.WriteString(" | ")
		case i > 0:
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", w.Path, w.Weight)
	}
	return b.String()
}

// marginalTick feeds the marginal detector and applies its transitions to the paths; it reports
// whether any path changed. With marginal_detection off every marginal path is restored.
func (s *shard) marginalTick(m *mpath, detector *selector.MarginalDetector, cfg selector.Config, now time.Time) bool {
	d := s.d
	changed := false
	if !cfg.MarginalDetection {
		for _, p := range m.paths {
			if p.marginal {
				p.marginal = false
				changed = true
				s.marginalEvent(m, p.info.Name, false, "marginal_detection switched off")
			}
		}
		return changed
	}
	// Peers are the paths a path would share a group with if none were marginal.
	ms := m.members(now)
	for i := range ms {
		ms[i].marginal = false
	}
	var obs []selector.PathObservation
	for gi, g := range groupMembers(m.policy, ms) {
		key := m.wwid + "/" + strconv.Itoa(gi)
		for _, mem := range g {
			p := m.path(mem.dev)
			st, _ := d.o.Stats.Stats(mem.dev)
			obs = append(obs, selector.PathObservation{Path: mem.dev, Group: key, Stats: st, Errors: uint64(max(p.failCount, 0))})
		}
	}
	for _, t := range detector.Observe(now, obs) {
		p := m.path(t.Path)
		if p == nil || p.marginal == t.Marginal {
			continue
		}
		p.marginal = t.Marginal
		changed = true
		s.marginalEvent(m, t.Path, t.Marginal, t.Reason)
	}
	// A detector made for new marginal_* settings starts with no marginal path: restore the
	// paths the previous one marked, so none stays apart with nothing to bring it back.
	for _, p := range m.paths {
		if p.marginal && !detector.Marginal(p.info.Name) {
			p.marginal = false
			changed = true
			s.marginalEvent(m, p.info.Name, false, "marginal_* settings changed: judged again")
		}
	}
	return changed
}

func (s *shard) marginalEvent(m *mpath, dev string, marginal bool, why string) {
	d := s.d
	old, now := "normal", "marginal"
	if !marginal {
		old, now = now, old
	}
	if marginal {
		d.log.Warn().Str("map", m.name).Str("path", dev).Str("why", why).Msg("path marginal: moved to a lower-priority group")
	} else {
		d.log.Info().Str("map", m.name).Str("path", dev).Str("why", why).Msg("path no longer marginal: regrouped")
	}
	s.emit(api.Event{Type: api.EventPathState, Map: m.name, Path: dev, Old: old, New: now, Reason: why})
}

// ioStats converts the polling core's estimates for the API.
func ioStats(s selector.Stats) api.IOStats {
	return api.IOStats{
		IOPS:          s.IOPS(),
		ReadBytesSec:  s.ReadBytesPerSec,
		WriteBytesSec: s.WriteBytesPerSec,
		AvgReqBytes:   s.AvgRequestBytes,
		InFlight:      int(s.InFlightNow),
		ServiceTimeMs: float64(s.ServiceTime) / float64(time.Millisecond),
		Utilisation:   s.Utilization,
	}
}

// statsSnapshot renders the polling core's estimates for every map and path of the published topology,
// with each path's weight in the live table. It never waits for a shard or a sample.
func (d *Daemon) statsSnapshot() api.Stats {
	st := api.Stats{Time: d.now()}
	src := d.o.Stats
	if src == nil {
		return st
	}
	// The polling core runs with the settings mpathd started with.
	st.WindowSec = d.o.Config.Global().StatsHalfLife.Seconds()
	top := d.Topology()
	n := 0
	for _, m := range top.Maps {
		for _, g := range m.Groups {
			n += len(g.Paths)
		}
	}
	st.Maps = make([]api.MapStats, 0, len(top.Maps))
	st.Paths = make([]api.PathStats, 0, n)
	for _, m := range top.Maps {
		ms := api.MapStats{Name: m.Name}
		if s, ok := src.Stats(m.DM); ok && m.DM != "" {
			ms.IOStats = ioStats(s)
		}
		st.Maps = append(st.Maps, ms)
		for _, g := range m.Groups {
			for _, p := range g.Paths {
				ps := api.PathStats{Dev: p.Dev, Map: m.Name, Group: g.Index, DMState: p.DMState, CheckerState: p.CheckerState, Weight: p.Weight}
				if s, ok := src.Stats(p.Dev); ok {
					ps.IOStats = ioStats(s)
				}
				st.Paths = append(st.Paths, ps)
			}
		}
	}
	return st
}

// ProgramSettings are the [defaults] settings the program around the daemon applies when it
// starts: the path checker's polling bounds and the metrics listener.
type ProgramSettings struct {
	PollingInterval, MaxPollingInterval time.Duration
	MetricsListen                       string // "": no listener
	MetricsLoad                         bool
}

// ProgramSettingsOf takes them from a configuration.
func ProgramSettingsOf(cfg *config.Config) ProgramSettings {
	g := cfg.Global()
	return ProgramSettings{
		PollingInterval:    time.Duration(g.PollingInterval) * time.Second,
		MaxPollingInterval: time.Duration(g.MaxPollingInterval) * time.Second,
		MetricsListen:      g.MetricsListen,
		MetricsLoad:        g.MetricsLoad,
	}
}
