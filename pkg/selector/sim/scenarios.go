package sim

import (
	"slices"
	"time"

	"github.com/mpathd/mpathd/pkg/selector"
)

const (
	kib = 1024
	mbs = 1e6 // bytes per second in one MB/s
)

// base is a map with two paths over two 200 MB/s links, 0.5 ms target
// latency, 16 requests of 4–128 KiB always outstanding.
func base(name string) Scenario {
	return Scenario{
		Name:  name,
		Links: []Link{{Name: "cable0", Bandwidth: 200 * mbs}, {Name: "cable1", Bandwidth: 200 * mbs}},
		Paths: []Path{
			{Name: "path0", Link: 0, Latency: 500 * time.Microsecond},
			{Name: "path1", Link: 1, Latency: 500 * time.Microsecond},
		},
		Depth:          16,
		Sizes:          []int64{4 * kib, 16 * kib, 64 * kib, 128 * kib},
		Warmup:         3 * time.Second,
		Measure:        6 * time.Second,
		SampleInterval: 100 * time.Millisecond,
		HalfLife:       time.Second,
		Planner:        plannerConfig(),
		Seed:           1,
	}
}

// plannerConfig scales the daemon's defaults to the simulated run: a
// reload at most every 2 s instead of 60 s.
func plannerConfig() selector.Config {
	cfg := selector.DefaultConfig()
	cfg.WeightMinInterval = 2 * time.Second
	return cfg
}

// Symmetric: identical paths, nothing else on the links.
func Symmetric() Scenario { return base("symmetric") }

// SharedLink is the request-based dm paper's Figure 8: another LUN's
// workload (8 × 128 KiB outstanding) saturates cable0, which path0 of the
// map also uses.
func SharedLink() Scenario {
	sc := base("fig8-shared-link")
	sc.Background = []Background{{Link: 0, OnPath: -1, Depth: 8, Size: 128 * kib, Latency: 500 * time.Microsecond}}
	return sc
}

// SharedPath is Figure 8 with the second workload issued directly on
// path0's device, so path0's counters mix both workloads.
func SharedPath() Scenario {
	sc := SharedLink()
	sc.Name = "fig8-shared-path"
	sc.Background[0].OnPath = 0
	return sc
}

// Heterogeneous: path1 runs over a slower, longer link (100 MB/s, 2 ms).
func Heterogeneous() Scenario {
	sc := base("heterogeneous")
	sc.Links[1].Bandwidth = 100 * mbs
	sc.Paths[1].Latency = 2 * time.Millisecond
	return sc
}

// Scenarios lists the scenarios of the report: each of the above with 16
// requests outstanding (throughput-bound), then with 2 (latency-bound,
// where plain service-time sees idle paths as equal).
func Scenarios() []Scenario {
	deep := []Scenario{Symmetric(), SharedLink(), SharedPath(), Heterogeneous()}
	out := slices.Clone(deep)
	for _, sc := range deep {
		sc.Depth = 2
		sc.Name += "-depth2"
		out = append(out, sc)
	}
	return out
}
