// Package sim is a deterministic discrete-event model of a dm-multipath map
// whose paths run over links of different bandwidth and latency, some of
// them shared with other workloads. It compares the kernel's path
// selectors, including service-time with relative_throughput weights
// measured by package selector's estimators, under a closed-loop workload.
//
// Time is simulated (nanoseconds from zero) and randomness comes from a
// seeded generator, so a scenario always gives the same numbers.
package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/mpathd/mpathd/pkg/selector"
)

// Link is a shared transfer resource (a cable, a port): requests cross it
// one at a time in arrival order.
type Link struct {
	Name      string
	Bandwidth float64 // bytes per second
}

// Path is one path of the map: a target latency, then the data transfer
// over its link.
type Path struct {
	Name    string
	Link    int
	Latency time.Duration // mean target service time before the transfer
}

// Background is another closed-loop workload crossing a link, either on a
// device of its own (another LUN behind the same cable) or directly on one
// of the map's path devices (OnPath ≥ 0), where it shows in that path's
// counters but not in the selector's view of the map.
type Background struct {
	Link    int
	OnPath  int // index into Scenario.Paths, or -1
	Depth   int
	Size    int64
	Latency time.Duration
}

// Scenario describes the map, its environment and the workload.
type Scenario struct {
	Name       string
	Links      []Link
	Paths      []Path
	Background []Background
	// Depth requests of the map are always outstanding; Sizes are drawn
	// uniformly for each request.
	Depth int
	Sizes []int64
	// Warmup runs before Measure; the weighted policy measures its
	// weights during Warmup (service-time with weights 1, sampling every
	// SampleInterval into estimators of half-life HalfLife).
	Warmup, Measure          time.Duration
	SampleInterval, HalfLife time.Duration
	// Planner configures the adaptive policy's weight_min_interval and
	// weight_hysteresis.
	Planner selector.Config
	Seed    uint64
}

// Policy is a path selector configuration.
type Policy int

const (
	RoundRobin Policy = iota
	QueueLength
	ServiceTime         // relative_throughput 1 on every path
	ServiceTimeWeighted // relative_throughput measured during warm-up
	// ServiceTimeAdaptive measures all the time and reloads weights when
	// a selector.Planner allows it, as the daemon does.
	ServiceTimeAdaptive
)

// Policies lists every Policy in report order.
var Policies = []Policy{RoundRobin, QueueLength, ServiceTime, ServiceTimeWeighted, ServiceTimeAdaptive}

func (p Policy) String() string {
	switch p {
	case RoundRobin:
		return "round-robin"
	case QueueLength:
		return "queue-length"
	case ServiceTime:
		return "service-time rt=1"
	case ServiceTimeWeighted:
		return "service-time measured"
	case ServiceTimeAdaptive:
		return "service-time planner"
	}
	return fmt.Sprintf("policy(%d)", int(p))
}

// Result is what one policy achieved in the measured phase.
type Result struct {
	Policy      Policy
	Throughput  float64 // map bytes per second
	IOPS        float64
	MeanLatency time.Duration
	P99Latency  time.Duration
	// OtherThroughput is the background workloads' bytes per second.
	OtherThroughput float64
	// Share is the fraction of the map's requests each path carried.
	Share []float64
	// Weights are the relative_throughput values used at the end (nil
	// for round-robin and queue-length).
	Weights []uint8
	// Reloads counts the weight changes the planner allowed (adaptive
	// policy only).
	Reloads int
}

type evKind uint8

const (
	evTargetDone evKind = iota // target latency over, request joins its link's queue
	evComplete                 // transfer over
	evSample                   // take a stat sample of every path device
)

type request struct {
	size    int64
	issued  int64
	path    int // map path, or -1
	dev     int // index into sim.devs
	link    int
	bg      int // background index, or -1 for the map
	counted bool
}

type event struct {
	at   int64
	seq  uint64 // ties resolve in scheduling order
	kind evKind
	req  *request
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// device keeps /sys/block/X/stat-style counters for one block device.
type device struct {
	ios, sectors uint64
	latencyNs    int64 // summed; ticks are its whole milliseconds
	inFlight     uint64
	busyNs       int64
	busySince    int64
}

func (d *device) issue(now int64) {
	if d.inFlight == 0 {
		d.busySince = now
	}
	d.inFlight++
}

func (d *device) complete(now int64, r *request) {
	d.inFlight--
	if d.inFlight == 0 {
		d.busyNs += now - d.busySince
	}
	d.ios++
	d.sectors += uint64(r.size / 512)
	d.latencyNs += now - r.issued
}

func (d *device) sample(now int64) selector.Sample {
	busy := d.busyNs
	if d.inFlight > 0 {
		busy += now - d.busySince
	}
	return selector.Sample{
		ReadIOs:     d.ios,
		ReadSectors: d.sectors,
		ReadTicks:   uint64(d.latencyNs / 1e6),
		InFlight:    d.inFlight,
		IOTicks:     uint64(busy / 1e6),
		At:          time.Duration(now),
	}
}

type sim struct {
	sc        Scenario
	rng       *rand.Rand
	now       int64
	seq       uint64
	q         eventQueue
	linkFree  []int64 // when each link finishes its queued transfers
	devs      []device
	sel       pathSelector
	estimate  []*selector.Estimator // per map path, while measuring weights
	planner   *selector.Planner     // adaptive policy only
	reloads   int
	measuring bool // in the measured phase
	lat       []int64
	bytes     int64
	bgBytes   int64
	perPath   []int
}

func (s *sim) schedule(at int64, k evKind, r *request) {
	s.seq++
	heap.Push(&s.q, event{at: at, seq: s.seq, kind: k, req: r})
}

// jitter draws a target latency within ±25% of the mean.
func (s *sim) jitter(mean time.Duration) int64 {
	return int64(float64(mean) * (0.75 + 0.5*s.rng.Float64()))
}

func (s *sim) issueMap() {
	size := s.sc.Sizes[s.rng.IntN(len(s.sc.Sizes))]
	p := s.sel.pick(size)
	s.sel.start(p, size)
	r := &request{size: size, issued: s.now, path: p, dev: p, link: s.sc.Paths[p].Link, bg: -1, counted: s.measuring}
	s.devs[p].issue(s.now)
	s.schedule(s.now+s.jitter(s.sc.Paths[p].Latency), evTargetDone, r)
}

func (s *sim) issueBackground(i int) {
	b := s.sc.Background[i]
	dev := len(s.sc.Paths) + i
	if b.OnPath >= 0 {
		dev = b.OnPath
	}
	r := &request{size: b.Size, issued: s.now, path: -1, dev: dev, link: b.Link, bg: i}
	s.devs[dev].issue(s.now)
	s.schedule(s.now+s.jitter(b.Latency), evTargetDone, r)
}

func (s *sim) handle(e event) {
	s.now = e.at
	r := e.req
	switch e.kind {
	case evTargetDone:
		start := max(s.now, s.linkFree[r.link])
		done := start + int64(float64(r.size)/s.sc.Links[r.link].Bandwidth*1e9)
		s.linkFree[r.link] = done
		s.schedule(done, evComplete, r)
	case evComplete:
		s.devs[r.dev].complete(s.now, r)
		if r.bg >= 0 {
			if s.measuring {
				s.bgBytes += r.size
			}
			s.issueBackground(r.bg)
			return
		}
		s.sel.end(r.path, r.size)
		if r.counted {
			s.lat = append(s.lat, s.now-r.issued)
			s.bytes += r.size
			s.perPath[r.path]++
		}
		s.issueMap()
	case evSample:
		for i, est := range s.estimate {
			smp := s.devs[i].sample(s.now)
			est.Update(&smp)
		}
		if s.planner != nil {
			s.replan()
		}
		s.schedule(s.now+int64(s.sc.SampleInterval), evSample, nil)
	}
}

// proposed computes weights from the estimates so far.
func (s *sim) proposed() []selector.PathWeight {
	paths := make([]selector.PathStats, len(s.estimate))
	for i, est := range s.estimate {
		paths[i] = selector.PathStats{Path: s.sc.Paths[i].Name, Stats: est.Stats()}
	}
	return selector.ProposeWeights(paths)
}

// replan asks the planner whether to load the measured weights.
func (s *sim) replan() {
	st := s.sel.(*serviceTime)
	current := make([]selector.PathWeight, len(st.rt))
	for i, rt := range st.rt {
		current[i] = selector.PathWeight{Path: s.sc.Paths[i].Name, Weight: uint8(rt)}
	}
	d, ok := s.planner.Plan(s.sc.Name, time.Unix(0, s.now), current, s.proposed())
	if !ok {
		return
	}
	for i, w := range d.After {
		st.rt[i] = uint64(w.Weight)
	}
	s.reloads++
}

func (s *sim) runUntil(t int64) {
	for len(s.q) > 0 && s.q[0].at <= t {
		s.handle(heap.Pop(&s.q).(event))
	}
	s.now = t
}

func newSelector(p Policy, n int) pathSelector {
	switch p {
	case RoundRobin:
		return &roundRobin{list: initialList(n)}
	case QueueLength:
		return &queueLength{list: initialList(n), qlen: make([]int64, n)}
	}
	rt := make([]uint64, n)
	for i := range rt {
		rt[i] = 1
	}
	return &serviceTime{list: initialList(n), inFlight: make([]uint64, n), rt: rt}
}

// Run simulates the scenario under one policy.
func Run(sc Scenario, p Policy) Result {
	n := len(sc.Paths)
	s := &sim{
		sc:       sc,
		rng:      rand.New(rand.NewPCG(sc.Seed, 0x6d70617468640a)),
		linkFree: make([]int64, len(sc.Links)),
		devs:     make([]device, n+len(sc.Background)),
		sel:      newSelector(p, n),
		perPath:  make([]int, n),
	}
	res := Result{Policy: p}
	if p == ServiceTimeWeighted || p == ServiceTimeAdaptive {
		for range n {
			s.estimate = append(s.estimate, selector.NewEstimator(sc.HalfLife))
		}
		s.schedule(0, evSample, nil)
	}
	if p == ServiceTimeAdaptive {
		s.planner = selector.NewPlanner(sc.Planner)
	}
	for range sc.Depth {
		s.issueMap()
	}
	for i, b := range sc.Background {
		for range b.Depth {
			s.issueBackground(i)
		}
	}
	s.runUntil(int64(sc.Warmup))

	if p == ServiceTimeWeighted {
		st := s.sel.(*serviceTime)
		for i, w := range s.proposed() {
			st.rt[i] = uint64(w.Weight)
		}
		s.estimate = nil
	}
	s.measuring = true
	s.runUntil(int64(sc.Warmup + sc.Measure))

	if st, ok := s.sel.(*serviceTime); ok {
		for _, rt := range st.rt {
			res.Weights = append(res.Weights, uint8(rt))
		}
	}
	res.Reloads = s.reloads

	sec := sc.Measure.Seconds()
	res.Throughput = float64(s.bytes) / sec
	res.OtherThroughput = float64(s.bgBytes) / sec
	res.IOPS = float64(len(s.lat)) / sec
	if len(s.lat) > 0 {
		var sum int64
		for _, l := range s.lat {
			sum += l
		}
		res.MeanLatency = time.Duration(sum / int64(len(s.lat)))
		slices.Sort(s.lat)
		res.P99Latency = time.Duration(s.lat[(len(s.lat)*99-1)/100])
	}
	for _, c := range s.perPath {
		res.Share = append(res.Share, float64(c)/float64(max(len(s.lat), 1)))
	}
	return res
}
