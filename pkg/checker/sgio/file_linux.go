//go:build linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64 || 386 || arm || mips || mipsle)

package sgio

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	ioctlSGIO      = 0x2285
	interfaceIDS   = 'S'
	maxSenseLength = 96
)

// File is an open block or sg device that accepts SG_IO.
type File struct {
	fd   int
	name string
}

// Open opens a device node for SG_IO (O_RDONLY|O_NONBLOCK|O_CLOEXEC; enough
// for TUR, INQUIRY, RTPG and READ as root). An offline SCSI device fails to
// open with ENXIO.
func Open(name string) (*File, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sgio: open %s: %w", name, err)
	}
	return &File{fd: fd, name: name}, nil
}

// Name returns the path the file was opened with.
func (f *File) Name() string { return f.name }

// Close closes the device.
func (f *File) Close() error {
	if err := unix.Close(f.fd); err != nil {
		return fmt.Errorf("sgio: close %s: %w", f.name, err)
	}
	return nil
}

// SGIO issues one command. It blocks the calling OS thread until the kernel
// completes or times out the command.
func (f *File) SGIO(cdb []byte, dir Direction, buf []byte, timeout time.Duration) (Result, error) {
	if len(cdb) < 6 || len(cdb) > 255 {
		return Result{}, fmt.Errorf("sgio: %s: CDB length %d out of range", f.name, len(cdb))
	}
	if uint64(len(buf)) > 1<<32-1 {
		return Result{}, fmt.Errorf("sgio: %s: buffer of %d bytes too large", f.name, len(buf))
	}
	sense := make([]byte, maxSenseLength)
	hdr := &sgIOHdr{
		interfaceID:    interfaceIDS,
		dxferDirection: int32(dir),
		cmdLen:         uint8(len(cdb)),
		mxSbLen:        uint8(len(sense)),
		dxferLen:       uint32(len(buf)),
		cmdp:           unsafe.Pointer(&cdb[0]),
		sbp:            unsafe.Pointer(&sense[0]),
		timeout:        timeoutMillis(timeout),
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(hdr)
	pin.Pin(&cdb[0])
	pin.Pin(&sense[0])
	if len(buf) > 0 {
		hdr.dxferp = unsafe.Pointer(&buf[0])
		pin.Pin(&buf[0])
	}
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(f.fd), ioctlSGIO, uintptr(unsafe.Pointer(hdr)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			err := error(errno)
			if errno == unix.ENOTTY {
				err = fmt.Errorf("%w: %w", ErrNotSupported, errno)
			}
			return Result{}, fmt.Errorf("sgio: %s: ioctl SG_IO opcode 0x%02x: %w", f.name, cdb[0], err)
		}
		break
	}
	n := min(int(hdr.sbLenWr), len(sense))
	return Result{
		Status:       hdr.status,
		HostStatus:   HostStatus(hdr.hostStatus),
		DriverStatus: hdr.driverStatus,
		Sense:        sense[:n:n],
		Resid:        hdr.resid,
		Duration:     time.Duration(hdr.duration) * time.Millisecond,
	}, nil
}
