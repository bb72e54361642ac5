package checker

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
)

// Checker decides the state of one path. Checkers hold no per-path state;
// one value serves every path. Check may block in the kernel for up to
// Path.Timeout; the Runner bounds it with its own deadline.
type Checker interface {
	Name() string
	Check(ctx context.Context, p *Path) Result
}

// Checker names, as in multipath.conf path_checker.
const (
	NameTUR         = "tur"
	NameDirectIO    = "directio"
	NameReadSector0 = "readsector0"
	NameNone        = "none"
)

// CheckerNames lists every checker New knows.
var CheckerNames = []string{NameTUR, NameDirectIO, NameReadSector0, NameNone, NameRDAC, NameEMCClariion, NameHPSW}

// New returns the checker with this name.
func New(name string) (Checker, error) {
	switch name {
	case NameTUR:
		return TUR{}, nil
	case NameDirectIO:
		return DirectIO{}, nil
	case NameReadSector0:
		return ReadSector0{}, nil
	case NameNone:
		return None{}, nil
	case NameRDAC:
		return &RDAC{}, nil
	case NameEMCClariion:
		return &EMCClariion{}, nil
	case NameHPSW:
		return HPSW{}, nil
	}
	return nil, fmt.Errorf("checker: unknown path checker %q", name)
}

// MaxAttempts bounds how many times tur sends TEST UNIT READY in one check
// (retries on UNIT ATTENTION, busy and retryable host bytes), as tur.c does.
const MaxAttempts = 5

// readSector0Attempts: the first READ plus two retries on UNIT ATTENTION.
const readSector0Attempts = 3

// TUR sends TEST UNIT READY and classifies the answer (Classify).
type TUR struct{}

// Name implements Checker.
func (TUR) Name() string { return NameTUR }

// Check implements Checker.
func (TUR) Check(ctx context.Context, p *Path) Result {
	return scsiCheck(ctx, p, "TEST UNIT READY", MaxAttempts, func() (sgio.Result, error) {
		return sgio.TestUnitReady(p.SG, p.timeout(ctx))
	})
}

// ReadSector0 reads logical block 0 with SG_IO READ(10) and classifies the
// answer like TUR.
type ReadSector0 struct{}

// Name implements Checker.
func (ReadSector0) Name() string { return NameReadSector0 }

// Check implements Checker.
func (ReadSector0) Check(ctx context.Context, p *Path) Result {
	buf := make([]byte, p.blockSize())
	return scsiCheck(ctx, p, "READ(10) lba 0", readSector0Attempts, func() (sgio.Result, error) {
		return sgio.Read10(p.SG, 0, buf, p.timeout(ctx))
	})
}

func scsiCheck(ctx context.Context, p *Path, op string, attempts int, send func() (sgio.Result, error)) Result {
	if r, done := sysfsState(p); done {
		return r
	}
	if p.SG == nil {
		return result(Wild, "%s: no SG_IO device", p.Name)
	}
	var last Result
	for i := range attempts {
		if ctx.Err() != nil {
			if i == 0 {
				return result(Timeout, "%s: %s: check deadline passed before the command was sent", p.Name, op)
			}
			return result(Timeout, "%s; check deadline passed before retry %d", last.Reason, i)
		}
		r, err := send()
		if err != nil {
			return errState(p, err)
		}
		v := Classify(r)
		last = result(v.State, "%s: %s: %s", p.Name, op, v.Reason)
		last.Transition = v.State == Pending // Classify's only pending: the device's own transition
		if !v.Retry {
			return last
		}
	}
	last.Reason += fmt.Sprintf(" (after %d attempts)", attempts)
	return last
}

// Verdict is how one SCSI command outcome reads for a path checker. Retry
// means "send the command again at once"; State is the verdict if retries
// run out.
type Verdict struct {
	State  State
	Retry  bool
	Reason string
}

// Classify maps the outcome of TEST UNIT READY (or READ) to a path state,
// following multipath-tools' tur checker and KI §3.7:
//
//	host DID_NO_CONNECT/BAD_TARGET/ABORT/TRANSPORT_FAILFAST → down
//	other host errors                                      → retry, then down
//	GOOD, RESERVATION CONFLICT, RECOVERED ERROR             → up
//	UNIT ATTENTION, ABORTED COMMAND, BUSY, TASK SET FULL    → retry, then down
//	NOT READY 04/0B → ghost, 04/0A → pending, 04/01 → pending, 04/0C and others → down
//	ILLEGAL REQUEST 25/00 → disconnected
//	anything else                                           → down
func Classify(r sgio.Result) Verdict {
	switch r.HostStatus {
	case sgio.DIDOK:
	case sgio.DIDNoConnect, sgio.DIDBadTarget, sgio.DIDAbort, sgio.DIDTransportFailfast:
		return Verdict{Down, false, "transport: " + r.HostStatus.String()}
	default:
		return Verdict{Down, true, "transport: " + r.HostStatus.String()}
	}
	switch r.Status {
	case sgio.StatusGood:
		if r.DriverStatus&0x0f == 0 || r.DriverStatus&0x0f == 0x08 {
			return Verdict{Up, false, "ready"}
		}
		return Verdict{Down, true, fmt.Sprintf("driver status 0x%02x", r.DriverStatus)}
	case sgio.StatusReservationConflict:
		return Verdict{Up, false, "reservation conflict (the path works; another initiator holds the reservation)"}
	case sgio.StatusBusy, sgio.StatusTaskSetFull:
		return Verdict{Down, true, fmt.Sprintf("device busy (status 0x%02x)", r.Status)}
	case sgio.StatusCheckCondition:
		return classifySense(r.Sense)
	}
	return Verdict{Down, false, fmt.Sprintf("status 0x%02x", r.Status)}
}

func classifySense(b []byte) Verdict {
	s, err := sgio.DecodeSense(b)
	if err != nil {
		return Verdict{Down, false, fmt.Sprintf("check condition: %v", err)}
	}
	v := Verdict{Down, false, s.String()}
	switch s.Key {
	case sgio.RecoveredError:
		v.State = Up
	case sgio.UnitAttention, sgio.AbortedCommand, sgio.NoSense:
		v.Retry = true
	case sgio.NotReady:
		switch {
		case s.Is(sgio.NotReady, 0x04, 0x0b):
			v.State = Ghost
		case s.Is(sgio.NotReady, 0x04, 0x0a), s.Is(sgio.NotReady, 0x04, 0x01):
			v.State = Pending
		}
	case sgio.IllegalRequest:
		if s.Is(sgio.IllegalRequest, 0x25, 0x00) {
			v.State = Disconnected
		}
	}
	return v
}

// DirectIO reads one logical block at offset 0 through Path.Direct
// (O_DIRECT, so the page cache cannot answer for a dead path).
type DirectIO struct{}

// Name implements Checker.
func (DirectIO) Name() string { return NameDirectIO }

// Check implements Checker.
func (DirectIO) Check(_ context.Context, p *Path) Result {
	if r, done := sysfsState(p); done {
		return r
	}
	if p.Direct == nil {
		return result(Wild, "%s: no O_DIRECT file", p.Name)
	}
	buf := alignedBuffer(p.blockSize())
	n, err := p.Direct.ReadAt(buf, 0)
	if err != nil {
		return result(Down, "%s: direct read at offset 0: %v", p.Name, err)
	}
	if n != len(buf) {
		return result(Down, "%s: direct read at offset 0: %d of %d bytes", p.Name, n, len(buf))
	}
	return result(Up, "%s: direct read of %d bytes at offset 0", p.Name, n)
}

// directIOAlign is the least memory alignment of an O_DIRECT buffer; a
// larger logical block (a power of two) is aligned to its own size.
const directIOAlign = 4096

func alignedBuffer(n int) []byte {
	align := directIOAlign
	if n > align && n&(n-1) == 0 {
		align = n
	}
	b := make([]byte, n+align)
	off := int(uintptr(unsafe.Pointer(&b[0])) & uintptr(align-1))
	if off != 0 {
		off = align - off
	}
	return b[off : off+n : off+n]
}

// None does no I/O: the path is up unless sysfs says otherwise.
type None struct{}

// Name implements Checker.
func (None) Name() string { return NameNone }

// Check implements Checker.
func (None) Check(_ context.Context, p *Path) Result {
	if r, done := sysfsState(p); done {
		return r
	}
	return result(Up, "%s: no I/O check (sysfs state only)", p.Name)
}
