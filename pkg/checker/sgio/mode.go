package sgio

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Mode page commands, for the control mode page the rdac checker adjusts.
const (
	OpModeSelect10  = 0x55
	OpModeSense10   = 0x5a
	PageControl     = 0x0a
	modeHeader10Len = 8
	modeSenseLen    = 255
	controlTAS      = 0x40 // control mode page byte 5: task aborted status
)

// ModeSense10 reads the current values of a mode page (block descriptors
// left out) with their mode parameter header.
func ModeSense10(d Device, page uint8, timeout time.Duration) ([]byte, error) {
	buf := make([]byte, modeSenseLen)
	cdb := make([]byte, 10)
	cdb[0], cdb[1], cdb[2] = OpModeSense10, 0x08, page&0x3f // DBD, current values
	binary.BigEndian.PutUint16(cdb[7:9], uint16(len(buf)))
	r, err := run(d, fmt.Sprintf("MODE SENSE(10) page 0x%02x", page), cdb, DirFromDev, buf, timeout)
	if err != nil {
		return nil, err
	}
	return received(buf, r), nil
}

// ModeSelect10 sends a mode parameter list (header, block descriptors,
// pages) with PF set and SP clear: the values apply now and are not saved.
func ModeSelect10(d Device, data []byte, timeout time.Duration) error {
	cdb := make([]byte, 10)
	cdb[0], cdb[1] = OpModeSelect10, 0x10
	binary.BigEndian.PutUint16(cdb[7:9], uint16(len(data)))
	_, err := run(d, "MODE SELECT(10)", cdb, DirToDev, append([]byte(nil), data...), timeout)
	return err
}

// SetControlTAS takes MODE SENSE(10) data of the control mode page and
// returns the MODE SELECT(10) parameter list that sets its TAS bit (task
// aborted status: a command aborted for another initiator ends with TASK
// ABORTED instead of vanishing). changed is false when TAS is already set.
func SetControlTAS(sense []byte) (sel []byte, changed bool, err error) {
	if len(sense) < modeHeader10Len {
		return nil, false, fmt.Errorf("MODE SENSE(10): %d bytes, need an 8-byte header", len(sense))
	}
	end := min(len(sense), 2+int(binary.BigEndian.Uint16(sense[0:2])))
	off := modeHeader10Len + int(binary.BigEndian.Uint16(sense[6:8]))
	if off+2 > end {
		return nil, false, fmt.Errorf("MODE SENSE(10): no page after the header and %d bytes of block descriptors", off-modeHeader10Len)
	}
	page := sense[off:]
	n := 2 + int(page[1])
	if page[0]&0x3f != PageControl || page[0]&0x40 != 0 || n < 6 || off+n > end {
		return nil, false, fmt.Errorf("MODE SENSE(10): page 0x%02x of %d bytes is not the control mode page", page[0]&0x3f, n)
	}
	if page[5]&controlTAS != 0 {
		return nil, false, nil
	}
	sel = append([]byte(nil), sense[:off+n]...)
	// Reserved in MODE SELECT: the mode data length, the device-specific
	// parameter (WP, DPOFUA on a disk) and the page's PS bit.
	sel[0], sel[1], sel[3] = 0, 0, 0
	sel[off] &^= 0x80
	sel[off+5] |= controlTAS
	return sel, true, nil
}
