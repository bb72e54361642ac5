package sgio

import (
	"testing"
	"unsafe"
)

// TestHeaderLayout pins sg_io_hdr to the offsets of <scsi/sg.h> on x86-64
// (pahole: 88 bytes, a 4-byte hole before usr_ptr and after info).
func TestHeaderLayout(t *testing.T) {
	var h sgIOHdr
	if got := unsafe.Sizeof(h); got != 88 {
		t.Fatalf("sizeof(sg_io_hdr) = %d, want 88", got)
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
		{"cmdp", unsafe.Offsetof(h.cmdp), 24},
		{"sbp", unsafe.Offsetof(h.sbp), 32},
		{"timeout", unsafe.Offsetof(h.timeout), 40},
		{"flags", unsafe.Offsetof(h.flags), 44},
		{"pack_id", unsafe.Offsetof(h.packID), 48},
		{"usr_ptr", unsafe.Offsetof(h.usrPtr), 56},
		{"status", unsafe.Offsetof(h.status), 64},
		{"masked_status", unsafe.Offsetof(h.maskedStatus), 65},
		{"msg_status", unsafe.Offsetof(h.msgStatus), 66},
		{"sb_len_wr", unsafe.Offsetof(h.sbLenWr), 67},
		{"host_status", unsafe.Offsetof(h.hostStatus), 68},
		{"driver_status", unsafe.Offsetof(h.driverStatus), 70},
		{"resid", unsafe.Offsetof(h.resid), 72},
		{"duration", unsafe.Offsetof(h.duration), 76},
		{"info", unsafe.Offsetof(h.info), 80},
	} {
		if tc.got != tc.want {
			t.Errorf("offsetof(%s) = %d, want %d", tc.field, tc.got, tc.want)
		}
	}
}
