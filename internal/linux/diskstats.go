package linux

import (
	"fmt"
	"sync"
	"time"

	"github.com/mpathd/mpathd/pkg/selector"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// DiskstatsSource serves the samples of many devices from one read of /proc/diskstats: one open
// file and one system call per poll interval for all of them, where per-device stat files cost a
// file descriptor and a system call each (about 2 µs of kernel time per device on this class of
// machine, and more descriptors than RLIMIT_NOFILE allows at tens of thousands of paths).
type DiskstatsSource struct {
	ds     *sysfs.Diskstats
	maxAge time.Duration
	epoch  time.Time

	mu     sync.RWMutex
	gen    uint64 // refresh count; an entry seen in the latest refresh carries it
	readAt time.Time
	err    error
	byName map[string]*diskEntry
}

type diskEntry struct {
	st   sysfs.Stat
	gen  uint64
	refs int
}

// NewDiskstatsSource reads fs's /proc/diskstats. Counters are re-read when a device asks for them
// and they are older than maxAge (half the poll interval suits: every device of one poll then
// shares one read).
func NewDiskstatsSource(fs sysfs.FS, maxAge time.Duration) (*DiskstatsSource, error) {
	ds, err := fs.OpenDiskstats()
	if err != nil {
		return nil, err
	}
	return &DiskstatsSource{ds: ds, maxAge: maxAge, epoch: time.Now(), byName: map[string]*diskEntry{}}, nil
}

// Close closes /proc/diskstats.
func (s *DiskstatsSource) Close() error { return s.ds.Close() }

// Reader returns the selector.Reader of one device ("sdb", "dm-3").
func (s *DiskstatsSource) Reader(dev string) selector.Reader {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byName[dev]
	if e == nil {
		e = &diskEntry{}
		s.byName[dev] = e
	}
	e.refs++
	return &diskReader{s: s, dev: dev, e: e}
}

// refresh re-reads the file when the cached counters are older than maxAge.
func (s *DiskstatsSource) refresh() error {
	s.mu.RLock()
	fresh, err := time.Since(s.readAt) < s.maxAge, s.err
	s.mu.RUnlock()
	if fresh {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.readAt) < s.maxAge { // another poller shard got here first
		return s.err
	}
	s.gen++
	s.err = s.ds.Read(func(de sysfs.DiskstatsEntry) {
		if e, ok := s.byName[string(de.Name)]; ok { // no allocation: the conversion is only a lookup key
			e.st, e.gen = de.Stat, s.gen
		}
	})
	s.readAt = time.Now()
	return s.err
}

type diskReader struct {
	s   *DiskstatsSource
	dev string
	e   *diskEntry
}

// ReadSample implements selector.Reader.
func (r *diskReader) ReadSample(out *selector.Sample) error {
	if err := r.s.refresh(); err != nil {
		return fmt.Errorf("diskstats: %s: %w", r.dev, err)
	}
	r.s.mu.RLock()
	st, seen, at := r.e.st, r.e.gen == r.s.gen, r.s.readAt
	r.s.mu.RUnlock()
	if !seen {
		return fmt.Errorf("diskstats: %s: not listed in /proc/diskstats", r.dev)
	}
	fillSample(out, &st)
	out.At = max(at.Sub(r.s.epoch), 1) // when the counters were read, not when they were asked for
	return nil
}

// Close implements io.Closer: the poller calls it when the device is removed.
func (r *diskReader) Close() error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.e.refs--; r.e.refs == 0 && r.s.byName[r.dev] == r.e {
		delete(r.s.byName, r.dev)
	}
	return nil
}

func fillSample(s *selector.Sample, st *sysfs.Stat) {
	*s = selector.Sample{
		ReadIOs: st.ReadIOs, ReadMerges: st.ReadMerges, ReadSectors: st.ReadSectors, ReadTicks: st.ReadTicks,
		WriteIOs: st.WriteIOs, WriteMerges: st.WriteMerges, WriteSectors: st.WriteSectors, WriteTicks: st.WriteTicks,
		InFlight: st.InFlight, IOTicks: st.IOTicks, TimeInQueue: st.TimeInQueue,
		DiscardIOs: st.DiscardIOs, DiscardMerges: st.DiscardMerges, DiscardSectors: st.DiscardSectors,
		DiscardTicks: st.DiscardTicks, FlushIOs: st.FlushIOs, FlushTicks: st.FlushTicks,
	}
}
