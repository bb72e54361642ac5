package selector

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// PathWeight is one path's relative_throughput in a service-time path
// group. Weights are compared within their Group only.
type PathWeight struct {
	Path   string
	Group  int
	Weight uint8
}

// Decision is a weight change the [Planner] allows for one map: the table
// should be reloaded with After in place of Before. Reason explains it for
// the log.
type Decision struct {
	Map    string
	At     time.Time
	Before []PathWeight
	After  []PathWeight
	Reason string
}

// Planner decides when measured weights are worth a table reload. A reload
// suspends the map briefly, so a change is pushed only when some path's
// weight moves beyond the hysteresis band, and never sooner than the
// minimum interval after the previous reload of the same map. The clock
// is the caller's: every method takes the current time.
//
// A Planner is safe for concurrent use.
type Planner struct {
	enabled     bool
	minInterval time.Duration
	band        float64

	mu   sync.Mutex
	last map[string]time.Time // last reload, or first sight, per map
}

// NewPlanner returns a Planner using the weight_* fields of cfg.
func NewPlanner(cfg Config) *Planner {
	return &Planner{
		enabled:     cfg.WeightUpdate,
		minInterval: cfg.WeightMinInterval,
		band:        cfg.WeightHysteresis,
		last:        map[string]time.Time{},
	}
}

// Plan compares the weights in the live table (current) with the measured
// ones (proposed, from [RelativeThroughput] per group) and reports whether
// the map should be reloaded with proposed now. When it says yes, it counts
// the reload as done at now; call [Planner.Reloaded] for reloads made for
// other reasons.
//
// The first call for a map only starts its clock, so weights are pushed no
// sooner than the minimum interval after the estimates began. Weights are
// compared after scaling each group so that its largest weight is 100:
// multipathd's all-1 table equals an all-100 one. A path moves beyond the
// band when its scaled weight changes by more than the band's fraction of
// the larger of the two values and by more than one unit; a path without
// a weight in the live table always counts as moved.
func (p *Planner) Plan(mapName string, now time.Time, current, proposed []PathWeight) (Decision, bool) {
	if !p.enabled || len(proposed) == 0 {
		return Decision{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	last, seen := p.last[mapName]
	if !seen {
		p.last[mapName] = now
		return Decision{}, false
	}
	if now.Sub(last) < p.minInterval {
		return Decision{}, false
	}
	oldScaled := scaleGroups(current)
	newScaled := scaleGroups(proposed)
	var moved []string
	for i, pw := range proposed {
		j := indexOf(current, pw.Path)
		if j < 0 {
			moved = append(moved, fmt.Sprintf("%s new at %d", pw.Path, pw.Weight))
			continue
		}
		o, n := oldScaled[j], newScaled[i]
		if d := math.Abs(n - o); d > 1 && d > p.band*math.Max(o, n) {
			moved = append(moved, fmt.Sprintf("%s %d→%d (%.0f%%→%.0f%% of the group's largest)",
				pw.Path, current[j].Weight, pw.Weight, o, n))
		}
	}
	if len(moved) == 0 {
		return Decision{}, false
	}
	p.last[mapName] = now
	return Decision{
		Map:    mapName,
		At:     now,
		Before: append([]PathWeight(nil), current...),
		After:  append([]PathWeight(nil), proposed...),
		Reason: fmt.Sprintf("measured path capacity changed beyond the %.0f%% band: %s (previous reload %v ago)",
			p.band*100, strings.Join(moved, ", "), now.Sub(last).Round(time.Second)),
	}, true
}

// Reloaded records a reload of the map made for another reason (a path
// added or removed), which restarts its minimum interval.
func (p *Planner) Reloaded(mapName string, now time.Time) {
	p.mu.Lock()
	p.last[mapName] = now
	p.mu.Unlock()
}

// Forget drops the state of a removed map.
func (p *Planner) Forget(mapName string) {
	p.mu.Lock()
	delete(p.last, mapName)
	p.mu.Unlock()
}

func indexOf(ws []PathWeight, path string) int {
	for i, w := range ws {
		if w.Path == path {
			return i
		}
	}
	return -1
}

// scaleGroups returns each weight as a percentage of its group's largest.
func scaleGroups(ws []PathWeight) []float64 {
	top := map[int]uint8{}
	for _, w := range ws {
		top[w.Group] = max(top[w.Group], w.Weight)
	}
	out := make([]float64, len(ws))
	for i, w := range ws {
		if t := top[w.Group]; t > 0 {
			out[i] = 100 * float64(w.Weight) / float64(t)
		}
	}
	return out
}
