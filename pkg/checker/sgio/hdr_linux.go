//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64 || 386 || arm || mips || mipsle)

package sgio

import "unsafe"

// sgIOHdr mirrors struct sg_io_hdr. Go aligns its fields as C does, so one
// declaration gives the kernel's layout on both word sizes: 88 bytes with 4
// bytes of padding before usrPtr and at the end on 64-bit Linux
// (TestHeaderLayout), 64 bytes with none on 32-bit Linux, where a 64-bit
// kernel converts it (compat SG_IO; TestHeaderLayout32). The pointer fields
// are unsafe.Pointer, not uintptr, so the garbage collector keeps their
// targets alive; they are also pinned for the duration of the ioctl.
type sgIOHdr struct {
	interfaceID    int32
	dxferDirection int32
	cmdLen         uint8
	mxSbLen        uint8
	iovecCount     uint16
	dxferLen       uint32
	dxferp         unsafe.Pointer
	cmdp           unsafe.Pointer
	sbp            unsafe.Pointer
	timeout        uint32
	flags          uint32
	packID         int32
	usrPtr         unsafe.Pointer
	status         uint8
	maskedStatus   uint8
	msgStatus      uint8
	sbLenWr        uint8
	hostStatus     uint16
	driverStatus   uint16
	resid          int32
	duration       uint32
	info           uint32
}
