package daemon

import (
	"context"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
)

// Scenario 17: show status is served (control socket, D-Bus) while Run is still starting; reading
// the start time must not race with Run setting it up.
func TestStatusWhileStarting(t *testing.T) {
	d := New(Options{Config: config.Builtin(), Topology: san(2, 1), DM: dm.NewFake(),
		Monitor: &fakeMonitor{watched: map[string]CheckSpec{}}, Log: zerolog.New(zerolog.NewTestWriter(t))})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.Run(ctx, nil); err != nil {
			t.Error(err)
		}
	}()
	for range 100 {
		if st := d.Status(); st.Started.IsZero() {
			t.Fatalf("status reports no start time: %+v", st)
		}
	}
	cancel()
	wg.Wait()
}
