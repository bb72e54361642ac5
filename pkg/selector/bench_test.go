package selector

import (
	"fmt"
	"testing"
	"time"
)

// benchReader stands in for the stat-file reader: it advances counters
// like a device under steady load, without I/O.
type benchReader struct{ n uint64 }

func (r *benchReader) ReadSample(s *Sample) error {
	r.n++
	*s = Sample{
		ReadIOs: r.n * 100, ReadSectors: r.n * 800, ReadTicks: r.n * 150,
		WriteIOs: r.n * 20, WriteSectors: r.n * 2560, WriteTicks: r.n * 60,
		InFlight: r.n % 7, IOTicks: r.n * 400, TimeInQueue: r.n * 210,
	}
	return nil
}

// BenchmarkPollPerPath measures one shard sampling every path once per
// op: reader call, timestamp, estimator update and publication. ns/path and
// allocs/path are the per-path, per-sample figures.
func BenchmarkPollPerPath(b *testing.B) {
	for _, n := range []int{1000, 32768} {
		b.Run(fmt.Sprintf("paths=%d", n), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Shards = 1
			p, err := NewPoller(cfg)
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				p.Add(fmt.Sprintf("sd%d", i), &benchReader{})
			}
			s := p.shards[0]
			s.poll() // apply the additions and take baselines
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				s.poll()
			}
			b.StopTimer()
			perPath := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
			b.ReportMetric(perPath, "ns/path")
			// CPU share of one core when every path is sampled once a second.
			b.ReportMetric(perPath*float64(n)/float64(time.Second)*100, "%core@1Hz")
		})
	}
}

func BenchmarkEstimatorUpdate(b *testing.B) {
	e := NewEstimator(5 * time.Second)
	var r benchReader
	var s Sample
	b.ReportAllocs()
	for b.Loop() {
		r.ReadSample(&s)
		s.At += time.Second
		e.Update(&s)
		_ = e.Stats()
	}
}
