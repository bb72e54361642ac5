package uevent

import (
	"context"
	"time"
)

// Batch is a group of events the consumer should handle together: all
// events that share WWID (one map reload), or a single event without one.
type Batch struct {
	WWID   string  // "" when the WWID function returned "" for the event
	Events []Event // arrival order
	// Overflow: events were lost; resynchronise everything. Events is empty.
	Overflow bool
}

// DefaultMaxPending bounds the events held in one window.
const DefaultMaxPending = 4096

// Coalescer turns a stream of events into batches. The first event of a
// window starts a timer of Window; when it fires (or MaxPending events are
// pending, or an overflow arrives) the window is flushed:
//
//   - a remove cancels the earlier add and change events of the same
//     device (DEVPATH) in the window; the remove itself is kept;
//   - the remaining events are grouped by WWID(e), batches in order of
//     their first event; events with an empty WWID form one batch each.
//
// WWID is called at flush time for surviving events only. For a remove the
// device is gone from sysfs, so the function must answer from the caller's
// own state (or from ID_SERIAL in udev events).
type Coalescer struct {
	Window     time.Duration
	MaxPending int                // 0 means DefaultMaxPending
	WWID       func(Event) string // nil: every event is its own batch
}

// Run reads in and sends batches to out until ctx is done (returning
// ctx.Err()) or in is closed (flushing what is pending, returning nil).
func (c *Coalescer) Run(ctx context.Context, in <-chan Event, out chan<- Batch) error {
	max := c.MaxPending
	if max <= 0 {
		max = DefaultMaxPending
	}
	var (
		pending []Event
		timer   *time.Timer
		fire    <-chan time.Time
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	flush := func() error {
		if timer != nil {
			timer.Stop()
			timer, fire = nil, nil
		}
		batches := c.coalesce(pending)
		pending = nil
		for _, b := range batches {
			select {
			case out <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-fire:
			fire = nil
			if err := flush(); err != nil {
				return err
			}
		case e, ok := <-in:
			if !ok {
				return flush()
			}
			if e.Overflow {
				if err := flush(); err != nil {
					return err
				}
				select {
				case out <- Batch{Overflow: true}:
				case <-ctx.Done():
					return ctx.Err()
				}
				continue
			}
			pending = append(pending, e)
			if len(pending) == 1 {
				timer = time.NewTimer(c.Window)
				fire = timer.C
			}
			if len(pending) >= max {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
}

// coalesce applies the cancel and grouping rules to one window.
func (c *Coalescer) coalesce(evs []Event) []Batch {
	if len(evs) == 0 {
		return nil
	}
	dead := make([]bool, len(evs))
	live := map[string][]int{} // DEVPATH -> pending add/change indices
	for i, e := range evs {
		switch e.Action {
		case Add, Change:
			live[e.DevPath] = append(live[e.DevPath], i)
		case Remove:
			for _, j := range live[e.DevPath] {
				dead[j] = true
			}
			delete(live, e.DevPath)
		}
	}
	var batches []Batch
	index := map[string]int{} // WWID -> batch index
	for i, e := range evs {
		if dead[i] {
			continue
		}
		w := ""
		if c.WWID != nil {
			w = c.WWID(e)
		}
		if w == "" {
			batches = append(batches, Batch{Events: []Event{e}})
			continue
		}
		if k, ok := index[w]; ok {
			batches[k].Events = append(batches[k].Events, e)
			continue
		}
		index[w] = len(batches)
		batches = append(batches, Batch{WWID: w, Events: []Event{e}})
	}
	return batches
}
