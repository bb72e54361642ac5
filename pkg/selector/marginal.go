package selector

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// PathObservation is what the [MarginalDetector] needs of one path at one
// moment.
type PathObservation struct {
	Path string
	// Group names the path's peers: the paths it would share a path group
	// with if none were marginal (include the map in the key, for example
	// "mpatha/1"). Service time is judged against the group's other paths.
	Group string
	Stats Stats
	// Errors is a cumulative error count for the path, such as the fail
	// count of the map's status line. A count that goes backwards is taken
	// as a new baseline.
	Errors uint64
}

// Transition is a path entering or leaving the marginal state.
type Transition struct {
	Path     string
	Marginal bool // true: became marginal; false: restored
	At       time.Time
	Reason   string
}

// MarginalDetector implements one marginal-path policy from passive
// statistics. A path becomes marginal when its service time stays above k
// times the median of its group's other (non-marginal) paths for
// marginal_time, or when its error count rose marginal_errors separate
// times within marginal_time. A marginal path is restored once it has shown
// neither slow I/O nor new errors for marginal_recovery_time; a path that
// carries no I/O (as in a low-priority group) shows neither, so it returns
// and is judged again under load. The last non-marginal path of a group is
// never marked.
//
// The daemon acts on the transitions (moves the path to a lower-priority
// group, logs the reason). A MarginalDetector is safe for concurrent use.
type MarginalDetector struct {
	enabled  bool
	k        float64
	minST    time.Duration
	minIOPS  float64
	window   time.Duration
	errors   int
	recovery time.Duration

	mu    sync.Mutex
	paths map[string]*marginalPath
}

type marginalPath struct {
	marginal     bool
	slowSince    time.Time // zero: not slow
	healthySince time.Time // zero: not healthy (only while marginal)
	errors       uint64
	haveErrors   bool
	rises        []time.Time // most recent last, at most cfg.MarginalErrors
}

// NewMarginalDetector returns a detector using the marginal_* fields of
// cfg. With marginal_detection off it never reports a transition.
func NewMarginalDetector(cfg Config) *MarginalDetector {
	return &MarginalDetector{
		enabled:  cfg.MarginalDetection,
		k:        cfg.MarginalLatencyFactor,
		minST:    cfg.MarginalMinServiceTime,
		minIOPS:  cfg.MarginalMinIOPS,
		window:   cfg.MarginalTime,
		errors:   cfg.MarginalErrors,
		recovery: cfg.MarginalRecoveryTime,
		paths:    map[string]*marginalPath{},
	}
}

// Marginal reports whether the path is currently marginal.
func (d *MarginalDetector) Marginal(path string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	mp := d.paths[path]
	return mp != nil && mp.marginal
}

// Forget drops a removed path.
func (d *MarginalDetector) Forget(path string) {
	d.mu.Lock()
	delete(d.paths, path)
	d.mu.Unlock()
}

// judged reports whether the path carried enough I/O for its service time
// to mean something.
func (d *MarginalDetector) judged(s Stats) bool {
	return s.Valid && s.ServiceTime > 0 && s.IOPS() >= d.minIOPS
}

// Observe takes the current observation of a set of paths (complete
// groups: a path is compared only with the paths passed in the same call)
// and returns the transitions it causes, in the order of obs.
func (d *MarginalDetector) Observe(now time.Time, obs []PathObservation) []Transition {
	if !d.enabled {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()

	states := make([]*marginalPath, len(obs))
	healthyPeers := map[string]int{} // non-marginal paths per group
	for i, o := range obs {
		mp := d.paths[o.Path]
		if mp == nil {
			mp = &marginalPath{}
			d.paths[o.Path] = mp
		}
		states[i] = mp
		if !mp.marginal {
			healthyPeers[o.Group]++
		}
	}

	var out []Transition
	var peers []float64
	for i, o := range obs {
		mp := states[i]
		rose := d.errorRose(mp, o.Errors, now)

		// Median service time of the group's other non-marginal paths.
		peers = peers[:0]
		for j, p := range obs {
			if j != i && p.Group == o.Group && !states[j].marginal && d.judged(p.Stats) {
				peers = append(peers, float64(p.Stats.ServiceTime))
			}
		}
		st := o.Stats.ServiceTime
		var slow bool
		var med time.Duration
		if len(peers) > 0 && d.judged(o.Stats) && st >= d.minST {
			med = time.Duration(median(peers))
			slow = float64(st) > d.k*float64(med)
		}

		if mp.marginal {
			if slow || rose {
				mp.healthySince = time.Time{}
				continue
			}
			if mp.healthySince.IsZero() {
				mp.healthySince = now
			}
			if now.Sub(mp.healthySince) >= d.recovery {
				*mp = marginalPath{errors: mp.errors, haveErrors: mp.haveErrors}
				healthyPeers[o.Group]++
				out = append(out, Transition{Path: o.Path, At: now,
					Reason: fmt.Sprintf("no slow I/O and no new errors for %v", d.recovery)})
			}
			continue
		}

		if !slow {
			mp.slowSince = time.Time{}
		} else if mp.slowSince.IsZero() {
			mp.slowSince = now
		}
		var reason string
		switch {
		case len(mp.rises) >= d.errors && now.Sub(mp.rises[0]) <= d.window:
			reason = fmt.Sprintf("error count rose %d times within %v (now %d)", len(mp.rises), d.window, o.Errors)
		case slow && now.Sub(mp.slowSince) >= d.window:
			reason = fmt.Sprintf("service time %v above %.1f × %v (median of its group's other paths) for %v",
				st.Round(10*time.Microsecond), d.k, med.Round(10*time.Microsecond), now.Sub(mp.slowSince))
		default:
			continue
		}
		if healthyPeers[o.Group] <= 1 {
			continue // keep the group usable
		}
		healthyPeers[o.Group]--
		mp.marginal, mp.slowSince, mp.rises = true, time.Time{}, mp.rises[:0]
		out = append(out, Transition{Path: o.Path, Marginal: true, At: now, Reason: reason})
	}
	return out
}

// errorRose updates the path's error baseline and reports whether the
// count rose since the last observation, recording the rise.
func (d *MarginalDetector) errorRose(mp *marginalPath, n uint64, now time.Time) bool {
	prev, had := mp.errors, mp.haveErrors
	mp.errors, mp.haveErrors = n, true
	if !had || n <= prev {
		return false
	}
	if len(mp.rises) == d.errors {
		mp.rises = append(mp.rises[:0], mp.rises[1:]...)
	}
	mp.rises = append(mp.rises, now)
	return true
}

func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// pathLatencyCeiling is the service time that maps to priority 1.
const pathLatencyCeiling = 10 * time.Second

// PathLatencyPrio is the path_latency prioritizer on passive statistics:
// no test I/O is sent. The priority is 1 plus the number of powers of base
// (for example 10) by which the path's mean service time is below 10 s, so
// 10 ms gives 4 and 1 ms gives 5 with base 10; higher is preferred. A
// coarse base keeps paths of similar latency in one priority group. ok is
// false when the path has no service time yet; keep its previous priority
// then, since a path that carries no I/O cannot be re-measured passively.
func PathLatencyPrio(s Stats, base float64) (prio int, ok bool) {
	if !s.Valid || s.ServiceTime <= 0 || !(base > 1) {
		return 0, false
	}
	steps := math.Log(float64(pathLatencyCeiling)/float64(s.ServiceTime)) / math.Log(base)
	// Exact powers land on their own step despite rounding in Log.
	steps = math.Floor(steps + 1e-9)
	return 1 + max(int(steps), 0), true
}
