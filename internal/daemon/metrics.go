package daemon

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/metrics"
)

// checkBounds are the upper bounds, in seconds, of the check latency histogram: a TEST UNIT READY
// on a healthy path answers in well under a millisecond, a busy array in tens of milliseconds, and
// a hung path runs to its deadline (checker_timeout, 30 s by default).
var checkBounds = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// counters are the daemon's cumulative counts for the metrics exposition. Every field is an
// atomic, written where the daemon already does the work and read by scrapes without any lock.
type counters struct {
	uevents  [3]atomic.Uint64 // add, remove, change
	dmEvents atomic.Uint64
	checks   [7]atomic.Uint64 // by api.CheckerStates
	// check latency: one count per bucket (not cumulative), the overflow last, and the sum.
	checkBuckets [17]atomic.Uint64
	checkNanos   atomic.Uint64
	failures     [3]atomic.Uint64 // checker, kernel, admin
	reinstated   atomic.Uint64
	switches     atomic.Uint64
	loads        [4]atomic.Uint64 // create, layout, resize, admin
	reloads      [3]atomic.Uint64 // success, invalid, error

	maps sync.Map // map name → *mapCounters
}

// mapCounters are kept per map by the shard that publishes it.
type mapCounters struct {
	queueingSince atomic.Int64 // Unix ns when the map began queueing with no usable path; 0 when not
	queued        atomic.Int64 // ns spent queueing before queueingSince
	active        atomic.Int64 // the active group at the last publish; 0 none
	changes       atomic.Uint64
}

// countEvent counts what an event says happened. It runs where the event is raised (the shard
// goroutine, or the reconfiguring caller), so no event is missed however slow the subscribers.
func (d *Daemon) countEvent(ev api.Event) {
	c := &d.counters
	switch ev.Type {
	case api.EventPathDown:
		switch {
		case ev.New != api.DMFailed:
			c.failures[0].Add(1)
		case strings.Contains(ev.Reason, "administrator"):
			c.failures[2].Add(1)
		default:
			c.failures[1].Add(1)
		}
	case api.EventPathUp:
		c.reinstated.Add(1)
	case api.EventGroupSwitch:
		c.switches.Add(1)
	case api.EventMapAdded:
		if !strings.HasPrefix(ev.Reason, "adopted") {
			c.loads[0].Add(1)
		}
	case api.EventMapReloaded:
		switch {
		case strings.HasPrefix(ev.Reason, "size "):
			c.loads[2].Add(1)
		case strings.Contains(ev.Reason, "administrator"):
			c.loads[3].Add(1)
		default:
			c.loads[1].Add(1)
		}
	case api.EventReconfigured:
		c.reloads[0].Add(1)
	case api.EventMapRemoved:
		d.counters.maps.Delete(ev.Map)
	}
}

// countReconfigure counts a configuration reload that did not succeed: "invalid" or "error".
func (d *Daemon) countReconfigure(result string) {
	if result == "invalid" {
		d.counters.reloads[1].Add(1)
	} else {
		d.counters.reloads[2].Add(1)
	}
}

// countCheck counts a check result and its latency.
func (d *Daemon) countCheck(r CheckResult) {
	c := &d.counters
	state := r.State.String()
	i := 0
	for i < len(api.CheckerStates)-1 && api.CheckerStates[i] != state {
		i++
	}
	c.checks[i].Add(1)
	if r.Took <= 0 {
		return
	}
	secs := r.Took.Seconds()
	b := 0
	for b < len(checkBounds) && secs > checkBounds[b] {
		b++
	}
	c.checkBuckets[b].Add(1)
	c.checkNanos.Add(uint64(r.Took))
}

// CountUevent counts a path uevent handled (action add, remove or change).
func (d *Daemon) CountUevent(action string) {
	switch action {
	case "add":
		d.counters.uevents[0].Add(1)
	case "remove":
		d.counters.uevents[1].Add(1)
	case "change":
		d.counters.uevents[2].Add(1)
	}
}

// CountDMEvent counts a device-mapper event handled.
func (d *Daemon) CountDMEvent() { d.counters.dmEvents.Add(1) }

// observe updates a map's counters from the snapshot just rendered for it, on the shard that owns
// it: time spent queueing with no usable path, and changes of the group the kernel uses.
func (d *Daemon) observe(m *api.Map) {
	v, ok := d.counters.maps.Load(m.Name)
	if !ok {
		v, _ = d.counters.maps.LoadOrStore(m.Name, &mapCounters{})
	}
	mc := v.(*mapCounters)
	now := d.now().UnixNano()
	since := mc.queueingSince.Load()
	switch queueing := m.Health() == api.MapQueueing; {
	case queueing && since == 0:
		mc.queueingSince.Store(now)
	case !queueing && since != 0:
		mc.queued.Add(now - since)
		mc.queueingSince.Store(0)
	}
	active := int64(0)
	for _, g := range m.Groups {
		if g.State == api.GroupActive {
			active = int64(g.Index)
		}
	}
	if old := mc.active.Swap(active); old != 0 && active != 0 && old != active {
		mc.changes.Add(1)
	}
}

// MapCounters implements metrics.CounterSource.
func (d *Daemon) MapCounters(name string) (metrics.MapCounters, bool) {
	v, ok := d.counters.maps.Load(name)
	if !ok {
		return metrics.MapCounters{}, false
	}
	mc := v.(*mapCounters)
	queued := mc.queued.Load()
	if since := mc.queueingSince.Load(); since != 0 {
		queued += max(d.now().UnixNano()-since, 0)
	}
	return metrics.MapCounters{QueueingSeconds: float64(queued) / 1e9, GroupChanges: mc.changes.Load()}, true
}

// Counters implements metrics.CounterSource. It reads atomics only.
func (d *Daemon) Counters() metrics.Counters {
	c := &d.counters
	set := func(names []string, vs []atomic.Uint64) map[string]uint64 {
		m := make(map[string]uint64, len(names))
		for i, n := range names {
			m[n] = vs[i].Load()
		}
		return m
	}
	out := metrics.Counters{
		Uevents:            set([]string{"add", "remove", "change"}, c.uevents[:]),
		DMEvents:           c.dmEvents.Load(),
		Checks:             set(api.CheckerStates, c.checks[:]),
		PathFailures:       set([]string{"checker", "kernel", "admin"}, c.failures[:]),
		PathReinstatements: c.reinstated.Load(),
		GroupSwitches:      c.switches.Load(),
		TableLoads:         set([]string{"create", "layout", "resize", "admin"}, c.loads[:]),
		ConfigReloads:      set([]string{"success", "invalid", "error"}, c.reloads[:]),
	}
	h := metrics.Histogram{Bounds: checkBounds, Buckets: make([]uint64, len(checkBounds))}
	var cum uint64
	for i := range checkBounds {
		cum += c.checkBuckets[i].Load()
		h.Buckets[i] = cum
	}
	h.Count = cum + c.checkBuckets[len(checkBounds)].Load()
	h.Sum = float64(c.checkNanos.Load()) / 1e9
	out.CheckDuration = h
	now := d.now()
	for _, s := range d.shards {
		sh := metrics.Shard{Queued: int(max(s.pending.Load(), 0))}
		if sh.Queued > 0 {
			oldest := int64(math.MaxInt64)
			for _, t := range []int64{s.batchAt.Load(), s.queuedAt.Load()} {
				if t != 0 {
					oldest = min(oldest, t)
				}
			}
			if oldest != math.MaxInt64 {
				sh.OldestSeconds = max(now.Sub(time.Unix(0, oldest)).Seconds(), 0)
			}
			sh.StalledSeconds = max(now.Sub(time.Unix(0, s.moved.Load())).Seconds(), 0)
		}
		out.Shards = append(out.Shards, sh)
	}
	return out
}

// IOStats implements metrics.IOSource: the polling core's latest estimates for a block device.
func (d *Daemon) IOStats(dev string) (api.IOStats, bool) {
	if d.o.Stats == nil {
		return api.IOStats{}, false
	}
	s, ok := d.o.Stats.Stats(dev)
	if !ok {
		return api.IOStats{}, false
	}
	return ioStats(s), true
}

var (
	_ metrics.CounterSource = (*Daemon)(nil)
	_ metrics.IOSource      = (*Daemon)(nil)
)
