package sim

// The three request-based path selectors of dm-multipath, modelled on
// drivers/md/dm-{round-robin,queue-length,service-time}.c as summarised in
// KI §2.11: the valid paths form a list, the chosen path moves to the tail.

// pathSelector picks a path for a request of size bytes and is told when the
// request starts and ends on that path.
type pathSelector interface {
	pick(size int64) int
	start(path int, size int64)
	end(path int, size int64)
}

// moveToTail moves list[i] to the end of list.
func moveToTail(list []int, i int) {
	p := list[i]
	copy(list[i:], list[i+1:])
	list[len(list)-1] = p
}

func initialList(n int) []int {
	l := make([]int, n)
	for i := range l {
		l[i] = i
	}
	return l
}

// roundRobin takes the head of the list and moves it to the tail.
type roundRobin struct{ list []int }

func (s *roundRobin) pick(int64) int {
	p := s.list[0]
	moveToTail(s.list, 0)
	return p
}
func (s *roundRobin) start(int, int64) {}
func (s *roundRobin) end(int, int64)   {}

// queueLength picks the path with the fewest requests in flight; the scan
// stops at the first idle path.
type queueLength struct {
	list []int
	qlen []int64
}

func (s *queueLength) pick(int64) int {
	best := -1
	for i, p := range s.list {
		if best < 0 || s.qlen[p] < s.qlen[s.list[best]] {
			best = i
		}
		if s.qlen[s.list[best]] == 0 {
			break
		}
	}
	p := s.list[best]
	moveToTail(s.list, best)
	return p
}
func (s *queueLength) start(p int, _ int64) { s.qlen[p]++ }
func (s *queueLength) end(p int, _ int64)   { s.qlen[p]-- }

// serviceTime picks the path with the smallest estimated service time
// (in-flight bytes + incoming) / relative_throughput.
type serviceTime struct {
	list     []int
	inFlight []uint64 // bytes
	rt       []uint64 // relative_throughput, 0..100
}

// The kernel shifts both sizes right by 7 (rt < 128) when either is large
// enough for the multiplication to overflow.
const (
	stMaxRTShift     = 7
	stMaxInflightSum = ^uint64(0) >> stMaxRTShift
)

// compare returns <0 when path a is the better choice than path b for a
// request of incoming bytes, following st_compare_load.
func (s *serviceTime) compare(a, b int, incoming uint64) int {
	sz1, sz2 := s.inFlight[a], s.inFlight[b]
	rt1, rt2 := s.rt[a], s.rt[b]
	cmp := func(x, y uint64) int {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	// 1: same throughput, the less loaded path.
	if rt1 == rt2 {
		return cmp(sz1, sz2)
	}
	// 2: same load, or a path without throughput: the higher throughput.
	if sz1 == sz2 || rt1 == 0 || rt2 == 0 {
		return cmp(rt2, rt1)
	}
	// 3: compare service times without dividing.
	sz1 += incoming
	sz2 += incoming
	if sz1 >= stMaxInflightSum || sz2 >= stMaxInflightSum {
		sz1 >>= stMaxRTShift
		sz2 >>= stMaxRTShift
	}
	if c := cmp(sz1*rt2, sz2*rt1); c != 0 {
		return c
	}
	// 4: equal service time, the higher throughput.
	return cmp(rt2, rt1)
}

func (s *serviceTime) pick(size int64) int {
	best := -1
	for i, p := range s.list {
		if best < 0 || s.compare(p, s.list[best], uint64(size)) < 0 {
			best = i
		}
	}
	p := s.list[best]
	moveToTail(s.list, best)
	return p
}
func (s *serviceTime) start(p int, size int64) { s.inFlight[p] += uint64(size) }
func (s *serviceTime) end(p int, size int64)   { s.inFlight[p] -= uint64(size) }
