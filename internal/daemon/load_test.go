package daemon

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/checker"
)

// load keeps a rig busy the way a troubled SAN does: checker results flap every path down and up
// continuously, and every 2 ms a path leaves its map and comes back, reloading it.
type load struct {
	flaps, reloads atomic.Int64
	stop           chan struct{}
	wg             sync.WaitGroup
}

func startLoad(r *rig, topo *fakeTopo) *load {
	l := &load{stop: make(chan struct{})}
	ps, _ := topo.Paths()
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			p := ps[i%len(ps)]
			st := checker.Down
			if i/len(ps)%2 == 1 {
				st = healthy(p)
			}
			r.check(p.Name, st)
			l.flaps.Add(1)
			if i%64 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	go func() {
		defer l.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			p := ps[(i*7)%len(ps)]
			r.d.PathsRemoved([]string{p.Name})
			r.d.PathsAdded([]string{p.Name})
			l.reloads.Add(2)
		}
	}()
	return l
}

// end stops the load and reports what it did.
func (l *load) end(b *testing.B) {
	close(l.stop)
	l.wg.Wait()
	b.ReportMetric(float64(l.flaps.Load()), "check-results")
	b.ReportMetric(float64(l.reloads.Load()), "path-changes")
}
