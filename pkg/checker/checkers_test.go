package checker

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
)

// senseRow is one row of KI §3.7: sense key/ASC/ASCQ and the state tur
// must report when the condition persists; retry rows are also checked to
// recover when the next attempt is GOOD.
type senseRow struct {
	key       sgio.SenseKey
	asc, ascq uint8
	want      State
	retry     bool
}

var senseRows = []senseRow{
	{sgio.RecoveredError, 0x17, 0x01, Up, false},
	{sgio.UnitAttention, 0x29, 0x00, Down, true},
	{sgio.UnitAttention, 0x29, 0x02, Down, true},
	{sgio.UnitAttention, 0x2a, 0x06, Down, true},
	{sgio.UnitAttention, 0x2a, 0x09, Down, true},
	{sgio.UnitAttention, 0x3f, 0x0e, Down, true},
	{sgio.UnitAttention, 0x3f, 0x03, Down, true},
	{sgio.NotReady, 0x04, 0x0a, Pending, false},
	{sgio.NotReady, 0x04, 0x0b, Ghost, false},
	{sgio.NotReady, 0x04, 0x0c, Down, false},
	{sgio.NotReady, 0x04, 0x01, Pending, false},
	{sgio.NotReady, 0x04, 0x02, Down, false},
	{sgio.NotReady, 0x04, 0x03, Down, false},
	{sgio.NotReady, 0x3a, 0x00, Down, false},
	{sgio.IllegalRequest, 0x25, 0x00, Disconnected, false},
	{sgio.IllegalRequest, 0x20, 0x00, Down, false},
	{sgio.AbortedCommand, 0x47, 0x00, Down, true},
	{sgio.AbortedCommand, 0x4b, 0x03, Down, true},
	{sgio.MediumError, 0x11, 0x00, Down, false},
	{sgio.HardwareError, 0x44, 0x00, Down, false},
	{sgio.DataProtect, 0x27, 0x00, Down, false},
}

func running(string) (string, error) { return "running", nil }

func tur(t *testing.T, h func([]byte) sgiotest.Response) (Result, int) {
	t.Helper()
	d := &sgiotest.Device{Handler: h}
	r := TUR{}.Check(context.Background(), &Path{Name: "sdx", Attr: running, SG: d})
	return r, len(d.Calls())
}

func TestTURSenseRows(t *testing.T) {
	formats := map[string]func(sgio.SenseKey, uint8, uint8) []byte{
		"fixed": sgiotest.FixedSense, "descriptor": sgiotest.DescriptorSense,
	}
	for fname, build := range formats {
		for _, row := range senseRows {
			name := fmt.Sprintf("%s/%s_%02x_%02x", fname, row.key, row.asc, row.ascq)
			t.Run(name, func(t *testing.T) {
				sense := build(row.key, row.asc, row.ascq)
				got, calls := tur(t, sgiotest.Sequence(sgiotest.Check(sense)))
				if got.State != row.want {
					t.Errorf("state %v (%s), want %v", got.State, got.Reason, row.want)
				}
				if got.Transition != (row.want == Pending) {
					t.Errorf("Transition %v, want %v: the Runner bounds exactly the device's own transitions", got.Transition, row.want == Pending)
				}
				if wantCalls := map[bool]int{false: 1, true: MaxAttempts}[row.retry]; calls != wantCalls {
					t.Errorf("%d TURs sent, want %d", calls, wantCalls)
				}
				if !strings.Contains(got.Reason, fmt.Sprintf("%02x/%02x", row.asc, row.ascq)) {
					t.Errorf("reason %q does not name the asc/ascq", got.Reason)
				}
				if !row.retry {
					return
				}
				got, calls = tur(t, sgiotest.Sequence(sgiotest.Check(sense), sgiotest.Good(nil)))
				if got.State != Up || calls != 2 {
					t.Errorf("after one %s then GOOD: %v in %d TURs, want up in 2", row.key, got, calls)
				}
			})
		}
	}
}

func TestTURStatusAndHostBytes(t *testing.T) {
	res := func(status uint8, host sgio.HostStatus) sgiotest.Response {
		return sgiotest.Response{Result: sgio.Result{Status: status, HostStatus: host}}
	}
	for _, tc := range []struct {
		name      string
		resp      sgiotest.Response
		want      State
		wantCalls int
	}{
		{"good", res(sgio.StatusGood, 0), Up, 1},
		{"reservation conflict", res(sgio.StatusReservationConflict, 0), Up, 1},
		{"busy", res(sgio.StatusBusy, 0), Down, MaxAttempts},
		{"task set full", res(sgio.StatusTaskSetFull, 0), Down, MaxAttempts},
		{"task aborted", res(sgio.StatusTaskAborted, 0), Down, 1},
		{"check condition without sense", res(sgio.StatusCheckCondition, 0), Down, 1},
		{"DID_NO_CONNECT", res(0, sgio.DIDNoConnect), Down, 1},
		{"DID_BAD_TARGET", res(0, sgio.DIDBadTarget), Down, 1},
		{"DID_ABORT", res(0, sgio.DIDAbort), Down, 1},
		{"DID_TRANSPORT_FAILFAST", res(0, sgio.DIDTransportFailfast), Down, 1},
		{"DID_BUS_BUSY", res(0, sgio.DIDBusBusy), Down, MaxAttempts},
		{"DID_TIME_OUT", res(0, sgio.DIDTimeOut), Down, MaxAttempts},
		{"DID_PARITY", res(0, sgio.DIDParity), Down, MaxAttempts},
		{"DID_ERROR", res(0, sgio.DIDError), Down, MaxAttempts},
		{"DID_RESET", res(0, sgio.DIDReset), Down, MaxAttempts},
		{"DID_SOFT_ERROR", res(0, sgio.DIDSoftError), Down, MaxAttempts},
		{"DID_IMM_RETRY", res(0, sgio.DIDImmRetry), Down, MaxAttempts},
		{"DID_REQUEUE", res(0, sgio.DIDRequeue), Down, MaxAttempts},
		{"DID_TRANSPORT_DISRUPTED", res(0, sgio.DIDTransportDisrupted), Down, MaxAttempts},
		{"DID_TRANSPORT_MARGINAL", res(0, sgio.DIDTransportMarginal), Down, MaxAttempts},
		{"ENOTTY", sgiotest.Response{Err: fmt.Errorf("ioctl: %w", sgio.ErrNotSupported)}, Wild, 1},
		{"ENXIO", sgiotest.Response{Err: syscall.ENXIO}, Down, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, calls := tur(t, sgiotest.Sequence(tc.resp))
			if got.State != tc.want || calls != tc.wantCalls {
				t.Errorf("%v in %d TURs, want %v in %d", got, calls, tc.want, tc.wantCalls)
			}
		})
	}
	// A retryable host byte that clears is up.
	got, calls := tur(t, sgiotest.Sequence(res(0, sgio.DIDTransportDisrupted), res(0, sgio.DIDReset), res(0, 0)))
	if got.State != Up || calls != 3 {
		t.Errorf("transient host errors: %v in %d TURs, want up in 3", got, calls)
	}
}

// Retries stop at the check's deadline and the path reads timeout.
func TestTURStopsAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d := &sgiotest.Device{Handler: func([]byte) sgiotest.Response {
			time.Sleep(11 * time.Second) // the TUR outlives the deadline in the kernel
			return sgiotest.Check(sgiotest.FixedSense(sgio.UnitAttention, 0x29, 0))
		}}
		r := TUR{}.Check(ctx, &Path{Name: "sdx", SG: d})
		if len(d.Calls()) != 1 || r.State != Timeout {
			t.Errorf("%v after %d TURs, want timeout after 1", r, len(d.Calls()))
		}
	})
}

func TestSysfsPrecheckSkipsIO(t *testing.T) {
	for _, tc := range []struct {
		state string
		err   error
		want  State
	}{
		{"offline", nil, Down},
		{"transport-offline", nil, Down},
		{"blocked", nil, Pending},
		{"quiesce", nil, Pending},
		{"created-blocked", nil, Down},
		{"cancel", nil, Down},
		{"deleted", nil, Down},
		{"", fs.ErrNotExist, Down},
	} {
		for _, c := range []Checker{TUR{}, ReadSector0{}, DirectIO{}, None{}} {
			t.Run(c.Name()+"/"+tc.state, func(t *testing.T) {
				d := &sgiotest.Device{Handler: func([]byte) sgiotest.Response {
					t.Fatal("I/O sent although sysfs already decided")
					return sgiotest.Response{}
				}}
				p := &Path{Name: "sdx", SG: d, Direct: failReader{t},
					Attr: func(a string) (string, error) { return tc.state, tc.err }}
				if got := c.Check(context.Background(), p); got.State != tc.want {
					t.Errorf("%v, want %v", got, tc.want)
				}
			})
		}
	}
}

type failReader struct{ t *testing.T }

func (f failReader) ReadAt([]byte, int64) (int, error) {
	f.t.Fatal("direct read although sysfs already decided")
	return 0, nil
}

type fakeReader struct {
	n   int
	err error
	buf []byte
}

func (f *fakeReader) ReadAt(b []byte, off int64) (int, error) {
	f.buf = b
	if f.n < 0 {
		return len(b), f.err
	}
	return f.n, f.err
}

func TestDirectIO(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *fakeReader
		want State
	}{
		{"full read", &fakeReader{n: -1}, Up},
		{"short read", &fakeReader{n: 100}, Down},
		{"EIO", &fakeReader{err: syscall.EIO}, Down},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Path{Name: "sdx", Attr: running, Direct: tc.r, BlockSize: 4096}
			if got := (DirectIO{}).Check(context.Background(), p); got.State != tc.want {
				t.Errorf("%v, want %v", got, tc.want)
			}
			if len(tc.r.buf) != 4096 || alignedOffset(tc.r.buf) != 0 {
				t.Errorf("buffer of %d bytes at alignment offset %d", len(tc.r.buf), alignedOffset(tc.r.buf))
			}
		})
	}
	if got := (DirectIO{}).Check(context.Background(), &Path{Name: "sdx"}); got.State != Wild {
		t.Errorf("no reader: %v, want wild", got)
	}
}

func TestReadSector0(t *testing.T) {
	var cdbs [][]byte
	d := &sgiotest.Device{Handler: func(cdb []byte) sgiotest.Response {
		cdbs = append(cdbs, cdb)
		if len(cdbs) == 1 {
			return sgiotest.Check(sgiotest.FixedSense(sgio.UnitAttention, 0x29, 0))
		}
		return sgiotest.Good(make([]byte, 512))
	}}
	if got := (ReadSector0{}).Check(context.Background(), &Path{Name: "sdx", SG: d}); got.State != Up {
		t.Errorf("%v, want up", got)
	}
	if len(cdbs) != 2 || cdbs[0][0] != sgio.OpRead10 {
		t.Errorf("CDBs %x", cdbs)
	}
	d.Handler = func([]byte) sgiotest.Response {
		return sgiotest.Check(sgiotest.FixedSense(sgio.UnitAttention, 0x29, 0))
	}
	got := (ReadSector0{}).Check(context.Background(), &Path{Name: "sdx", SG: d})
	if got.State != Down || len(d.Calls()) != 2+readSector0Attempts {
		t.Errorf("persistent UA: %v after %d commands", got, len(d.Calls())-2)
	}
	if got := (ReadSector0{}).Check(context.Background(), &Path{Name: "sdx"}); got.State != Wild {
		t.Errorf("no SG device: %v, want wild", got)
	}
}

func TestNone(t *testing.T) {
	if got := (None{}).Check(context.Background(), &Path{Name: "sdx", Attr: running}); got.State != Up {
		t.Errorf("%v, want up", got)
	}
}

func TestNew(t *testing.T) {
	for _, n := range CheckerNames {
		c, err := New(n)
		if err != nil || c.Name() != n {
			t.Errorf("New(%q) = %v, %v", n, c, err)
		}
	}
	if _, err := New("cciss_tur"); err == nil {
		t.Error("no error for an unknown checker")
	}
}

func TestStateStrings(t *testing.T) {
	want := map[State]string{Up: "up", Down: "down", Ghost: "ghost", Pending: "pending", Timeout: "timeout",
		Disconnected: "disconnected", Unchecked: "unchecked", Wild: "wild"}
	for s, n := range want {
		if s.String() != n {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), n)
		}
		b, err := s.MarshalText()
		var back State
		if err != nil || back.UnmarshalText(b) != nil || back != s {
			t.Errorf("%v does not round-trip through text: %q, %v", s, b, err)
		}
	}
	if _, err := ParseState("faulty"); err == nil {
		t.Error("ParseState accepted an unknown name")
	}
	if _, err := State(200).MarshalText(); err == nil {
		t.Error("invalid state marshalled")
	}
}

func alignedOffset(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(uintptr(unsafe.Pointer(&b[0])) % directIOAlign)
}

// A 4Kn device's logical block size comes from sysfs; nonsense there is an
// error naming the file, never a read of the wrong size.
func TestSysfsBlockSize(t *testing.T) {
	root := t.TempDir()
	for name, v := range map[string]string{"sd4k": "4096\n", "sd512": "512\n", "sdbad": "4000\n", "sdzero": "0\n", "sdtext": "x\n"} {
		dir := filepath.Join(root, "block", name, "queue")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "logical_block_size"), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]int{"sd4k": 4096, "sd512": 512} {
		if n, err := SysfsBlockSize(root, name); n != want || err != nil {
			t.Errorf("%s: %d, %v; want %d", name, n, err, want)
		}
	}
	for _, name := range []string{"sdbad", "sdzero", "sdtext", "sdmissing"} {
		if n, err := SysfsBlockSize(root, name); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %d, %v; want an error naming the device", name, n, err)
		}
	}
}

// directio and readsector0 read exactly one logical block of the device's
// size: 4 KiB on a 4Kn device (512 bytes there fail with EINVAL), in a
// buffer aligned to the block.
func TestOneBlockOfTheDevicesSize(t *testing.T) {
	for _, bs := range []int{512, 4096, 8192} {
		r := &fakeReader{n: -1}
		if got := (DirectIO{}).Check(context.Background(), &Path{Name: "sdx", Attr: running, Direct: r, BlockSize: bs}); got.State != Up {
			t.Errorf("directio, %d-byte blocks: %v", bs, got)
		}
		if len(r.buf) != bs || uintptr(unsafe.Pointer(&r.buf[0]))%uintptr(max(bs, directIOAlign)) != 0 {
			t.Errorf("directio, %d-byte blocks: read %d bytes at address %p", bs, len(r.buf), &r.buf[0])
		}
		var got []int
		d := &sgiotest.Device{Handler: func(cdb []byte) sgiotest.Response {
			got = append(got, int(cdb[7])<<8|int(cdb[8]))
			return sgiotest.Good(make([]byte, bs))
		}}
		if res := (ReadSector0{}).Check(context.Background(), &Path{Name: "sdx", Attr: running, SG: d, BlockSize: bs}); res.State != Up {
			t.Errorf("readsector0, %d-byte blocks: %v", bs, res)
		}
		if calls := d.Calls(); len(calls) != 1 || len(got) != 1 || got[0] != 1 {
			t.Errorf("readsector0, %d-byte blocks: %d commands, transfer lengths %v; want one block", bs, len(calls), got)
		}
	}
}
