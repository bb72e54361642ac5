package linux

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mpathd/mpathd/pkg/selector"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// writeStat writes a 17-field stat file with the given read I/Os (8 sectors and 1 ms each).
func writeStat(t testing.TB, root, dev string, reads uint64) {
	t.Helper()
	dir := filepath.Join(root, "sys", "block", dev)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("%8d 0 %8d %8d 0 0 0 0 1 %8d %8d 0 0 0 0 0 0\n", reads, reads*8, reads, reads, reads)
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStatReader(t *testing.T) {
	root := t.TempDir()
	r := &StatReader{FS: sysfs.New(root), Dev: "sdx"}
	var s selector.Sample
	if err := r.ReadSample(&s); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing device: err = %v", err)
	}
	writeStat(t, root, "sdx", 42)
	if err := r.ReadSample(&s); err != nil {
		t.Fatal(err)
	}
	if s.ReadIOs != 42 || s.ReadSectors != 336 || s.ReadTicks != 42 || s.InFlight != 1 || s.IOTicks != 42 {
		t.Errorf("sample = %+v", s)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// The polling core reaches the same estimates whichever counters it reads: one /proc/diskstats
// for every device, or, where that file is missing, each device's stat file.
func TestStatsSamples(t *testing.T) {
	for _, tc := range []struct {
		source string
		write  func(t testing.TB, root string, reads uint64)
	}{
		{"/sys/block/*/stat", func(t testing.TB, root string, reads uint64) { writeStat(t, root, "sdx", reads) }},
		{"/proc/diskstats", func(t testing.TB, root string, reads uint64) {
			writeDiskstats(t, root, []string{diskLine(0, "sdx", reads)})
		}},
	} {
		t.Run(tc.source, func(t *testing.T) {
			root := t.TempDir()
			tc.write(t, root, 0)
			synctest.Test(t, func(t *testing.T) {
				cfg := selector.DefaultConfig()
				cfg.StatsInterval, cfg.StatsHalfLife, cfg.Shards = time.Second, time.Second, 1
				s, err := NewStats(cfg, sysfs.New(root))
				if err != nil {
					t.Fatal(err)
				}
				if s.Source() != tc.source {
					t.Fatalf("source = %s, want %s", s.Source(), tc.source)
				}
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error)
				go func() { done <- s.Run(ctx) }()
				s.Add("sdx")
				// Write between samples, which fall on whole seconds.
				time.Sleep(time.Second / 2)
				for i := range 30 {
					time.Sleep(time.Second)
					tc.write(t, root, uint64(i+1)*500)
				}
				time.Sleep(time.Second)
				st, ok := s.Stats("sdx")
				if !ok || !st.Valid {
					t.Fatalf("sdx: %+v, %v", st, ok)
				}
				if st.ReadIOPS < 499 || st.ReadIOPS > 501 || st.ServiceTime != time.Millisecond || st.ReadErrors != 0 {
					t.Errorf("sdx estimates = %+v, want 500 IOPS at 1 ms", st)
				}
				s.Remove("sdx")
				time.Sleep(time.Second)
				if _, ok := s.Stats("sdx"); ok {
					t.Errorf("sdx still sampled after Remove")
				}
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v", err)
				}
			})
		})
	}
}
