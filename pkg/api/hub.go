package api

import (
	"context"
	"fmt"
	"sync"
)

// DefaultQueue is the per-subscriber backlog of a Hub: enough for a burst of
// path failures on a large SAN, small enough to bound a stuck client's cost.
const DefaultQueue = 1024

// Hub fans events out to subscribers without ever blocking the publisher: a
// subscriber whose backlog is full loses events, and the next event it reads
// is an events_lost event saying how many. The zero value is not usable; use
// NewHub.
type Hub struct {
	queue int

	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	mu      sync.Mutex
	backlog []Event       // may end with one events_lost marker beyond the queue length
	wake    chan struct{} // capacity 1: "the backlog changed"
}

// NewHub returns a Hub that keeps up to queue events per subscriber
// (DefaultQueue when queue <= 0).
func NewHub(queue int) *Hub {
	if queue <= 0 {
		queue = DefaultQueue
	}
	return &Hub{queue: queue, subs: make(map[*subscriber]struct{})}
}

// Publish hands ev to every subscriber. It takes only short locks and never
// waits for a reader.
func (h *Hub) Publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.mu.Lock()
		switch n := len(s.backlog); {
		case n < h.queue:
			s.backlog = append(s.backlog, ev)
		case s.backlog[n-1].Type == EventEventsLost:
			s.backlog[n-1].Lost++
		default:
			// The marker keeps its place, so the reader sees the loss between
			// the last event it got and the next one.
			s.backlog = append(s.backlog, Event{Time: ev.Time, Type: EventEventsLost, Lost: 1})
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Subscribers reports how many subscriptions are open.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Subscribe implements Service.Subscribe. The channel is closed when ctx ends.
func (h *Hub) Subscribe(ctx context.Context) <-chan Event {
	s := &subscriber{wake: make(chan struct{}, 1)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	out := make(chan Event)
	go func() {
		defer close(out)
		defer func() {
			h.mu.Lock()
			delete(h.subs, s)
			h.mu.Unlock()
		}()
		for {
			ev, ok := s.next()
			if !ok {
				select {
				case <-s.wake:
					continue
				case <-ctx.Done():
					return
				}
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// next pops the oldest event.
func (s *subscriber) next() (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.backlog) == 0 {
		return Event{}, false
	}
	ev := s.backlog[0]
	s.backlog[0] = Event{}
	s.backlog = s.backlog[1:]
	if len(s.backlog) == 0 {
		s.backlog = nil // let the array go once drained
	}
	if ev.Type == EventEventsLost {
		ev.Reason = fmt.Sprintf("lost %d events: the reader was too slow", ev.Lost)
	}
	return ev, true
}
