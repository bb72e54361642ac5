package scsipr

import (
	"encoding/binary"
	"fmt"
)

// Sizes of the fixed parts of the formats (SPC-4 §6.15, §6.16).
const (
	inHeaderLen         = 8  // PRGENERATION + ADDITIONAL LENGTH
	reservationDescLen  = 16 // READ RESERVATION descriptor
	capabilitiesLen     = 8
	fullStatusDescLen   = 24 // full status descriptor without its TransportID
	outBasicLen         = 24 // PR OUT basic parameter list
	outTIDLenField      = 4  // TRANSPORTID PARAMETER DATA LENGTH
	registerMoveHdrLen  = 24 // REGISTER AND MOVE parameter list without its TransportID
	maxAllocationLength = 0xffff
)

// InCDB builds a PERSISTENT RESERVE IN CDB.
func InCDB(sa InAction, alloc int) []byte {
	cdb := make([]byte, 10)
	cdb[0] = OpPersistentReserveIn
	cdb[1] = uint8(sa) & 0x1f
	binary.BigEndian.PutUint16(cdb[7:9], uint16(min(max(alloc, 0), maxAllocationLength)))
	return cdb
}

// OutCDB builds a PERSISTENT RESERVE OUT CDB.
func OutCDB(sa ServiceAction, scope uint8, t Type, paramLen int) []byte {
	cdb := make([]byte, 10)
	cdb[0] = OpPersistentReserveOut
	cdb[1] = uint8(sa) & 0x1f
	cdb[2] = scope<<4 | uint8(t)&0x0f
	binary.BigEndian.PutUint32(cdb[5:9], uint32(paramLen))
	return cdb
}

// inHeader checks the 8-byte header and returns the generation and the end
// of the data the header describes within b.
func inHeader(what string, b []byte) (gen uint32, end int, err error) {
	if len(b) < inHeaderLen {
		return 0, 0, fmt.Errorf("%s: %d bytes, need the %d-byte header", what, len(b), inHeaderLen)
	}
	n := binary.BigEndian.Uint32(b[4:8])
	if uint64(n) > uint64(len(b)-inHeaderLen) {
		return 0, 0, fmt.Errorf("%s: additional length %d exceeds the %d bytes received", what, n, len(b)-inHeaderLen)
	}
	return binary.BigEndian.Uint32(b[0:4]), inHeaderLen + int(n), nil
}

// announced returns the length the header of a PR IN response asks for, or
// 0 when b is too short to tell.
func announced(b []byte) int {
	if len(b) < inHeaderLen {
		return 0
	}
	n := uint64(binary.BigEndian.Uint32(b[4:8])) + inHeaderLen
	return int(min(n, 1<<31))
}

// ParseKeys parses READ KEYS parameter data. The additional length must be
// covered by b and be a multiple of 8.
func ParseKeys(b []byte) (Keys, error) {
	gen, end, err := inHeader("READ KEYS", b)
	if err != nil {
		return Keys{}, err
	}
	if (end-inHeaderLen)%8 != 0 {
		return Keys{}, fmt.Errorf("READ KEYS: additional length %d is not a multiple of 8", end-inHeaderLen)
	}
	k := Keys{Generation: gen, Keys: make([]uint64, 0, (end-inHeaderLen)/8)}
	for off := inHeaderLen; off < end; off += 8 {
		k.Keys = append(k.Keys, binary.BigEndian.Uint64(b[off:]))
	}
	return k, nil
}

// Marshal renders READ KEYS parameter data.
func (k Keys) Marshal() []byte {
	b := make([]byte, inHeaderLen, inHeaderLen+8*len(k.Keys))
	binary.BigEndian.PutUint32(b[0:4], k.Generation)
	binary.BigEndian.PutUint32(b[4:8], uint32(8*len(k.Keys)))
	for _, key := range k.Keys {
		b = binary.BigEndian.AppendUint64(b, key)
	}
	return b
}

// ParseReservation parses READ RESERVATION parameter data: an additional
// length of 0 (no reservation) or 16 (one reservation descriptor).
func ParseReservation(b []byte) (Reservation, error) {
	gen, end, err := inHeader("READ RESERVATION", b)
	if err != nil {
		return Reservation{}, err
	}
	r := Reservation{Generation: gen}
	switch end - inHeaderLen {
	case 0:
		return r, nil
	case reservationDescLen:
	default:
		return Reservation{}, fmt.Errorf("READ RESERVATION: additional length %d, want 0 or %d", end-inHeaderLen, reservationDescLen)
	}
	d := b[inHeaderLen:end]
	r.Held = true
	r.Key = binary.BigEndian.Uint64(d[0:8])
	r.Scope = d[13] >> 4
	r.Type = Type(d[13] & 0x0f)
	return r, nil
}

// Marshal renders READ RESERVATION parameter data.
func (r Reservation) Marshal() []byte {
	n := 0
	if r.Held {
		n = reservationDescLen
	}
	b := make([]byte, inHeaderLen+n)
	binary.BigEndian.PutUint32(b[0:4], r.Generation)
	binary.BigEndian.PutUint32(b[4:8], uint32(n))
	if r.Held {
		binary.BigEndian.PutUint64(b[8:16], r.Key)
		b[21] = r.Scope<<4 | uint8(r.Type)&0x0f
	}
	return b
}

// ParseCapabilities parses REPORT CAPABILITIES parameter data (8 bytes; the
// LENGTH field is kept as sent).
func ParseCapabilities(b []byte) (Capabilities, error) {
	if len(b) < capabilitiesLen {
		return Capabilities{}, fmt.Errorf("REPORT CAPABILITIES: %d bytes, need %d", len(b), capabilitiesLen)
	}
	return Capabilities{
		Length:        binary.BigEndian.Uint16(b[0:2]),
		RLRC:          b[2]&0x80 != 0,
		CRH:           b[2]&0x10 != 0,
		SIPC:          b[2]&0x08 != 0,
		ATPC:          b[2]&0x04 != 0,
		PTPLC:         b[2]&0x01 != 0,
		TMV:           b[3]&0x80 != 0,
		AllowCommands: (b[3] >> 4) & 0x07,
		PTPLA:         b[3]&0x01 != 0,
		TypeMask:      binary.BigEndian.Uint16(b[4:6]),
	}, nil
}

// Marshal renders REPORT CAPABILITIES parameter data.
func (c Capabilities) Marshal() []byte {
	b := make([]byte, capabilitiesLen)
	binary.BigEndian.PutUint16(b[0:2], c.Length)
	b[2] = bit(c.RLRC, 0x80) | bit(c.CRH, 0x10) | bit(c.SIPC, 0x08) | bit(c.ATPC, 0x04) | bit(c.PTPLC, 0x01)
	b[3] = bit(c.TMV, 0x80) | (c.AllowCommands&0x07)<<4 | bit(c.PTPLA, 0x01)
	binary.BigEndian.PutUint16(b[4:6], c.TypeMask)
	return b
}

func bit(on bool, v uint8) uint8 {
	if on {
		return v
	}
	return 0
}

// ParseFullStatus parses READ FULL STATUS parameter data: one full status
// descriptor per registered I_T nexus, each with its TransportID.
func ParseFullStatus(b []byte) (FullStatus, error) {
	gen, end, err := inHeader("READ FULL STATUS", b)
	if err != nil {
		return FullStatus{}, err
	}
	fs := FullStatus{Generation: gen}
	for off := inHeaderLen; off < end; {
		if off+fullStatusDescLen > end {
			return FullStatus{}, fmt.Errorf("READ FULL STATUS: descriptor at byte %d cut off (%d bytes left)", off, end-off)
		}
		d := b[off:end]
		n := binary.BigEndian.Uint32(d[20:24])
		if uint64(n) > uint64(len(d)-fullStatusDescLen) {
			return FullStatus{}, fmt.Errorf("READ FULL STATUS: descriptor at byte %d has a %d-byte TransportID, %d bytes left",
				off, n, len(d)-fullStatusDescLen)
		}
		tid := d[fullStatusDescLen : fullStatusDescLen+int(n)]
		fs.Registrants = append(fs.Registrants, Registrant{
			Key:          binary.BigEndian.Uint64(d[0:8]),
			AllTgPt:      d[12]&0x02 != 0,
			Holder:       d[12]&0x01 != 0,
			Scope:        d[13] >> 4,
			Type:         Type(d[13] & 0x0f),
			RelTgtPortID: binary.BigEndian.Uint16(d[18:20]),
			TransportID:  append([]byte(nil), tid...),
		})
		off += fullStatusDescLen + int(n)
	}
	return fs, nil
}

// Marshal renders READ FULL STATUS parameter data.
func (fs FullStatus) Marshal() []byte {
	b := make([]byte, inHeaderLen)
	binary.BigEndian.PutUint32(b[0:4], fs.Generation)
	for _, r := range fs.Registrants {
		d := make([]byte, fullStatusDescLen, fullStatusDescLen+len(r.TransportID))
		binary.BigEndian.PutUint64(d[0:8], r.Key)
		d[12] = bit(r.AllTgPt, 0x02) | bit(r.Holder, 0x01)
		d[13] = r.Scope<<4 | uint8(r.Type)&0x0f
		binary.BigEndian.PutUint16(d[18:20], r.RelTgtPortID)
		binary.BigEndian.PutUint32(d[20:24], uint32(len(r.TransportID)))
		b = append(b, append(d, r.TransportID...)...)
	}
	binary.BigEndian.PutUint32(b[4:8], uint32(len(b)-inHeaderLen))
	return b
}

// EncodeOut renders the PR OUT parameter list for sa: the basic list
// (24 bytes, plus the TransportIDs when SpecIPT), or for REGISTER AND MOVE
// its own layout with exactly one TransportID.
func EncodeOut(sa ServiceAction, p OutParams) ([]byte, error) {
	tids := 0
	for i, t := range p.TransportIDs {
		if err := checkTransportID(t); err != nil {
			return nil, fmt.Errorf("PR OUT %s: TransportID %d: %w", sa, i, err)
		}
		tids += len(t)
	}
	if sa == RegisterMove {
		if len(p.TransportIDs) != 1 {
			return nil, fmt.Errorf("PR OUT %s: needs exactly one TransportID, have %d", sa, len(p.TransportIDs))
		}
		b := make([]byte, registerMoveHdrLen, registerMoveHdrLen+tids)
		binary.BigEndian.PutUint64(b[0:8], p.Key)
		binary.BigEndian.PutUint64(b[8:16], p.SAKey)
		b[17] = bit(p.Unreg, 0x02) | bit(p.APTPL, 0x01)
		binary.BigEndian.PutUint16(b[18:20], p.RelTgtPortID)
		binary.BigEndian.PutUint32(b[20:24], uint32(tids))
		return append(b, p.TransportIDs[0]...), nil
	}
	if !p.SpecIPT && len(p.TransportIDs) > 0 {
		return nil, fmt.Errorf("PR OUT %s: TransportIDs given without SPEC_I_PT", sa)
	}
	n := outBasicLen
	if p.SpecIPT {
		n += outTIDLenField + tids
	}
	b := make([]byte, outBasicLen, n)
	binary.BigEndian.PutUint64(b[0:8], p.Key)
	binary.BigEndian.PutUint64(b[8:16], p.SAKey)
	b[20] = bit(p.SpecIPT, 0x08) | bit(p.AllTgPt, 0x04) | bit(p.APTPL, 0x01)
	if p.SpecIPT {
		b = binary.BigEndian.AppendUint32(b, uint32(tids))
		for _, t := range p.TransportIDs {
			b = append(b, t...)
		}
	}
	return b, nil
}

// ParseOut parses a PR OUT parameter list for sa, as a device server does
// (tests and fake targets use it; fuzzed against EncodeOut).
func ParseOut(sa ServiceAction, b []byte) (OutParams, error) {
	if sa == RegisterMove {
		if len(b) < registerMoveHdrLen {
			return OutParams{}, fmt.Errorf("PR OUT %s: %d bytes, need %d", sa, len(b), registerMoveHdrLen)
		}
		n := binary.BigEndian.Uint32(b[20:24])
		if uint64(n) != uint64(len(b)-registerMoveHdrLen) {
			return OutParams{}, fmt.Errorf("PR OUT %s: TransportID length %d, %d bytes follow", sa, n, len(b)-registerMoveHdrLen)
		}
		tid := b[registerMoveHdrLen:]
		if l, err := transportIDLen(tid); err != nil || l != len(tid) {
			return OutParams{}, fmt.Errorf("PR OUT %s: not one TransportID (%d bytes)", sa, len(tid))
		}
		return OutParams{
			Key:          binary.BigEndian.Uint64(b[0:8]),
			SAKey:        binary.BigEndian.Uint64(b[8:16]),
			Unreg:        b[17]&0x02 != 0,
			APTPL:        b[17]&0x01 != 0,
			RelTgtPortID: binary.BigEndian.Uint16(b[18:20]),
			TransportIDs: [][]byte{append([]byte(nil), tid...)},
		}, nil
	}
	if len(b) < outBasicLen {
		return OutParams{}, fmt.Errorf("PR OUT %s: %d bytes, need %d", sa, len(b), outBasicLen)
	}
	p := OutParams{
		Key:     binary.BigEndian.Uint64(b[0:8]),
		SAKey:   binary.BigEndian.Uint64(b[8:16]),
		SpecIPT: b[20]&0x08 != 0,
		AllTgPt: b[20]&0x04 != 0,
		APTPL:   b[20]&0x01 != 0,
	}
	if !p.SpecIPT {
		if len(b) != outBasicLen {
			return OutParams{}, fmt.Errorf("PR OUT %s: %d bytes without SPEC_I_PT, want %d", sa, len(b), outBasicLen)
		}
		return p, nil
	}
	if len(b) < outBasicLen+outTIDLenField {
		return OutParams{}, fmt.Errorf("PR OUT %s: SPEC_I_PT set but no TransportID length", sa)
	}
	n := binary.BigEndian.Uint32(b[24:28])
	rest := b[outBasicLen+outTIDLenField:]
	if uint64(n) != uint64(len(rest)) {
		return OutParams{}, fmt.Errorf("PR OUT %s: TransportID length %d, %d bytes follow", sa, n, len(rest))
	}
	for len(rest) > 0 {
		l, err := transportIDLen(rest)
		if err != nil {
			return OutParams{}, fmt.Errorf("PR OUT %s: TransportID %d: %w", sa, len(p.TransportIDs), err)
		}
		p.TransportIDs = append(p.TransportIDs, append([]byte(nil), rest[:l]...))
		rest = rest[l:]
	}
	return p, nil
}
