package dm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// UdevFlags are the DM_UDEV_* flags libdevmapper puts in the high 16 bits
// of the cookie (event_nr) of resume, remove and rename; the kernel passes
// the cookie on as DM_COOKIE in the uevent and the dm udev rules decode it
// (KI §1.10). They are not in x/sys.
type UdevFlags uint16

const (
	UdevDisableDMRules        UdevFlags = 0x0001
	UdevDisableSubsystemRules UdevFlags = 0x0002
	UdevDisableDiskRules      UdevFlags = 0x0004
	UdevDisableOtherRules     UdevFlags = 0x0008
	UdevLowPriority           UdevFlags = 0x0010
	// UdevDisableLibraryFallback tells the rules that udev owns the
	// /dev/mapper nodes; the client sets it whenever udev runs.
	UdevDisableLibraryFallback UdevFlags = 0x0020
	// UdevPrimarySource marks a real event from a dm tool; without it the
	// rules treat the event as spurious. The client always sets it.
	UdevPrimarySource UdevFlags = 0x0040

	// Subsystem flags 11-dm-mpath.rules reads (multipath-tools' names).
	MpathReload   UdevFlags = 0x0100 // MPATH_UDEV_RELOAD_FLAG: a reload, not a new map
	MpathNoKpartx UdevFlags = 0x0200 // skip_kpartx: do not create partition maps
	MpathNoPaths  UdevFlags = 0x0400 // no usable path: MPATH_DEVICE_READY=0
)

// Cookie is the event_nr value carrying flags only. The low 16 bits (the
// semaphore base) stay 0, which udev's "dmsetup udevcomplete" treats as
// "nobody waits". With Options.UdevWait the client fills them with a
// semaphore base instead (cookie.go).
func Cookie(flags UdevFlags) uint32 { return uint32(flags) << 16 }

// UdevControlPath is the socket udevd creates when it runs.
const UdevControlPath = "/run/udev/control"

// UdevRunning reports whether udevd is running (its control socket
// exists), the test libdevmapper and systemd use.
func UdevRunning() bool {
	_, err := os.Stat(UdevControlPath)
	return err == nil
}

// ControlPath is the device-mapper control node.
const ControlPath = "/dev/mapper/control"

// Nodes are owner-only like libdevmapper's (DM_DEVICE_MODE 0600).
const nodeMode = 0o600

// makeNode creates the block node <dir>/<name> for dev, replacing a stale
// node or symlink of that name.
func (c *Client) makeNode(name string, dev Dev) error {
	path := filepath.Join(c.nodeDir, name)
	var st unix.Stat_t
	err := unix.Lstat(path, &st)
	switch {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK && uint64(st.Rdev) == dev.Mkdev():
		return nil
	case err == nil && (st.Mode&unix.S_IFMT == unix.S_IFBLK || st.Mode&unix.S_IFMT == unix.S_IFLNK):
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("dm: replace node %s: %w", path, err)
		}
	case err == nil:
		return fmt.Errorf("dm: node %s exists and is not a block device", path)
	case !errors.Is(err, unix.ENOENT):
		return fmt.Errorf("dm: node %s: %w", path, err)
	}
	if err := os.MkdirAll(c.nodeDir, 0o755); err != nil {
		return fmt.Errorf("dm: node %s: %w", path, err)
	}
	if err := unix.Mknod(path, unix.S_IFBLK|nodeMode, int(dev.Mkdev())); err != nil {
		return fmt.Errorf("dm: mknod %s %s: %w", path, dev, err)
	}
	return nil
}

// removeNode removes <dir>/<name> if it is a block node or a symlink.
func (c *Client) removeNode(name string) error {
	path := filepath.Join(c.nodeDir, name)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dm: remove node %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSymlink == 0 && (fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0) {
		return fmt.Errorf("dm: remove node %s: not a block device", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dm: remove node %s: %w", path, err)
	}
	return nil
}
