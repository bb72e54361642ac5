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
