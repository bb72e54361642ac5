//go:build linux && (386 || arm || mips || mipsle)

package sgio

import "unsafe"

// sgIOHdr mirrors struct sg_io_hdr on 32-bit Linux (64 bytes, no holes:
// every pointer is 4 bytes; layout pinned by TestHeaderLayout32). A 64-bit
// kernel converts it for a 32-bit process (compat SG_IO). The pointer fields
// are unsafe.Pointer so the garbage collector keeps their targets alive; they
// are also pinned for the duration of the ioctl.
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
