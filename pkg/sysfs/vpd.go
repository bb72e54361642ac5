package sysfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Designator association (VPD 0x83 byte 1 bits 5-4).
const (
	AssocLU         = 0
	AssocTargetPort = 1
	AssocTarget     = 2
)

// Designator types (VPD 0x83 byte 1 bits 3-0).
const (
	DesigVendor          = 0x0
	DesigT10             = 0x1
	DesigEUI64           = 0x2
	DesigNAA             = 0x3
	DesigRelTargetPort   = 0x4
	DesigTargetPortGroup = 0x5
	DesigLUGroup         = 0x6
	DesigMD5             = 0x7
	DesigSCSIName        = 0x8
	DesigUUID            = 0xa
)

// Designator code sets (VPD 0x83 byte 0 bits 3-0).
const (
	CodeSetBinary = 1
	CodeSetASCII  = 2
	CodeSetUTF8   = 3
)

// ErrMalformedVPD is wrapped by every VPD parse error.
var ErrMalformedVPD = errors.New("malformed VPD page")

// Designator is one designation descriptor of VPD page 0x83.
type Designator struct {
	Protocol    uint8 // protocol identifier; meaningful only if PIV
	CodeSet     uint8
	PIV         bool
	Association uint8
	Type        uint8
	Value       []byte // aliases the page buffer
}

// ParseVPD83 splits a Device Identification page (including its 4-byte
// header) into designators. On a malformed descriptor it returns the
// designators before it together with an error wrapping ErrMalformedVPD.
func ParseVPD83(page []byte) ([]Designator, error) {
	if len(page) < 4 {
		return nil, fmt.Errorf("vpd 0x83: %d bytes, need a 4-byte header: %w", len(page), ErrMalformedVPD)
	}
	if page[1] != 0x83 {
		return nil, fmt.Errorf("vpd 0x83: page code 0x%02x: %w", page[1], ErrMalformedVPD)
	}
	n := int(binary.BigEndian.Uint16(page[2:4]))
	if 4+n > len(page) {
		return nil, fmt.Errorf("vpd 0x83: page length %d exceeds %d bytes read: %w", n, len(page)-4, ErrMalformedVPD)
	}
	body := page[4 : 4+n]
	var ds []Designator
	for off := 0; off < len(body); {
		if len(body)-off < 4 {
			return ds, fmt.Errorf("vpd 0x83: truncated descriptor header at offset %d: %w", off+4, ErrMalformedVPD)
		}
		l := int(body[off+3])
		if off+4+l > len(body) {
			return ds, fmt.Errorf("vpd 0x83: descriptor at offset %d: length %d overruns page: %w", off+4, l, ErrMalformedVPD)
		}
		ds = append(ds, Designator{
			Protocol:    body[off] >> 4,
			CodeSet:     body[off] & 0x0f,
			PIV:         body[off+1]&0x80 != 0,
			Association: (body[off+1] >> 4) & 0x3,
			Type:        body[off+1] & 0x0f,
			Value:       body[off+4 : off+4+l],
		})
		off += 4 + l
	}
	return ds, nil
}

// TargetPortGroup returns the target port group id (designator type 5,
// association 1) that the ALUA prioritizer looks up in the RTPG response.
func TargetPortGroup(ds []Designator) (uint16, bool) {
	for _, d := range ds {
		if d.Type == DesigTargetPortGroup && d.Association == AssocTargetPort && len(d.Value) >= 4 {
			return binary.BigEndian.Uint16(d.Value[2:4]), true
		}
	}
	return 0, false
}

// ParseVPD80 returns the unit serial number of page 0x80 with leading and
// trailing spaces removed.
func ParseVPD80(page []byte) (string, error) {
	s, err := vpd80Raw(page)
	if err != nil {
		return "", err
	}
	i, j := 0, len(s)
	for i < j && s[i] == ' ' {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == 0) {
		j--
	}
	return string(s[i:j]), nil
}

func vpd80Raw(page []byte) ([]byte, error) {
	if len(page) < 4 {
		return nil, fmt.Errorf("vpd 0x80: %d bytes, need a 4-byte header: %w", len(page), ErrMalformedVPD)
	}
	if page[1] != 0x80 {
		return nil, fmt.Errorf("vpd 0x80: page code 0x%02x: %w", page[1], ErrMalformedVPD)
	}
	n := int(page[3]) // udev reads only the low length byte; serials are short
	if 4+n > len(page) {
		return nil, fmt.Errorf("vpd 0x80: serial length %d exceeds %d bytes read: %w", n, len(page)-4, ErrMalformedVPD)
	}
	return page[4 : 4+n], nil
}

// udev scsi_id constants: it asks for at most 254 bytes of a VPD page and
// builds the serial in a 256-byte buffer.
const (
	udevInqBufLen = 254
	udevSerialMax = 256
)

type udevSearch struct {
	typ     uint8
	naa     int // -1: any NAA format
	codeSet uint8
}

// The designator preference of udev's scsi_id (association 0 only).
var udevSearchOrder = []udevSearch{
	{DesigNAA, 6, CodeSetBinary}, {DesigNAA, 6, CodeSetASCII},
	{DesigNAA, 5, CodeSetBinary}, {DesigNAA, 5, CodeSetASCII},
	{DesigNAA, -1, CodeSetBinary}, {DesigNAA, -1, CodeSetASCII},
	{DesigEUI64, -1, CodeSetBinary}, {DesigEUI64, -1, CodeSetASCII},
	{DesigT10, -1, CodeSetBinary}, {DesigT10, -1, CodeSetASCII},
	{DesigVendor, -1, CodeSetBinary}, {DesigVendor, -1, CodeSetASCII},
}

// Identity is what udev's ID_SERIAL is computed from: the raw VPD pages and
// the standard INQUIRY vendor (8 bytes) and model (16 bytes), space padded.
type Identity struct {
	VPD83  []byte // nil if the device has no page 0x83
	VPD80  []byte // nil if the device has no page 0x80
	Vendor []byte
	Model  []byte
}

// ErrNoWWID means neither VPD page yields an identifier.
var ErrNoWWID = errors.New("no usable identifier in VPD pages 0x83/0x80")

// UdevSerial computes the WWID exactly as udev's ID_SERIAL for a SCSI disk
// (scsi_id --export --whitelisted): the preferred association-0 designator
// of page 0x83 as a type digit plus lowercase hex (binary) or raw text
// (ASCII); failing that "S"+vendor+model+page-0x80 serial; then whitespace
// runs collapse to "_" and characters outside udev's allow list become "_".
//
// This is the scsi_id rule that sets ID_SERIAL for SAN LUNs. udev's rules
// give disks with INQUIRY vendor "ATA" and USB disks their ID_SERIAL from
// ata_id/usb_id instead, which this function does not reproduce.
func UdevSerial(id Identity) (string, error) {
	raw, err83 := udevSerial83(id)
	if err83 == nil {
		return udevClean(raw), nil
	}
	raw, err80 := udevSerial80(id)
	if err80 == nil {
		return udevClean(raw), nil
	}
	return "", fmt.Errorf("%w: %w; %w", ErrNoWWID, err83, err80)
}

func udevSerial83(id Identity) ([]byte, error) {
	if id.VPD83 == nil {
		return nil, errors.New("vpd 0x83: absent")
	}
	page := id.VPD83
	if len(page) > udevInqBufLen {
		page = page[:udevInqBufLen]
	}
	if len(page) < 4 || page[1] != 0x83 {
		return nil, fmt.Errorf("vpd 0x83: bad header: %w", ErrMalformedVPD)
	}
	// SCSI-2 style page (some old EMC Symmetrix): a bare binary WWN after
	// the header, recognised by a non-zero reserved byte in the first descriptor.
	if len(page) > 6 && page[6] != 0 {
		n := int(page[3])
		if 4+n > len(page) {
			return nil, fmt.Errorf("vpd 0x83: pre-SPC3 id length %d exceeds page: %w", n, ErrMalformedVPD)
		}
		out := []byte{hexDigit(DesigNAA)}
		for _, b := range page[4 : 4+n] {
			if len(out) >= udevSerialMax-3 {
				break
			}
			out = append(out, hexDigit(b>>4), hexDigit(b&0xf))
		}
		return out, nil
	}
	// udev walks the page with the BE16 length but within its 254-byte
	// buffer; descriptors beyond it are invisible to it and so to us.
	if n := int(binary.BigEndian.Uint16(page[2:4])); 4+n < len(page) {
		page = page[:4+n]
	} else if 4+n > len(page) {
		page = append([]byte(nil), page...)
		page[2], page[3] = byte((len(page)-4)>>8), byte(len(page)-4)
	}
	ds, perr := ParseVPD83(page)
	for _, s := range udevSearchOrder {
		for _, d := range ds {
			if d.Association != AssocLU || d.Type != s.typ || d.CodeSet != s.codeSet {
				continue
			}
			if s.naa >= 0 && (len(d.Value) == 0 || int(d.Value[0]>>4) != s.naa) {
				continue
			}
			if out, ok := udevFill(d, id); ok {
				return out, nil
			}
		}
	}
	if perr != nil {
		return nil, perr
	}
	return nil, errors.New("vpd 0x83: no logical-unit NAA, EUI-64, T10 or vendor designator")
}

func udevFill(d Designator, id Identity) ([]byte, bool) {
	need := len(d.Value) + 2
	if d.CodeSet != CodeSetASCII {
		need = 2*len(d.Value) + 2
	}
	if d.Type == DesigVendor {
		need += 24
	}
	if need > udevSerialMax {
		return nil, false
	}
	out := make([]byte, 0, need)
	out = append(out, hexDigit(d.Type))
	if d.Type == DesigVendor {
		vm, ok := vendorModel(id)
		if !ok {
			return nil, false
		}
		out = append(out, vm...)
	}
	if d.CodeSet == CodeSetASCII {
		out = append(out, d.Value...)
	} else {
		for _, b := range d.Value {
			out = append(out, hexDigit(b>>4), hexDigit(b&0xf))
		}
	}
	return out, true
}

// vendorModel is udev's check that vendor and model are full-width strings
// (no NUL inside), as they are in the INQUIRY data.
func vendorModel(id Identity) ([]byte, bool) {
	if len(id.Vendor) < 8 || len(id.Model) < 16 {
		return nil, false
	}
	vm := make([]byte, 0, 24)
	vm = append(vm, id.Vendor[:8]...)
	vm = append(vm, id.Model[:16]...)
	for _, c := range vm {
		if c == 0 {
			return nil, false
		}
	}
	return vm, true
}

func udevSerial80(id Identity) ([]byte, error) {
	if id.VPD80 == nil {
		return nil, errors.New("vpd 0x80: absent")
	}
	page := id.VPD80
	if len(page) > udevInqBufLen {
		page = page[:udevInqBufLen]
	}
	s, err := vpd80Raw(page)
	if err != nil {
		return nil, err
	}
	if 1+24+len(s) > udevSerialMax {
		return nil, errors.New("vpd 0x80: serial too long")
	}
	vm, ok := vendorModel(id)
	if !ok {
		return nil, fmt.Errorf("vpd 0x80: vendor %q / model %q not 8/16 characters", id.Vendor, id.Model)
	}
	out := append([]byte{'S'}, vm...)
	return append(out, s...), nil
}

func hexDigit(b byte) byte { return "0123456789abcdef"[b&0xf] }

func cIsSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// udevClean applies udev_replace_whitespace then udev_replace_chars to a
// C string (anything after a NUL is not part of it).
func udevClean(s []byte) string {
	for i, c := range s {
		if c == 0 {
			s = s[:i]
			break
		}
	}
	i, j := 0, len(s)
	for j > 0 && cIsSpace(s[j-1]) {
		j--
	}
	for i < j && cIsSpace(s[i]) {
		i++
	}
	out := make([]byte, 0, j-i)
	space := false
	for ; i < j; i++ {
		if cIsSpace(s[i]) {
			space = true
			continue
		}
		if space {
			out = append(out, '_')
			space = false
		}
		out = append(out, s[i])
	}
	for k := 0; k < len(out); {
		c := out[k]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z',
			c == '#', c == '+', c == '-', c == '.', c == ':', c == '=', c == '@', c == '_':
			k++
		case c == '\\' && k+1 < len(out) && out[k+1] == 'x':
			k += 2
		default:
			if r, n := utf8.DecodeRune(out[k:]); n > 1 && r != utf8.RuneError {
				k += n
				continue
			}
			out[k] = '_'
			k++
		}
	}
	return string(out)
}
