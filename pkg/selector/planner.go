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
// Weights feed back into what is measured: a path given more weight gets
// more I/O and looks slower at the next measurement. When a path's
// proposed weight reverses the direction of its previous change, the
// Planner goes only halfway, so the loop settles instead of swinging
// between two values at the edge of the band.
//
// A Planner is safe for concurrent use.
type Planner struct {
	enabled     bool
	minInterval time.Duration
	band        float64

	mu   sync.Mutex
	maps map[string]*planState
}

type planState struct {
	last time.Time       // last reload, or first sight
	dir  map[string]int8 // direction of each path's last pushed change
}

// NewPlanner returns a Planner using the weight_* fields of cfg.
func NewPlanner(cfg Config) *Planner {
	return &Planner{
		enabled:     cfg.WeightUpdate,
		minInterval: cfg.WeightMinInterval,
		band:        cfg.WeightHysteresis,
		maps:        map[string]*planState{},
	}
}

// Plan compares the weights in the live table (current) with the measured
// ones (proposed, from [ProposeWeights]) and reports whether the map should
// be reloaded now, with Decision.After. When it says yes, it counts the
// reload as done at now; call [Planner.Reloaded] for reloads made for other
// reasons.
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
	st := p.maps[mapName]
	if st == nil {
		p.maps[mapName] = &planState{last: now, dir: map[string]int8{}}
		return Decision{}, false
	}
	if now.Sub(st.last) < p.minInterval {
		return Decision{}, false
	}
	oldScaled := scaleGroups(current)
	newScaled := scaleGroups(proposed)
	top := groupMax(proposed)
	after := append([]PathWeight(nil), proposed...)
	dirs := map[string]int8{}
	var moved []string
	for i, pw := range proposed {
		j := indexOf(current, pw.Path)
		if j < 0 {
			moved = append(moved, fmt.Sprintf("%s new at %d", pw.Path, pw.Weight))
			continue
		}
		o, n := oldScaled[j], newScaled[i]
		dir := int8(0)
		switch {
		case n > o:
			dir = 1
		case n < o:
			dir = -1
		}
		note := ""
		if dir != 0 && st.dir[pw.Path] == -dir {
			measured := n
			n = (o + n) / 2
			w := math.Round(n * float64(top[pw.Group]) / 100)
			after[i].Weight = uint8(min(max(w, 1), MaxRelativeThroughput))
			note = fmt.Sprintf(", halfway to the measured %.0f%% as the previous change went the other way", measured)
		}
		if d := math.Abs(n - o); d > 1 && d > p.band*math.Max(o, n) {
			dirs[pw.Path] = dir
			moved = append(moved, fmt.Sprintf("%s %d→%d (%.0f%%→%.0f%% of the group's largest%s)",
				pw.Path, current[j].Weight, after[i].Weight, o, n, note))
		}
	}
	if len(moved) == 0 {
		return Decision{}, false
	}
	last := st.last
	st.last = now
	for path, d := range dirs {
		st.dir[path] = d
	}
	return Decision{
		Map:    mapName,
		At:     now,
		Before: append([]PathWeight(nil), current...),
		After:  after,
		Reason: fmt.Sprintf("measured path capacity changed beyond the %.0f%% band: %s (previous reload %v ago)",
			p.band*100, strings.Join(moved, ", "), now.Sub(last).Round(time.Second)),
	}, true
}

// Reloaded records a reload of the map made for another reason (a path
// added or removed), which restarts its minimum interval.
func (p *Planner) Reloaded(mapName string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.maps[mapName]; st != nil {
		st.last = now
		return
	}
	p.maps[mapName] = &planState{last: now, dir: map[string]int8{}}
}

// Forget drops the state of a removed map.
func (p *Planner) Forget(mapName string) {
	p.mu.Lock()
	delete(p.maps, mapName)
	p.mu.Unlock()
}

func groupMax(ws []PathWeight) map[int]uint8 {
	top := map[int]uint8{}
	for _, w := range ws {
		top[w.Group] = max(top[w.Group], w.Weight)
	}
	return top
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
	top := groupMax(ws)
	out := make([]float64, len(ws))
	for i, w := range ws {
		if t := top[w.Group]; t > 0 {
			out[i] = 100 * float64(w.Weight) / float64(t)
		}
	}
	return out
}
