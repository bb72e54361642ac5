package selector

import (
	"context"
	"hash/maphash"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Reader reads the current counters of one device. The daemon's
// implementation keeps the stat file open and parses without allocating.
// The [Poller] calls ReadSample from one goroutine at a time and, if the
// Reader is also an [io.Closer], closes it once the device is removed.
type Reader interface {
	// ReadSample fills the counters of s. A reader that serves counters read earlier (one read
	// of /proc/diskstats for many devices) also sets At to when they were read, on its own
	// monotonic clock; otherwise it leaves At zero and the Poller stamps the sample.
	ReadSample(s *Sample) error
}

// DeviceStats pairs a device's identifier with its estimates.
type DeviceStats struct {
	ID string
	Stats
}

// Poller samples every registered device at the configured interval,
// spread over shards (goroutines) that each own a subset of the devices.
// Estimates are published per device after each sample; [Poller.Stats] and
// [Poller.Snapshot] never wait for a read or a tick.
type Poller struct {
	interval time.Duration
	// idleMax is the longest interval a shard backs off to while its devices show no I/O: there
	// is nothing to weigh or to find marginal then.
	idleMax  time.Duration
	halfLife time.Duration
	seed     maphash.Seed
	shards   []*shard
	epoch    time.Time
}

// NewPoller returns a Poller for cfg (see [Config.Validate]). Devices may be
// added before or after Run is called.
func NewPoller(cfg Config) (*Poller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := cfg.Shards
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &Poller{
		interval: cfg.StatsInterval,
		idleMax:  idleBackoff * cfg.StatsInterval,
		halfLife: cfg.StatsHalfLife,
		seed:     maphash.MakeSeed(),
		shards:   make([]*shard, n),
		epoch:    time.Now(),
	}
	for i := range p.shards {
		s := &shard{p: p, wake: make(chan struct{}, 1)}
		s.view.Store(&view{byID: map[string]*entry{}})
		p.shards[i] = s
	}
	return p, nil
}

func (p *Poller) shardOf(id string) *shard {
	return p.shards[maphash.String(p.seed, id)%uint64(len(p.shards))]
}

// Add registers a device (a path such as "sdc" or a map such as "dm-3")
// with the Reader for its counters. Adding an existing id replaces its
// Reader and restarts its estimates. It takes effect at the shard's next
// tick.
func (p *Poller) Add(id string, r Reader) {
	p.shardOf(id).enqueue(op{id: id, r: r})
}

// Remove unregisters a device at the shard's next tick, then closes its
// Reader if it is an [io.Closer].
func (p *Poller) Remove(id string) {
	p.shardOf(id).enqueue(op{id: id})
}

// Stats returns the latest estimates of a device, and whether it is
// registered.
func (p *Poller) Stats(id string) (Stats, bool) {
	e := p.shardOf(id).view.Load().byID[id]
	if e == nil {
		return Stats{}, false
	}
	return e.pub.load(), true
}

// Snapshot appends the latest estimates of every device to dst, sorted by
// id, and returns the extended slice.
func (p *Poller) Snapshot(dst []DeviceStats) []DeviceStats {
	start := len(dst)
	for _, s := range p.shards {
		for _, e := range s.view.Load().entries {
			dst = append(dst, DeviceStats{ID: e.id, Stats: e.pub.load()})
		}
	}
	slices.SortFunc(dst[start:], func(a, b DeviceStats) int { return strings.Compare(a.ID, b.ID) })
	return dst
}

// Run samples until ctx is done, then closes every Reader that is an
// [io.Closer] and returns ctx's error. Call it once.
func (p *Poller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, s := range p.shards {
		wg.Go(func() { s.run(ctx, p.interval, p.idleMax) })
	}
	wg.Wait()
	return ctx.Err()
}

// PollOnce samples every device once, now, on the caller's goroutine, shard after shard: for a
// caller that keeps its own schedule, and for measuring a poll. It must not run beside Run.
func (p *Poller) PollOnce() {
	for _, s := range p.shards {
		s.poll()
	}
}

// now is the monotonic time since the Poller was made.
func (p *Poller) now() time.Duration { return time.Since(p.epoch) }

type op struct {
	id string
	r  Reader // nil: remove
}

// view is what readers see of a shard; it is replaced, never modified,
// when devices come and go.
type view struct {
	entries []*entry
	byID    map[string]*entry
}

type entry struct {
	id   string
	r    Reader
	est  Estimator // owned by the shard goroutine
	errs uint64
	pub  published
	// ios is the completed I/O count at the last sample; sampled says there was one.
	ios     uint64
	sampled bool
	// listed is set once the entry is in a view, so that an id added
	// twice in one batch is listed once.
	listed bool
}

type shard struct {
	p *Poller

	mu      sync.Mutex
	pending []op
	wake    chan struct{}

	view    atomic.Pointer[view]
	scratch Sample
}

func (s *shard) enqueue(o op) {
	s.mu.Lock()
	s.pending = append(s.pending, o)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}: // a backed-off shard takes a new device's baseline at once
	default:
	}
}

func (s *shard) run(ctx context.Context, interval, idleMax time.Duration) {
	t := time.NewTimer(interval)
	defer t.Stop()
	defer s.closeAll()
	wait := interval
	for {
		// Idle devices (no I/O completed, none in flight) are sampled less and less often, up to
		// idleMax; the first sample that sees I/O returns to the interval. The estimators decay
		// by the samples' timestamps, so a longer gap is accounted for.
		if s.poll() {
			wait = interval
		} else {
			wait = min(2*wait, idleMax)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
			if wait == interval {
				// On schedule already: membership changes wait for the next sample.
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}
	}
}

// idleBackoff bounds the idle back-off, in intervals.
const idleBackoff = 8

// poll applies membership changes, then samples every device once; it reports whether any device
// had I/O since the last sample (or has some in flight).
func (s *shard) poll() bool {
	s.apply()
	busy := false
	for _, e := range s.view.Load().entries {
		busy = s.sample(e) || busy
	}
	return busy
}

func (s *shard) sample(e *entry) (busy bool) {
	smp := &s.scratch
	smp.At = 0
	if err := e.r.ReadSample(smp); err != nil {
		// The device is probably going away; its removal comes through
		// the topology, so only count the failure.
		e.errs++
		st := e.est.Stats()
		st.ReadErrors = e.errs
		e.pub.store(&st)
		return true // not known idle: keep looking at the interval
	}
	ios := smp.ReadIOs + smp.WriteIOs + smp.DiscardIOs + smp.FlushIOs
	busy = ios != e.ios || smp.InFlight > 0 || !e.sampled
	e.ios, e.sampled = ios, true
	if smp.At == 0 {
		smp.At = s.p.now()
	}
	e.est.Update(smp)
	st := e.est.Stats()
	st.ReadErrors = e.errs
	e.pub.store(&st)
	return busy
}

func (s *shard) apply() {
	s.mu.Lock()
	ops := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(ops) == 0 {
		return
	}
	old := s.view.Load()
	byID := make(map[string]*entry, len(old.byID)+len(ops))
	for id, e := range old.byID {
		byID[id] = e
	}
	var closers []Reader
	for _, o := range ops {
		if prev := byID[o.id]; prev != nil {
			if prev.r != o.r {
				closers = append(closers, prev.r)
			}
			delete(byID, o.id)
		}
		if o.r != nil {
			e := &entry{id: o.id, r: o.r}
			e.est.init(s.p.halfLife)
			byID[o.id] = e
		}
	}
	entries := make([]*entry, 0, len(byID))
	for _, e := range old.entries { // keep sampling order stable
		if byID[e.id] == e {
			entries = append(entries, e)
		}
	}
	for _, o := range ops {
		if e := byID[o.id]; e != nil && !e.listed {
			e.listed = true
			entries = append(entries, e)
		}
	}
	s.view.Store(&view{entries: entries, byID: byID})
	for _, r := range closers {
		closeReader(r)
	}
}

func (s *shard) closeAll() {
	s.apply()
	v := s.view.Swap(&view{byID: map[string]*entry{}})
	for _, e := range v.entries {
		closeReader(e.r)
	}
}

func closeReader(r Reader) {
	if c, ok := r.(io.Closer); ok {
		// Nothing useful can be done with a close error of a read-only
		// stat file.
		_ = c.Close()
	}
}

// published holds one device's latest Stats for concurrent readers. The
// single writer (the shard) brackets its stores with an odd sequence
// number; a reader retries while the sequence is odd or changed, so it
// never blocks the writer and never sees a torn value. Every field is an
// atomic word, which keeps the race detector's view exact.
type published struct {
	seq atomic.Uint64
	w   [numWords]atomic.Uint64
}

const numWords = 14

func (p *published) store(st *Stats) {
	valid := uint64(0)
	if st.Valid {
		valid = 1
	}
	p.seq.Add(1)
	f := math.Float64bits
	p.w[0].Store(valid)
	p.w[1].Store(f(st.ReadIOPS))
	p.w[2].Store(f(st.WriteIOPS))
	p.w[3].Store(f(st.ReadBytesPerSec))
	p.w[4].Store(f(st.WriteBytesPerSec))
	p.w[5].Store(f(st.AvgRequestBytes))
	p.w[6].Store(f(st.InFlight))
	p.w[7].Store(st.InFlightNow)
	p.w[8].Store(uint64(st.ServiceTime))
	p.w[9].Store(f(st.Utilization))
	p.w[10].Store(st.Samples)
	p.w[11].Store(st.Resets)
	p.w[12].Store(st.ReadErrors)
	p.w[13].Store(uint64(st.At))
	p.seq.Add(1)
}

func (p *published) load() Stats {
	for {
		s1 := p.seq.Load()
		if s1&1 != 0 {
			runtime.Gosched()
			continue
		}
		var w [numWords]uint64
		for i := range w {
			w[i] = p.w[i].Load()
		}
		if p.seq.Load() != s1 {
			continue
		}
		f := math.Float64frombits
		return Stats{
			Valid:            w[0] == 1,
			ReadIOPS:         f(w[1]),
			WriteIOPS:        f(w[2]),
			ReadBytesPerSec:  f(w[3]),
			WriteBytesPerSec: f(w[4]),
			AvgRequestBytes:  f(w[5]),
			InFlight:         f(w[6]),
			InFlightNow:      w[7],
			ServiceTime:      time.Duration(w[8]),
			Utilization:      f(w[9]),
			Samples:          w[10],
			Resets:           w[11],
			ReadErrors:       w[12],
			At:               time.Duration(w[13]),
		}
	}
}
