// Package sgio sends SCSI commands through the Linux SG_IO ioctl and decodes
// what comes back: status, host and driver bytes, fixed and descriptor sense,
// standard INQUIRY, VPD pages 0x80/0x83 and REPORT TARGET PORT GROUPS.
//
// The ioctl sits behind the Device interface so that everything above it
// (commands, classification, the path checkers) is tested with a fake device.
package sgio

import (
	"errors"
	"fmt"
	"time"
)

// Direction is the data transfer direction of a command (sg_io_hdr.dxfer_direction).
type Direction int32

// Values of sg_io_hdr.dxfer_direction.
const (
	DirNone    Direction = -1
	DirToDev   Direction = -2
	DirFromDev Direction = -3
)

// SAM status byte values.
const (
	StatusGood                = 0x00
	StatusCheckCondition      = 0x02
	StatusConditionMet        = 0x04
	StatusBusy                = 0x08
	StatusReservationConflict = 0x18
	StatusTaskSetFull         = 0x28
	StatusACAActive           = 0x30
	StatusTaskAborted         = 0x40
)

// HostStatus is the host byte (DID_*) the low-level driver reports.
type HostStatus uint16

// Host byte values (include/scsi/scsi_status.h).
const (
	DIDOK                 HostStatus = 0x00
	DIDNoConnect          HostStatus = 0x01
	DIDBusBusy            HostStatus = 0x02
	DIDTimeOut            HostStatus = 0x03
	DIDBadTarget          HostStatus = 0x04
	DIDAbort              HostStatus = 0x05
	DIDParity             HostStatus = 0x06
	DIDError              HostStatus = 0x07
	DIDReset              HostStatus = 0x08
	DIDBadIntr            HostStatus = 0x09
	DIDPassthrough        HostStatus = 0x0a
	DIDSoftError          HostStatus = 0x0b
	DIDImmRetry           HostStatus = 0x0c
	DIDRequeue            HostStatus = 0x0d
	DIDTransportDisrupted HostStatus = 0x0e
	DIDTransportFailfast  HostStatus = 0x0f
	DIDTransportMarginal  HostStatus = 0x14
)

const (
	driverSense           uint16 = 0x08 // DRIVER_SENSE in the old driver byte
	driverStatusLowNibble uint16 = 0x0f
	maxTimeoutMillis             = 1<<32 - 1
)

var hostNames = map[HostStatus]string{
	DIDOK: "DID_OK", DIDNoConnect: "DID_NO_CONNECT", DIDBusBusy: "DID_BUS_BUSY",
	DIDTimeOut: "DID_TIME_OUT", DIDBadTarget: "DID_BAD_TARGET", DIDAbort: "DID_ABORT",
	DIDParity: "DID_PARITY", DIDError: "DID_ERROR", DIDReset: "DID_RESET",
	DIDBadIntr: "DID_BAD_INTR", DIDPassthrough: "DID_PASSTHROUGH", DIDSoftError: "DID_SOFT_ERROR",
	DIDImmRetry: "DID_IMM_RETRY", DIDRequeue: "DID_REQUEUE",
	DIDTransportDisrupted: "DID_TRANSPORT_DISRUPTED", DIDTransportFailfast: "DID_TRANSPORT_FAILFAST",
	DIDTransportMarginal: "DID_TRANSPORT_MARGINAL",
}

func (h HostStatus) String() string {
	if n, ok := hostNames[h]; ok {
		return n
	}
	return fmt.Sprintf("host status 0x%02x", uint16(h))
}

// Result is the outcome of one SCSI command as the kernel reported it.
// A nil error from Device.SGIO means the command was delivered; whether it
// succeeded is in these fields.
type Result struct {
	Status       uint8      // SAM status byte
	HostStatus   HostStatus // DID_* transport/driver verdict
	DriverStatus uint16     // 0, or DRIVER_SENSE (0x08) on modern kernels
	Sense        []byte     // the sense bytes the device actually wrote
	Resid        int32      // requested minus transferred bytes
	Duration     time.Duration
}

// OK reports whether the command completed with GOOD status and no host or
// driver error.
func (r Result) OK() bool {
	return r.Status == StatusGood && r.HostStatus == DIDOK && r.DriverStatus&driverStatusLowNibble&^driverSense == 0
}

// CheckCondition reports whether the device returned sense data to look at.
func (r Result) CheckCondition() bool {
	return r.Status == StatusCheckCondition || r.DriverStatus&driverStatusLowNibble == driverSense
}

// DecodeSense decodes the result's sense data.
func (r Result) DecodeSense() (Sense, error) { return DecodeSense(r.Sense) }

func (r Result) String() string {
	s := fmt.Sprintf("status 0x%02x, %s, driver 0x%02x", r.Status, r.HostStatus, r.DriverStatus)
	if len(r.Sense) > 0 {
		if sn, err := DecodeSense(r.Sense); err == nil {
			s += ", " + sn.String()
		} else {
			s += fmt.Sprintf(", undecodable sense (%d bytes)", len(r.Sense))
		}
	}
	return s
}

// Device sends one SCSI command. Implementations: *File (the real ioctl) and
// sgiotest.Device (a fake for tests).
//
// buf is the data buffer (nil for DirNone). timeout is per command; zero means
// the kernel default. An error means the command could not be delivered
// (bad fd, ENOTTY, ENXIO...), not that the device rejected it.
type Device interface {
	SGIO(cdb []byte, dir Direction, buf []byte, timeout time.Duration) (Result, error)
}

// ErrNotSupported is wrapped by errors from devices that do not support SG_IO
// (the ioctl returned ENOTTY).
var ErrNotSupported = errors.New("SG_IO not supported")

// timeoutMillis converts a command timeout to sg_io_hdr.timeout. Zero stays
// zero (kernel default). Sub-millisecond timeouts round up to 1 ms: zero would
// mean "default", which is far longer than asked. On block devices the kernel
// raises anything below 7 s to 7 s (BLK_MIN_SG_TIMEOUT); callers that need a
// shorter bound must enforce it above this layer.
func timeoutMillis(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > maxTimeoutMillis {
		return maxTimeoutMillis
	}
	return uint32(ms)
}
