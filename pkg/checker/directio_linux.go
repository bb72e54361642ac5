package checker

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// DirectFile is a block device opened with O_DIRECT, for the directio
// checker.
type DirectFile struct {
	fd   int
	name string
}

// OpenDirect opens a block device read-only with O_DIRECT.
func OpenDirect(name string) (*DirectFile, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_DIRECT|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("checker: open %s O_DIRECT: %w", name, err)
	}
	return &DirectFile{fd: fd, name: name}, nil
}

// ReadAt implements DirectReader with pread(2).
func (f *DirectFile) ReadAt(buf []byte, off int64) (int, error) {
	for {
		n, err := unix.Pread(f.fd, buf, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("pread %s: %w", f.name, err)
		}
		return n, nil
	}
}

// LogicalBlockSize returns the device's logical block size (BLKSSZGET),
// the unit O_DIRECT reads must be a multiple of.
func (f *DirectFile) LogicalBlockSize() (int, error) {
	n, err := unix.IoctlGetInt(f.fd, unix.BLKSSZGET)
	if err != nil {
		return 0, fmt.Errorf("checker: %s: BLKSSZGET: %w", f.name, err)
	}
	return n, nil
}

// Close closes the file.
func (f *DirectFile) Close() error {
	if err := unix.Close(f.fd); err != nil {
		return fmt.Errorf("checker: close %s: %w", f.name, err)
	}
	return nil
}
