package linux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/parttable"
)

// ErrReadPending is returned for a device whose previous partition-table read has not finished.
var ErrReadPending = errors.New("an earlier read of this device has not finished")

// Disks reads the partition tables of maps through their /dev/dm-N nodes (devtmpfs), with O_DIRECT,
// so a table written through another node (a path device) is seen at once, as kpartx sees it.
//
// A map that queues without a usable path, or is suspended, holds a read for as long as that
// lasts. The read then goes on in its own goroutine, which the caller does not wait for beyond its
// context; until it ends, further reads of the same device fail at once with ErrReadPending, so a
// stuck map costs one goroutine and one open file, never a pile of them.
type Disks struct {
	Dev string // "/dev"; "" means "/dev"

	mu      sync.Mutex
	pending map[dm.Dev]bool
}

// PartitionTable implements daemon.Disks.
func (k *Disks) PartitionTable(ctx context.Context, dev dm.Dev) (*parttable.Table, error) {
	k.mu.Lock()
	if k.pending[dev] {
		k.mu.Unlock()
		return nil, fmt.Errorf("partition table of %s: %w", dev, ErrReadPending)
	}
	if k.pending == nil {
		k.pending = map[dm.Dev]bool{}
	}
	k.pending[dev] = true
	k.mu.Unlock()
	type result struct {
		t   *parttable.Table
		err error
	}
	done := make(chan result, 1)
	go func() {
		t, err := k.read(dev)
		k.mu.Lock()
		delete(k.pending, dev)
		k.mu.Unlock()
		done <- result{t, err}
	}()
	select {
	case r := <-done:
		return r.t, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("partition table of %s: %w", dev, ctx.Err())
	}
}

func (k *Disks) read(dev dm.Dev) (*parttable.Table, error) {
	dir := k.Dev
	if dir == "" {
		dir = "/dev"
	}
	node := fmt.Sprintf("%s/dm-%d", dir, dev.Minor)
	fd, err := unix.Open(node, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("partition table: open %s: %w", node, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK || st.Rdev != dev.Mkdev() {
		return nil, fmt.Errorf("partition table: %s is not block device %s", node, dev)
	}
	bs, err := unix.IoctlGetInt(fd, unix.BLKSSZGET)
	if err != nil {
		return nil, fmt.Errorf("partition table: %s: logical block size: %w", node, err)
	}
	var size uint64
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size))); e != 0 {
		return nil, fmt.Errorf("partition table: %s: size: %w", node, e)
	}
	t, err := parttable.Read(directReader{fd: fd, bs: bs}, int64(size), bs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", node, err)
	}
	return t, nil
}

// directReader reads through an O_DIRECT descriptor: whole logical blocks into an aligned buffer.
type directReader struct {
	fd, bs int
}

func (r directReader) ReadAt(p []byte, off int64) (int, error) {
	start := off / int64(r.bs) * int64(r.bs)
	end := (off + int64(len(p)) + int64(r.bs) - 1) / int64(r.bs) * int64(r.bs)
	n := int(end - start)
	raw := make([]byte, n+4096)
	skip := (4096 - int(uintptr(unsafe.Pointer(&raw[0]))%4096)) % 4096
	buf := raw[skip : skip+n]
	got := 0
	for got < n {
		m, err := unix.Pread(r.fd, buf[got:], start+int64(got))
		if err != nil {
			return 0, err
		}
		if m == 0 {
			break
		}
		got += m
	}
	c := copy(p, buf[min(int(off-start), got):got])
	if c < len(p) {
		return c, fmt.Errorf("short read at %d: %w", off, io.ErrUnexpectedEOF)
	}
	return c, nil
}
