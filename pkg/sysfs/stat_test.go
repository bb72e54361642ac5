package sysfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseStat(t *testing.T) {
	full := Stat{1234, 5, 67890, 321, 4321, 12, 987654, 654, 0, 789, 1012, 0, 0, 0, 0, 42, 7, 17}
	tests := []struct {
		in   string
		want Stat
	}{
		{"    1234        5    67890      321     4321       12   987654      654        0      789     1012        0        0        0        0       42        7\n", full},
		{"1 2 3 4 5 6 7 8 9 10 11\n", Stat{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 11}},
		{"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", Stat{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 0, 15}},
		{"18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 99 100", Stat{ReadIOs: 1<<64 - 1, Fields: 17}},
	}
	for _, tc := range tests {
		var s Stat
		if err := ParseStat([]byte(tc.in), &s); err != nil {
			t.Errorf("ParseStat(%q): %v", tc.in, err)
			continue
		}
		if s != tc.want {
			t.Errorf("ParseStat(%q) = %+v, want %+v", tc.in, s, tc.want)
		}
	}
	for _, bad := range []string{"", "\n", "1 2 3", "1 2 3 4 5 6 7 8 9 10 11 12", "1 2 3 4 5 6 7 8 9 10 x",
		"18446744073709551616 0 0 0 0 0 0 0 0 0 0", "-1 0 0 0 0 0 0 0 0 0 0", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"} {
		var s Stat
		if err := ParseStat([]byte(bad), &s); !errors.Is(err, ErrMalformedStat) {
			t.Errorf("ParseStat(%q) err = %v", bad, err)
		}
	}
}

func TestStatFile(t *testing.T) {
	f, err := New("testdata/fc").OpenStat("sda")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var s Stat
	for range 2 { // pread from offset 0 each time
		if err := f.Read(&s); err != nil {
			t.Fatal(err)
		}
		if s.ReadIOs != 1234 || s.FlushTicks != 7 || s.Fields != 17 {
			t.Errorf("Read = %+v", s)
		}
	}
	if _, err := New("testdata/fc").OpenStat("sdq"); err == nil {
		t.Error("OpenStat of a missing device succeeded")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sys/block/sdx"), 0o755)
	os.WriteFile(filepath.Join(dir, "sys/block/sdx/stat"), []byte("1 2\n"), 0o644)
	g, err := New(dir).OpenStat("sdx")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var se *StatError
	if err := g.Read(&s); !errors.As(err, &se) || se.Name != "sdx" || !errors.Is(err, ErrMalformedStat) {
		t.Errorf("Read of a torn stat: %v", err)
	}
}

func TestDiskstats(t *testing.T) {
	d, err := New("testdata/fc").OpenDiskstats()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var got []string
	err = d.Read(func(e DiskstatsEntry) {
		got = append(got, fmt.Sprintf("%d:%d %s %d/%d/%d", e.Major, e.Minor, e.Name, e.Stat.ReadIOs, e.Stat.FlushTicks, e.Stat.Fields))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"8:0 sda 1234/7/17", "8:16 sdb 1/17/17", "8:32 sdc 18446744073709551615/0/17",
		"8:48 sdd 0/0/15", "253:0 dm-0 0/0/11", "253:1 dm-1 0/0/17"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("entries =\n%v\nwant\n%v", got, want)
	}
	for _, bad := range []string{"8 0\n", "8 x sda 1 2 3 4 5 6 7 8 9 10 11\n", "8 0 sda 1 2\n", "4294967296 0 sda 0 0 0 0 0 0 0 0 0 0 0\n"} {
		err := ParseDiskstats([]byte("   8 16 sdb 0 0 0 0 0 0 0 0 0 0 0\n\n"+bad), func(DiskstatsEntry) {})
		var de *DiskstatsError
		if !errors.As(err, &de) || de.Line != 3 {
			t.Errorf("ParseDiskstats(%q) err = %v, want an error on line 3", bad, err)
		}
	}
}

// The reader must grow its buffer past 64 KiB and see every line.
func TestDiskstatsLarge(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	os.WriteFile(filepath.Join(root, "proc/diskstats"), diskstatsFixture(5000), 0o644)
	d, err := New(root).OpenDiskstats()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	n := 0
	var last uint64
	if err := d.Read(func(e DiskstatsEntry) { n++; last = e.Stat.FlushTicks }); err != nil {
		t.Fatal(err)
	}
	if n != 5000 || last != 4999 {
		t.Errorf("read %d entries, last flush ticks %d", n, last)
	}
}

// diskstatsFixture renders n realistic 17-field /proc/diskstats lines.
func diskstatsFixture(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "%4d %7d sd%s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n",
			8+i/16*57%200, i%16*16, devSuffix(i), 183746+i, 12011, 9485128, 84312, 99812, 5521, 18273652,
			122987, i%3, 198222, 207311, 0, 0, 0, 0, 7741, i)
	}
	return b.Bytes()
}

func devSuffix(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('a'+(i-1)%26)) + s
	}
	return s
}

// cpuNanos is the process's user+system CPU time. Benchmarks report it
// per path next to wall time: on a shared, overcommitted machine wall time
// includes time the benchmark spent waiting for a CPU.
func cpuNanos() int64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func BenchmarkStatFileRead(b *testing.B) {
	path, dir := "sda", "testdata/fc"
	if _, err := os.Stat("/sys/block/vda/stat"); err == nil {
		path, dir = "vda", "/" // a real kernel-generated file when the host has one
	}
	f, err := New(dir).OpenStat(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var s Stat
	b.ReportAllocs()
	cpu := cpuNanos()
	for b.Loop() {
		if err := f.Read(&s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/path")
}

func BenchmarkParseStat(b *testing.B) {
	in := []byte("    1234        5    67890      321     4321       12   987654      654        0      789     1012        0        0        0        0       42        7\n")
	var s Stat
	b.ReportAllocs()
	cpu := cpuNanos()
	for b.Loop() {
		if err := ParseStat(in, &s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/path")
}

func BenchmarkDiskstats(b *testing.B) {
	for _, n := range []int{1000, 32768} {
		b.Run(fmt.Sprintf("parse/%d", n), func(b *testing.B) {
			in := diskstatsFixture(n)
			var sum uint64
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			cpu := cpuNanos()
			for b.Loop() {
				if err := ParseDiskstats(in, func(e DiskstatsEntry) { sum += e.Stat.ReadIOs }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N)/float64(n), "cpu-ns/path")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/path")
		})
		b.Run(fmt.Sprintf("read/%d", n), func(b *testing.B) {
			root := b.TempDir()
			os.MkdirAll(filepath.Join(root, "proc"), 0o755)
			os.WriteFile(filepath.Join(root, "proc/diskstats"), diskstatsFixture(n), 0o644)
			d, err := New(root).OpenDiskstats()
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			var sum uint64
			fn := func(e DiskstatsEntry) { sum += e.Stat.ReadIOs }
			d.Read(fn) // grow the buffer once
			b.ReportAllocs()
			cpu := cpuNanos()
			for b.Loop() {
				if err := d.Read(fn); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N)/float64(n), "cpu-ns/path")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/path")
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("    1234        5    67890      321     4321       12   987654      654        0      789     1012        0        0        0        0       42        7\n"))
	f.Add([]byte("1 2 3 4 5 6 7 8 9 10 11"))
	f.Add([]byte("18446744073709551616 0 0 0 0 0 0 0 0 0 0"))
	f.Add([]byte("   8       0 sda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n 253 0 dm-0 0 0 0 0 0 0 0 0 0 0 0\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var s Stat
		err := ParseStat(in, &s)
		if err == nil && s.Fields != 11 && s.Fields != 15 && s.Fields != 17 {
			t.Fatalf("ParseStat accepted %d fields", s.Fields)
		} else if err != nil && !errors.Is(err, ErrMalformedStat) {
			t.Fatalf("error %v does not wrap ErrMalformedStat", err)
		}
		// Differential check against strconv.
		fields := strings.FieldsFunc(string(in), func(r rune) bool { return r < 0x80 && isBlank(byte(r)) })
		var ref []uint64
		refOK := len(fields) == 11 || len(fields) == 15 || len(fields) >= 17
		for _, f := range fields {
			v, perr := strconv.ParseUint(f, 10, 64)
			refOK = refOK && perr == nil
			ref = append(ref, v)
		}
		if refOK != (err == nil) {
			t.Fatalf("ParseStat(%q) err = %v, strconv says ok=%v", in, err, refOK)
		}
		if err == nil && (s.ReadIOs != ref[0] || s.TimeInQueue != ref[10] || (len(ref) >= 17 && s.FlushTicks != ref[16])) {
			t.Fatalf("ParseStat(%q) = %+v, strconv %v", in, s, ref)
		}
		ParseDiskstats(in, func(e DiskstatsEntry) {
			if len(e.Name) == 0 || e.Stat.Fields < 11 {
				t.Fatalf("bad entry %+v", e)
			}
		})
	})
}
