package daemon

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
)

// shard owns the maps whose WWID hashes to it. Everything that touches those maps runs on the
// shard's goroutine, in arrival order; producers never block (the queue is unbounded), so a
// checker callback or a uevent reader is never held up by a slow reload elsewhere.
type shard struct {
	d    *Daemon
	maps map[string]*mpath // by WWID; touched only on the shard goroutine

	mu    sync.Mutex
	queue []func()
	busy  bool // a batch taken from queue is running
	wake  chan struct{}

	// moved is when the shard last made progress (started a piece of work or a map), or when work
	// arrived while it was idle, in Unix nanoseconds: the watchdog's measure of a stuck shard.
	moved atomic.Int64
	// pending counts work queued or running; queuedAt is when the oldest queued piece arrived and
	// batchAt when the oldest piece of the running batch did (Unix ns, 0 for none). Scrapes read
	// them without taking mu.
	pending, queuedAt, batchAt atomic.Int64

	snap atomic.Pointer[shardSnap]

	// events raised by the running batch; published after the snapshot that shows them, so a
	// client that reacts to an event by reading the topology sees the change.
	events []api.Event
}

func newShard(d *Daemon) *shard {
	s := &shard{d: d, maps: map[string]*mpath{}, wake: make(chan struct{}, 1)}
	s.snap.Store(&shardSnap{counts: newStateCounts()})
	return s
}

// post queues fn to run on the shard goroutine.
func (s *shard) post(fn func()) {
	s.mu.Lock()
	if !s.busy && len(s.queue) == 0 {
		s.progress() // an idle shard's clock starts with the work
	}
	if len(s.queue) == 0 {
		s.queuedAt.Store(s.d.now().UnixNano())
	}
	s.pending.Add(1)
	s.queue = append(s.queue, fn)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run executes queued work until done is closed, publishing a snapshot after each batch.
func (s *shard) run(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			work := s.queue
			s.queue = nil
			s.busy = len(work) > 0
			s.batchAt.Store(s.queuedAt.Swap(0))
			s.mu.Unlock()
			if len(work) == 0 {
				break
			}
			for _, fn := range work {
				s.progress()
				fn()
				s.pending.Add(-1)
			}
			s.publish()
			s.flushEvents()
		}
	}
}

func (s *shard) anyDirty() bool {
	for _, m := range s.maps {
		if m.dirty {
			return true
		}
	}
	return false
}

// emit queues an event of the running batch (shard goroutine only).
func (s *shard) emit(ev api.Event) {
	if ev.Time.IsZero() {
		ev.Time = s.d.now()
	}
	s.d.countEvent(ev)
	s.events = append(s.events, ev)
}

func (s *shard) flushEvents() {
	for _, ev := range s.events {
		s.d.hub.Publish(ev)
	}
	clear(s.events)
	s.events = s.events[:0]
}

// progress records that the shard moves on. Work that handles many maps in one piece (a tick, a
// reconfigure) calls it per map, through sync.
func (s *shard) progress() { s.moved.Store(s.d.now().UnixNano()) }

// stalled reports how long a shard with work has not moved on; 0 when it is idle.
func (s *shard) stalled(now time.Time) time.Duration {
	if s.idle() {
		return 0
	}
	return max(now.Sub(time.Unix(0, s.moved.Load())), 0)
}

// idle reports whether the shard has nothing queued and nothing running.
func (s *shard) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.busy && len(s.queue) == 0
}

func (s *shard) publish() {
	// A batch that changed no map (an unchanged check result) keeps the snapshot: a map added is
	// dirty, and one removed changes the count.
	if len(s.maps) == len(s.snap.Load().maps) && !s.anyDirty() {
		return
	}
	ms := make([]api.Map, 0, len(s.maps))
	for _, m := range s.maps {
		if m.dirty {
			m.cached, m.dirty = m.snapshot(), false
			s.d.observe(&m.cached)
		}
		ms = append(ms, m.cached)
	}
	slices.SortFunc(ms, func(a, b api.Map) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	s.snap.Store(&shardSnap{maps: ms, counts: countStates(ms)})
	s.d.topoGen.Add(1)
}

// shardSnap is a shard's published maps, sorted by name, and their counts for show status,
// counted once per publication rather than per request.
type shardSnap struct {
	maps   []api.Map
	counts stateCounts
}

// stateCounts counts paths per checker state and maps per health.
type stateCounts struct {
	paths   int
	checker map[string]int
	health  map[string]int
}

func newStateCounts() stateCounts {
	return stateCounts{checker: map[string]int{}, health: map[string]int{}}
}

func countStates(ms []api.Map) stateCounts {
	c := newStateCounts()
	for i := range ms {
		c.health[ms[i].Health()]++
		for _, g := range ms[i].Groups {
			for _, p := range g.Paths {
				c.paths++
				c.checker[p.CheckerState]++
			}
		}
	}
	return c
}
