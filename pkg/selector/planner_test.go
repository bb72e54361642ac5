package selector

import (
	"strings"
	"testing"
	"time"
)

func pw(group int, pairs ...any) []PathWeight {
	var out []PathWeight
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, PathWeight{Path: pairs[i].(string), Group: group, Weight: uint8(pairs[i+1].(int))})
	}
	return out
}

func TestPlanner(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	live := pw(0, "sdb", 1, "sdc", 1) // what multipathd and the kernel default load
	skewed := pw(0, "sdb", 100, "sdc", 40)

	type step struct {
		at       time.Duration
		current  []PathWeight
		proposed []PathWeight
		push     bool
		reason   string // substring of the reason when push
	}
	tests := []struct {
		name  string
		cfg   func(*Config)
		steps []step
	}{
		{
			name: "first sight starts the clock, then the interval gates",
			steps: []step{
				{at: 0, current: live, proposed: skewed},
				{at: 59 * time.Second, current: live, proposed: skewed},
				{at: 60 * time.Second, current: live, proposed: skewed, push: true, reason: "sdc 1→40 (100%→40% of the group's largest)"},
				// The table now has the new weights; a further big move must
				// wait another interval.
				{at: 61 * time.Second, current: skewed, proposed: pw(0, "sdb", 100, "sdc", 100)},
				{at: 119 * time.Second, current: skewed, proposed: pw(0, "sdb", 100, "sdc", 100)},
				{at: 120 * time.Second, current: skewed, proposed: pw(0, "sdb", 100, "sdc", 100), push: true, reason: "previous reload 1m0s ago"},
			},
		},
		{
			name: "changes inside the band are not pushed",
			steps: []step{
				{at: 0, current: skewed, proposed: skewed},
				{at: time.Hour, current: skewed, proposed: skewed},
				// 40→48 is 8 points, under 20% of 48.
				{at: 2 * time.Hour, current: skewed, proposed: pw(0, "sdb", 100, "sdc", 48)},
				// 40→52 is 12 points, over 20% of 52.
				{at: 3 * time.Hour, current: skewed, proposed: pw(0, "sdb", 100, "sdc", 52), push: true, reason: "sdc 40→52"},
			},
		},
		{
			name: "one-unit moves at the bottom of the scale are noise",
			steps: []step{
				{at: 0, current: pw(0, "sdb", 100, "sdc", 1), proposed: pw(0, "sdb", 100, "sdc", 2)},
				{at: time.Hour, current: pw(0, "sdb", 100, "sdc", 1), proposed: pw(0, "sdb", 100, "sdc", 2)},
			},
		},
		{
			name: "weights compare scaled per group",
			steps: []step{
				{at: 0, current: live, proposed: live},
				{at: time.Hour, current: live, proposed: pw(0, "sdb", 100, "sdc", 100)},
				{at: 2 * time.Hour,
					current:  append(pw(0, "sdb", 100, "sdc", 50), pw(1, "sdd", 10, "sde", 5)...),
					proposed: append(pw(0, "sdb", 100, "sdc", 50), pw(1, "sdd", 100, "sde", 50)...)},
			},
		},
		{
			name: "a path missing from the live table counts as moved",
			steps: []step{
				{at: 0, current: live, proposed: live},
				{at: time.Hour, current: live, proposed: append(pw(0, "sdb", 1, "sdc", 1), pw(0, "sdd", 1)...), push: true, reason: "sdd new at 1"},
			},
		},
		{
			name: "a reversal goes halfway",
			steps: []step{
				{at: 0, current: live, proposed: live},
				{at: time.Minute, current: live, proposed: pw(0, "sdb", 100, "sdc", 46), push: true, reason: "sdc 1→46 (100%→46%"},
				// Measured 86 under the new weights: back up, but only to 66.
				{at: 2 * time.Minute, current: pw(0, "sdb", 100, "sdc", 46), proposed: pw(0, "sdb", 100, "sdc", 86), push: true,
					reason: "sdc 46→66 (46%→66% of the group's largest, halfway to the measured 86%"},
				// Then 74: same direction, within the band of 66.
				{at: 3 * time.Minute, current: pw(0, "sdb", 100, "sdc", 66), proposed: pw(0, "sdb", 100, "sdc", 74)},
				// A reversal whose halfway point stays within the band is not pushed.
				{at: 4 * time.Minute, current: pw(0, "sdb", 100, "sdc", 66), proposed: pw(0, "sdb", 100, "sdc", 46)},
			},
		},
		{
			name: "weight_update off",
			cfg:  func(c *Config) { c.WeightUpdate = false },
			steps: []step{
				{at: 0, current: live, proposed: skewed},
				{at: time.Hour, current: live, proposed: skewed},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			p := NewPlanner(cfg)
			for i, s := range tt.steps {
				d, push := p.Plan("mpatha", at(s.at), s.current, s.proposed)
				if push != s.push {
					t.Fatalf("step %d at %v: push %v, want %v (%s)", i, s.at, push, s.push, d.Reason)
				}
				if !push {
					continue
				}
				if !strings.Contains(d.Reason, s.reason) {
					t.Errorf("step %d: reason %q, want it to contain %q", i, d.Reason, s.reason)
				}
				if d.Map != "mpatha" || !d.At.Equal(at(s.at)) || len(d.Before) != len(s.current) || len(d.After) != len(s.proposed) ||
					d.Before[0] != s.current[0] {
					t.Errorf("step %d: decision %+v", i, d)
				}
			}
		})
	}
}

func TestPlannerReloadedAndForget(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	live, skewed := pw(0, "sdb", 1, "sdc", 1), pw(0, "sdb", 100, "sdc", 30)
	p := NewPlanner(DefaultConfig())
	p.Plan("mpatha", t0, live, skewed)
	// A path was added at +50s and the map reloaded: the interval restarts.
	p.Reloaded("mpatha", t0.Add(50*time.Second))
	if _, push := p.Plan("mpatha", t0.Add(100*time.Second), live, skewed); push {
		t.Error("pushed 50s after another reload")
	}
	if _, push := p.Plan("mpatha", t0.Add(110*time.Second), live, skewed); !push {
		t.Error("not pushed 60s after the other reload")
	}
	p.Forget("mpatha")
	if _, push := p.Plan("mpatha", t0.Add(time.Hour), live, skewed); push {
		t.Error("pushed at first sight after Forget")
	}
	// Decisions must not alias the caller's slices.
	d, _ := p.Plan("mpatha", t0.Add(2*time.Hour), live, skewed)
	skewed[1].Weight = 7
	if d.After[1].Weight != 30 {
		t.Error("decision aliases the proposed slice")
	}
}
