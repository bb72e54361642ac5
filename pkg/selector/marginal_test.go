package selector

import (
	"strings"
	"testing"
	"time"
)

func busy(st time.Duration) Stats {
	return Stats{Valid: true, ReadIOPS: 500, ServiceTime: st}
}

var idle = Stats{Valid: true, ServiceTime: 30 * time.Millisecond} // old service time, no I/O

func marginalConfig() Config {
	cfg := DefaultConfig()
	cfg.MarginalDetection = true
	return cfg // k 3, T 60s, 3 errors, recovery 300s, floor 2ms
}

// group builds one observation of a group "m/0" of paths sda.. from stats
// and error counts.
func group(stats []Stats, errs []uint64) []PathObservation {
	out := make([]PathObservation, len(stats))
	for i, s := range stats {
		out[i] = PathObservation{Path: "sd" + string(rune('a'+i)), Group: "m/0", Stats: s}
		if errs != nil {
			out[i].Errors = errs[i]
		}
	}
	return out
}

type mstep struct {
	at    time.Duration
	stats []Stats
	errs  []uint64
	want  string // "" or "+sda" (became marginal) or "-sda" (restored), comma-separated
}

func runSteps(t *testing.T, d *MarginalDetector, steps []mstep) []Transition {
	t.Helper()
	t0 := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	var all []Transition
	for i, s := range steps {
		tr := d.Observe(t0.Add(s.at), group(s.stats, s.errs))
		var got []string
		for _, x := range tr {
			sign := "-"
			if x.Marginal {
				sign = "+"
			}
			got = append(got, sign+x.Path)
		}
		if g := strings.Join(got, ","); g != s.want {
			t.Fatalf("step %d at %v: transitions %q, want %q (%+v)", i, s.at, g, s.want, tr)
		}
		all = append(all, tr...)
	}
	return all
}

func TestMarginalLatencyEnterExit(t *testing.T) {
	fast, slow := busy(2*time.Millisecond), busy(30*time.Millisecond)
	d := NewMarginalDetector(marginalConfig())
	tr := runSteps(t, d, []mstep{
		{at: 0, stats: []Stats{slow, fast, fast}},
		{at: 30 * time.Second, stats: []Stats{slow, fast, fast}},
		// A fast moment restarts the clock.
		{at: 40 * time.Second, stats: []Stats{fast, fast, fast}},
		{at: 50 * time.Second, stats: []Stats{slow, fast, fast}},
		{at: 100 * time.Second, stats: []Stats{slow, fast, fast}},
		{at: 110 * time.Second, stats: []Stats{slow, fast, fast}, want: "+sda"},
		// Demoted, the path still drains slow I/O for a while...
		{at: 120 * time.Second, stats: []Stats{slow, fast, fast}},
		// ...then goes idle: the recovery clock starts.
		{at: 130 * time.Second, stats: []Stats{idle, fast, fast}},
		{at: 400 * time.Second, stats: []Stats{idle, fast, fast}},
		// Under load again during recovery and still slow: clock restarts.
		{at: 410 * time.Second, stats: []Stats{slow, fast, fast}},
		{at: 420 * time.Second, stats: []Stats{idle, fast, fast}},
		{at: 719 * time.Second, stats: []Stats{idle, fast, fast}},
		{at: 720 * time.Second, stats: []Stats{idle, fast, fast}, want: "-sda"},
	})
	if !strings.Contains(tr[0].Reason, "service time 30ms above 3.0 × 2ms") || !strings.Contains(tr[1].Reason, "5m0s") {
		t.Errorf("reasons: %q / %q", tr[0].Reason, tr[1].Reason)
	}
	if d.Marginal("sda") {
		t.Error("sda still marginal after restore")
	}
}

func TestMarginalLatencyNotJudged(t *testing.T) {
	tests := []struct {
		name  string
		stats []Stats
	}{
		{"two-path group, equal", []Stats{busy(5 * time.Millisecond), busy(4 * time.Millisecond)}},
		{"below the 2ms floor", []Stats{busy(1900 * time.Microsecond), busy(100 * time.Microsecond)}},
		{"too little I/O to judge", []Stats{{Valid: true, ReadIOPS: 0.5, ServiceTime: time.Second}, busy(time.Millisecond)}},
		{"no peer with I/O", []Stats{busy(time.Second), idle}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewMarginalDetector(marginalConfig())
			runSteps(t, d, []mstep{
				{at: 0, stats: tt.stats},
				{at: time.Hour, stats: tt.stats},
			})
		})
	}
	// A two-path group compares against the other path alone.
	d := NewMarginalDetector(marginalConfig())
	two := []Stats{busy(20 * time.Millisecond), busy(3 * time.Millisecond)}
	runSteps(t, d, []mstep{{at: 0, stats: two}, {at: time.Minute, stats: two, want: "+sda"}})
}

func TestMarginalErrors(t *testing.T) {
	fast := busy(time.Millisecond)
	three := []Stats{fast, fast, fast}
	d := NewMarginalDetector(marginalConfig())
	tr := runSteps(t, d, []mstep{
		{at: 0, stats: three, errs: []uint64{7, 0, 0}}, // baseline, not a rise
		{at: 10 * time.Second, stats: three, errs: []uint64{8, 0, 0}},
		{at: 100 * time.Second, stats: three, errs: []uint64{9, 0, 0}},
		{at: 170 * time.Second, stats: three, errs: []uint64{10, 0, 0}},               // 3 rises over 160s: sparse
		{at: 180 * time.Second, stats: three, errs: []uint64{12, 0, 0}},               // 3 within 80s
		{at: 200 * time.Second, stats: three, errs: []uint64{14, 0, 0}, want: "+sda"}, // 170,180,200
		// Counter reset (device re-added): a new baseline, not a rise.
		{at: 210 * time.Second, stats: three, errs: []uint64{0, 0, 0}},
		{at: 509 * time.Second, stats: three, errs: []uint64{0, 0, 0}},
		{at: 510 * time.Second, stats: three, errs: []uint64{0, 0, 0}, want: "-sda"},
	})
	if !strings.Contains(tr[0].Reason, "error count rose 3 times within 1m0s (now 14)") {
		t.Errorf("reason %q", tr[0].Reason)
	}
}

func TestMarginalKeepsLastPath(t *testing.T) {
	fast := busy(time.Millisecond)
	two := []Stats{fast, fast}
	d := NewMarginalDetector(marginalConfig())
	runSteps(t, d, []mstep{
		{at: 0, stats: two, errs: []uint64{0, 0}},
		{at: 1 * time.Second, stats: two, errs: []uint64{1, 1}},
		{at: 2 * time.Second, stats: two, errs: []uint64{2, 2}},
		{at: 3 * time.Second, stats: two, errs: []uint64{3, 3}, want: "+sda"},
		{at: 4 * time.Second, stats: two, errs: []uint64{4, 4}},
	})
	if d.Marginal("sdb") {
		t.Error("the group's last path was marked marginal")
	}
	d.Forget("sda")
	if d.Marginal("sda") {
		t.Error("forgotten path still marginal")
	}
}

func TestMarginalDisabled(t *testing.T) {
	d := NewMarginalDetector(DefaultConfig())
	errs := []uint64{0, 0, 0}
	for i := range 10 {
		errs[0] = uint64(i)
		if tr := d.Observe(time.Unix(int64(i), 0), group([]Stats{busy(time.Second), busy(time.Millisecond), busy(time.Millisecond)}, errs)); tr != nil {
			t.Fatalf("disabled detector reported %+v", tr)
		}
	}
}

func TestPathLatencyPrio(t *testing.T) {
	tests := []struct {
		st   time.Duration
		base float64
		want int
		ok   bool
	}{
		{time.Millisecond, 10, 5, true},
		{10 * time.Millisecond, 10, 4, true},
		{9 * time.Millisecond, 10, 4, true},
		{100 * time.Microsecond, 10, 6, true},
		{20 * time.Second, 10, 1, true},
		{time.Millisecond, 2, 14, true}, // 10s/1ms = 10^4 ≈ 2^13.3
		{0, 10, 0, false},
		{time.Millisecond, 1, 0, false},
	}
	for _, tt := range tests {
		got, ok := PathLatencyPrio(Stats{Valid: true, ServiceTime: tt.st}, tt.base)
		if got != tt.want || ok != tt.ok {
			t.Errorf("PathLatencyPrio(%v, base %v) = %d, %v; want %d, %v", tt.st, tt.base, got, ok, tt.want, tt.ok)
		}
	}
}
