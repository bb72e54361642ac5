package checker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type timedResult struct {
	at time.Duration // since the test started
	r  Result
}

type recorder struct {
	start time.Time
	mu    sync.Mutex
	res   map[string][]timedResult
}

func newRecorder() *recorder { return &recorder{start: time.Now(), res: map[string][]timedResult{}} }

func (rec *recorder) on(id string, r Result) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.res[id] = append(rec.res[id], timedResult{time.Since(rec.start), r})
}

func (rec *recorder) get(id string) []timedResult {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]timedResult(nil), rec.res[id]...)
}

// startRunner runs r until the returned stop is called. stop waits for Run,
// then lets (fake) time pass so that checks sleeping in their fake kernel
// finish before the synctest bubble ends.
func startRunner(r *Runner) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Run(ctx)
		close(done)
	}()
	return func() {
		cancel()
		<-done
		time.Sleep(time.Minute)
	}
}

func upCheck(context.Context) Result { return Result{State: Up} }

// The number of checks running within their deadline never exceeds Workers,
// and under saturation reaches it.
func TestRunnerConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const workers = 8
		var cur, peak, total atomic.Int64
		r := NewRunner(RunnerConfig{Workers: workers})
		check := func(ctx context.Context) Result {
			n := cur.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			if s := r.Stats(); s.InFlight > workers {
				t.Errorf("Stats().InFlight = %d > %d", s.InFlight, workers)
			}
			time.Sleep(2 * time.Second) // a slow TUR
			cur.Add(-1)
			total.Add(1)
			return Result{State: Up}
		}
		for i := range 200 {
			r.Add(fmt.Sprintf("path%d", i), check, 10*time.Second)
		}
		stop := startRunner(r)
		time.Sleep(time.Minute)
		stop()
		synctest.Wait()
		if p := peak.Load(); p != workers {
			t.Errorf("peak concurrency %d, want exactly %d (bounded and saturated)", p, workers)
		}
		// 8 workers × 60 s / 2 s per check.
		if n := total.Load(); n < 230 || n > 240 {
			t.Errorf("%d checks completed, want about 240", n)
		}
	})
}

// A check that never returns yields timeout exactly at its deadline, the
// path is not checked again while it hangs, and other paths keep their
// schedule.
func TestRunnerHungCheckTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		r := NewRunner(RunnerConfig{Workers: 1, OnResult: rec.on})
		release := make(chan struct{})
		var hungCalls atomic.Int64
		r.Add("hung", func(ctx context.Context) Result {
			if hungCalls.Add(1) == 1 {
				<-release // blocked in the kernel; ignores ctx
			}
			return Result{State: Up}
		}, 7*time.Second)
		r.Add("ok1", upCheck, 0)
		r.Add("ok2", upCheck, 0)
		stop := startRunner(r)
		defer stop()

		time.Sleep(2 * time.Minute)
		synctest.Wait()
		got := rec.get("hung")
		if len(got) != 1 || got[0].r.State != Timeout {
			t.Fatalf("hung path results %v, want one timeout", got)
		}
		if want := phase("hung", 5*time.Second) + 7*time.Second; got[0].at != want {
			t.Errorf("timeout reported at %v, want %v (start + deadline)", got[0].at, want)
		}
		if hungCalls.Load() != 1 {
			t.Errorf("hung path checked %d times while hung", hungCalls.Load())
		}
		if s := r.Stats(); s.Hung != 1 || s.InFlight != 0 {
			t.Errorf("stats %+v, want 1 hung, 0 in flight", s)
		}
		// With Workers=1 the hung check gave its slot back: the others ran on.
		for _, id := range []string{"ok1", "ok2"} {
			if n := len(rec.get(id)); n < 6 {
				t.Errorf("%s checked %d times in 2 minutes", id, n)
			}
		}

		close(release) // the kernel lets go: the path is checked again at once
		synctest.Wait()
		time.Sleep(time.Millisecond)
		got = rec.get("hung")
		if last := got[len(got)-1]; last.r.State != Up || hungCalls.Load() != 2 {
			t.Errorf("after release: %v, %d calls", got, hungCalls.Load())
		}
		if s := r.Stats(); s.Hung != 0 {
			t.Errorf("stats %+v after release", s)
		}
	})
}

// CheckNow while a check is in flight reports pending and does not start a
// second check.
func TestRunnerPendingWhileInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		r := NewRunner(RunnerConfig{OnResult: rec.on})
		var calls atomic.Int64
		r.Add("p", func(ctx context.Context) Result {
			calls.Add(1)
			time.Sleep(3 * time.Second)
			return Result{State: Up}
		}, 0)
		stop := startRunner(r)
		defer stop()
		time.Sleep(phase("p", 5*time.Second) + time.Second)
		r.CheckNow("p")
		synctest.Wait()
		got := rec.get("p")
		if len(got) != 1 || got[0].r.State != Pending || calls.Load() != 1 {
			t.Fatalf("results %v after %d calls, want one pending after 1", got, calls.Load())
		}
		time.Sleep(3 * time.Second)
		if got := rec.get("p"); len(got) != 2 || got[1].r.State != Up || calls.Load() != 1 {
			t.Errorf("results %v after %d calls", got, calls.Load())
		}
	})
}

// The interval doubles while a path stays healthy and unchanged, up to the
// maximum, and resets on failure or change; pending re-checks quickly.
func TestRunnerAdaptiveInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		r := NewRunner(RunnerConfig{OnResult: rec.on}) // 5 s, max 20 s, pending 1 s
		var mu sync.Mutex
		script := []State{Up, Up, Up, Up, Up, Down, Down, Up, Up, Pending, Up}
		r.Add("p", func(context.Context) Result {
			mu.Lock()
			defer mu.Unlock()
			s := script[0]
			if len(script) > 1 {
				script = script[1:]
			}
			return Result{State: s}
		}, 0)
		stop := startRunner(r)
		defer stop()
		time.Sleep(3 * time.Minute)
		got := rec.get("p")
		p := phase("p", 5*time.Second)
		s := time.Second
		//            up  up   up    up    up    down  down  up    up    pending up
		wantAt := []time.Duration{0, 5 * s, 15 * s, 35 * s, 55 * s, 75 * s, 80 * s, 85 * s, 90 * s, 100 * s, 101 * s}
		for i, w := range wantAt {
			if i >= len(got) {
				t.Fatalf("only %d results", len(got))
			}
			if got[i].at != p+w || got[i].r.State != script0(i) {
				t.Errorf("result %d: %v at %v, want %v at %v", i, got[i].r.State, got[i].at-p, script0(i), w)
			}
		}
	})
}

func script0(i int) State {
	return []State{Up, Up, Up, Up, Up, Down, Down, Up, Up, Pending, Up}[i]
}

// 10,000 paths added at once are spread over the polling interval.
func TestRunnerSpreadsChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const paths = 10000
		var mu sync.Mutex
		perMilli := map[int64]int{}
		start := time.Now()
		r := NewRunner(RunnerConfig{})
		check := func(context.Context) Result {
			mu.Lock()
			perMilli[time.Since(start).Milliseconds()]++
			mu.Unlock()
			return Result{State: Up}
		}
		for i := range paths {
			r.Add(fmt.Sprintf("3:0:%d:%d", i/256, i%256), check, 0)
		}
		stop := startRunner(r)
		time.Sleep(5 * time.Second)
		stop()
		peak, n := 0, 0
		for _, c := range perMilli {
			peak = max(peak, c)
			n += c
		}
		if n != paths {
			t.Errorf("%d checks in the first interval, want %d", n, paths)
		}
		if peak > 16 { // 2 per ms on average
			t.Errorf("%d checks started in one millisecond", peak)
		}
		t.Logf("first interval: %d checks over %d distinct milliseconds, peak %d/ms", n, len(perMilli), peak)
	})
}

func TestRunnerRemoveAndReplace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		r := NewRunner(RunnerConfig{OnResult: rec.on})
		r.Add("a", upCheck, 0)
		r.Add("b", upCheck, 0)
		stop := startRunner(r)
		defer stop()
		time.Sleep(10 * time.Second)
		r.Remove("a")
		r.Add("b", func(context.Context) Result { return Result{State: Ghost} }, 0)
		synctest.Wait()
		na := len(rec.get("a"))
		time.Sleep(time.Minute)
		if n := len(rec.get("a")); n != na {
			t.Errorf("removed path checked %d more times", n-na)
		}
		if got := rec.get("b"); got[len(got)-1].r.State != Ghost {
			t.Errorf("replaced check not used: %v", got[len(got)-1])
		}
		if s := r.Stats(); s.Paths != 1 {
			t.Errorf("stats %+v", s)
		}
	})
}

// Removing and re-adding a path while its check runs does not start a
// second check of the same device.
func TestRunnerReAddWhileInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		r := NewRunner(RunnerConfig{OnResult: rec.on})
		var running, peak, calls atomic.Int64
		slow := func(state State) CheckFunc {
			return func(context.Context) Result {
				calls.Add(1)
				if n := running.Add(1); n > peak.Load() {
					peak.Store(n)
				}
				time.Sleep(3 * time.Second)
				running.Add(-1)
				return Result{State: state}
			}
		}
		r.Add("p", slow(Up), 0)
		stop := startRunner(r)
		defer stop()
		time.Sleep(phase("p", 5*time.Second) + time.Second) // first check in flight
		r.Remove("p")
		r.Add("p", slow(Ghost), 0)
		synctest.Wait()
		if s := r.Stats(); s.Paths != 1 || calls.Load() != 1 {
			t.Fatalf("stats %+v, %d calls right after re-add", s, calls.Load())
		}
		time.Sleep(30 * time.Second)
		if peak.Load() != 1 {
			t.Errorf("%d checks of one path ran at once", peak.Load())
		}
		got := rec.get("p")
		if len(got) < 2 || got[len(got)-1].r.State != Ghost {
			t.Errorf("results after re-add: %v", got)
		}
	})
}

func TestBind(t *testing.T) {
	p := &Path{Name: "sdx", Attr: func(string) (string, error) { return "offline", nil }}
	if r := Bind(None{}, p)(context.Background()); r.State != Down {
		t.Errorf("%v, want down", r)
	}
}

// A transition the device never finishes (ALUA transitioning, becoming
// ready) is pending up to TransitionLimit, then down; any other result
// starts the bound afresh, and a pending that is no transition (a blocked
// device, a check in flight) is not bounded here.
func TestRunnerTransitionLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		r := NewRunner(RunnerConfig{OnResult: rec.on}) // pending re-checked every 1 s, limit 60 s
		var mu sync.Mutex
		trans := map[string]bool{"alua": true, "blocked": false}
		for id := range trans {
			r.Add(id, func(context.Context) Result {
				mu.Lock()
				defer mu.Unlock()
				if trans[id] {
					return Result{State: Pending, Reason: "NOT READY 04/0a", Transition: true}
				}
				return Result{State: Pending, Reason: "device blocked"}
			}, 0)
		}
		stop := startRunner(r)
		defer stop()
		time.Sleep(phase("alua", 5*time.Second) + 59*time.Second + 500*time.Millisecond)
		synctest.Wait()
		got := rec.get("alua")
		if n := len(got); n != 60 || got[n-1].r.State != Pending {
			t.Fatalf("after 59 s of transitioning: %d results, last %v; want 60, pending", n, got[n-1].r)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		got = rec.get("alua")
		last := got[len(got)-1]
		if last.r.State != Down || !strings.Contains(last.r.Reason, "still in transition after 1m0s") || !strings.Contains(last.r.Reason, "04/0a") {
			t.Fatalf("after 60 s of transitioning: %v, want down naming the transition and its length", last.r)
		}
		for _, x := range rec.get("blocked") {
			if x.r.State != Pending {
				t.Fatalf("a pending that is no transition turned %v", x.r)
			}
		}

		// Still transitioning: it stays down (re-checked at the polling
		// interval). Ready for one check, then transitioning again: pending
		// again, for another full limit.
		time.Sleep(10 * time.Second)
		synctest.Wait()
		for _, x := range rec.get("alua")[60:] {
			if x.r.State != Down {
				t.Fatalf("an unbroken transition past the limit reported %v", x.r)
			}
		}
		mu.Lock()
		trans["alua"] = false
		mu.Unlock()
		time.Sleep(6 * time.Second)
		mu.Lock()
		trans["alua"] = true
		mu.Unlock()
		synctest.Wait()
		n0 := len(rec.get("alua"))
		time.Sleep(50 * time.Second)
		synctest.Wait()
		got = rec.get("alua")
		if len(got) < n0+10 {
			t.Fatalf("%d checks in 50 s of a new transition", len(got)-n0)
		}
		for _, x := range got[n0:] {
			if x.r.State != Pending {
				t.Fatalf("a new transition under 60 s old reported %v", x.r)
			}
		}
	})
}
