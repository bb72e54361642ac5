package selector

import (
	"math"
	"time"
)

// Stats are the smoothed estimates for one device (a path or a map).
// Rates are per second. A zero Stats (Valid false) means no interval has
// been measured yet.
type Stats struct {
	// Valid is set once at least one interval between two samples has been
	// measured.
	Valid bool

	ReadIOPS, WriteIOPS               float64
	ReadBytesPerSec, WriteBytesPerSec float64
	// AvgRequestBytes is the mean size of completed reads and writes.
	AvgRequestBytes float64
	// InFlight is the smoothed number of requests issued to the device and
	// not yet completed; InFlightNow is the last sampled value.
	InFlight    float64
	InFlightNow uint64
	// ServiceTime is the mean time from issue to completion of a read or
	// write (Δ ticks / Δ completed I/Os, both smoothed).
	ServiceTime time.Duration
	// Utilization is the fraction of time the device had I/O in flight
	// (Δ io_ticks / Δt), in [0, 1].
	Utilization float64

	// Samples counts accepted samples; Resets counts samples at which a
	// counter went backwards and the baseline was taken again.
	Samples, Resets uint64
	// ReadErrors counts failed reads of the device's counters (filled by
	// the [Poller]).
	ReadErrors uint64
	// At is the timestamp of the last accepted sample.
	At time.Duration
}

// IOPS returns the combined read and write rate.
func (s Stats) IOPS() float64 { return s.ReadIOPS + s.WriteIOPS }

// BytesPerSec returns the combined read and write throughput.
func (s Stats) BytesPerSec() float64 { return s.ReadBytesPerSec + s.WriteBytesPerSec }

// Outcome says what [Estimator.Update] did with a sample.
type Outcome uint8

const (
	// Baseline: the sample became the reference for the next one (first
	// sample, or time did not advance).
	Baseline Outcome = iota
	// Updated: the interval since the previous sample entered the averages.
	Updated
	// Reset: a counter went backwards beyond what a 32-bit wrap explains
	// (device replaced, counters cleared); the sample became the new
	// baseline and the averages were left untouched.
	Reset
)

func (o Outcome) String() string {
	switch o {
	case Baseline:
		return "baseline"
	case Updated:
		return "updated"
	case Reset:
		return "reset"
	}
	return "unknown"
}

const sectorBytes = 512

// Estimator turns successive [Sample]s of one device into [Stats]. It keeps
// exponentially weighted moving averages whose weight decays with elapsed
// time (half-life), so irregular sample intervals are weighted correctly:
// an interval of length dt moves each average by 1-2^(-dt/halfLife) towards
// the rate measured over that interval.
//
// Ratios (service time, request size) are ratios of the smoothed rates
// rather than smoothed ratios, so intervals with few completions carry
// little weight and an idle device keeps its last service time.
//
// The zero value is not usable; use [NewEstimator]. An Estimator is not safe
// for concurrent use; Update does not allocate.
type Estimator struct {
	tau  float64 // seconds; halfLife / ln 2
	prev Sample
	have bool // prev holds a baseline
	warm bool // the averages hold a value

	readIOPS, writeIOPS float64
	readBps, writeBps   float64
	ticksPerSec         float64 // ms of read+write service time completed per second
	util                float64
	inFlight            float64

	samples, resets uint64
}

// NewEstimator returns an Estimator with the given half-life (non-positive
// values mean the default of [DefaultConfig]).
func NewEstimator(halfLife time.Duration) *Estimator {
	e := &Estimator{}
	e.init(halfLife)
	return e
}

func (e *Estimator) init(halfLife time.Duration) {
	if halfLife <= 0 {
		halfLife = DefaultConfig().StatsHalfLife
	}
	*e = Estimator{tau: halfLife.Seconds() / math.Ln2}
}

// Plausible counter growth per second, used only to decide whether a
// counter that went backwards wrapped at 32 bits (the kernel prints the
// tick fields as unsigned int, and on 32-bit kernels every field is an
// unsigned long) or was reset. Generous by orders of magnitude.
const (
	maxIOsPerSec     = 1e8 // completed requests
	maxSectorsPerSec = 1e9 // 512 GB/s
	maxTicksPerSec   = 1e8 // ms of summed latency: 100,000 requests always in flight
	maxBusyPerSec    = 2e3 // io_ticks ms per second, with jiffy slack
	wrapSlack        = 100
)

// delta returns cur-prev for a cumulative counter, allowing one 32-bit wrap
// when the implied growth is plausible for the elapsed time.
func delta(prev, cur uint64, maxPerSec, dt float64) (uint64, bool) {
	if cur >= prev {
		return cur - prev, true
	}
	if prev > math.MaxUint32 {
		return 0, false
	}
	d := cur + (1 << 32) - prev // cur < prev ≤ 2^32-1, no overflow
	if float64(d) > maxPerSec*dt+wrapSlack {
		return 0, false
	}
	return d, true
}

// Update feeds the next sample of the device. Samples must come from the
// same device in time order; a sample whose At does not advance is taken as
// a new baseline.
func (e *Estimator) Update(s *Sample) Outcome {
	if !e.have || s.At <= e.prev.At {
		e.prev, e.have = *s, true
		return Baseline
	}
	dt := (s.At - e.prev.At).Seconds()
	p := &e.prev
	ok := true
	d := func(prev, cur uint64, maxPerSec float64) uint64 {
		v, good := delta(prev, cur, maxPerSec, dt)
		ok = ok && good
		return v
	}
	rIOs := d(p.ReadIOs, s.ReadIOs, maxIOsPerSec)
	wIOs := d(p.WriteIOs, s.WriteIOs, maxIOsPerSec)
	rSec := d(p.ReadSectors, s.ReadSectors, maxSectorsPerSec)
	wSec := d(p.WriteSectors, s.WriteSectors, maxSectorsPerSec)
	rTicks := d(p.ReadTicks, s.ReadTicks, maxTicksPerSec)
	wTicks := d(p.WriteTicks, s.WriteTicks, maxTicksPerSec)
	busy := d(p.IOTicks, s.IOTicks, maxBusyPerSec)
	e.prev = *s
	if !ok {
		e.resets++
		return Reset
	}

	ms := dt * 1000
	util := float64(busy) / ms
	if util > 1 { // io_ticks advances in jiffies
		util = 1
	}
	x := [...]float64{
		float64(rIOs) / dt, float64(wIOs) / dt,
		float64(rSec) * sectorBytes / dt, float64(wSec) * sectorBytes / dt,
		float64(rTicks+wTicks) / dt, util, float64(s.InFlight),
	}
	avg := [...]*float64{
		&e.readIOPS, &e.writeIOPS, &e.readBps, &e.writeBps,
		&e.ticksPerSec, &e.util, &e.inFlight,
	}
	alpha := 1.0
	if e.warm {
		alpha = -math.Expm1(-dt / e.tau)
	}
	for i, a := range avg {
		*a += alpha * (x[i] - *a)
	}
	e.warm = true
	e.samples++
	return Updated
}

// Stats returns the current estimates.
func (e *Estimator) Stats() Stats {
	st := Stats{
		Valid:            e.warm,
		ReadIOPS:         e.readIOPS,
		WriteIOPS:        e.writeIOPS,
		ReadBytesPerSec:  e.readBps,
		WriteBytesPerSec: e.writeBps,
		InFlight:         e.inFlight,
		InFlightNow:      e.prev.InFlight,
		Utilization:      e.util,
		Samples:          e.samples,
		Resets:           e.resets,
		At:               e.prev.At,
	}
	// Below this rate the averages are dominated by decay of old
	// intervals; ratios would still be meaningful, but only just.
	const eps = 1e-9
	if iops := e.readIOPS + e.writeIOPS; iops > eps {
		st.AvgRequestBytes = (e.readBps + e.writeBps) / iops
		st.ServiceTime = time.Duration(e.ticksPerSec / iops * float64(time.Millisecond))
	}
	return st
}
