package selector

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mpathd/mpathd/pkg/sysfs"
)

// statFileReader is the few lines of wiring the daemon needs between
// pkg/sysfs's stat reader and the Poller.
type statFileReader struct {
	f  *sysfs.StatFile
	st sysfs.Stat
}

func (r *statFileReader) ReadSample(s *Sample) error {
	if err := r.f.Read(&r.st); err != nil {
		return err
	}
	st := &r.st
	*s = Sample{
		ReadIOs: st.ReadIOs, ReadMerges: st.ReadMerges, ReadSectors: st.ReadSectors, ReadTicks: st.ReadTicks,
		WriteIOs: st.WriteIOs, WriteMerges: st.WriteMerges, WriteSectors: st.WriteSectors, WriteTicks: st.WriteTicks,
		InFlight: st.InFlight, IOTicks: st.IOTicks, TimeInQueue: st.TimeInQueue,
		DiscardIOs: st.DiscardIOs, DiscardMerges: st.DiscardMerges, DiscardSectors: st.DiscardSectors,
		DiscardTicks: st.DiscardTicks, FlushIOs: st.FlushIOs, FlushTicks: st.FlushTicks,
	}
	return nil
}

func (r *statFileReader) Close() error { return r.f.Close() }

// BenchmarkPollStatFiles samples a fixture tree of real stat files (on
// tmpfs when /dev/shm exists) through pkg/sysfs: the full per-path cost
// of a poll, system call included.
func BenchmarkPollStatFiles(b *testing.B) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 16384, 32768} {
		b.Run(fmt.Sprintf("paths=%d", n), func(b *testing.B) {
			if need := uint64(n) + 256; need > lim.Cur {
				// Root may raise the hard limit too (up to fs.nr_open); others get what they have.
				raised := syscall.Rlimit{Cur: need, Max: max(need, lim.Max)}
				if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
					b.Skipf("needs %d open files, RLIMIT_NOFILE is %d (%v)", n, lim.Cur, err)
				}
				lim = raised
			}
			root := fixtureRoot(b)
			line := []byte("  123456        0  9876543   45678   234567        0  7654321   34567        3   456789   80245        0        0        0        0        0        0\n")
			cfg := DefaultConfig()
			cfg.Shards = 1
			p, err := NewPoller(cfg)
			if err != nil {
				b.Fatal(err)
			}
			fs := sysfs.New(root)
			for i := range n {
				name := fmt.Sprintf("sd%d", i)
				dir := filepath.Join(root, "sys", "block", name)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "stat"), line, 0o644); err != nil {
					b.Fatal(err)
				}
				f, err := fs.OpenStat(name)
				if err != nil {
					b.Fatal(err)
				}
				p.Add(name, &statFileReader{f: f})
			}
			s := p.shards[0]
			defer s.closeAll()
			s.poll()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				s.poll()
			}
			b.StopTimer()
			perPath := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
			b.ReportMetric(perPath, "ns/path")
			b.ReportMetric(perPath*float64(n)/1e9*100, "%core@1Hz")
			for _, d := range p.Snapshot(nil) {
				if d.ReadErrors != 0 {
					b.Fatalf("%s: %d read errors", d.ID, d.ReadErrors)
				}
			}
		})
	}
}

func fixtureRoot(b *testing.B) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "mpathd-selector-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}
