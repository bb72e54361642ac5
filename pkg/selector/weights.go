package selector

import (
	"math"
	"slices"
	"time"
)

// QueueLength is the queue-length selector's load metric: requests in
// flight on the device (smoothed).
func QueueLength(s Stats) float64 { return s.InFlight }

// ServiceTimeLoad is the request-based dm paper's load metric: the time the
// device needs to finish the work in flight, estimated as in-flight bytes
// (in-flight requests × mean request size) over recent throughput. It is
// zero when the device has no recent throughput.
func ServiceTimeLoad(s Stats) time.Duration {
	bps := s.BytesPerSec()
	if bps <= 0 {
		return 0
	}
	return time.Duration(s.InFlight * s.AvgRequestBytes / bps * float64(time.Second))
}

// Capacity estimates the bytes per second a path delivers for each request
// kept in flight on it, for requests of requestBytes: requestBytes over the
// path's mean service time. By Little's law that is the throughput the path
// would sustain per unit of concurrency. It does not grow just because more
// I/O was sent to the path, and it falls when the path's latency rises
// under the same load (a congested link, a busy port). Zero means unknown
// (no completions yet).
//
// Pass the same requestBytes for every path of a group (ProposeWeights uses
// the group's mean): the kernel's service-time selector sends small requests
// to weak paths, and a path's own mean size would then shrink its capacity
// further at every update, driving its weight to the floor.
//
// Used as service-time's relative_throughput, it makes the kernel's
// estimate (in-flight bytes + incoming) / rt proportional to the number of
// requests in flight plus one, times the path's mean latency: the
// historical-service-time model, with the latency measured here.
func Capacity(s Stats, requestBytes float64) float64 {
	if !s.Valid || s.ServiceTime <= 0 || !(requestBytes > 0) {
		return 0
	}
	return requestBytes / s.ServiceTime.Seconds()
}

// MaxRelativeThroughput is the largest relative_throughput the kernel's
// service-time selector accepts.
const MaxRelativeThroughput = 100

// RelativeThroughput scales the capacities of one path group's paths into
// service-time relative_throughput values, 1 to 100, the largest capacity
// getting 100. Unknown capacities (zero, negative, NaN) get the median of
// the known ones; if none is known every path gets 1, the kernel default.
// The result never contains 0, which would make the kernel use a path only
// when every path has 0. It appends to dst[:0] and returns the result.
func RelativeThroughput(dst []uint8, capacity []float64) []uint8 {
	dst = dst[:0]
	known := make([]float64, 0, len(capacity))
	for _, c := range capacity {
		if c > 0 && !math.IsInf(c, 0) {
			known = append(known, c)
		}
	}
	if len(known) == 0 {
		for range capacity {
			dst = append(dst, 1)
		}
		return dst
	}
	slices.Sort(known)
	top := known[len(known)-1]
	med := known[len(known)/2]
	if len(known)%2 == 0 {
		med = (med + known[len(known)/2-1]) / 2
	}
	for _, c := range capacity {
		if !(c > 0) || math.IsInf(c, 0) {
			c = med
		}
		w := math.Round(MaxRelativeThroughput * c / top)
		dst = append(dst, uint8(min(max(w, 1), MaxRelativeThroughput)))
	}
	return dst
}

// PathStats is one path of a map: its path group (index in the table) and
// its estimates.
type PathStats struct {
	Path  string
	Group int
	Stats Stats
}

// ProposeWeights computes the relative_throughput of every path from its
// [Capacity] at the mean request size of its group, scaled within the group
// by [RelativeThroughput]. The result is in the order of paths, ready for
// [Planner.Plan].
func ProposeWeights(paths []PathStats) []PathWeight {
	out := make([]PathWeight, len(paths))
	var idx []int
	var caps []float64
	var w []uint8
	done := map[int]bool{}
	for _, p := range paths {
		if done[p.Group] {
			continue
		}
		done[p.Group] = true
		idx = idx[:0]
		var bps, iops float64
		for i, q := range paths {
			if q.Group == p.Group {
				idx = append(idx, i)
				bps += q.Stats.BytesPerSec()
				iops += q.Stats.IOPS()
			}
		}
		caps = caps[:0]
		for _, i := range idx {
			// iops 0 gives NaN, which Capacity reports as unknown.
			caps = append(caps, Capacity(paths[i].Stats, bps/iops))
		}
		w = RelativeThroughput(w, caps)
		for k, i := range idx {
			out[i] = PathWeight{Path: paths[i].Path, Group: p.Group, Weight: w[k]}
		}
	}
	return out
}
