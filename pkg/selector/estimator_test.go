package selector

import (
	"math"
	"testing"
	"time"
)

// rec is one recorded sample in compact form.
type rec struct {
	at                 time.Duration
	rIOs, rSec, rTicks uint64
	wIOs, wSec, wTicks uint64
	inFlight, busy     uint64
	want               Outcome
}

func (r rec) sample() Sample {
	return Sample{
		ReadIOs: r.rIOs, ReadSectors: r.rSec, ReadTicks: r.rTicks,
		WriteIOs: r.wIOs, WriteSectors: r.wSec, WriteTicks: r.wTicks,
		InFlight: r.inFlight, IOTicks: r.busy, At: r.at,
	}
}

func near(got, want float64) bool {
	if want == 0 {
		return math.Abs(got) < 1e-9
	}
	return math.Abs(got-want)/math.Abs(want) < 1e-6
}

func TestEstimatorRecordedSequences(t *testing.T) {
	const s = time.Second
	const wrapBase = math.MaxUint32 - 100
	tests := []struct {
		name string
		recs []rec
		want Stats // compared on the float fields and counters below
	}{
		{
			name: "steady reads",
			// 100 reads/s of 8 sectors, 200 ms of ticks/s (2 ms each), 50% busy.
			recs: []rec{
				{at: 1 * s, rIOs: 1000, rSec: 8000, rTicks: 2000, inFlight: 1, busy: 5000, want: Baseline},
				{at: 2 * s, rIOs: 1100, rSec: 8800, rTicks: 2200, inFlight: 1, busy: 5500, want: Updated},
				{at: 3 * s, rIOs: 1200, rSec: 9600, rTicks: 2400, inFlight: 1, busy: 6000, want: Updated},
			},
			want: Stats{Valid: true, ReadIOPS: 100, ReadBytesPerSec: 409600, AvgRequestBytes: 4096,
				InFlight: 1, InFlightNow: 1, ServiceTime: 2 * time.Millisecond, Utilization: 0.5, Samples: 2, At: 3 * s},
		},
		{
			name: "irregular intervals at a constant rate",
			recs: []rec{
				{at: 0, want: Baseline},
				{at: 100 * time.Millisecond, wIOs: 10, wSec: 1280, wTicks: 10, busy: 20, want: Updated},
				{at: 2100 * time.Millisecond, wIOs: 210, wSec: 26880, wTicks: 210, busy: 420, want: Updated},
				{at: 2350 * time.Millisecond, wIOs: 235, wSec: 30080, wTicks: 235, busy: 470, want: Updated},
			},
			want: Stats{Valid: true, WriteIOPS: 100, WriteBytesPerSec: 6553600, AvgRequestBytes: 65536,
				ServiceTime: time.Millisecond, Utilization: 0.2, Samples: 3, At: 2350 * time.Millisecond},
		},
		{
			name: "read ticks and io_ticks wrap at 32 bits",
			recs: []rec{
				{at: 1 * s, rIOs: 1000, rSec: 8000, rTicks: wrapBase, busy: wrapBase + 50, want: Baseline},
				// ticks: 100 before the wrap + 100 after = 200; busy: 50 + 450 = 500.
				{at: 2 * s, rIOs: 1100, rSec: 8800, rTicks: 99, busy: 449, want: Updated},
			},
			want: Stats{Valid: true, ReadIOPS: 100, ReadBytesPerSec: 409600, AvgRequestBytes: 4096,
				ServiceTime: 2 * time.Millisecond, Utilization: 0.5, Samples: 1, At: 2 * s},
		},
		{
			name: "device replaced: counters restart, no spike",
			recs: []rec{
				{at: 1 * s, rIOs: 5_000_000, rSec: 40_000_000, rTicks: 3_000_000_000, busy: 9_000_000, want: Baseline},
				{at: 2 * s, rIOs: 5_000_100, rSec: 40_000_800, rTicks: 3_000_000_200, busy: 9_000_500, want: Updated},
				// New device behind the same name: every counter small again.
				{at: 3 * s, rIOs: 10, rSec: 80, rTicks: 20, busy: 50, want: Reset},
				{at: 4 * s, rIOs: 110, rSec: 880, rTicks: 220, busy: 550, want: Updated},
			},
			want: Stats{Valid: true, ReadIOPS: 100, ReadBytesPerSec: 409600, AvgRequestBytes: 4096,
				ServiceTime: 2 * time.Millisecond, Utilization: 0.5, Samples: 2, Resets: 1, At: 4 * s},
		},
		{
			name: "64-bit counter going backwards is a reset",
			recs: []rec{
				{at: 1 * s, rIOs: 1 << 40, want: Baseline},
				{at: 2 * s, rIOs: 5, want: Reset},
			},
			want: Stats{Resets: 1, At: 2 * s},
		},
		{
			name: "backwards within 32 bits but implausible growth is a reset",
			recs: []rec{
				{at: 1 * s, rIOs: 3_000_000_000, want: Baseline},
				// As a wrap this would be 1.3e9 reads in one second.
				{at: 2 * s, rIOs: 10, want: Reset},
			},
			want: Stats{Resets: 1, At: 2 * s},
		},
		{
			name: "time not advancing takes a new baseline",
			recs: []rec{
				{at: 1 * s, want: Baseline},
				{at: 1 * s, rIOs: 1_000_000, want: Baseline},
				{at: 2 * s, rIOs: 1_000_100, rSec: 800, busy: 100, want: Updated},
			},
			want: Stats{Valid: true, ReadIOPS: 100, ReadBytesPerSec: 409600, AvgRequestBytes: 4096,
				Utilization: 0.1, Samples: 1, At: 2 * s},
		},
		{
			name: "io_ticks beyond elapsed time is clamped",
			recs: []rec{
				{at: 1 * s, busy: 0, want: Baseline},
				{at: 2 * s, busy: 1004, want: Updated},
			},
			want: Stats{Valid: true, Utilization: 1, Samples: 1, At: 2 * s},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEstimator(5 * time.Second)
			for i, r := range tt.recs {
				smp := r.sample()
				if got := e.Update(&smp); got != r.want {
					t.Fatalf("sample %d: outcome %v, want %v", i, got, r.want)
				}
			}
			got := e.Stats()
			checkStats(t, got, tt.want)
		})
	}
}

func checkStats(t *testing.T, got, want Stats) {
	t.Helper()
	floats := []struct {
		name      string
		got, want float64
	}{
		{"ReadIOPS", got.ReadIOPS, want.ReadIOPS},
		{"WriteIOPS", got.WriteIOPS, want.WriteIOPS},
		{"ReadBytesPerSec", got.ReadBytesPerSec, want.ReadBytesPerSec},
		{"WriteBytesPerSec", got.WriteBytesPerSec, want.WriteBytesPerSec},
		{"AvgRequestBytes", got.AvgRequestBytes, want.AvgRequestBytes},
		{"InFlight", got.InFlight, want.InFlight},
		{"ServiceTime", float64(got.ServiceTime), float64(want.ServiceTime)},
		{"Utilization", got.Utilization, want.Utilization},
	}
	for _, f := range floats {
		// ServiceTime is truncated to whole nanoseconds.
		if !near(f.got, f.want) && math.Abs(f.got-f.want) > 1 {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if got.Valid != want.Valid || got.InFlightNow != want.InFlightNow || got.Samples != want.Samples ||
		got.Resets != want.Resets || got.At != want.At {
		t.Errorf("got Valid=%v InFlightNow=%d Samples=%d Resets=%d At=%v, want %v %d %d %d %v",
			got.Valid, got.InFlightNow, got.Samples, got.Resets, got.At,
			want.Valid, want.InFlightNow, want.Samples, want.Resets, want.At)
	}
}

// A step in the rate must move the average halfway in one half-life,
// however the half-life is cut into sample intervals.
func TestEstimatorHalfLifeIndependentOfSampling(t *testing.T) {
	const hl = 4 * time.Second
	for _, steps := range [][]time.Duration{
		{4 * time.Second},
		{time.Second, time.Second, time.Second, time.Second},
		{10 * time.Millisecond, 3990 * time.Millisecond},
		{1500 * time.Millisecond, 700 * time.Millisecond, 1800 * time.Millisecond},
	} {
		e := NewEstimator(hl)
		smp := Sample{}
		e.Update(&smp)
		// One second at 100 IOPS sets the average.
		smp.At, smp.ReadIOs = time.Second, 100
		e.Update(&smp)
		// Then 300 IOPS for exactly one half-life.
		for _, d := range steps {
			smp.ReadIOs += uint64(300 * d.Seconds())
			smp.At += d
			e.Update(&smp)
		}
		if got := e.Stats().ReadIOPS; !near(got, 200) {
			t.Errorf("steps %v: ReadIOPS = %v, want 200", steps, got)
		}
	}
}

func TestEstimatorIdleKeepsServiceTime(t *testing.T) {
	e := NewEstimator(time.Second)
	smp := Sample{At: 0}
	e.Update(&smp)
	smp.At, smp.ReadIOs, smp.ReadSectors, smp.ReadTicks = time.Second, 100, 800, 700
	e.Update(&smp)
	for range 3 { // three idle half-lives
		smp.At += time.Second
		e.Update(&smp)
	}
	st := e.Stats()
	if !near(st.ReadIOPS, 12.5) {
		t.Errorf("ReadIOPS after 3 idle half-lives = %v, want 12.5", st.ReadIOPS)
	}
	if st.ServiceTime != 7*time.Millisecond || !near(st.AvgRequestBytes, 4096) {
		t.Errorf("idle device: ServiceTime %v AvgRequestBytes %v, want 7ms 4096", st.ServiceTime, st.AvgRequestBytes)
	}
}

func TestSampleSetFields(t *testing.T) {
	var s Sample
	if err := s.SetFields(make([]uint64, 10)); err == nil {
		t.Error("10 fields accepted")
	}
	f := make([]uint64, 17)
	for i := range f {
		f[i] = uint64(i + 1)
	}
	if err := s.SetFields(f); err != nil {
		t.Fatal(err)
	}
	want := Sample{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 0}
	if s != want {
		t.Errorf("17 fields: got %+v", s)
	}
	if err := s.SetFields(f[:11]); err != nil {
		t.Fatal(err)
	}
	want = Sample{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0}
	if s != want {
		t.Errorf("11 fields: got %+v", s)
	}
}

// FuzzEstimator feeds arbitrary counter sequences: the estimates must stay
// finite and in range whatever the kernel (or a broken reader) reports.
func FuzzEstimator(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, int64(time.Second))
	f.Add([]byte{255, 255, 255, 255, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2}, int64(time.Millisecond))
	f.Fuzz(func(t *testing.T, data []byte, step int64) {
		e := NewEstimator(time.Second)
		var s Sample
		for i := 0; i+8 <= len(data); i += 8 {
			v := uint64(0)
			for _, b := range data[i : i+8] {
				v = v<<8 | uint64(b)
			}
			s.ReadIOs, s.ReadSectors, s.ReadTicks = v, v>>3, v>>7
			s.WriteIOs, s.IOTicks, s.InFlight = v>>11, v>>1, v>>40
			s.At += time.Duration(step) * time.Duration(1+int(data[i])%4-1)
			e.Update(&s)
			st := e.Stats()
			for _, x := range []float64{st.ReadIOPS, st.WriteIOPS, st.ReadBytesPerSec, st.WriteBytesPerSec,
				st.AvgRequestBytes, st.InFlight, st.Utilization, float64(st.ServiceTime)} {
				if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
					t.Fatalf("bad estimate %v in %+v", x, st)
				}
			}
			if st.Utilization > 1 {
				t.Fatalf("utilisation %v > 1", st.Utilization)
			}
		}
	})
}
