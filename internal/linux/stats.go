package linux

import (
	"context"
	"fmt"

	"github.com/mpathd/mpathd/internal/daemon"
	"github.com/mpathd/mpathd/pkg/selector"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// Stats implements daemon.StatsSource with a selector.Poller over the kernel's
// /sys/block/X/stat files.
type Stats struct {
	p  *selector.Poller
	fs sysfs.FS
}

var _ daemon.StatsSource = (*Stats)(nil)

// NewStats makes the polling core for cfg, reading stat files under fs.
func NewStats(cfg selector.Config, fs sysfs.FS) (*Stats, error) {
	p, err := selector.NewPoller(cfg)
	if err != nil {
		return nil, fmt.Errorf("polling core: %w", err)
	}
	return &Stats{p: p, fs: fs}, nil
}

// Run samples until ctx ends.
func (s *Stats) Run(ctx context.Context) error { return s.p.Run(ctx) }

// Add implements daemon.StatsSource. The stat file is opened by the poller's
// goroutine at the first sample, so a daemon shard never waits for sysfs.
func (s *Stats) Add(dev string) { s.p.Add(dev, &StatReader{FS: s.fs, Dev: dev}) }

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
	st := &r.st
	*s = selector.Sample{
		ReadIOs: st.ReadIOs, ReadMerges: st.ReadMerges, ReadSectors: st.ReadSectors, ReadTicks: st.ReadTicks,
		WriteIOs: st.WriteIOs, WriteMerges: st.WriteMerges, WriteSectors: st.WriteSectors, WriteTicks: st.WriteTicks,
		InFlight: st.InFlight, IOTicks: st.IOTicks, TimeInQueue: st.TimeInQueue,
		DiscardIOs: st.DiscardIOs, DiscardMerges: st.DiscardMerges, DiscardSectors: st.DiscardSectors,
		DiscardTicks: st.DiscardTicks, FlushIOs: st.FlushIOs, FlushTicks: st.FlushTicks,
	}
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
