package sim

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// results runs every scenario under every policy once per test binary.
var results = sync.OnceValue(func() [][]Result {
	var all [][]Result
	for _, sc := range Scenarios() {
		res := make([]Result, len(Policies))
		for i, p := range Policies {
			res[i] = Run(sc, p)
		}
		all = append(all, res)
	}
	return all
})

// TestSimulatorReport prints the comparison table (go test -run
// TestSimulatorReport -v).
func TestSimulatorReport(t *testing.T) {
	var buf bytes.Buffer
	for i, sc := range Scenarios() {
		if err := WriteTable(&buf, sc, results()[i]); err != nil {
			t.Fatal(err)
		}
		buf.WriteByte('\n')
	}
	t.Logf("\n%s", buf.String())
}

// The measured weights must never make the map worse off than
// round-robin; on identical paths they must come out equal, so that the
// weighted policy behaves as plain service-time.
func TestSimulatorOrdering(t *testing.T) {
	const tol = 0.01
	for i, sc := range Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			res := results()[i]
			rr, st, w := res[RoundRobin], res[ServiceTime], res[ServiceTimeWeighted]
			for _, x := range []Result{w, res[ServiceTimeAdaptive]} {
				if x.Throughput < rr.Throughput || x.MeanLatency > rr.MeanLatency {
					t.Errorf("%v %.1f MB/s, %v mean; round-robin %.1f MB/s, %v mean",
						x.Policy, x.Throughput/1e6, x.MeanLatency, rr.Throughput/1e6, rr.MeanLatency)
				}
			}
			if !strings.HasPrefix(sc.Name, "symmetric") {
				return
			}
			if d := math.Abs(float64(w.Weights[0]) - float64(w.Weights[1])); d > 5 {
				t.Errorf("weights on identical paths: %v", w.Weights)
			}
			for _, other := range []Result{st, rr} {
				if other.Policy == RoundRobin && sc.Depth > 2 {
					// Strict rotation of mixed request sizes leaves one
					// link idle now and then; only at low depth is it
					// as good as balancing.
					continue
				}
				if rel := math.Abs(w.Throughput-other.Throughput) / other.Throughput; rel > tol {
					t.Errorf("symmetric: weighted %.1f MB/s vs %v %.1f MB/s", w.Throughput/1e6, other.Policy, other.Throughput/1e6)
				}
			}
		})
	}
}

// Weights change what is measured; the planner must settle rather than
// reload at every interval.
func TestSimulatorPlannerSettles(t *testing.T) {
	for i, sc := range Scenarios() {
		if n := results()[i][ServiceTimeAdaptive].Reloads; n > 3 {
			t.Errorf("%s: %d reloads in %v (one allowed every %v)", sc.Name, n, sc.Warmup+sc.Measure, sc.Planner.WeightMinInterval)
		}
	}
	// The heterogeneous pair swung between two weights at the edge of
	// the band before reversals were damped; watch it for a minute.
	sc := Heterogeneous()
	sc.Measure = time.Minute
	if r := Run(sc, ServiceTimeAdaptive); r.Reloads > 3 {
		t.Errorf("%s over a minute: %d reloads, weights %v", sc.Name, r.Reloads, r.Weights)
	}
}

func TestSimulatorDeterministic(t *testing.T) {
	sc := SharedLink()
	sc.Measure /= 5
	a, b := Run(sc, ServiceTimeWeighted), Run(sc, ServiceTimeWeighted)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two runs differ:\n%+v\n%+v", a, b)
	}
	sc.Seed++
	if c := Run(sc, ServiceTimeWeighted); reflect.DeepEqual(a, c) {
		t.Error("another seed gave the same run")
	}
}

func TestRoundRobinRotates(t *testing.T) {
	s := &roundRobin{list: initialList(3)}
	var got []int
	for range 7 {
		got = append(got, s.pick(4096))
	}
	if want := []int{0, 1, 2, 0, 1, 2, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("picks %v, want %v", got, want)
	}
}

func TestQueueLength(t *testing.T) {
	s := &queueLength{list: initialList(3), qlen: []int64{2, 0, 0}}
	// Path 1 is the first idle path: the scan stops there.
	if p := s.pick(0); p != 1 {
		t.Fatalf("picked %d, want 1", p)
	}
	if want := []int{0, 2, 1}; !reflect.DeepEqual(s.list, want) {
		t.Errorf("list after pick %v, want %v (winner to the tail)", s.list, want)
	}
	s.start(1, 0)
	s.start(2, 0)
	s.start(2, 0)
	// qlen 2/1/2: path 1 wins.
	if p := s.pick(0); p != 1 {
		t.Errorf("picked %d with qlen %v, want 1", p, s.qlen)
	}
	s.end(1, 0)
	s.end(0, 0)
	s.end(0, 0)
	// qlen 0/0/2, list 0 2 1: path 0 first idle.
	if p := s.pick(0); p != 0 {
		t.Errorf("picked %d with qlen %v, want 0", p, s.qlen)
	}
}

func TestServiceTimeCompare(t *testing.T) {
	const big = ^uint64(0) >> 8
	tests := []struct {
		name     string
		sz1, sz2 uint64
		rt1, rt2 uint64
		incoming uint64
		want     int
	}{
		{"same rt, fewer bytes wins", 100, 200, 1, 1, 10, -1},
		{"same rt, same bytes ties", 100, 100, 5, 5, 10, 0},
		{"same bytes, higher rt wins", 100, 100, 50, 10, 10, -1},
		{"rt 0 loses to any rt", 0, 1 << 30, 0, 1, 4096, 1},
		{"rt 0 against rt 0 compares bytes", 10, 20, 0, 0, 4096, -1},
		{"service time, fast path busier but quicker", 300, 100, 100, 10, 100, -1},
		{"service time, slow path idle", 1000, 0, 10, 1, 100, 1},
		{"equal service time, higher rt wins", 100, 300, 1, 2, 100, 1},
		// 120 big × 40 overflows 64 bits; shifted it compares 1.2 vs 1.5.
		{"large sizes are shifted, not overflowed", big * 120, big * 60, 100, 40, 0, -1},
	}
	for _, tt := range tests {
		s := &serviceTime{inFlight: []uint64{tt.sz1, tt.sz2}, rt: []uint64{tt.rt1, tt.rt2}}
		if got := s.compare(0, 1, tt.incoming); got != tt.want {
			t.Errorf("%s: compare = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestServiceTimePickRotatesTies(t *testing.T) {
	s := &serviceTime{list: initialList(2), inFlight: []uint64{0, 0}, rt: []uint64{1, 1}}
	a, b := s.pick(4096), s.pick(4096)
	if a == b {
		t.Errorf("idle equal paths picked %d then %d, want rotation", a, b)
	}
	// rt 0 is used only when every path has rt 0.
	s = &serviceTime{list: initialList(2), inFlight: []uint64{0, 1 << 40}, rt: []uint64{0, 1}}
	if p := s.pick(4096); p != 1 {
		t.Errorf("picked rt-0 path %d", p)
	}
}
