package sysfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Classes whose tunable attributes a multipath daemon sets (see Tunable).
const (
	ClassFCRemotePort = "fc_remote_ports"
	ClassISCSISession = "iscsi_session"
	ClassSASEndDevice = "sas_end_device"
	ClassSCSIHost     = "scsi_host"
	ClassBlock        = "block"
)

// tunable lists, per class, the only attributes ReadTunable and SetTunable
// touch: a caller's mistake can never write anything else under /sys.
var tunable = map[string][]string{
	ClassFCRemotePort: {"fast_io_fail_tmo", "dev_loss_tmo"},
	ClassISCSISession: {"recovery_tmo"},
	ClassSASEndDevice: {"I_T_nexus_loss_timeout"},
	ClassSCSIHost:     {"eh_deadline"},
	ClassBlock:        {"queue/max_sectors_kb"},
}

// ErrNotTunable is returned for a class or attribute outside the tunable list.
var ErrNotTunable = errors.New("not a tunable attribute")

// ReadTunable reads one tunable attribute of a class device, such as
// ("fc_remote_ports", "rport-2:0-0", "dev_loss_tmo"); the value is trimmed.
func (fs FS) ReadTunable(class, name, attr string) (string, error) {
	f, err := fs.tunablePath(class, name, attr)
	if err != nil {
		return "", fmt.Errorf("sysfs: read %s %s: %w", name, attr, err)
	}
	v, err := readTrimmed(f)
	if err != nil {
		return "", fmt.Errorf("sysfs: read %s %s: %w", name, attr, err)
	}
	return v, nil
}

// SetTunable writes one tunable attribute of a class device. The kernel's
// refusal (EINVAL for a value out of its range, EBUSY for a blocked FC
// rport, EACCES for a read-only attribute) is returned naming the device,
// the attribute and the value.
func (fs FS) SetTunable(class, name, attr, val string) error {
	f, err := fs.tunablePath(class, name, attr)
	if err == nil {
		err = writeAttr(f, val)
	}
	if err != nil {
		return fmt.Errorf("sysfs: write %s %s %q: %w", name, attr, val, err)
	}
	return nil
}

// tunablePath resolves /sys/class/CLASS/NAME (/sys/block/NAME for block
// devices) and checks that it is that class device under sys/devices, so a
// crafted name or a stray link cannot redirect the write.
func (fs FS) tunablePath(class, name, attr string) (string, error) {
	attrs, ok := tunable[class]
	if !ok || !slices.Contains(attrs, attr) {
		return "", fmt.Errorf("%w: %s/%s", ErrNotTunable, class, attr)
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return "", fmt.Errorf("invalid %s name %q", class, name)
	}
	link := fs.sys("class", class, name)
	if class == ClassBlock {
		link = fs.sys("block", name)
	}
	real, err := filepath.EvalSymlinks(link)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no %s %s", class, name)
	}
	if err != nil {
		return "", err
	}
	parent := filepath.Base(filepath.Dir(real))
	if filepath.Base(real) != name || (class != ClassBlock && parent != class) || (class == ClassBlock && parent != "block") || !fs.inDevices(real) {
		return "", fmt.Errorf("%s resolves to %s, not a %s device under sys/devices", name, real, class)
	}
	return filepath.Join(real, attr), nil
}
