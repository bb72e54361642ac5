package linux

import (
	"context"
	"fmt"

	"github.com/mpathd/mpathd/internal/daemon"
	"github.com/mpathd/mpathd/pkg/selector"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// Stats implements daemon.StatsSource with a selector.Poller over the kernel's I/O counters: one
// read of /proc/diskstats per interval for every device, or, where that file cannot be opened, each
// device's /sys/block/X/stat.
type Stats struct {
	p    *selector.Poller
	fs   sysfs.FS
	bulk *DiskstatsSource // nil: per-device stat files
}

var _ daemon.StatsSource = (*Stats)(nil)

// NewStats makes the polling core for cfg, reading the counters under fs.
func NewStats(cfg selector.Config, fs sysfs.FS) (*Stats, error) {
	p, err := selector.NewPoller(cfg)
	if err != nil {
		return nil, fmt.Errorf("polling core: %w", err)
	}
	s := &Stats{p: p, fs: fs}
	if bulk, err := NewDiskstatsSource(fs, cfg.StatsInterval/2); err == nil {
		s.bulk = bulk
	}
	return s, nil
}

// Source says where the counters come from, for the log.
func (s *Stats) Source() string {
	if s.bulk != nil {
		return "/proc/diskstats"
	}
	return "/sys/block/*/stat"
}

// Run samples until ctx ends.
func (s *Stats) Run(ctx context.Context) error {
	if s.bulk != nil {
		defer s.bulk.Close()
	}
	return s.p.Run(ctx)
}

// Add implements daemon.StatsSource. Files are opened by the poller's goroutine at the first
// sample, so a daemon shard never waits for sysfs.
func (s *Stats) Add(dev string) {
	if s.bulk != nil {
		s.p.Add(dev, s.bulk.Reader(dev))
		return
	}
	s.p.Add(dev, &StatReader{FS: s.fs, Dev: dev})
}

// Remove implements daemon.StatsSource.
func (s *Stats) Remove(dev string) { s.p.Remove(dev) }

// Stats implements daemon.StatsSource.
func (s *Stats) Stats(dev string) (selector.Stats, bool) { return s.p.Stats(dev) }

// StatReader is a selector.Reader over one device's stat file: kept open,
// re-read with pread, parsed without allocating.
type StatReader struct {
	FS  sysfs.FS
	Dev string // "sdc", "dm-3"

	f  *sysfs.StatFile
	st sysfs.Stat
}

// ReadSample implements selector.Reader. A file that cannot be opened (the
// device is going away) is tried again at the next sample.
func (r *StatReader) ReadSample(s *selector.Sample) error {
	if r.f == nil {
		f, err := r.FS.OpenStat(r.Dev)
		if err != nil {
			return err
		}
		r.f = f
	}
	if err := r.f.Read(&r.st); err != nil {
		return err // names the device and the operation
	}
	fillSample(s, &r.st)
	return nil
}

// Close implements io.Closer; the poller calls it once the device is removed.
func (r *StatReader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
