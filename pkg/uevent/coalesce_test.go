package uevent

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func ev(a Action, dev string) Event {
	return Event{Action: a, Subsystem: "block", DevType: "disk", DevName: dev, DevPath: "/devices/x/block/" + dev}
}

// wwids maps device names to WWIDs the way a daemon's path table would.
var wwids = map[string]string{"sda": "3600a", "sdb": "3600b", "sdc": "3600a", "sdd": "3600b", "sde": "3600a"}

func lookup(e Event) string { return wwids[path.Base(e.DevPath)] }

func summary(bs []Batch) string {
	var parts []string
	for _, b := range bs {
		if b.Overflow {
			parts = append(parts, "OVERFLOW")
			continue
		}
		var evs []string
		for _, e := range b.Events {
			evs = append(evs, string(e.Action)+" "+e.DevName)
		}
		parts = append(parts, b.WWID+"["+strings.Join(evs, ",")+"]")
	}
	return strings.Join(parts, " ")
}

// harness runs a Coalescer inside a synctest bubble and collects batches.
type harness struct {
	in      chan Event
	out     chan Batch
	mu      sync.Mutex
	got     []Batch
	done    chan error
	cancel  context.CancelFunc
	drained chan struct{}
}

func start(t *testing.T, c *Coalescer) *harness {
	ctx, cancel := context.WithCancel(t.Context())
	h := &harness{in: make(chan Event), out: make(chan Batch), done: make(chan error, 1), cancel: cancel, drained: make(chan struct{})}
	go func() { h.done <- c.Run(ctx, h.in, h.out) }()
	go func() {
		defer close(h.drained)
		for b := range h.out {
			h.mu.Lock()
			h.got = append(h.got, b)
			h.mu.Unlock()
		}
	}()
	return h
}

// take returns the batches delivered so far (the bubble must be idle).
func (h *harness) take() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := summary(h.got)
	h.got = nil
	return s
}

func TestCoalescer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &Coalescer{Window: time.Second, WWID: lookup})

		// A burst: sdc's add is cancelled by its remove; adds sharing a WWID
		// group; the dm event has no WWID and is its own batch.
		for _, e := range []Event{ev(Add, "sda"), ev(Add, "sdb"), ev(Add, "sdc"), ev(Change, "dm-0"),
			ev(Add, "sdd"), ev(Change, "sdc"), ev(Remove, "sdc"), ev(Add, "sde")} {
			h.in <- e
		}
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if got := h.take(); got != "" {
			t.Fatalf("flushed before the window closed: %s", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		want := "3600a[add sda,remove sdc,add sde] 3600b[add sdb,add sdd] [change dm-0]"
		if got := h.take(); got != want {
			t.Errorf("window 1 =\n%s\nwant\n%s", got, want)
		}

		// The next window starts with the next event, not on a tick.
		time.Sleep(10 * time.Second)
		h.in <- ev(Remove, "sda")
		h.in <- ev(Add, "sda") // re-added after the remove: both kept, in order
		time.Sleep(time.Second)
		synctest.Wait()
		if got, want := h.take(), "3600a[remove sda,add sda]"; got != want {
			t.Errorf("window 2 = %s, want %s", got, want)
		}

		// Overflow flushes what is pending, then reports itself at once.
		h.in <- ev(Add, "sdb")
		h.in <- Event{Overflow: true}
		synctest.Wait()
		if got, want := h.take(), "3600b[add sdb] OVERFLOW"; got != want {
			t.Errorf("overflow = %s, want %s", got, want)
		}

		// Closing the input flushes and ends Run without error.
		h.in <- ev(Change, "sdd")
		close(h.in)
		if err := <-h.done; err != nil {
			t.Errorf("Run after close: %v", err)
		}
		close(h.out)
		<-h.drained
		if got, want := h.take(), "3600b[change sdd]"; got != want {
			t.Errorf("final flush = %s, want %s", got, want)
		}
	})
}

func TestCoalescerMaxPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, &Coalescer{Window: time.Hour, MaxPending: 3}) // no WWID function
		for _, d := range []string{"sda", "sdb", "sdc"} {
			h.in <- ev(Add, d)
		}
		synctest.Wait()
		if got, want := h.take(), "[add sda] [add sdb] [add sdc]"; got != want {
			t.Errorf("batches = %s, want %s", got, want)
		}
		h.cancel()
		if err := <-h.done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run after cancel: %v", err)
		}
		close(h.out)
		<-h.drained
	})
}

// Cancelling while the consumer is not reading must not block Run.
func TestCoalescerCancelWhileBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		in, out := make(chan Event), make(chan Batch) // nobody reads out
		done := make(chan error, 1)
		c := &Coalescer{Window: time.Second}
		go func() { done <- c.Run(ctx, in, out) }()
		in <- ev(Add, "sda")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	})
}

func BenchmarkCoalesce(b *testing.B) {
	evs := make([]Event, 0, 4096)
	for i := range 2048 {
		d := fmt.Sprintf("sd%c%c", 'a'+i/26%26, 'a'+i%26)
		evs = append(evs, ev(Add, d), ev(Remove, d))
	}
	c := &Coalescer{WWID: func(e Event) string { return e.DevName[:3] }}
	b.ReportAllocs()
	for b.Loop() {
		c.coalesce(evs)
	}
}
