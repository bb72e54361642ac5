// Package scsipr sends SCSI-3 persistent reservation commands (PERSISTENT
// RESERVE IN and OUT, SPC-4 §6.15 and §6.16) through the sgio.Device seam
// and encodes and parses their data: READ KEYS, READ RESERVATION, REPORT
// CAPABILITIES and READ FULL STATUS (with TransportIDs), and the PR OUT
// parameter lists, both the basic one and REGISTER AND MOVE's.
//
// A reservation is held per I_T nexus, so callers that manage a multipath
// map send these commands down each of its paths; this package knows
// nothing of maps and works on one device node at a time.
package scsipr

import (
	"errors"
	"fmt"
)

// SCSI operation codes.
const (
	OpPersistentReserveIn  = 0x5e
	OpPersistentReserveOut = 0x5f
)

// Type is a persistent reservation type (the TYPE field).
type Type uint8

// Persistent reservation types (SPC-4 table 183).
const (
	WriteExclusive                 Type = 1
	ExclusiveAccess                Type = 3
	WriteExclusiveRegistrantsOnly  Type = 5
	ExclusiveAccessRegistrantsOnly Type = 6
	WriteExclusiveAllRegistrants   Type = 7
	ExclusiveAccessAllRegistrants  Type = 8
)

// typeNames are the names mpathpersist and sg_persist print.
var typeNames = [16]string{
	"obsolete [0]", "Write Exclusive", "obsolete [2]", "Exclusive Access", "obsolete [4]",
	"Write Exclusive, registrants only", "Exclusive Access, registrants only",
	"Write Exclusive, all registrants", "Exclusive Access, all registrants",
	"obsolete [9]", "obsolete [0xa]", "obsolete [0xb]", "obsolete [0xc]",
	"obsolete [0xd]", "obsolete [0xe]", "obsolete [0xf]",
}

func (t Type) String() string {
	if t > 0xf {
		return fmt.Sprintf("type 0x%x", uint8(t))
	}
	return typeNames[t]
}

// AllRegistrants reports whether every registrant holds a reservation of
// this type (the holder's key is then 0 in READ RESERVATION).
func (t Type) AllRegistrants() bool {
	return t == WriteExclusiveAllRegistrants || t == ExclusiveAccessAllRegistrants
}

// InAction is a PERSISTENT RESERVE IN service action.
type InAction uint8

// PERSISTENT RESERVE IN service actions.
const (
	InReadKeys           InAction = 0
	InReadReservation    InAction = 1
	InReportCapabilities InAction = 2
	InReadFullStatus     InAction = 3
)

func (a InAction) String() string {
	switch a {
	case InReadKeys:
		return "READ KEYS"
	case InReadReservation:
		return "READ RESERVATION"
	case InReportCapabilities:
		return "REPORT CAPABILITIES"
	case InReadFullStatus:
		return "READ FULL STATUS"
	}
	return fmt.Sprintf("service action 0x%02x", uint8(a))
}

// ServiceAction is a PERSISTENT RESERVE OUT service action.
type ServiceAction uint8

// PERSISTENT RESERVE OUT service actions.
const (
	Register       ServiceAction = 0
	Reserve        ServiceAction = 1
	Release        ServiceAction = 2
	Clear          ServiceAction = 3
	Preempt        ServiceAction = 4
	PreemptAbort   ServiceAction = 5
	RegisterIgnore ServiceAction = 6
	RegisterMove   ServiceAction = 7
)

var outNames = [...]string{
	"REGISTER", "RESERVE", "RELEASE", "CLEAR", "PREEMPT", "PREEMPT AND ABORT",
	"REGISTER AND IGNORE EXISTING KEY", "REGISTER AND MOVE",
}

func (sa ServiceAction) String() string {
	if int(sa) < len(outNames) {
		return outNames[sa]
	}
	return fmt.Sprintf("service action 0x%02x", uint8(sa))
}

// ScopeLU is the only scope SPC-4 defines (LU_SCOPE).
const ScopeLU = 0

// Keys is the READ KEYS response.
type Keys struct {
	Generation uint32
	Keys       []uint64
}

// Reservation is the READ RESERVATION response. Held is false when no
// persistent reservation exists; the other fields are then zero.
type Reservation struct {
	Generation uint32
	Held       bool
	Key        uint64
	Scope      uint8
	Type       Type
}

// Capabilities is the REPORT CAPABILITIES response.
type Capabilities struct {
	Length uint16 // the LENGTH field (8)
	RLRC   bool   // replace lost reservation capable
	CRH    bool   // compatible reservation handling
	SIPC   bool   // specify initiator ports capable
	ATPC   bool   // all target ports capable
	PTPLC  bool   // persist through power loss capable
	TMV    bool   // type mask valid
	// AllowCommands is the 3-bit ALLOW COMMANDS field.
	AllowCommands uint8
	PTPLA         bool // persist through power loss activated
	// TypeMask is the PERSISTENT RESERVATION TYPE MASK as sent (bytes 4-5,
	// big-endian): 0x8000 WR_EX_AR, 0x4000 EX_AC_RO, 0x2000 WR_EX_RO,
	// 0x0800 EX_AC, 0x0200 WR_EX, 0x0001 EX_AC_AR.
	TypeMask uint16
}

// typeMaskBit is each type's bit in Capabilities.TypeMask.
var typeMaskBit = map[Type]uint16{
	WriteExclusiveAllRegistrants:   0x8000,
	ExclusiveAccessRegistrantsOnly: 0x4000,
	WriteExclusiveRegistrantsOnly:  0x2000,
	ExclusiveAccess:                0x0800,
	WriteExclusive:                 0x0200,
	ExclusiveAccessAllRegistrants:  0x0001,
}

// Supports reports whether the type mask is valid and includes t.
func (c Capabilities) Supports(t Type) bool {
	return c.TMV && c.TypeMask&typeMaskBit[t] != 0
}

// Registrant is one full status descriptor: an I_T nexus's registration.
type Registrant struct {
	Key     uint64
	AllTgPt bool
	Holder  bool // this nexus holds (or, for all-registrants types, shares) the reservation
	Scope   uint8
	Type    Type // valid when Holder
	// RelTgtPortID is the relative target port identifier (when !AllTgPt).
	RelTgtPortID uint16
	// TransportID is the initiator's TransportID as sent; see ParseTransportID.
	TransportID []byte
}

// FullStatus is the READ FULL STATUS response.
type FullStatus struct {
	Generation  uint32
	Registrants []Registrant
}

// OutParams are the PR OUT parameters. SpecIPT with TransportIDs applies to
// REGISTER; REGISTER AND MOVE takes exactly one TransportID, RelTgtPortID
// and Unreg, and ignores AllTgPt and SpecIPT.
type OutParams struct {
	Key, SAKey   uint64
	AllTgPt      bool
	APTPL        bool
	SpecIPT      bool
	TransportIDs [][]byte
	RelTgtPortID uint16 // REGISTER AND MOVE only
	Unreg        bool   // REGISTER AND MOVE only
}

// ErrReservationConflict is wrapped by errors of commands the device ended
// with RESERVATION CONFLICT status. The same error also wraps the
// *sgio.CommandError with the full result.
var ErrReservationConflict = errors.New("reservation conflict")
