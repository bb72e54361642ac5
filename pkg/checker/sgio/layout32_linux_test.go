//go:build linux && (386 || arm || mips || mipsle)

package sgio

import (
	"testing"
	"unsafe"
)

// TestHeaderLayout32 pins sg_io_hdr to the offsets of <scsi/sg.h> on 32-bit
// Linux (i386 and ARM EABI: 64 bytes, every field naturally aligned, no hole).
func TestHeaderLayout32(t *testing.T) {
	var h sgIOHdr
	if got := unsafe.Sizeof(h); got != 64 {
		t.Fatalf("sizeof(sg_io_hdr) = %d, want 64", got)
	}
	for _, tc := range []struct {
		field string
		got   uintptr
		want  uintptr
	}{
		{"interface_id", unsafe.Offsetof(h.interfaceID), 0},
		{"dxfer_direction", unsafe.Offsetof(h.dxferDirection), 4},
		{"cmd_len", unsafe.Offsetof(h.cmdLen), 8},
		{"mx_sb_len", unsafe.Offsetof(h.mxSbLen), 9},
		{"iovec_count", unsafe.Offsetof(h.iovecCount), 10},
		{"dxfer_len", unsafe.Offsetof(h.dxferLen), 12},
		{"dxferp", unsafe.Offsetof(h.dxferp), 16},
		{"cmdp", unsafe.Offsetof(h.cmdp), 20},
		{"sbp", unsafe.Offsetof(h.sbp), 24},
		{"timeout", unsafe.Offsetof(h.timeout), 28},
		{"flags", unsafe.Offsetof(h.flags), 32},
		{"pack_id", unsafe.Offsetof(h.packID), 36},
		{"usr_ptr", unsafe.Offsetof(h.usrPtr), 40},
		{"status", unsafe.Offsetof(h.status), 44},
		{"masked_status", unsafe.Offsetof(h.maskedStatus), 45},
		{"msg_status", unsafe.Offsetof(h.msgStatus), 46},
		{"sb_len_wr", unsafe.Offsetof(h.sbLenWr), 47},
		{"host_status", unsafe.Offsetof(h.hostStatus), 48},
		{"driver_status", unsafe.Offsetof(h.driverStatus), 50},
		{"resid", unsafe.Offsetof(h.resid), 52},
		{"duration", unsafe.Offsetof(h.duration), 56},
		{"info", unsafe.Offsetof(h.info), 60},
	} {
		if tc.got != tc.want {
			t.Errorf("offsetof(%s) = %d, want %d", tc.field, tc.got, tc.want)
		}
	}
}
