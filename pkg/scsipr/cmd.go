package scsipr

import (
	"errors"
	"fmt"
	"time"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
)

const (
	// firstAlloc is the first allocation length of READ KEYS and READ FULL
	// STATUS: room for 16 iSCSI registrants; longer lists are read again at
	// the length the device announces.
	firstAlloc = 2048
	// Attempts is how many times a command is sent while the device answers
	// UNIT ATTENTION (a registration, reservation or reset by another
	// initiator reports one to every other nexus) or NOT READY, operation in
	// progress.
	Attempts = 5
)

// retryable reports whether r is a condition that goes away by itself.
func retryable(r sgio.Result) bool {
	if !r.CheckCondition() {
		return false
	}
	s, err := r.DecodeSense()
	if err != nil {
		return false
	}
	return s.Key == sgio.UnitAttention || s.Is(sgio.NotReady, 0x04, 0x07)
}

// send issues one command, again while it fails with a retryable condition,
// at most Attempts times. Its errors wrap *sgio.CommandError, and also
// ErrReservationConflict for that status.
func send(d sgio.Device, op string, cdb []byte, dir sgio.Direction, buf []byte, timeout time.Duration) (sgio.Result, error) {
	for attempt := 1; ; attempt++ {
		r, err := d.SGIO(cdb, dir, buf, timeout)
		if err != nil {
			return r, fmt.Errorf("%s: %w", op, err)
		}
		if r.OK() {
			return r, nil
		}
		ce := &sgio.CommandError{Op: op, Result: r}
		if r.Status == sgio.StatusReservationConflict {
			return r, fmt.Errorf("%w: %w", ErrReservationConflict, ce)
		}
		if attempt >= Attempts || !retryable(r) {
			return r, ce
		}
	}
}

// received trims buf to what the device transferred.
func received(buf []byte, r sgio.Result) []byte {
	n := len(buf) - int(r.Resid)
	if r.Resid < 0 || n < 0 || n > len(buf) {
		return buf
	}
	return buf[:n]
}

// In sends PERSISTENT RESERVE IN with service action sa and returns the
// parameter data. When the header announces more than was allocated, the
// command is sent once more with the announced length (up to 65535 bytes).
func In(d sgio.Device, sa InAction, timeout time.Duration) ([]byte, error) {
	op := "PERSISTENT RESERVE IN " + sa.String()
	alloc := firstAlloc
	switch sa {
	case InReadReservation:
		alloc = inHeaderLen + reservationDescLen
	case InReportCapabilities:
		alloc = capabilitiesLen
	}
	for attempt := 0; ; attempt++ {
		buf := make([]byte, alloc)
		r, err := send(d, op, InCDB(sa, alloc), sgio.DirFromDev, buf, timeout)
		if err != nil {
			return nil, err
		}
		b := received(buf, r)
		want := announced(b)
		if sa == InReportCapabilities || want <= alloc || attempt > 0 || alloc == maxAllocationLength {
			return b, nil
		}
		alloc = min(want, maxAllocationLength)
	}
}

// ReadKeys reads the registered reservation keys.
func ReadKeys(d sgio.Device, timeout time.Duration) (Keys, error) {
	b, err := In(d, InReadKeys, timeout)
	if err != nil {
		return Keys{}, err
	}
	return ParseKeys(clip(b))
}

// ReadReservation reads the persistent reservation, if any.
func ReadReservation(d sgio.Device, timeout time.Duration) (Reservation, error) {
	b, err := In(d, InReadReservation, timeout)
	if err != nil {
		return Reservation{}, err
	}
	return ParseReservation(b)
}

// ReportCapabilities reads what the device supports.
func ReportCapabilities(d sgio.Device, timeout time.Duration) (Capabilities, error) {
	b, err := In(d, InReportCapabilities, timeout)
	if err != nil {
		return Capabilities{}, err
	}
	return ParseCapabilities(b)
}

// ReadFullStatus reads every registration with its I_T nexus.
func ReadFullStatus(d sgio.Device, timeout time.Duration) (FullStatus, error) {
	b, err := In(d, InReadFullStatus, timeout)
	if err != nil {
		return FullStatus{}, err
	}
	return ParseFullStatus(b)
}

// clip cuts READ KEYS data that the 65535-byte allocation limit truncated
// to the keys received, so that the parse sees a consistent header.
func clip(b []byte) []byte {
	if announced(b) <= len(b) {
		return b
	}
	c := append([]byte(nil), b...)
	n := (len(c) - inHeaderLen) &^ 7
	c[4], c[5], c[6], c[7] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return c[:inHeaderLen+n]
}

// Out sends PERSISTENT RESERVE OUT with service action sa and type t
// (ignored by REGISTER, REGISTER AND IGNORE and CLEAR), in LU scope.
func Out(d sgio.Device, sa ServiceAction, t Type, p OutParams, timeout time.Duration) error {
	param, err := EncodeOut(sa, p)
	if err != nil {
		return err
	}
	op := "PERSISTENT RESERVE OUT " + sa.String()
	_, err = send(d, op, OutCDB(sa, ScopeLU, t, len(param)), sgio.DirToDev, param, timeout)
	return err
}

// Sense returns the sense data of a command error, if it carries any.
func Sense(err error) (sgio.Sense, bool) {
	var ce *sgio.CommandError
	if !errors.As(err, &ce) || !ce.Result.CheckCondition() {
		return sgio.Sense{}, false
	}
	s, serr := ce.Result.DecodeSense()
	return s, serr == nil
}
