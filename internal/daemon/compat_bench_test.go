package daemon

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/mpathcompat"
)

// BenchmarkCompatUnderLoad measures multipathd's show status and show maps json, as the
// compatibility socket answers them (the command parsed, the snapshot read and rendered), on a
// 4,096-path fake kernel (1,024 LUNs x 4 paths) while checker results flap paths and path changes
// reload maps on every shard. It reports the p50, p99 and worst reply times, and the CPU time the
// replying thread spent, after a first request (the first show maps json renders every map: its
// time is reported as first-ms). "uncached" hides the topology generation from the server, so that
// every show maps json reads and renders the topology: the cost when every request finds a change.
func BenchmarkCompatUnderLoad(b *testing.B) {
	for _, bc := range []struct {
		name, cmd string
		uncached  bool
	}{
		{"show_status", "show status", false},
		{"show_maps_json", "show maps json", false},
		{"show_maps_json_uncached", "show maps json", true},
	} {
		cmd := bc.cmd
		b.Run(bc.name, func(b *testing.B) {
			topo := san(4, 1024)
			r := newRig(b, topo, "", nil)
			if n := len(r.d.Topology().Maps); n != 1024 {
				b.Fatalf("maps = %d", n)
			}
			srv := &mpathcompat.Server{Service: r.d}
			if bc.uncached {
				srv.Service = struct{ api.Service }{r.d}
			}
			l := startLoad(r, topo)
			// The thread's own CPU time per reply tells the work from the wait for a CPU on a
			// shared machine.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			start := time.Now()
			srv.Execute(context.Background(), cmd, false)
			first := time.Since(start)
			var times, cpu []time.Duration
			b.ResetTimer()
			for b.Loop() {
				start, c0 := time.Now(), threadCPU()
				reply := srv.Execute(context.Background(), cmd, false)
				times = append(times, time.Since(start))
				cpu = append(cpu, threadCPU()-c0)
				if strings.HasPrefix(reply, "fail") || len(reply) < 20 {
					b.Fatalf("%s: %q", cmd, reply)
				}
				// Requests a client makes one after another, with the checkers running between them:
				// without the pause, thousands of cheap replies fit in one scheduling quantum.
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			l.end(b)
			slices.Sort(times)
			slices.Sort(cpu)
			pct := func(ds []time.Duration, p float64) float64 {
				return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))].Microseconds()) / 1000
			}
			b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
			b.ReportMetric(pct(times, 0.5), "p50-ms")
			b.ReportMetric(pct(times, 0.99), "p99-ms")
			b.ReportMetric(pct(times, 1), "worst-ms")
			b.ReportMetric(pct(cpu, 0.5), "cpu-p50-ms")
			b.ReportMetric(pct(cpu, 0.99), "cpu-p99-ms")
			if testing.Verbose() {
				fmt.Printf("%s: %d replies, p50 %.2f ms, p99 %.2f ms, worst %.2f ms; thread CPU p50 %.2f ms, p99 %.2f ms\n",
					cmd, len(times), pct(times, 0.5), pct(times, 0.99), pct(times, 1), pct(cpu, 0.5), pct(cpu, 0.99))
			}
		})
	}
}

// threadCPU is the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
