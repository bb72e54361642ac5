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
