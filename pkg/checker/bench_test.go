package checker

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
)

// BenchmarkTURCheck is the CPU cost of one tur check above the ioctl
// (sysfs pre-check, CDB, classification, reason string).
func BenchmarkTURCheck(b *testing.B) {
	d := &benchDevice{}
	p := &Path{Name: "sdb", Attr: running, SG: d}
	b.ReportAllocs()
	for b.Loop() {
		if r := (TUR{}).Check(context.Background(), p); r.State != Up {
			b.Fatal(r)
		}
	}
}

// BenchmarkTURCheckGhost classifies a NOT READY 04/0B answer.
func BenchmarkTURCheckGhost(b *testing.B) {
	d := &benchDevice{res: sgio.Result{Status: sgio.StatusCheckCondition, Sense: sgiotest.FixedSense(sgio.NotReady, 4, 0x0b)}}
	p := &Path{Name: "sdb", Attr: running, SG: d}
	b.ReportAllocs()
	for b.Loop() {
		if r := (TUR{}).Check(context.Background(), p); r.State != Ghost {
			b.Fatal(r)
		}
	}
}

// benchDevice answers without recording calls (sgiotest.Device records).
type benchDevice struct{ res sgio.Result }

func (d *benchDevice) SGIO([]byte, sgio.Direction, []byte, time.Duration) (sgio.Result, error) {
	return d.res, nil
}

// BenchmarkRunner32768 drives 32,768 fake paths whose checks return at once,
// on a 10 ms polling interval so the runner is saturated: ns/op is the
// runner's overhead per check (scheduling, slot, goroutine, result).
func BenchmarkRunner32768(b *testing.B) {
	const paths = 32768
	var n atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	target := int64(b.N)
	r := NewRunner(RunnerConfig{
		Workers: 64, PollingInterval: 10 * time.Millisecond, MaxPollingInterval: 10 * time.Millisecond,
		OnResult: func(string, Result) {
			if n.Add(1) == target {
				cancel()
			}
		},
	})
	check := func(context.Context) Result { return Result{State: Up} }
	for i := range paths {
		r.Add(fmt.Sprintf("%d:0:%d:%d", i/4096, (i/256)%16, i%256), check, time.Second)
	}
	b.ReportAllocs()
	b.ResetTimer()
	r.Run(ctx)
	b.StopTimer()
	b.ReportMetric(float64(paths), "paths")
}
