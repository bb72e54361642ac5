package sgio

import (
	"errors"
	"fmt"
)

// SenseKey is the 4-bit sense key.
type SenseKey uint8

// Sense keys (SPC).
const (
	NoSense        SenseKey = 0x0
	RecoveredError SenseKey = 0x1
	NotReady       SenseKey = 0x2
	MediumError    SenseKey = 0x3
	HardwareError  SenseKey = 0x4
	IllegalRequest SenseKey = 0x5
	UnitAttention  SenseKey = 0x6
	DataProtect    SenseKey = 0x7
	BlankCheck     SenseKey = 0x8
	VendorSpecific SenseKey = 0x9
	CopyAborted    SenseKey = 0xa
	AbortedCommand SenseKey = 0xb
	VolumeOverflow SenseKey = 0xd
	Miscompare     SenseKey = 0xe
)

var senseKeyNames = [16]string{
	"NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR", "HARDWARE ERROR",
	"ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT", "BLANK CHECK", "VENDOR SPECIFIC",
	"COPY ABORTED", "ABORTED COMMAND", "sense key 0xc", "VOLUME OVERFLOW", "MISCOMPARE", "sense key 0xf",
}

func (k SenseKey) String() string { return senseKeyNames[k&0x0f] }

// Sense is decoded sense data.
type Sense struct {
	ResponseCode uint8 // 0x70/0x71 fixed, 0x72/0x73 descriptor
	Key          SenseKey
	ASC, ASCQ    uint8
	// ASCValid is false when fixed-format sense was too short to hold ASC/ASCQ
	// (fewer than 14 bytes, or an additional length that stops before them).
	ASCValid bool
	// Descriptors holds the raw sense data descriptors of descriptor-format
	// sense (each one type, length, payload), bounds-checked.
	Descriptors [][]byte
}

// Descriptor reports whether the sense was in descriptor format.
func (s Sense) Descriptor() bool { return s.ResponseCode >= 0x72 }

// Deferred reports whether the sense describes an earlier command (0x71/0x73).
func (s Sense) Deferred() bool { return s.ResponseCode == 0x71 || s.ResponseCode == 0x73 }

// Is reports whether the sense has this key and ASC/ASCQ.
func (s Sense) Is(k SenseKey, asc, ascq uint8) bool {
	return s.Key == k && s.ASCValid && s.ASC == asc && s.ASCQ == ascq
}

func (s Sense) String() string {
	if !s.ASCValid {
		return s.Key.String()
	}
	str := fmt.Sprintf("%s, asc/ascq %02x/%02x", s.Key, s.ASC, s.ASCQ)
	if d := ascDescription(s.ASC, s.ASCQ); d != "" {
		str += " (" + d + ")"
	}
	return str
}

// Errors returned by DecodeSense.
var (
	ErrNoSense          = errors.New("sense: no sense data")
	ErrSenseTooShort    = errors.New("sense: too short")
	ErrSenseFormat      = errors.New("sense: unknown response code")
	ErrSenseDescriptors = errors.New("sense: malformed descriptor list")
)

// DecodeSense decodes fixed (0x70/0x71) or descriptor (0x72/0x73) format
// sense data. It never reads past b; truncated sense yields an error, or for
// fixed format a Sense with ASCValid=false when only the key is present.
func DecodeSense(b []byte) (Sense, error) {
	if len(b) == 0 {
		return Sense{}, ErrNoSense
	}
	rc := b[0] & 0x7f
	switch rc {
	case 0x70, 0x71:
		return decodeFixed(b, rc)
	case 0x72, 0x73:
		return decodeDescriptor(b, rc)
	default:
		return Sense{}, fmt.Errorf("%w 0x%02x", ErrSenseFormat, rc)
	}
}

func decodeFixed(b []byte, rc uint8) (Sense, error) {
	if len(b) < 3 {
		return Sense{}, fmt.Errorf("%w: fixed format needs 3 bytes for the key, have %d", ErrSenseTooShort, len(b))
	}
	s := Sense{ResponseCode: rc, Key: SenseKey(b[2] & 0x0f)}
	// Byte 7 is the additional length; ASC/ASCQ sit at 12/13. Trust only
	// bytes that are both present and covered by the additional length.
	end := len(b)
	if len(b) >= 8 {
		end = min(end, 8+int(b[7]))
	}
	if end >= 14 {
		s.ASC, s.ASCQ, s.ASCValid = b[12], b[13], true
	}
	return s, nil
}

func decodeDescriptor(b []byte, rc uint8) (Sense, error) {
	if len(b) < 4 {
		return Sense{}, fmt.Errorf("%w: descriptor format needs 4 bytes, have %d", ErrSenseTooShort, len(b))
	}
	s := Sense{ResponseCode: rc, Key: SenseKey(b[1] & 0x0f), ASC: b[2], ASCQ: b[3], ASCValid: true}
	if len(b) < 8 {
		return s, nil
	}
	end := min(len(b), 8+int(b[7]))
	for off := 8; off < end; {
		if off+2 > end {
			return s, fmt.Errorf("%w: descriptor header at byte %d cut off", ErrSenseDescriptors, off)
		}
		n := 2 + int(b[off+1])
		if off+n > end {
			return s, fmt.Errorf("%w: descriptor 0x%02x at byte %d needs %d bytes, %d left",
				ErrSenseDescriptors, b[off], off, n, end-off)
		}
		s.Descriptors = append(s.Descriptors, b[off:off+n:off+n])
		off += n
	}
	return s, nil
}

// ascDescription names the ASC/ASCQ pairs a path checker meets.
func ascDescription(asc, ascq uint8) string {
	switch uint16(asc)<<8 | uint16(ascq) {
	case 0x0401:
		return "logical unit is in process of becoming ready"
	case 0x0402:
		return "initializing command required"
	case 0x0403:
		return "manual intervention required"
	case 0x040a:
		return "asymmetric access state transition"
	case 0x040b:
		return "target port in standby state"
	case 0x040c:
		return "target port in unavailable state"
	case 0x2000:
		return "invalid command operation code"
	case 0x2400:
		return "invalid field in cdb"
	case 0x2500:
		return "logical unit not supported"
	case 0x2900:
		return "power on, reset, or bus device reset occurred"
	case 0x2a06:
		return "asymmetric access state changed"
	case 0x2a09:
		return "capacity data has changed"
	case 0x3f03:
		return "inquiry data has changed"
	case 0x3f0e:
		return "reported luns data has changed"
	case 0x4b03:
		return "ack/nak timeout"
	case 0x1100:
		return "unrecovered read error"
	}
	if asc == 0x29 {
		return "power on or reset occurred"
	}
	return ""
}
