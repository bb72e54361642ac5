package selector

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestLoadMetrics(t *testing.T) {
	st := Stats{Valid: true, ReadIOPS: 1000, ReadBytesPerSec: 64e6, AvgRequestBytes: 64000,
		InFlight: 8, ServiceTime: 4 * time.Millisecond}
	if got := QueueLength(st); got != 8 {
		t.Errorf("QueueLength = %v", got)
	}
	// 8 × 64000 bytes in flight at 64 MB/s: 8 ms to drain.
	if got := ServiceTimeLoad(st); got != 8*time.Millisecond {
		t.Errorf("ServiceTimeLoad = %v, want 8ms", got)
	}
	if got := ServiceTimeLoad(Stats{InFlight: 3}); got != 0 {
		t.Errorf("ServiceTimeLoad without throughput = %v, want 0", got)
	}
	// 64000 bytes per 4 ms per request in flight.
	if got := Capacity(st, 64000); got != 16e6 {
		t.Errorf("Capacity = %v, want 16e6", got)
	}
	for _, c := range []struct {
		s   Stats
		req float64
	}{{Stats{}, 4096}, {Stats{Valid: true}, 4096}, {st, 0}, {st, math.NaN()}} {
		if got := Capacity(c.s, c.req); got != 0 {
			t.Errorf("Capacity(%+v, %v) = %v, want 0 (unknown)", c.s, c.req, got)
		}
	}
}

func TestRelativeThroughput(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		caps []float64
		want []uint8
	}{
		{"equal", []float64{5e6, 5e6}, []uint8{100, 100}},
		{"proportional", []float64{10e6, 5e6, 2.5e6}, []uint8{100, 50, 25}},
		{"rounded", []float64{3, 2}, []uint8{100, 67}},
		{"never below 1", []float64{1e9, 1}, []uint8{100, 1}},
		{"unknown gets the median", []float64{8, 0, 2, 4}, []uint8{100, 50, 25, 50}},
		{"NaN and Inf are unknown", []float64{nan, 4, math.Inf(1)}, []uint8{100, 100, 100}},
		{"nothing known: kernel default", []float64{0, -1}, []uint8{1, 1}},
		{"empty", nil, []uint8{}},
	}
	for _, tt := range tests {
		got := RelativeThroughput(make([]uint8, 0, 4), tt.caps)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: RelativeThroughput(%v) = %v, want %v", tt.name, tt.caps, got, tt.want)
		}
	}
}

func TestProposeWeights(t *testing.T) {
	lat := func(d time.Duration, size float64) Stats {
		return Stats{Valid: true, ReadIOPS: 100, ReadBytesPerSec: 100 * size, AvgRequestBytes: size, ServiceTime: d}
	}
	got := ProposeWeights([]PathStats{
		{"sdb", 0, lat(2*time.Millisecond, 131072)},
		{"sdd", 1, lat(10*time.Millisecond, 4096)},
		// Small requests on a slow path do not make it look slower.
		{"sdc", 0, lat(8*time.Millisecond, 4096)},
		{"sde", 1, Stats{}}, // idle: the group's median
		{"sdf", 2, Stats{}}, // a group without I/O: kernel default
	})
	want := []PathWeight{{"sdb", 0, 100}, {"sdd", 1, 100}, {"sdc", 0, 25}, {"sde", 1, 100}, {"sdf", 2, 1}}
	if !slices.Equal(got, want) {
		t.Errorf("ProposeWeights = %v, want %v", got, want)
	}
}
