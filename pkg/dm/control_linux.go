package dm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The control node is misc char device 10:236 (MAPPER_CTRL_MINOR).
const controlMajor, controlMinor = 10, 236

// fdDevice is the real ioctler: an open control node.
type fdDevice struct {
	fd int
}

func (d *fdDevice) ioctl(req uintptr, buf []byte) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(d.fd), req, uintptr(unsafe.Pointer(&buf[0])))
	runtime.KeepAlive(buf)
	if errno != 0 {
		return errno
	}
	return nil
}

func (d *fdDevice) close() error { return unix.Close(d.fd) }

// openControl opens the control node read-write. If it is missing (a bare
// /dev without udev or devtmpfs entry) it is created; opening it then
// loads dm-mod on demand through the char-major-10-236 alias.
func openControl(path string) (*fdDevice, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("dm: create %s: %w", path, err)
		}
		if err := unix.Mknod(path, unix.S_IFCHR|0o600, int(unix.Mkdev(controlMajor, controlMinor))); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("dm: mknod %s c %d %d: %w", path, controlMajor, controlMinor, err)
		}
		fd, err = unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("dm: open %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dm: stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || uint64(st.Rdev) != unix.Mkdev(controlMajor, controlMinor) {
		unix.Close(fd)
		return nil, fmt.Errorf("dm: %s is not the device-mapper control node (char %d:%d)", path, controlMajor, controlMinor)
	}
	return &fdDevice{fd: fd}, nil
}
