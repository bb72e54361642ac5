package selector

import (
	"fmt"
	"time"
)

// Sample is one reading of a block device's I/O counters, field for field as
// in /sys/block/X/stat (KI §4.6), plus the monotonic time of the reading.
// It is a plain value so that any stat reader can fill it without allocating.
type Sample struct {
	ReadIOs, ReadMerges, ReadSectors, ReadTicks             uint64
	WriteIOs, WriteMerges, WriteSectors, WriteTicks         uint64
	InFlight, IOTicks, TimeInQueue                          uint64
	DiscardIOs, DiscardMerges, DiscardSectors, DiscardTicks uint64
	FlushIOs, FlushTicks                                    uint64

	// At is a monotonic timestamp (any fixed origin). Only differences
	// between samples of the same device are used.
	At time.Duration
}

// SetFields fills the counters from the stat fields in file order. Kernels
// print 11 (before 4.18), 15 (4.18–5.4) or 17 fields; missing trailing
// fields are set to zero and extra ones are ignored. At is left unchanged.
func (s *Sample) SetFields(f []uint64) error {
	if len(f) < 11 {
		return fmt.Errorf("selector: stat sample has %d fields, want at least 11", len(f))
	}
	var all [17]uint64
	copy(all[:], f)
	s.ReadIOs, s.ReadMerges, s.ReadSectors, s.ReadTicks = all[0], all[1], all[2], all[3]
	s.WriteIOs, s.WriteMerges, s.WriteSectors, s.WriteTicks = all[4], all[5], all[6], all[7]
	s.InFlight, s.IOTicks, s.TimeInQueue = all[8], all[9], all[10]
	s.DiscardIOs, s.DiscardMerges, s.DiscardSectors, s.DiscardTicks = all[11], all[12], all[13], all[14]
	s.FlushIOs, s.FlushTicks = all[15], all[16]
	return nil
}
