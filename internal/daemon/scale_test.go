package daemon

import (
	"encoding/json"
	"runtime"
	"slices"
	"testing"
	"time"
)

// BenchmarkStartup32K measures start-up on a fake kernel with 8,192 LUNs × 4 paths (32,768 paths):
// from Run to READY with every map created after its paths' first checks, and the heap the daemon
// keeps per path afterwards.
func BenchmarkStartup32K(b *testing.B) {
	const hosts, luns = 4, 8192
	for b.Loop() {
		topo := san(hosts, luns)
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		start, cpu := time.Now(), cpuTime()
		r := newRig(b, topo, "", nil)
		took, used := time.Since(start), cpuTime()-cpu
		if n := len(r.d.Topology().Maps); n != luns {
			b.Fatalf("%d maps, want %d", n, luns)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(took.Milliseconds()), "ms-to-ready")
		b.ReportMetric(float64(used.Milliseconds()), "cpu-ms")
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/(hosts*luns), "heap-B/path")
		r.stop()
	}
}

// BenchmarkHostLoss32K: on the 32,768-path fake kernel, 1,024 paths of one host (the paths of
// 1,024 maps) go and come back; each affected map is reloaded once for the loss and once for the
// return, and the daemon's CPU for both is reported.
func BenchmarkHostLoss32K(b *testing.B) {
	const hosts, luns, lost = 4, 8192, 1024
	topo := san(hosts, luns)
	r := newRig(b, topo, "", nil)
	r.settle()
	var names []string
	for name, p := range topo.paths {
		if p.HCTL.Host == 3 && p.HCTL.LUN < lost {
			names = append(names, name)
		}
	}
	for b.Loop() {
		r.dm.ResetCalls()
		cpu := cpuTime()
		r.removeAll(names...)
		for _, n := range names {
			topo.set(r.gone[n])
		}
		r.d.PathsAdded(names)
		r.settle()
		used := cpuTime() - cpu
		loads := r.ops("DM_TABLE_LOAD", "")
		if loads != 2*lost {
			b.Errorf("%d table loads for %d maps losing and regaining a path, want %d", loads, lost, 2*lost)
		}
		b.ReportMetric(float64(used.Milliseconds()), "cpu-ms")
		b.ReportMetric(float64(loads)/lost, "loads/map")
	}
}

// BenchmarkTopology32K: `show topology --json` (snapshot merge and JSON encoding) on the
// 32,768-path fake kernel while checker results flap paths and removals and re-adds reload maps
// on every shard; p99 and worst of the requests.
func BenchmarkTopology32K(b *testing.B) {
	topo := san(4, 8192)
	r := newRig(b, topo, "", nil)
	l := startLoad(r, topo)
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := json.Marshal(r.d.Topology()); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	l.end(b)
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "worst-ms")
}
