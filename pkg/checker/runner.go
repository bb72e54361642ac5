package checker

import (
	"container/heap"
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// CheckFunc checks one path. It should honour ctx, but the Runner does not
// rely on it: a check blocked in the kernel is abandoned at its deadline.
type CheckFunc func(ctx context.Context) Result

// Bind makes a CheckFunc of a checker and a path.
func Bind(c Checker, p *Path) CheckFunc {
	return func(ctx context.Context) Result { return c.Check(ctx, p) }
}

// RunnerConfig configures a Runner. Zero fields take the defaults.
type RunnerConfig struct {
	// Workers bounds the checks running within their deadline (default 64).
	// A check past its deadline gives its slot back; its goroutine stays
	// (one per hung path, see Stats.Hung) until the kernel returns.
	Workers int
	// PollingInterval is the base interval between checks of a path
	// (default 5 s). MaxPollingInterval caps the doubling while a path stays
	// healthy and unchanged (default 4 × PollingInterval).
	PollingInterval, MaxPollingInterval time.Duration
	// PendingInterval is the re-check delay after a pending result such as
	// ALUA transitioning (default 1 s).
	PendingInterval time.Duration
	// TransitionLimit bounds how long a path may report a transition
	// (Result.Transition: ALUA transitioning, becoming ready) before it is
	// reported Down instead (default DefaultTransitionLimit). A port that
	// never finishes its transition must not hold a path in pending, kept
	// in the map yet carrying no I/O, for ever.
	TransitionLimit time.Duration
	// OnResult receives every result, from the Runner's goroutine, in order
	// per path. It must not block; it may call Add, Remove and CheckNow.
	OnResult func(id string, r Result)
	// Logger, if set, gets debug lines for late results of hung checks.
	Logger *slog.Logger
}

// DefaultDeadline is the per-check deadline when Add is given none: the
// default SCSI command timeout.
const DefaultDeadline = defaultTimeout

// DefaultTransitionLimit is the kernel's own bound on an ALUA transition:
// scsi_dh_alua retries I/O on a transitioning port for ALUA_FAILOVER_TIMEOUT
// (60 s) and then fails it.
const DefaultTransitionLimit = 60 * time.Second

// Runner schedules the checks of many paths: each path on its own adaptive
// interval, phases spread by a hash of the path id, at most Workers checks
// running within their deadline, never two checks of one path at once.
type Runner struct {
	cfg RunnerConfig

	mu   sync.Mutex
	ops  []runnerOp
	wake chan struct{}
	done chan completion
	stop chan struct{}

	inFlight, hung, paths atomic.Int64

	// Owned by the Run goroutine.
	entries map[string]*entry
	due     dueHeap
	ready   []*entry // due, waiting for a slot
	active  map[*entry]struct{}
}

// Stats is a snapshot of the Runner's load.
type Stats struct {
	Paths    int // registered paths
	InFlight int // checks running within their deadline (≤ Workers)
	Hung     int // checks past their deadline whose goroutine has not returned
}

type runnerOp struct {
	kind     opKind
	id       string
	check    CheckFunc
	deadline time.Duration
}

type opKind uint8

const (
	opAdd opKind = iota
	opRemove
	opCheckNow
)

type entry struct {
	id       string
	check    CheckFunc
	deadline time.Duration
	interval time.Duration
	nextDue  time.Time
	heapIdx  int // -1 when not scheduled
	queued   bool
	last     State
	hasLast  bool
	removed  bool
	flight   *flight
	// transSince is when the current unbroken run of transition results
	// began; zero while the path reports none.
	transSince time.Time
}

type flight struct {
	due      time.Time // the scheduled time this check served
	deadline time.Time
	cancel   context.CancelFunc
	timedOut bool
}

type completion struct {
	e   *entry
	f   *flight
	res Result
}

// NewRunner returns a Runner; call Run to start it.
func NewRunner(cfg RunnerConfig) *Runner {
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.PollingInterval <= 0 {
		cfg.PollingInterval = 5 * time.Second
	}
	if cfg.MaxPollingInterval < cfg.PollingInterval {
		cfg.MaxPollingInterval = 4 * cfg.PollingInterval
	}
	if cfg.PendingInterval <= 0 {
		cfg.PendingInterval = time.Second
	}
	if cfg.TransitionLimit <= 0 {
		cfg.TransitionLimit = DefaultTransitionLimit
	}
	if cfg.OnResult == nil {
		cfg.OnResult = func(string, Result) {}
	}
	return &Runner{
		cfg:     cfg,
		wake:    make(chan struct{}, 1),
		done:    make(chan completion),
		stop:    make(chan struct{}),
		entries: map[string]*entry{},
		active:  map[*entry]struct{}{},
	}
}

// Add registers a path, or replaces the check function and deadline of a
// registered one (its schedule and any in-flight check stay). The deadline
// is normally the device's SCSI timeout (checker_timeout), the same value
// as Path.Timeout; a deadline below 7 s is the only way to bound an SG_IO
// check more tightly, since the kernel raises shorter SG_IO timeouts to 7 s
// on block devices. A new path's
// first check comes at a phase inside the polling interval derived from the
// id, so a mass Add does not fire every check at once. deadline ≤ 0 means
// DefaultDeadline.
func (r *Runner) Add(id string, check CheckFunc, deadline time.Duration) {
	r.push(runnerOp{kind: opAdd, id: id, check: check, deadline: deadline})
}

// Remove unregisters a path. A running check is abandoned and its result
// dropped.
func (r *Runner) Remove(id string) { r.push(runnerOp{kind: opRemove, id: id}) }

// CheckNow checks a path as soon as a slot is free (after a uevent, say). If
// a check of the path is in flight, the path reports pending instead.
func (r *Runner) CheckNow(id string) { r.push(runnerOp{kind: opCheckNow, id: id}) }

// Stats returns the current load. Safe from any goroutine.
func (r *Runner) Stats() Stats {
	return Stats{Paths: int(r.paths.Load()), InFlight: int(r.inFlight.Load()), Hung: int(r.hung.Load())}
}

func (r *Runner) push(op runnerOp) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run schedules checks until ctx ends. It does not wait for hung checks;
// their goroutines exit when the kernel lets them go.
func (r *Runner) Run(ctx context.Context) error {
	defer close(r.stop)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		r.applyOps(now)
		r.expire(now)
		r.startDue(now)
		timer.Reset(r.nextWake(now))
		select {
		case <-ctx.Done():
			for e := range r.active {
				e.flight.cancel()
			}
			return nil
		case <-r.wake:
		case c := <-r.done:
			r.complete(c, time.Now())
		case <-timer.C:
		}
	}
}

func (r *Runner) applyOps(now time.Time) {
	r.mu.Lock()
	ops := r.ops
	r.ops = nil
	r.mu.Unlock()
	for _, op := range ops {
		e := r.entries[op.id]
		switch op.kind {
		case opAdd:
			d := op.deadline
			if d <= 0 {
				d = DefaultDeadline
			}
			switch {
			case e == nil:
				e = &entry{id: op.id, heapIdx: -1}
				r.entries[op.id] = e
			case e.removed:
				// Re-added while a check of the old registration is still
				// running: reuse the entry so the device is never checked twice
				// at once. complete schedules it when that check ends.
				e.removed, e.hasLast = false, false
			default: // a new checker for a known path: keep its schedule and in-flight check
				e.check, e.deadline = op.check, d
				continue
			}
			e.check, e.deadline, e.interval = op.check, d, r.cfg.PollingInterval
			r.paths.Add(1)
			if e.flight == nil {
				r.schedule(e, now.Add(phase(op.id, r.cfg.PollingInterval)))
			}
		case opRemove:
			if e != nil && !e.removed {
				r.drop(e)
			}
		case opCheckNow:
			if e != nil && !e.removed {
				r.schedule(e, now)
			}
		}
	}
}

// drop unregisters a path. An entry with a check in flight stays in the map
// (marked removed) until that check returns, so a quick re-Add cannot start
// a second check of the same device; the check's result is discarded.
func (r *Runner) drop(e *entry) {
	e.removed = true
	r.paths.Add(-1)
	if e.heapIdx >= 0 {
		heap.Remove(&r.due, e.heapIdx)
	}
	if e.flight == nil {
		delete(r.entries, e.id)
	}
}

// phase spreads first checks over the interval by a hash of the id.
func phase(id string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(id))
	return time.Duration(h.Sum64() % uint64(interval))
}

func (r *Runner) schedule(e *entry, at time.Time) {
	e.nextDue = at
	if e.heapIdx >= 0 {
		heap.Fix(&r.due, e.heapIdx)
		return
	}
	heap.Push(&r.due, e)
}

// startDue moves due paths to the ready queue and starts as many as slots
// allow. A due path with a check in flight reports pending (or timeout, if
// that check is hung) and is not checked twice.
func (r *Runner) startDue(now time.Time) {
	for len(r.due) > 0 && !r.due[0].nextDue.After(now) {
		e := heap.Pop(&r.due).(*entry)
		switch {
		case e.flight != nil && e.flight.timedOut:
			r.report(e, result(Timeout, "%s: previous check still hung after its %v deadline", e.id, e.deadline))
		case e.flight != nil:
			r.report(e, result(Pending, "%s: check in flight since %v", e.id, e.flight.deadline.Add(-e.deadline).Format(time.TimeOnly)))
		case !e.queued:
			e.queued = true
			r.ready = append(r.ready, e)
		}
	}
	n := 0
	for n < len(r.ready) && len(r.active) < r.cfg.Workers {
		e := r.ready[n]
		n++
		e.queued = false
		if e.removed || e.flight != nil {
			continue
		}
		r.start(e, now)
	}
	r.ready = r.ready[n:]
}

func (r *Runner) start(e *entry, now time.Time) {
	f := &flight{due: e.nextDue, deadline: now.Add(e.deadline)}
	ctx, cancel := context.WithDeadline(context.Background(), f.deadline)
	f.cancel = cancel
	e.flight = f
	r.active[e] = struct{}{}
	r.inFlight.Add(1)
	check := e.check
	go func() {
		res := check(ctx)
		select {
		case r.done <- completion{e, f, res}:
		case <-r.stop:
		}
	}()
}

// expire turns checks past their deadline into timeout results and frees
// their slots.
func (r *Runner) expire(now time.Time) {
	for e := range r.active {
		f := e.flight
		if now.Before(f.deadline) {
			continue
		}
		f.timedOut = true
		f.cancel()
		delete(r.active, e)
		r.inFlight.Add(-1)
		r.hung.Add(1)
		if e.removed {
			continue
		}
		e.interval = r.cfg.PollingInterval
		r.report(e, result(Timeout, "%s: check did not finish within %v", e.id, e.deadline))
		// Re-examined when the hung check returns (complete), not before.
	}
}

func (r *Runner) complete(c completion, now time.Time) {
	e, f := c.e, c.f
	if e.flight != f {
		return
	}
	e.flight = nil
	f.cancel()
	if e.removed {
		delete(r.entries, e.id)
	}
	if f.timedOut {
		r.hung.Add(-1)
		if !e.removed {
			r.cfg.logDebug("late result of a hung check dropped", "path", e.id, "result", c.res.String())
			r.schedule(e, now)
		}
		return
	}
	delete(r.active, e)
	r.inFlight.Add(-1)
	if e.removed {
		return
	}
	res := r.boundTransition(e, c.res, now)
	s := res.State
	var next time.Time
	switch {
	case s == Pending:
		e.interval = r.cfg.PollingInterval
		next = now.Add(r.cfg.PendingInterval)
	case e.hasLast && s == e.last && (s == Up || s == Ghost):
		e.interval = min(2*e.interval, r.cfg.MaxPollingInterval)
		next = f.due.Add(e.interval)
	default:
		e.interval = r.cfg.PollingInterval
		next = f.due.Add(e.interval)
	}
	r.report(e, res)
	if next.Before(now) {
		next = now // running late (all slots busy): do not try to catch up in a burst
	}
	if e.heapIdx < 0 { // CheckNow may have scheduled it meanwhile
		r.schedule(e, next)
	}
}

// boundTransition turns a transition that has lasted TransitionLimit into
// Down; it is pending again (and bounded afresh) after any other result.
func (r *Runner) boundTransition(e *entry, res Result, now time.Time) Result {
	if res.State != Pending || !res.Transition {
		e.transSince = time.Time{}
		return res
	}
	if e.transSince.IsZero() {
		e.transSince = now
		return res
	}
	if d := now.Sub(e.transSince); d >= r.cfg.TransitionLimit {
		return result(Down, "%s; still in transition after %v (limit %v)", res.Reason, d.Round(time.Second), r.cfg.TransitionLimit)
	}
	return res
}

func (r *Runner) report(e *entry, res Result) {
	e.last, e.hasLast = res.State, true
	r.cfg.OnResult(e.id, res)
}

func (r *Runner) nextWake(now time.Time) time.Duration {
	next := now.Add(time.Hour)
	if len(r.due) > 0 {
		next = r.due[0].nextDue
	}
	for e := range r.active {
		if e.flight.deadline.Before(next) {
			next = e.flight.deadline
		}
	}
	return max(next.Sub(now), 0)
}

func (c RunnerConfig) logDebug(msg string, args ...any) {
	if c.Logger != nil {
		c.Logger.Debug("checker: "+msg, args...)
	}
}

// dueHeap orders scheduled paths by next due time.
type dueHeap []*entry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].nextDue.Before(h[j].nextDue) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *dueHeap) Push(x any) {
	e := x.(*entry)
	e.heapIdx = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.heapIdx = -1
	*h = old[:len(old)-1]
	return e
}
