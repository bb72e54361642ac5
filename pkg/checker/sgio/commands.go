package sgio

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// SCSI operation codes used here.
const (
	OpTestUnitReady = 0x00
	OpInquiry       = 0x12
	OpRead10        = 0x28
	OpMaintenanceIn = 0xa3
	saRTPG          = 0x0a
)

// VPD page codes.
const (
	VPDSupportedPages = 0x00
	VPDUnitSerial     = 0x80
	VPDDeviceID       = 0x83
)

const (
	stdInquiryLen = 96
	vpdFirstLen   = 255     // old devices honour only the low byte of the allocation length
	rtpgFirstLen  = 4 + 512 // room for a typical dual-controller answer
	rtpgMaxLen    = 1 << 16 // a bound on what the device may ask us to allocate
)

// CommandError is a command that was delivered but did not complete with
// GOOD status. It carries the full Result for classification.
type CommandError struct {
	Op     string
	Result Result
}

func (e *CommandError) Error() string { return fmt.Sprintf("%s: %s", e.Op, e.Result) }

func run(d Device, op string, cdb []byte, dir Direction, buf []byte, timeout time.Duration) (Result, error) {
	r, err := d.SGIO(cdb, dir, buf, timeout)
	if err != nil {
		return r, fmt.Errorf("%s: %w", op, err)
	}
	if !r.OK() {
		return r, &CommandError{Op: op, Result: r}
	}
	return r, nil
}

// TestUnitReady sends TEST UNIT READY. The Result is returned as-is (no
// CommandError) because the caller classifies every outcome.
func TestUnitReady(d Device, timeout time.Duration) (Result, error) {
	r, err := d.SGIO(make([]byte, 6), DirNone, nil, timeout)
	if err != nil {
		return r, fmt.Errorf("TEST UNIT READY: %w", err)
	}
	return r, nil
}

// Read10 reads one logical block at lba into buf (len(buf) = the logical
// block size). Like TestUnitReady, the Result is returned unclassified.
func Read10(d Device, lba uint32, buf []byte, timeout time.Duration) (Result, error) {
	cdb := make([]byte, 10)
	cdb[0] = OpRead10
	binary.BigEndian.PutUint32(cdb[2:6], lba)
	binary.BigEndian.PutUint16(cdb[7:9], 1)
	r, err := d.SGIO(cdb, DirFromDev, buf, timeout)
	if err != nil {
		return r, fmt.Errorf("READ(10) lba %d: %w", lba, err)
	}
	return r, nil
}

// TPGS is the asymmetric access support reported by standard INQUIRY.
type TPGS uint8

// TPGS values (INQUIRY byte 5 bits 5-4).
const (
	TPGSNone     TPGS = 0
	TPGSImplicit TPGS = 1
	TPGSExplicit TPGS = 2
	TPGSBoth     TPGS = 3
)

// StdInquiry is the part of standard INQUIRY data a multipath daemon uses.
type StdInquiry struct {
	PeripheralQualifier uint8
	DeviceType          uint8
	TPGS                TPGS
	Vendor              string // trailing spaces stripped
	Product             string
	Revision            string
}

// Inquiry sends standard INQUIRY and parses it.
func Inquiry(d Device, timeout time.Duration) (StdInquiry, error) {
	buf := make([]byte, stdInquiryLen)
	r, err := run(d, "INQUIRY", inquiryCDB(false, 0, len(buf)), DirFromDev, buf, timeout)
	if err != nil {
		return StdInquiry{}, err
	}
	return ParseStdInquiry(received(buf, r))
}

// ParseStdInquiry parses standard INQUIRY data (at least 36 bytes).
func ParseStdInquiry(b []byte) (StdInquiry, error) {
	if len(b) < 36 {
		return StdInquiry{}, fmt.Errorf("INQUIRY: %d bytes, need 36", len(b))
	}
	field := func(s []byte) string { return strings.TrimRight(string(s), " \x00") }
	return StdInquiry{
		PeripheralQualifier: b[0] >> 5,
		DeviceType:          b[0] & 0x1f,
		TPGS:                TPGS(b[5]>>4) & 3,
		Vendor:              field(b[8:16]),
		Product:             field(b[16:32]),
		Revision:            field(b[32:36]),
	}, nil
}

func inquiryCDB(evpd bool, page uint8, alloc int) []byte {
	cdb := []byte{OpInquiry, 0, page, 0, 0, 0}
	if evpd {
		cdb[1] = 1
	}
	binary.BigEndian.PutUint16(cdb[3:5], uint16(min(alloc, 0xffff)))
	return cdb
}

// received trims buf to what the device transferred.
func received(buf []byte, r Result) []byte {
	n := len(buf) - int(r.Resid)
	if r.Resid < 0 || n < 0 || n > len(buf) {
		return buf
	}
	return buf[:n]
}

// InquiryVPD reads a whole VPD page (header included): first with a 255-byte
// allocation, then again at the length the page header announces.
func InquiryVPD(d Device, page uint8, timeout time.Duration) ([]byte, error) {
	op := fmt.Sprintf("INQUIRY VPD 0x%02x", page)
	buf := make([]byte, vpdFirstLen)
	for attempt := 0; ; attempt++ {
		r, err := run(d, op, inquiryCDB(true, page, len(buf)), DirFromDev, buf, timeout)
		if err != nil {
			return nil, err
		}
		b := received(buf, r)
		if len(b) < 4 {
			return nil, fmt.Errorf("%s: %d bytes, need a 4-byte header", op, len(b))
		}
		if b[1] != page {
			return nil, fmt.Errorf("%s: device returned page 0x%02x", op, b[1])
		}
		want := 4 + int(binary.BigEndian.Uint16(b[2:4]))
		if want <= len(buf) || attempt > 0 {
			return b[:min(want, len(b))], nil
		}
		buf = make([]byte, want)
	}
}

// ParseUnitSerial returns the serial number of VPD page 0x80 without
// leading and trailing spaces.
func ParseUnitSerial(b []byte) (string, error) {
	if len(b) < 4 || b[1] != VPDUnitSerial {
		return "", fmt.Errorf("VPD 0x80: not a unit serial number page (%d bytes)", len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if 4+n > len(b) {
		return "", fmt.Errorf("VPD 0x80: page length %d exceeds %d bytes received", n, len(b)-4)
	}
	return strings.Trim(string(b[4:4+n]), " \x00"), nil
}

// Designator is one designation descriptor of VPD page 0x83.
type Designator struct {
	ProtocolID  uint8 // valid only if PIV
	CodeSet     uint8 // 1 binary, 2 ASCII, 3 UTF-8
	PIV         bool
	Association uint8 // 0 logical unit, 1 target port, 2 target device
	Type        uint8 // 3 NAA, 4 relative target port, 5 target port group, 8 SCSI name...
	Value       []byte
}

// Designator types and associations.
const (
	DesigNAA                = 3
	DesigRelativeTargetPort = 4
	DesigTargetPortGroup    = 5
	AssocLogicalUnit        = 0
	AssocTargetPort         = 1
)

// ParseDeviceID parses VPD page 0x83 (header included) into designators.
func ParseDeviceID(b []byte) ([]Designator, error) {
	if len(b) < 4 || b[1] != VPDDeviceID {
		return nil, fmt.Errorf("VPD 0x83: not a device identification page (%d bytes)", len(b))
	}
	end := 4 + int(binary.BigEndian.Uint16(b[2:4]))
	if end > len(b) {
		return nil, fmt.Errorf("VPD 0x83: page length %d exceeds %d bytes received", end-4, len(b)-4)
	}
	var ds []Designator
	for off := 4; off < end; {
		if off+4 > end {
			return nil, fmt.Errorf("VPD 0x83: designator header at byte %d cut off", off)
		}
		n := int(b[off+3])
		if off+4+n > end {
			return nil, fmt.Errorf("VPD 0x83: designator at byte %d needs %d bytes, %d left", off, 4+n, end-off)
		}
		ds = append(ds, Designator{
			ProtocolID:  b[off] >> 4,
			CodeSet:     b[off] & 0x0f,
			PIV:         b[off+1]&0x80 != 0,
			Association: (b[off+1] >> 4) & 3,
			Type:        b[off+1] & 0x0f,
			Value:       b[off+4 : off+4+n : off+4+n],
		})
		off += 4 + n
	}
	return ds, nil
}

// TargetPortGroup finds the target port group id (type 5, association 1).
func TargetPortGroup(ds []Designator) (uint16, bool) {
	return portField(ds, DesigTargetPortGroup)
}

// RelativeTargetPort finds the relative target port id (type 4, association 1).
func RelativeTargetPort(ds []Designator) (uint16, bool) {
	return portField(ds, DesigRelativeTargetPort)
}

func portField(ds []Designator, typ uint8) (uint16, bool) {
	for _, d := range ds {
		if d.Type == typ && d.Association == AssocTargetPort && len(d.Value) >= 4 {
			return binary.BigEndian.Uint16(d.Value[2:4]), true
		}
	}
	return 0, false
}

// AccessState is an ALUA asymmetric access state (AAS).
type AccessState uint8

// ALUA asymmetric access states.
const (
	AASOptimized      AccessState = 0x0
	AASNonOptimized   AccessState = 0x1
	AASStandby        AccessState = 0x2
	AASUnavailable    AccessState = 0x3
	AASLBADependent   AccessState = 0x4
	AASOffline        AccessState = 0xe
	AASTransitioning  AccessState = 0xf
	rtpgDescriptorLen             = 8
)

func (a AccessState) String() string {
	switch a {
	case AASOptimized:
		return "active/optimized"
	case AASNonOptimized:
		return "active/non-optimized"
	case AASStandby:
		return "standby"
	case AASUnavailable:
		return "unavailable"
	case AASLBADependent:
		return "lba-dependent"
	case AASOffline:
		return "offline"
	case AASTransitioning:
		return "transitioning"
	}
	return fmt.Sprintf("reserved(0x%x)", uint8(a))
}

// PortGroup is one target port group descriptor of the RTPG response.
type PortGroup struct {
	ID        uint16
	State     AccessState
	Preferred bool
	Supported uint8 // T_SUP 0x80 O_SUP 0x40 LBD_SUP 0x10 U_SUP 0x08 S_SUP 0x04 AN_SUP 0x02 AO_SUP 0x01
	Status    uint8 // 0 none, 1 set by STPG, 2 implicit change
	Ports     []uint16
}

// ReportTargetPortGroups sends REPORT TARGET PORT GROUPS, growing the buffer
// to the length the device reports, and returns the raw response.
func ReportTargetPortGroups(d Device, timeout time.Duration) ([]byte, error) {
	buf := make([]byte, rtpgFirstLen)
	for attempt := 0; ; attempt++ {
		cdb := make([]byte, 12)
		cdb[0], cdb[1] = OpMaintenanceIn, saRTPG
		binary.BigEndian.PutUint32(cdb[6:10], uint32(len(buf)))
		r, err := run(d, "REPORT TARGET PORT GROUPS", cdb, DirFromDev, buf, timeout)
		if err != nil {
			return nil, err
		}
		b := received(buf, r)
		if len(b) < 4 {
			return nil, fmt.Errorf("REPORT TARGET PORT GROUPS: %d bytes, need 4", len(b))
		}
		want := 4 + int(binary.BigEndian.Uint32(b[0:4]))
		if want <= len(buf) || attempt > 0 || want > rtpgMaxLen {
			return b[:min(want, len(b))], nil
		}
		buf = make([]byte, want)
	}
}

// ParseRTPG parses a REPORT TARGET PORT GROUPS response in the length-only
// (format 0) or extended-header (format 1) layout.
func ParseRTPG(b []byte) ([]PortGroup, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("RTPG: %d bytes, need 4", len(b))
	}
	end := min(len(b), 4+int(binary.BigEndian.Uint32(b[0:4])))
	off := 4
	if len(b) >= 8 && (b[4]>>4)&7 == 1 {
		off = 8
	}
	var pgs []PortGroup
	for off < end {
		if off+rtpgDescriptorLen > end {
			return nil, fmt.Errorf("RTPG: descriptor at byte %d cut off (%d bytes left)", off, end-off)
		}
		d := b[off:]
		n := int(d[7])
		if off+rtpgDescriptorLen+4*n > end {
			return nil, fmt.Errorf("RTPG: descriptor at byte %d lists %d ports, data ends at %d", off, n, end)
		}
		pg := PortGroup{
			ID:        binary.BigEndian.Uint16(d[2:4]),
			State:     AccessState(d[0] & 0x0f),
			Preferred: d[0]&0x80 != 0,
			Supported: d[1],
			Status:    d[5],
			Ports:     make([]uint16, n),
		}
		for i := range n {
			pg.Ports[i] = binary.BigEndian.Uint16(d[rtpgDescriptorLen+4*i+2:])
		}
		pgs = append(pgs, pg)
		off += rtpgDescriptorLen + 4*n
	}
	return pgs, nil
}
