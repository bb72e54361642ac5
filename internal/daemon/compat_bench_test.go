package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/mpathcompat"
)

// BenchmarkCompatUnderLoad measures multipathd's show status and show maps json, as the
// compatibility socket answers them (the command parsed, the snapshot read and rendered), on a
// 4,096-path fake kernel (1,024 LUNs x 4 paths) while checker results flap paths and path changes
// reload maps on every shard. It reports the p50, p99 and worst reply times.
func BenchmarkCompatUnderLoad(b *testing.B) {
	for _, cmd := range []string{"show status", "show maps json"} {
		b.Run(strings.ReplaceAll(cmd, " ", "_"), func(b *testing.B) {
			topo := san(4, 1024)
			r := newRig(b, topo, "", nil)
			if n := len(r.d.Topology().Maps); n != 1024 {
				b.Fatalf("maps = %d", n)
			}
			srv := &mpathcompat.Server{Service: r.d}
			l := startLoad(r, topo)
			var times []time.Duration
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				reply := srv.Execute(context.Background(), cmd, false)
				times = append(times, time.Since(start))
				if strings.HasPrefix(reply, "fail") || len(reply) < 20 {
					b.Fatalf("%s: %q", cmd, reply)
				}
			}
			b.StopTimer()
			l.end(b)
			slices.Sort(times)
			pct := func(p float64) float64 {
				return float64(times[min(len(times)-1, int(p*float64(len(times))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.5), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(pct(1), "worst-ms")
			if testing.Verbose() {
				fmt.Printf("%s: %d replies, p50 %.2f ms, p99 %.2f ms, worst %.2f ms\n", cmd, len(times), pct(0.5), pct(0.99), pct(1))
			}
		})
	}
}
