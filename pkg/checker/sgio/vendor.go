package sgio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Vendor VPD pages the vendor checkers and prioritizers read.
const (
	// VPDUnitPathReport is the DGC (CLARiiON, VNX, Unity) "unit path
	// report" page: LUN ownership, failover mode, LUN WWN.
	VPDUnitPathReport = 0xc0
	// VPDONTAPProxy is NetApp ONTAP's page that tells a proxy (partner
	// controller) path from a direct one.
	VPDONTAPProxy = 0xc1
	// VPDVolumeAccess is the RDAC (LSI/Engenio, NetApp E-Series, IBM DS,
	// Dell MD) "volume access control" page.
	VPDVolumeAccess = 0xc9
)

// InquiryData sends standard INQUIRY with an allocation of n bytes and
// returns what the device transferred: the vendor-specific bytes past 36
// that hds and datacore read.
func InquiryData(d Device, n int, timeout time.Duration) ([]byte, error) {
	buf := make([]byte, n)
	r, err := run(d, "INQUIRY", inquiryCDB(false, 0, n), DirFromDev, buf, timeout)
	if err != nil {
		return nil, err
	}
	return received(buf, r), nil
}

// vpdHeader checks a VPD page's code and that the data reaches byte need-1,
// and returns the page bounded by its own length field.
func vpdHeader(b []byte, page uint8, name string, need int) ([]byte, error) {
	if len(b) < 4 || b[1] != page {
		return nil, fmt.Errorf("VPD 0x%02x: not a %s page (%d bytes)", page, name, len(b))
	}
	end := min(len(b), 4+int(binary.BigEndian.Uint16(b[2:4])))
	if end < need {
		return nil, fmt.Errorf("VPD 0x%02x: %s page has %d bytes, need %d", page, name, end, need)
	}
	return b[:end], nil
}

// VolumeAccess is the RDAC volume access control page (VPD 0xC9) as the
// rdac checker and prioritizer read it.
type VolumeAccess struct {
	// ID is the page identifier, "vac1" on current firmware.
	ID                  string
	PeripheralQualifier uint8
	DeviceType          uint8
	// Owner: this controller currently owns the volume (CVP bit).
	Owner bool
	// IOShipping: the array ships I/O between controllers, so every path
	// serves the volume at full speed.
	IOShipping bool
	// AVT: auto volume transfer is on.
	AVT bool
	// PathPriority: 1 preferred path, 2 secondary path.
	PathPriority uint8
	// State and Reason are this controller's ALUA access state and its
	// vendor-specific reason code; AltState that of the other controller.
	State    AccessState
	Reason   uint8
	AltState AccessState
}

// RDAC path priority values (VolumeAccess.PathPriority).
const (
	RDACPreferred = 1
	RDACSecondary = 2
)

// volumeAccessLen is the part of the page the fields above come from.
const volumeAccessLen = 14

// ParseVolumeAccess parses VPD page 0xC9. It accepts any "vac" page
// version; detection of an RDAC array asks for "vac1" itself.
func ParseVolumeAccess(b []byte) (VolumeAccess, error) {
	b, err := vpdHeader(b, VPDVolumeAccess, "volume access control", volumeAccessLen)
	if err != nil {
		return VolumeAccess{}, err
	}
	id := string(b[4:8])
	if !strings.HasPrefix(id, "vac") {
		return VolumeAccess{}, fmt.Errorf("VPD 0xc9: page identifier %q, want vac*", id)
	}
	return VolumeAccess{
		ID:                  id,
		PeripheralQualifier: b[0] >> 5,
		DeviceType:          b[0] & 0x1f,
		Owner:               b[8]&0x01 != 0,
		IOShipping:          b[8]&0x20 != 0,
		AVT:                 b[8]&0x80 != 0,
		PathPriority:        b[9] & 0x0f,
		State:               AccessState(b[10] & 0x0f),
		Reason:              b[11],
		AltState:            AccessState(b[12] & 0x0f),
	}, nil
}

// UnitPathReport is the DGC unit path report page (VPD 0xC0).
type UnitPathReport struct {
	// LUNState: 0 unbound, 1 bound (owned by the other SP), 2 owned by
	// the SP this path reaches.
	LUNState uint8
	// DefaultSP is the LUN's default owner; PathSP the storage processor
	// this path reaches.
	DefaultSP, PathSP uint8
	// Format is the page revision; 0 is the only one known.
	Format uint8
	// WWN is the LUN's 16-byte WWN: it must not change under a path.
	WWN [16]byte
	// InitiatorType, FailoverMode and ArrayCommPath are the host's
	// registration on the array: multipathing needs type 3, failover mode
	// 1 (PNR) or 4 (ALUA), and arraycommpath on.
	InitiatorType uint8
	FailoverMode  uint8
	ArrayCommPath bool
	// LUNOperations is nonzero while the LUN is not in normal operation
	// (e.g. a trespass or a rebuild in progress).
	LUNOperations uint8
}

// LUN states of the unit path report.
const (
	LUNUnbound = 0
	LUNBound   = 1
	LUNOwned   = 2
)

const unitPathReportLen = 49

// ParseUnitPathReport parses VPD page 0xC0 of a DGC array.
func ParseUnitPathReport(b []byte) (UnitPathReport, error) {
	b, err := vpdHeader(b, VPDUnitPathReport, "unit path report", unitPathReportLen)
	if err != nil {
		return UnitPathReport{}, err
	}
	u := UnitPathReport{
		LUNState:      b[4],
		DefaultSP:     b[5],
		PathSP:        b[8],
		Format:        b[9],
		InitiatorType: b[27],
		FailoverMode:  b[28] & 0x07,
		ArrayCommPath: b[30]&0x04 != 0,
		LUNOperations: b[48],
	}
	copy(u.WWN[:], b[10:26])
	return u, nil
}

// FailoverReady reports whether the host is registered on the array the way
// multipathing needs (initiator type 3, failover mode PNR or ALUA,
// arraycommpath on).
func (u UnitPathReport) FailoverReady() bool {
	return u.InitiatorType == 0x03 && (u.FailoverMode == 0x04 || u.FailoverMode == 0x06) && u.ArrayCommPath
}

// ONTAPProxy parses NetApp's VPD page 0xC1 and reports whether the path goes
// through the partner controller (a proxy path).
func ONTAPProxy(b []byte) (bool, error) {
	b, err := vpdHeader(b, VPDONTAPProxy, "ONTAP proxy", 20)
	if err != nil {
		return false, err
	}
	if !bytes.Equal(b[4:8], []byte("xsvd")) {
		return false, fmt.Errorf("VPD 0xc1: page identifier %q, want xsvd", b[4:8])
	}
	return b[19]&0x02 != 0, nil
}

// NetApp's vendor "get value" (GVA) command and its answer.
const (
	OpNetAppGVA = 0xc0
	// GVAISCSIPage names the iSCSI stack a path uses.
	GVAISCSIPage = 0x41
	gvaLen       = 256
)

// GVA sends NetApp's vendor command C0h for a value page and returns the raw
// answer.
func GVA(d Device, page uint8, timeout time.Duration) ([]byte, error) {
	buf := make([]byte, gvaLen)
	// Bytes 1-5 and 7 are the fixed signature and length ONTAP expects.
	cdb := []byte{OpNetAppGVA, 0, 0x01, 0x0a, 0x98, 0x0a, page, 0x80, 0, 0}
	r, err := run(d, fmt.Sprintf("NETAPP GVA page 0x%02x", page), cdb, DirFromDev, buf, timeout)
	if err != nil {
		return nil, err
	}
	return received(buf, r), nil
}

// ISCSIStack is what GVA page 0x41 says about a path.
type ISCSIStack uint8

// Values of ISCSIStack.
const (
	// ISCSINone: not iSCSI (FCP), or the page names no stack.
	ISCSINone ISCSIStack = iota
	ISCSISoftware
	ISCSIHBA
)

// ParseGVAISCSI parses the answer to GVA page 0x41.
func ParseGVAISCSI(b []byte) (ISCSIStack, error) {
	if len(b) < 8 || !bytes.Equal(b[4:8], []byte{0x0a, 0x98, 0x0a, 0x01}) {
		return ISCSINone, fmt.Errorf("NETAPP GVA: answer has no GVA signature (%d bytes)", len(b))
	}
	end := min(len(b), 4+int(binary.BigEndian.Uint32(b[0:4])))
	if end <= 8 {
		return ISCSINone, nil
	}
	if b[8] != GVAISCSIPage {
		return ISCSINone, fmt.Errorf("NETAPP GVA: page 0x%02x, want 0x41", b[8])
	}
	name := b[min(12, end):end]
	switch {
	case bytes.HasPrefix(name, []byte("ism_sw")), bytes.HasPrefix(name, []byte("iswt")):
		return ISCSISoftware, nil
	case bytes.HasPrefix(name, []byte("ism_sn")):
		return ISCSIHBA, nil
	}
	return ISCSINone, nil
}

// HDSInquiry is the Hitachi DF (AMS/WMS) part of standard INQUIRY data.
type HDSInquiry struct {
	Vendor, Product string
	// LDEV is the logical device number as 4 hex digits, Ctrl the
	// controller (a digit) and Port the port this path reaches.
	LDEV string
	Ctrl byte
	Port byte
}

// ParseHDSInquiry reads the LDEV and controller from standard INQUIRY data of
// a Hitachi DF array (bytes 44-47 and 49-50).
func ParseHDSInquiry(b []byte) (HDSInquiry, error) {
	if len(b) < 51 {
		return HDSInquiry{}, fmt.Errorf("INQUIRY: %d bytes, need 51 for the Hitachi LDEV and controller", len(b))
	}
	h := HDSInquiry{
		Vendor:  strings.TrimRight(string(b[8:16]), " \x00"),
		Product: strings.TrimRight(string(b[16:32]), " \x00"),
		LDEV:    string(b[44:48]),
		Ctrl:    b[49],
		Port:    b[50],
	}
	if h.Vendor != "HITACHI" || !strings.HasPrefix(h.Product, "DF") {
		return HDSInquiry{}, fmt.Errorf("INQUIRY: %s %s is not a Hitachi DF array", h.Vendor, h.Product)
	}
	if !isDigit(h.Ctrl) || !isHex(h.LDEV[3]) {
		return HDSInquiry{}, fmt.Errorf("INQUIRY: Hitachi controller %q or LDEV %q is not a number", h.Ctrl, h.LDEV)
	}
	return h, nil
}

// Owner reports whether the controller owns the LDEV: the parities of the
// controller number and of the LDEV's last digit agree.
func (h HDSInquiry) Owner() bool {
	return (h.Ctrl-'0')%2 == hexValue(h.LDEV[3])%2
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f') }

func hexValue(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// DataCoreSDS returns the SANsymphony server (SDS) name a DataCore virtual
// disk reports in standard INQUIRY data (16 bytes at offset 112).
func DataCoreSDS(b []byte) (string, error) {
	if len(b) < 36 || !strings.Contains(string(b[8:16]), "DataCore") {
		return "", fmt.Errorf("INQUIRY: not a DataCore device")
	}
	if len(b) < 128 {
		return "", fmt.Errorf("INQUIRY: %d bytes, need 128 for the DataCore server name", len(b))
	}
	return strings.TrimRight(string(b[112:128]), " \x00"), nil
}
