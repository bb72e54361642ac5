package sdnotify

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// Liveness tracks whether the daemon's loops make progress. Each loop calls
// Beat on every iteration (cheap: one atomic add), and the loops must iterate
// at least once per watchdog half-interval even when idle (a periodic tick).
// Check, used as the Watchdog's alive callback, fails when a loop has not
// beaten since the previous Check.
type Liveness struct {
	names []string
	beats []atomic.Uint64

	mu   sync.Mutex
	seen []uint64
}

// NewLiveness tracks the named loops; Beat takes their index in this list.
func NewLiveness(loops ...string) *Liveness {
	return &Liveness{names: loops, beats: make([]atomic.Uint64, len(loops)), seen: make([]uint64, len(loops))}
}

// Beat records progress of loop i.
func (l *Liveness) Beat(i int) { l.beats[i].Add(1) }

// Check reports the loops that have not beaten since the last Check.
func (l *Liveness) Check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var stuck []string
	for i := range l.beats {
		n := l.beats[i].Load()
		if n == l.seen[i] {
			stuck = append(stuck, l.names[i])
		}
		l.seen[i] = n
	}
	if len(stuck) > 0 {
		return fmt.Errorf("no progress in %s", strings.Join(stuck, ", "))
	}
	return nil
}
