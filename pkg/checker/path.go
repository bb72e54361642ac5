package checker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
)

// Path is what checkers and prioritizers know about one path. The daemon
// fills it in; every field that touches the system is a seam.
type Path struct {
	// Name is the kernel name ("sdb"), used in reasons and errors.
	Name string
	// HBTL is "host:bus:target:lun"; Serial, WWID and WWN identify the path
	// for the weightedpath prioritizer (WWN as host_wwnn:host_wwpn:target_wwnn:target_wwpn).
	HBTL, Serial, WWID, WWN string
	// Attr reads an attribute of the SCSI device directory
	// (/sys/block/<Name>/device/<attr>), whitespace-trimmed: "state",
	// "access_state", "preferred_path". Nil skips every sysfs look-up.
	Attr func(attr string) (string, error)
	// SG sends SCSI commands (tur, readsector0, alua). Nil makes those
	// checkers report Wild.
	SG sgio.Device
	// Direct reads the device with O_DIRECT (directio).
	Direct DirectReader
	// BlockSize is the device's logical block size (SysfsBlockSize, or
	// BLKSSZGET): directio and readsector0 read exactly one block, and a
	// 4Kn device refuses a 512-byte O_DIRECT read with EINVAL. 0 means 512.
	BlockSize int
	// ByPathDir is udev's /dev/disk/by-path, whose ip-ADDR links name an
	// iSCSI path's portal (iet); "" skips it. PortalAddress is the address
	// of the path's iSCSI connection in sysfs, used when no link names it.
	ByPathDir, PortalAddress string
	// Timeout bounds each SCSI command (the device's SCSI timeout, i.e.
	// checker_timeout). 0 means 30 s. The kernel raises SG_IO timeouts
	// below 7 s to 7 s on block devices.
	Timeout time.Duration
}

// DirectReader reads from a device opened with O_DIRECT. buf is aligned.
type DirectReader interface {
	ReadAt(buf []byte, off int64) (int, error)
}

const defaultTimeout = 30 * time.Second

func (p *Path) timeout(ctx context.Context) time.Duration {
	t := p.Timeout
	if t <= 0 {
		t = defaultTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		t = min(t, max(time.Until(dl), time.Millisecond))
	}
	return t
}

func (p *Path) blockSize() int {
	if p.BlockSize > 0 {
		return p.BlockSize
	}
	return 512
}

// SysfsBlockSize reads the logical block size of block device name from
// /sys/block/<name>/queue/logical_block_size under root.
func SysfsBlockSize(root, name string) (int, error) {
	p := filepath.Join(root, "block", name, "queue", "logical_block_size")
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("checker: %s: logical block size: %w", name, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 512 || n&(n-1) != 0 {
		return 0, fmt.Errorf("checker: %s: logical block size %q in %s: not a power of two of at least 512", name, strings.TrimSpace(string(b)), p)
	}
	return n, nil
}

// SysfsAttr returns a Path.Attr reading /sys/block/<name>/device/<attr>
// under root ("/sys" in production, a fake tree in tests).
func SysfsAttr(root, name string) func(string) (string, error) {
	dir := filepath.Join(root, "block", name, "device")
	return func(attr string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, attr))
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
}

// sysfsState reports what the SCSI device state alone says. ok=false means
// the state is "running" (or unknown) and the checker must do its I/O.
// Mapping as in multipath-tools: offline → down, blocked/quiesce → pending,
// any other non-running state (transport-offline, cancel, deleted, created…)
// → down.
func sysfsState(p *Path) (Result, bool) {
	if p.Attr == nil {
		return Result{}, false
	}
	st, err := p.Attr("state")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return result(Down, "%s: device removed (no device/state)", p.Name), true
	case err != nil:
		// An unreadable state says nothing about the path; let the I/O decide.
		return Result{}, false
	}
	switch st {
	case "running":
		return Result{}, false
	case "blocked", "quiesce":
		return result(Pending, "%s: sysfs device state %s", p.Name, st), true
	default:
		return result(Down, "%s: sysfs device state %s", p.Name, st), true
	}
}

func errState(p *Path, err error) Result {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return result(Timeout, "%s: %v", p.Name, err)
	case errors.Is(err, sgio.ErrNotSupported):
		return result(Wild, "%s: %v", p.Name, err)
	}
	return result(Down, "%s: %v", p.Name, err)
}

func errf(p *Path, format string, args ...any) error {
	return fmt.Errorf("checker: %s: "+format, append([]any{p.Name}, args...)...)
}
