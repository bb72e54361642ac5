package uevent

import (
	"errors"
	"os"
	"testing"
	"testing/synctest"
)

func TestFake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := NewFake()
		got := make(chan Event)
		errc := make(chan error, 1)
		go func() {
			for {
				e, err := f.Receive()
				if err != nil {
					errc <- err
					return
				}
				got <- e
			}
		}()
		f.Send(ev(Add, "sda"), Event{Overflow: true})
		if e := <-got; e.DevName != "sda" {
			t.Errorf("first = %+v", e)
		}
		if e := <-got; !e.Overflow {
			t.Errorf("second = %+v", e)
		}
		synctest.Wait() // the reader is blocked on an empty queue
		f.Close()
		if err := <-errc; !errors.Is(err, os.ErrClosed) {
			t.Errorf("after Close: %v", err)
		}
	})
}
