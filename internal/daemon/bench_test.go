package daemon

import (
	"encoding/json"
	"testing"
	"time"
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
	l := startLoad(r, topo)
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
	l.end(b)
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

// BenchmarkSteadyCheckResult is the daemon's share of one check of a healthy path whose verdict
// did not change, the bulk of an idle SAN's work: the result travels to the map's shard and is
// handled there (1,024 LUNs × 4 paths).
func BenchmarkSteadyCheckResult(b *testing.B) {
	topo := san(4, 1024)
	r := newRig(b, topo, "", nil)
	r.settle()
	names := make([]string, 0, len(topo.paths))
	for n := range topo.paths {
		names = append(names, n)
	}
	results := make([]CheckResult, len(names))
	for i, n := range names {
		p := topo.paths[n]
		results[i] = CheckResult{State: healthy(p), Reason: "test", Prio: prioOf(p), PrioName: "sysfs"}
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		r.d.PathChecked(names[i%len(names)], results[i%len(names)])
		i++
		if i%1024 == 0 {
			r.settle()
		}
	}
	r.settle()
}
