// Package sgiotest provides a fake sgio.Device and builders for sense data,
// VPD pages and RTPG responses, for tests of code above the SG_IO ioctl.
package sgiotest

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
)

// Response is what the fake device answers to one command.
type Response struct {
	Result sgio.Result
	Data   []byte // copied into the data buffer; Resid is set from the shortfall
	Err    error  // returned instead of a Result (ioctl failure)
}

// Device is a fake sgio.Device. Handler decides each answer; it sees the
// CDB and may inspect the allocation length. Calls are recorded.
type Device struct {
	Handler func(cdb []byte) Response

	mu    sync.Mutex
	calls [][]byte
}

// SGIO implements sgio.Device.
func (d *Device) SGIO(cdb []byte, _ sgio.Direction, buf []byte, _ time.Duration) (sgio.Result, error) {
	d.mu.Lock()
	d.calls = append(d.calls, append([]byte(nil), cdb...))
	d.mu.Unlock()
	resp := d.Handler(cdb)
	if resp.Err != nil {
		return sgio.Result{}, resp.Err
	}
	r := resp.Result
	n := copy(buf, resp.Data)
	if r.Resid == 0 {
		r.Resid = int32(len(buf) - n)
	}
	return r, nil
}

// Calls returns the CDBs sent so far.
func (d *Device) Calls() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.calls...)
}

// Sequence returns a handler answering successive commands with rs, then
// repeating the last one.
func Sequence(rs ...Response) func([]byte) Response {
	var mu sync.Mutex
	i := 0
	return func([]byte) Response {
		mu.Lock()
		defer mu.Unlock()
		r := rs[min(i, len(rs)-1)]
		i++
		return r
	}
}

// Good is a GOOD response carrying data.
func Good(data []byte) Response { return Response{Data: data} }

// Check is a CHECK CONDITION response with the given sense bytes.
func Check(sense []byte) Response {
	return Response{Result: sgio.Result{Status: sgio.StatusCheckCondition, DriverStatus: 0x08, Sense: sense}}
}

// FixedSense builds 18 bytes of current fixed-format sense.
func FixedSense(key sgio.SenseKey, asc, ascq uint8) []byte {
	b := make([]byte, 18)
	b[0] = 0x70
	b[2] = byte(key)
	b[7] = 10
	b[12], b[13] = asc, ascq
	return b
}

// DescriptorSense builds current descriptor-format sense with one
// information descriptor, as Linux's scsi_build_sense does with dsense=1.
func DescriptorSense(key sgio.SenseKey, asc, ascq uint8) []byte {
	b := make([]byte, 8+12)
	b[0] = 0x72
	b[1] = byte(key)
	b[2], b[3] = asc, ascq
	b[7] = 12
	b[8], b[9], b[10] = 0x00, 0x0a, 0x80 // information descriptor, VALID
	return b
}

// VPD83 builds a VPD page 0x83 with an NAA-3 LU designator, a relative
// target port and a target port group designator.
func VPD83(naa uint64, relPort, tpg uint16) []byte {
	b := []byte{0, 0x83, 0, 0}
	b = append(b, 0x01, 0x03, 0, 8)
	b = binary.BigEndian.AppendUint64(b, naa)
	b = append(b, 0x61, 0x94, 0, 4, 0, 0)
	b = binary.BigEndian.AppendUint16(b, relPort)
	b = append(b, 0x61, 0x95, 0, 4, 0, 0)
	b = binary.BigEndian.AppendUint16(b, tpg)
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)-4))
	return b
}

// StdInquiry builds 96 bytes of standard INQUIRY data for a disk.
func StdInquiry(vendor, product string, tpgs sgio.TPGS) []byte {
	b := make([]byte, 96)
	b[2], b[3], b[4] = 7, 2, 91
	b[5] = byte(tpgs) << 4
	copy(b[8:16], pad(vendor, 8))
	copy(b[16:32], pad(product, 16))
	copy(b[32:36], "0191")
	return b
}

func pad(s string, n int) []byte {
	b := []byte(s + "                ")
	return b[:n]
}

// PortGroup describes one group for RTPG.
type PortGroup struct {
	ID        uint16
	State     sgio.AccessState
	Preferred bool
	Ports     []uint16
}

// RTPG builds a length-only (format 0) REPORT TARGET PORT GROUPS response.
func RTPG(pgs ...PortGroup) []byte {
	b := make([]byte, 4)
	for _, pg := range pgs {
		b0 := byte(pg.State)
		if pg.Preferred {
			b0 |= 0x80
		}
		b = append(b, b0, 0xdf)
		b = binary.BigEndian.AppendUint16(b, pg.ID)
		b = append(b, 0, 0, 0, byte(len(pg.Ports)))
		for _, p := range pg.Ports {
			b = append(b, 0, 0)
			b = binary.BigEndian.AppendUint16(b, p)
		}
	}
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-4))
	return b
}

// Router answers each kind of command from its own field: a fake device
// whose standard INQUIRY, VPD pages, TEST UNIT READY, READ and vendor
// commands answer independently. A VPD page or vendor command it has no
// answer for is refused with ILLEGAL REQUEST, invalid field in CDB (24/00).
type Router struct {
	Std    Response
	VPD    map[uint8]Response
	TUR    Response
	Read   Response
	Vendor map[byte]Response // by operation code
}

// Handle is a Device.Handler.
func (r Router) Handle(cdb []byte) Response {
	refused := Check(FixedSense(sgio.IllegalRequest, 0x24, 0))
	switch {
	case cdb[0] == sgio.OpInquiry && cdb[1]&1 == 0:
		return r.Std
	case cdb[0] == sgio.OpInquiry:
		if resp, ok := r.VPD[cdb[2]]; ok {
			return resp
		}
		return refused
	case cdb[0] == sgio.OpTestUnitReady:
		return r.TUR
	case cdb[0] == sgio.OpRead10:
		return r.Read
	}
	if resp, ok := r.Vendor[cdb[0]]; ok {
		return resp
	}
	return refused
}

// VolumeAccess describes an RDAC volume access control page (VPD 0xC9).
type VolumeAccess struct {
	ID                     string // "vac1" when empty
	PQ, PDT                uint8
	Owner, IOShipping, AVT bool
	PathPriority           uint8
	State, AltState        sgio.AccessState
	Reason                 uint8
}

// Bytes renders the page as RDAC firmware sends it: 48 bytes, page length 0x2c.
func (v VolumeAccess) Bytes() []byte {
	b := make([]byte, 48)
	b[0] = v.PQ<<5 | v.PDT
	b[1], b[3] = sgio.VPDVolumeAccess, 0x2c
	id := v.ID
	if id == "" {
		id = "vac1"
	}
	copy(b[4:8], id)
	if v.Owner {
		b[8] |= 0x01
	}
	if v.IOShipping {
		b[8] |= 0x20
	}
	if v.AVT {
		b[8] |= 0x80
	}
	b[9] = v.PathPriority
	b[10], b[11], b[12] = byte(v.State), v.Reason, byte(v.AltState)
	return b
}

// UnitPathReport describes a DGC unit path report page (VPD 0xC0).
type UnitPathReport struct {
	LUNState, DefaultSP, PathSP, Format uint8
	WWN                                 [16]byte
	InitiatorType, FailoverMode         uint8
	ArrayCommPath                       bool
	LUNOperations                       uint8
}

// Healthy is a unit path report of a bound LUN on a host registered for
// failover (initiator type 3, failover mode 4, arraycommpath on).
func Healthy(state, defaultSP, pathSP uint8) UnitPathReport {
	return UnitPathReport{LUNState: state, DefaultSP: defaultSP, PathSP: pathSP, InitiatorType: 3, FailoverMode: 4, ArrayCommPath: true,
		WWN: [16]byte{0x60, 0x06, 0x01, 0x60, 0x1c, 0x20, 0x2a, 0x00, 0x7a, 0x5b, 0x21, 0x4f, 0x01, 0x8c, 0xe3, 0x11}}
}

// Bytes renders the page: 64 bytes.
func (u UnitPathReport) Bytes() []byte {
	b := make([]byte, 64)
	b[1], b[3] = sgio.VPDUnitPathReport, 60
	b[4], b[5], b[8], b[9] = u.LUNState, u.DefaultSP, u.PathSP, u.Format
	copy(b[10:26], u.WWN[:])
	b[27], b[28] = u.InitiatorType, u.FailoverMode
	if u.ArrayCommPath {
		b[30] = 0x04
	}
	b[48] = u.LUNOperations
	return b
}

// Pages answers INQUIRY as a device with standard data std and the VPD
// pages given by page code would; a page it lacks, and any other command,
// is refused with ILLEGAL REQUEST (INVALID FIELD IN CDB). Page 0 is built
// from the keys of pages unless pages has one.
func Pages(std []byte, pages map[uint8][]byte) func(cdb []byte) Response {
	if _, ok := pages[0]; !ok {
		list := []byte{0}
		for code := range 256 {
			if _, ok := pages[uint8(code)]; ok {
				list = append(list, uint8(code))
			}
		}
		pages[0] = append([]byte{0, 0, 0, byte(len(list))}, list...)
	}
	return func(cdb []byte) Response {
		switch {
		case cdb[0] != sgio.OpInquiry:
		case cdb[1]&1 == 0:
			return Good(std)
		case pages[cdb[2]] != nil:
			return Good(pages[cdb[2]])
		}
		return Check(FixedSense(sgio.IllegalRequest, 0x24, 0))
	}
}
