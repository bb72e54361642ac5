package selector_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mpathd/mpathd/pkg/selector"
)

// constReader reports a device that completes 100 reads of 4 KiB a second,
// each taking lat.
type constReader struct {
	n   uint64
	lat uint64 // ms
}

func (r *constReader) ReadSample(s *selector.Sample) error {
	r.n += 100
	*s = selector.Sample{ReadIOs: r.n, ReadSectors: r.n * 8, ReadTicks: r.n * r.lat, IOTicks: r.n * 5}
	return nil
}

// The daemon's loop around this package: one Poller for every path and
// map device, and per map, on its own schedule, weights through the
// Planner and marginal detection. (Compiled, not run: it sleeps on the
// wall clock.)
func Example() {
	cfg := selector.DefaultConfig() // then the values from the config file
	cfg.StatsInterval = 10 * time.Millisecond
	poller, err := selector.NewPoller(cfg)
	if err != nil {
		panic(err)
	}
	// In the daemon: a pkg/sysfs StatFile behind a three-line adapter.
	poller.Add("sdb", &constReader{lat: 2})
	poller.Add("sdc", &constReader{lat: 8})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- poller.Run(ctx) }()
	time.Sleep(100 * time.Millisecond) // the daemon just keeps running

	planner := selector.NewPlanner(cfg)
	marginal := selector.NewMarginalDetector(cfg)

	// For a service-time map "mpatha" with one group of two paths.
	var paths []selector.PathStats
	var obs []selector.PathObservation
	for _, dev := range []string{"sdb", "sdc"} {
		st, _ := poller.Stats(dev)
		paths = append(paths, selector.PathStats{Path: dev, Group: 0, Stats: st})
		obs = append(obs, selector.PathObservation{Path: dev, Group: "mpatha/0", Stats: st})
	}
	proposed := selector.ProposeWeights(paths)
	live := []selector.PathWeight{{Path: "sdb", Weight: 1}, {Path: "sdc", Weight: 1}} // from the table
	now := time.Now()
	planner.Plan("mpatha", now.Add(-time.Hour), live, proposed) // first sight, an hour ago
	if d, ok := planner.Plan("mpatha", now, live, proposed); ok {
		// Load the table with d.After, then log the decision.
		slog.Info("weights", "map", d.Map, "reason", d.Reason)
		fmt.Println("load:", d.After)
	}
	for _, tr := range marginal.Observe(now, obs) {
		fmt.Println("marginal:", tr.Path, tr.Marginal, tr.Reason)
	}
	cancel()
	<-done
}
