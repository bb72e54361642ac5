package linux

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mpathd/mpathd/pkg/selector"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

func writeDiskstats(t testing.TB, root string, lines []string) {
	t.Helper()
	dir := filepath.Join(root, "proc")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "diskstats"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func diskLine(minor int, name string, reads uint64) string {
	return fmt.Sprintf("   8 %6d %s %d 0 %d %d 0 0 0 0 0 %d %d 0 0 0 0 0 0", minor, name, reads, reads*8, reads, reads, reads)
}

func TestDiskstatsSource(t *testing.T) {
	root := t.TempDir()
	writeDiskstats(t, root, []string{diskLine(0, "sda", 10), diskLine(16, "sdb", 20), diskLine(1, "sda1", 99)})
	synctest.Test(t, func(t *testing.T) {
		src, err := NewDiskstatsSource(sysfs.New(root), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		a, b, gone := src.Reader("sda"), src.Reader("sdb"), src.Reader("sdz")
		var s selector.Sample
		if err := a.ReadSample(&s); err != nil || s.ReadIOs != 10 || s.ReadSectors != 80 || s.At == 0 {
			t.Fatalf("sda = %+v, %v", s, err)
		}
		at := s.At
		writeDiskstats(t, root, []string{diskLine(0, "sda", 11), diskLine(16, "sdb", 21)})
		// Within maxAge every device is served from the same read: one system call per poll.
		if err := b.ReadSample(&s); err != nil || s.ReadIOs != 20 || s.At != at {
			t.Fatalf("sdb = %+v, %v; want the cached read stamped %v", s, err, at)
		}
		if err := gone.ReadSample(&s); err == nil || !strings.Contains(err.Error(), "sdz") {
			t.Errorf("absent device: %v", err)
		}
		time.Sleep(2 * time.Second)
		if err := a.ReadSample(&s); err != nil || s.ReadIOs != 11 || s.At <= at {
			t.Fatalf("after maxAge: %+v, %v", s, err)
		}
		// A closed reader stops being tracked; another reader of the same device keeps it.
		a2 := src.Reader("sda")
		a.(interface{ Close() error }).Close()
		if err := a2.ReadSample(&s); err != nil || s.ReadIOs != 11 {
			t.Errorf("second reader of sda: %+v, %v", s, err)
		}
	})
}

// BenchmarkPollDiskstats is the polling core's full cost per path per sample with every counter
// read from one /proc/diskstats (a fixture on tmpfs): the read, the parse and the estimator.
func BenchmarkPollDiskstats(b *testing.B) {
	for _, n := range []int{1000, 32768} {
		b.Run(fmt.Sprintf("paths=%d", n), func(b *testing.B) {
			root := b.TempDir()
			if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
				root, _ = os.MkdirTemp("/dev/shm", "mpathd-diskstats-")
				b.Cleanup(func() { os.RemoveAll(root) })
			}
			lines := make([]string, n)
			for i := range lines {
				lines[i] = diskLine(i, fmt.Sprintf("sd%d", i), uint64(i)*7)
			}
			writeDiskstats(b, root, lines)
			src, err := NewDiskstatsSource(sysfs.New(root), time.Hour) // one read per poll: reset below
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			cfg := selector.DefaultConfig()
			cfg.Shards = 1
			p, err := selector.NewPoller(cfg)
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				name := fmt.Sprintf("sd%d", i)
				p.Add(name, src.Reader(name))
			}
			p.PollOnce() // apply membership and warm up
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				src.readAt = time.Time{} // every poll is a fresh read of the file
				p.PollOnce()
			}
			b.StopTimer()
			perPath := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
			b.ReportMetric(perPath, "ns/path")
			b.ReportMetric(perPath*float64(n)/1e9*100, "%core@1Hz")
		})
	}
}
