package dm

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// pollSource.wait with a pipe standing in for the control fd: the real
// poll(2) and eventfd wake-up run on the host.
func newPipePollSource(t *testing.T) (*pollSource, int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]); unix.Close(wake) })
	return &pollSource{fd: p[0], wake: wake}, p[1]
}

func TestPollSourceWakesOnCancel(t *testing.T) {
	src, _ := newPipePollSource(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- src.wait(ctx) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("wait = %v, want Canceled", err)
	}
	// A stale wake-up from the cancelled context does not end the next
	// wait; readiness of the control fd does.
	src2, w := newPipePollSource(t)
	unix.Write(src2.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	unix.Write(w, []byte{1})
	if err := src2.wait(t.Context()); err != nil {
		t.Errorf("wait with stale wake and ready fd = %v", err)
	}
}

func TestPollSourceReady(t *testing.T) {
	src, w := newPipePollSource(t)
	unix.Write(w, []byte{1})
	if err := src.wait(t.Context()); err != nil {
		t.Errorf("wait = %v", err)
	}
}

func TestPollSourceCancelledBeforeWait(t *testing.T) {
	src, _ := newPipePollSource(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := src.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("wait = %v", err)
	}
}
