package sysfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNoHost and ErrNoDevice report a SCSI host or device that does not exist.
var (
	ErrNoHost   = errors.New("no such SCSI host")
	ErrNoDevice = errors.New("no such SCSI device")
)

// Host is a SCSI host adapter (/sys/class/scsi_host/hostN).
type Host struct {
	Number   int
	ProcName string // driver: "scsi_debug", "qla2xxx", "iscsi_tcp", ...
	State    string // "running", "recovery", ...
}

// Hosts lists the SCSI hosts, sorted by number.
func (fs FS) Hosts() ([]Host, error) {
	ents, err := os.ReadDir(fs.sys("class", "scsi_host"))
	if err != nil {
		return nil, fmt.Errorf("sysfs: list scsi hosts: %w", err)
	}
	var hosts []Host
	var errs []error
	for _, e := range ents {
		n, ok := strings.CutPrefix(e.Name(), "host")
		num, err := strconv.Atoi(n)
		if !ok || err != nil || num < 0 {
			continue
		}
		dir := fs.sys("class", "scsi_host", e.Name())
		h := Host{Number: num}
		if err := readAll(dir, map[string]*string{"proc_name": &h.ProcName, "state": &h.State}); err != nil {
			errs = append(errs, fmt.Errorf("sysfs: host%d: %w", num, err))
			continue
		}
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, func(a, b Host) int { return a.Number - b.Number })
	return hosts, errors.Join(errs...)
}

// Wildcard in a ScanAddr field scans every value ("-" in the scan file).
const Wildcard = -1

// ScanAddr selects what a host scan looks for.
type ScanAddr struct {
	Channel, Target int
	LUN             int64
}

// ScanAll scans every channel, target and LUN of a host.
var ScanAll = ScanAddr{Wildcard, Wildcard, Wildcard}

func scanToken(v int64) (string, error) {
	switch {
	case v == Wildcard:
		return "-", nil
	case v < 0:
		return "", fmt.Errorf("negative address %d", v)
	}
	return strconv.FormatInt(v, 10), nil
}

// ScanHost asks host to scan for devices at a (LUNs appearing produce add
// uevents). FC and iSCSI transports only scan known remote ports/sessions.
func (fs FS) ScanHost(host int, a ScanAddr) error {
	var tok [3]string
	for i, v := range []int64{int64(a.Channel), int64(a.Target), a.LUN} {
		t, err := scanToken(v)
		if err != nil {
			return fmt.Errorf("sysfs: scan host%d: %w", host, err)
		}
		tok[i] = t
	}
	dir, err := fs.hostDir(host)
	if err != nil {
		return fmt.Errorf("sysfs: scan host%d: %w", host, err)
	}
	if err := writeAttr(filepath.Join(dir, "scan"), strings.Join(tok[:], " ")); err != nil {
		return fmt.Errorf("sysfs: scan host%d %q: %w", host, strings.Join(tok[:], " "), err)
	}
	return nil
}

// RescanDevice re-reads INQUIRY, VPD pages and capacity of one device
// (picks up a resized LUN).
func (fs FS) RescanDevice(h HCTL) error { return fs.deviceWrite(h, "rescan", "1") }

// DeleteDevice removes one SCSI device (remove uevents follow). ScanHost
// brings it back.
func (fs FS) DeleteDevice(h HCTL) error { return fs.deviceWrite(h, "delete", "1") }

// Writable scsi_device states.
const (
	StateRunning = "running"
	StateOffline = "offline"
)

// SetDeviceState sets a device "running" or "offline"; the kernel accepts
// no other value. Going back to running triggers a rescan.
func (fs FS) SetDeviceState(h HCTL, state string) error {
	if state != StateRunning && state != StateOffline {
		return fmt.Errorf("sysfs: set state %s: %q is not running or offline", h, state)
	}
	return fs.deviceWrite(h, "state", state)
}

func (fs FS) deviceWrite(h HCTL, attr, val string) error {
	dir, err := fs.deviceDir(h)
	if err != nil {
		return fmt.Errorf("sysfs: %s %s: %w", attr, h, err)
	}
	if err := writeAttr(filepath.Join(dir, attr), val); err != nil {
		return fmt.Errorf("sysfs: %s %s: %w", attr, h, err)
	}
	return nil
}

// hostDir resolves /sys/class/scsi_host/hostN and checks that it is a
// scsi_host class directory inside sys/devices, so no write can escape.
func (fs FS) hostDir(host int) (string, error) {
	if host < 0 {
		return "", fmt.Errorf("%w: negative host number", ErrNoHost)
	}
	name := "host" + strconv.Itoa(host)
	real, err := filepath.EvalSymlinks(fs.sys("class", "scsi_host", name))
	if errors.Is(err, os.ErrNotExist) {
		return "", ErrNoHost
	}
	if err != nil {
		return "", err
	}
	if filepath.Base(real) != name || filepath.Base(filepath.Dir(real)) != "scsi_host" || !fs.inDevices(real) {
		return "", fmt.Errorf("%s resolves to %s, not a scsi_host directory under sys/devices", name, real)
	}
	return real, nil
}

func (fs FS) deviceDir(h HCTL) (string, error) {
	if h.Host < 0 || h.Channel < 0 || h.Target < 0 {
		return "", fmt.Errorf("%w: negative address", ErrNoDevice)
	}
	real, err := filepath.EvalSymlinks(fs.sys("class", "scsi_device", h.String(), "device"))
	if errors.Is(err, os.ErrNotExist) {
		return "", ErrNoDevice
	}
	if err != nil {
		return "", err
	}
	if filepath.Base(real) != h.String() || !fs.inDevices(real) {
		return "", fmt.Errorf("%s resolves to %s, not a scsi_device directory under sys/devices", h, real)
	}
	return real, nil
}

func (fs FS) inDevices(real string) bool {
	base, err := filepath.EvalSymlinks(fs.sys("devices"))
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(base, real)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

// writeAttr writes val plus the newline that sysfs parsers such as the
// scsi_device state require, in one write, to an existing attribute.
func writeAttr(path, val string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, werr := f.Write([]byte(val + "\n"))
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}
