package uevent

import (
	"fmt"
	"os"
	"sync"
)

// Receiver is what a consumer needs from a listener; *Conn and *Fake
// implement it.
type Receiver interface {
	Receive() (Event, error)
	Close() error
}

// Fake is a Receiver fed by the test: Send queues events (including
// Overflow ones) and Receive returns them in order; Close unblocks Receive
// with an error wrapping os.ErrClosed, as on a Conn.
type Fake struct {
	mu     sync.Mutex
	queue  []Event
	wake   chan struct{}
	closed bool
}

// NewFake returns an empty Fake.
func NewFake() *Fake { return &Fake{wake: make(chan struct{})} }

// Send queues events for Receive.
func (f *Fake) Send(evs ...Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, evs...)
	close(f.wake)
	f.wake = make(chan struct{})
}

// Receive returns the next queued event, blocking until one is sent or the
// Fake is closed.
func (f *Fake) Receive() (Event, error) {
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return Event{}, fmt.Errorf("uevent: fake: %w", os.ErrClosed)
		}
		if len(f.queue) > 0 {
			e := f.queue[0]
			f.queue = f.queue[1:]
			f.mu.Unlock()
			return e, nil
		}
		wake := f.wake
		f.mu.Unlock()
		<-wake
	}
}

// Close makes pending and future Receive calls fail.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.wake)
	}
	return nil
}

var (
	_ Receiver = (*Conn)(nil)
	_ Receiver = (*Fake)(nil)
)
