package sysfs

import (
	"errors"
	"fmt"
	"math/bits"

	"golang.org/x/sys/unix"
)

// Stat holds the block I/O counters of /sys/block/X/stat (and of a
// /proc/diskstats line after "major minor name"). Times are milliseconds,
// sectors are 512 bytes. Fields the kernel does not report stay zero;
// Fields tells how many there were (11, 15 or 17).
type Stat struct {
	ReadIOs, ReadMerges, ReadSectors, ReadTicks             uint64
	WriteIOs, WriteMerges, WriteSectors, WriteTicks         uint64
	InFlight, IOTicks, TimeInQueue                          uint64
	DiscardIOs, DiscardMerges, DiscardSectors, DiscardTicks uint64
	FlushIOs, FlushTicks                                    uint64
	Fields                                                  int
}

// ErrMalformedStat is wrapped by every stat parse error.
var ErrMalformedStat = errors.New("malformed block stat")

// Pre-built errors keep the parser free of allocations on the paths a
// fuzzer or a torn read can reach; callers wrap them with the device.
var (
	errStatFieldCount = fmt.Errorf("%w: want 11, 15 or 17 fields", ErrMalformedStat)
	errStatNumber     = fmt.Errorf("%w: field is not a decimal uint64", ErrMalformedStat)
)

// statFieldsOK accepts the counts of the three kernel generations; more
// than 17 (a future kernel) keeps the first 17.
func statFieldsOK(n int) bool { return n == 11 || n == 15 || n >= 17 }

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// scanUint parses the decimal field starting at b[i] (a non-blank byte)
// and returns it with the index after it. Up to 19 significant digits
// cannot overflow a uint64, so only a 20th is checked.
func scanUint(b []byte, i int) (uint64, int, error) {
	var v uint64
	start := i
	for i < len(b) && b[i] == '0' {
		i++
	}
	digits := i
	for ; i < len(b) && i-digits < 19; i++ {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		v = v*10 + uint64(c)
	}
	if i < len(b) && i-digits == 19 && b[i]-'0' <= 9 {
		hi, lo := bits.Mul64(v, 10)
		lo, carry := bits.Add64(lo, uint64(b[i]-'0'), 0)
		if hi != 0 || carry != 0 {
			return 0, i, errStatNumber
		}
		v = lo
		i++
	}
	if i == start || (i < len(b) && !isBlank(b[i])) {
		return 0, i, errStatNumber
	}
	return v, i, nil
}

// ParseStat parses the contents of /sys/block/X/stat into s without
// allocating. The input may end with a newline.
func ParseStat(b []byte, s *Stat) error {
	var v [17]uint64
	n, i := 0, 0
	for {
		for i < len(b) && isBlank(b[i]) {
			i++
		}
		if i == len(b) {
			break
		}
		var x uint64
		var err error
		x, i, err = scanUint(b, i)
		if err != nil {
			return err
		}
		if n < len(v) {
			v[n] = x
		}
		n++
	}
	if !statFieldsOK(n) {
		return errStatFieldCount
	}
	*s = Stat{
		v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10],
		v[11], v[12], v[13], v[14], v[15], v[16], min(n, 17),
	}
	return nil
}

// StatFile keeps /sys/block/X/stat open and re-reads it with pread, so a
// poll costs one system call and no allocation. Not safe for concurrent use.
type StatFile struct {
	name string
	fd   int
	buf  [512]byte
}

// OpenStat opens the stat file of block device name ("sdb", "dm-3").
func (fs FS) OpenStat(name string) (*StatFile, error) {
	fd, err := unix.Open(fs.sys("block", name, "stat"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sysfs: open stat of %s: %w", name, err)
	}
	return &StatFile{name: name, fd: fd}, nil
}

// Name is the block device the file belongs to.
func (f *StatFile) Name() string { return f.name }

// Read reads the current counters into s.
func (f *StatFile) Read(s *Stat) error {
	n, err := unix.Pread(f.fd, f.buf[:], 0)
	if err != nil {
		return &StatError{Name: f.name, Op: "pread", Err: err}
	}
	if n == len(f.buf) {
		return &StatError{Name: f.name, Op: "parse", Err: errStatFieldCount}
	}
	if err := ParseStat(f.buf[:n], s); err != nil {
		return &StatError{Name: f.name, Op: "parse", Err: err}
	}
	return nil
}

// Close releases the file descriptor.
func (f *StatFile) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := unix.Close(f.fd)
	f.fd = -1
	return err
}

// StatError names the device and operation of a failed stat read. It is
// built only on failure, so the success path allocates nothing.
type StatError struct {
	Name string
	Op   string
	Err  error
}

func (e *StatError) Error() string {
	return "sysfs: stat " + e.Name + ": " + e.Op + ": " + e.Err.Error()
}
func (e *StatError) Unwrap() error { return e.Err }

// DiskstatsEntry is one /proc/diskstats line. Name aliases the reader's
// buffer and is valid only during the callback; copy it to keep it.
type DiskstatsEntry struct {
	Major, Minor uint32
	Name         []byte
	Stat         Stat
}

// ParseDiskstats calls fn for each line of /proc/diskstats content without
// allocating. A malformed line stops the parse with an error naming its
// line number.
func ParseDiskstats(b []byte, fn func(DiskstatsEntry)) error {
	var e DiskstatsEntry
	for line := 1; len(b) > 0; line++ {
		end := 0
		for end < len(b) && b[end] != '\n' {
			end++
		}
		l := b[:end]
		if end < len(b) {
			b = b[end+1:]
		} else {
			b = nil
		}
		if err := parseDiskstatsLine(l, &e); err != nil {
			if err == errBlankLine {
				continue
			}
			return &DiskstatsError{Line: line, Err: err}
		}
		fn(e)
	}
	return nil
}

var (
	errBlankLine     = errors.New("blank line")
	errDiskstatsHead = fmt.Errorf("%w: want \"major minor name\" before the counters", ErrMalformedStat)
)

func parseDiskstatsLine(l []byte, e *DiskstatsEntry) error {
	i := 0
	var head [2]uint64
	for k := range head {
		for i < len(l) && isBlank(l[i]) {
			i++
		}
		if i == len(l) {
			if k == 0 {
				return errBlankLine
			}
			return errDiskstatsHead
		}
		var err error
		if head[k], i, err = scanUint(l, i); err != nil || head[k] > 1<<32-1 {
			return errDiskstatsHead
		}
	}
	for i < len(l) && isBlank(l[i]) {
		i++
	}
	start := i
	for i < len(l) && !isBlank(l[i]) {
		i++
	}
	if i == start {
		return errDiskstatsHead
	}
	e.Major, e.Minor, e.Name = uint32(head[0]), uint32(head[1]), l[start:i]
	return ParseStat(l[i:], &e.Stat)
}

// DiskstatsError names the failing line of /proc/diskstats.
type DiskstatsError struct {
	Line int
	Err  error
}

func (e *DiskstatsError) Error() string {
	return fmt.Sprintf("sysfs: /proc/diskstats line %d: %v", e.Line, e.Err)
}
func (e *DiskstatsError) Unwrap() error { return e.Err }

// Diskstats keeps /proc/diskstats open and re-reads it into a reused
// buffer; after warm-up a Read allocates nothing. Not safe for concurrent use.
type Diskstats struct {
	fd  int
	buf []byte
}

// OpenDiskstats opens /proc/diskstats under the FS root.
func (fs FS) OpenDiskstats() (*Diskstats, error) {
	fd, err := unix.Open(fs.proc("diskstats"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sysfs: open /proc/diskstats: %w", err)
	}
	return &Diskstats{fd: fd, buf: make([]byte, 64<<10)}, nil
}

// Read reads the whole file and calls fn for each entry (see ParseDiskstats).
func (d *Diskstats) Read(fn func(DiskstatsEntry)) error {
	n := 0
	for {
		if n == len(d.buf) {
			d.buf = append(d.buf, make([]byte, len(d.buf))...)
		}
		m, err := unix.Pread(d.fd, d.buf[n:], int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("sysfs: read /proc/diskstats: %w", err)
		}
		if m == 0 {
			break
		}
		n += m
	}
	return ParseDiskstats(d.buf[:n], fn)
}

// Close releases the file descriptor.
func (d *Diskstats) Close() error {
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}
