package scsipr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// SCSI transport protocol identifiers (SPC-4 table 362).
const (
	ProtocolFC    = 0x0
	Protocol1394  = 0x3
	ProtocolSRP   = 0x4
	ProtocolISCSI = 0x5
	ProtocolSAS   = 0x6
)

// iSCSI TransportID formats.
const (
	ISCSIDeviceName = 0 // the initiator's iSCSI name
	ISCSIPortID     = 1 // "name,i,0xISID": one initiator port
)

const (
	fixedTIDLen    = 24 // every TransportID but iSCSI's
	iscsiTIDHdrLen = 4
	iscsiTIDMinLen = 24
)

var errTIDShort = errors.New("TransportID too short")

// TransportID is a decoded initiator TransportID (SPC-4 §7.6.4).
type TransportID struct {
	Protocol uint8 // ProtocolFC, ProtocolISCSI, ...
	Format   uint8 // FORMAT CODE
	// Name is the iSCSI name: "iqn..." for ISCSIDeviceName, "iqn...,i,0x<ISID>"
	// for ISCSIPortID; NUL padding removed.
	Name string
	// Port is the FC N_Port name, the SAS address or the 1394 EUI-64 (8
	// bytes), or the SRP initiator port identifier (16 bytes).
	Port []byte
}

// transportIDLen returns the length of the TransportID at the start of b.
func transportIDLen(b []byte) (int, error) {
	if len(b) < iscsiTIDHdrLen {
		return 0, fmt.Errorf("%w: %d bytes", errTIDShort, len(b))
	}
	n := fixedTIDLen
	if b[0]&0x0f == ProtocolISCSI {
		n = iscsiTIDHdrLen + int(binary.BigEndian.Uint16(b[2:4]))
	}
	if n > len(b) {
		return 0, fmt.Errorf("%w: needs %d bytes, have %d", errTIDShort, n, len(b))
	}
	return n, nil
}

func checkTransportID(b []byte) error {
	n, err := transportIDLen(b)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("TransportID of %d bytes has %d trailing bytes", n, len(b)-n)
	}
	return nil
}

// ParseTransportID decodes one TransportID (exactly the bytes of one, as in
// a full status descriptor).
func ParseTransportID(b []byte) (TransportID, error) {
	if err := checkTransportID(b); err != nil {
		return TransportID{}, err
	}
	t := TransportID{Protocol: b[0] & 0x0f, Format: b[0] >> 6}
	switch t.Protocol {
	case ProtocolISCSI:
		name := b[iscsiTIDHdrLen:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		t.Name = string(name)
	case ProtocolFC, Protocol1394:
		t.Port = append([]byte(nil), b[8:16]...)
	case ProtocolSAS:
		t.Port = append([]byte(nil), b[4:12]...)
	case ProtocolSRP:
		t.Port = append([]byte(nil), b[8:24]...)
	}
	return t, nil
}

// Marshal renders the TransportID: iSCSI names NUL-terminated and padded to
// a multiple of 4 bytes (at least 24 in all), the others in 24 bytes.
func (t TransportID) Marshal() ([]byte, error) {
	if t.Protocol == ProtocolISCSI {
		n := len(t.Name) + 1
		n = max((n+3)&^3, iscsiTIDMinLen-iscsiTIDHdrLen)
		if n > 0xffff {
			return nil, fmt.Errorf("TransportID: iSCSI name of %d bytes too long", len(t.Name))
		}
		b := make([]byte, iscsiTIDHdrLen+n)
		b[0] = (t.Format&3)<<6 | ProtocolISCSI
		binary.BigEndian.PutUint16(b[2:4], uint16(n))
		copy(b[iscsiTIDHdrLen:], t.Name)
		return b, nil
	}
	b := make([]byte, fixedTIDLen)
	b[0] = (t.Format&3)<<6 | t.Protocol&0x0f
	off, want := 8, 8
	switch t.Protocol {
	case ProtocolSAS:
		off = 4
	case ProtocolSRP:
		want = 16
	case ProtocolFC, Protocol1394:
	default:
		return nil, fmt.Errorf("TransportID: protocol 0x%x not supported", t.Protocol)
	}
	if len(t.Port) != want {
		return nil, fmt.Errorf("TransportID: protocol 0x%x needs a %d-byte port identifier, have %d", t.Protocol, want, len(t.Port))
	}
	copy(b[off:], t.Port)
	return b, nil
}

// ISCSITransportID is the TransportID of an iSCSI initiator name.
func ISCSITransportID(name string) []byte {
	b, _ := TransportID{Protocol: ProtocolISCSI, Name: name}.Marshal()
	return b
}
