package daemon

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/checker"
)

// BenchmarkTopologyUnderLoad measures what `show topology --json` costs the daemon (snapshot merge
// and JSON encoding) on a 4,096-path fake kernel (1,024 LUNs x 4 paths) while checker results flap
// paths and path removals and re-adds reload maps on every shard.
func BenchmarkTopologyUnderLoad(b *testing.B) {
	topo := san(4, 1024)
	r := newRig(b, topo, "", nil)
	if n := len(r.d.Topology().Maps); n != 1024 {
		b.Fatalf("maps = %d", n)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var flaps, reloads atomic.Int64
	wg.Add(2)
	go func() { // checkers: every path goes down and up again, continuously
		defer wg.Done()
		ps, _ := topo.Paths()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := ps[i%len(ps)]
			st := checker.Down
			if i/len(ps)%2 == 1 {
				st = healthy(p)
			}
			r.check(p.Name, st)
			flaps.Add(1)
			if i%64 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	go func() { // reloads: a path leaves its map and comes back
		defer wg.Done()
		ps, _ := topo.Paths()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			p := ps[(i*7)%len(ps)]
			r.d.PathsRemoved([]string{p.Name})
			r.d.PathsAdded([]string{p.Name})
			reloads.Add(2)
		}
	}()
	var worst time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		top := r.d.Topology()
		if _, err := json.Marshal(top); err != nil {
			b.Fatal(err)
		}
		if d := time.Since(start); d > worst {
			worst = d
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
	b.ReportMetric(float64(flaps.Load()), "check-results")
	b.ReportMetric(float64(reloads.Load()), "path-changes")
}
