package sysfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

func isNoProvider(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENODEV)
}

// Transport kinds, from the sysfs device path of the SCSI device.
const (
	TransportUnknown = "unknown"
	TransportFC      = "fc"
	TransportISCSI   = "iscsi"
	TransportSAS     = "sas"
)

// Transport describes how a path reaches its target. Only the fields of
// Kind are set; the strings are as sysfs prints them.
type Transport struct {
	Kind string

	// FC: the remote port (rport-H:B-R) and its fc_remote_ports attributes.
	RPort     string
	PortState string // "Online", "Blocked", "Marginal", ...
	NodeName  string // "0x..."
	PortName  string

	// iSCSI: the session (sessionN) and its iscsi_session attributes.
	Session     string
	State       string // "LOGGED_IN", "FAILED", "FREE"
	TargetName  string
	TPGT        string
	Address     string // persistent_address of the first connection
	AddressPort string

	// SAS: the end device (end_device-H:N) and its sas_device attributes.
	EndDevice  string
	SASAddress string
}

// Path is one SCSI block device (sdX) as seen in sysfs.
type Path struct {
	Name   string // "sdb"
	Dev    DevT
	HCTL   HCTL
	Vendor string // spaces trimmed
	Model  string
	Rev    string
	Size   uint64 // 512-byte sectors
	State  string // scsi_device state: "running", "offline", ...

	QueueDepth int // 0 if not exposed
	Timeout    int // seconds; 0 if not exposed

	// ALUA, only while a device handler is attached (else empty/false).
	AccessState   string // "active/optimized", "standby", ...
	PreferredPath bool
	DHState       string // handler name or "detached"; "" if not exposed

	// WWID: ID_SERIAL (or the FS's uid_attribute) from the udev database when udev has it, else computed
	// as udev would from VPD (the pages in sysfs, or those the FS's Inquirer
	// reads from the device when the kernel cached none); "" with WWIDErr set
	// when it cannot be computed.
	WWID    string
	WWIDErr error
	// Target port group from VPD 0x83 (type 5, association 1).
	TPG    uint16
	HasTPG bool

	Transport Transport
	Holders   []string // dm-N names using this path
	SysPath   string   // resolved /sys/devices/... directory of the block device
}

// ErrNotSCSI is returned by Path for block devices that are not SCSI disks.
var ErrNotSCSI = errors.New("not a SCSI block device")

// PathNames lists the SCSI block devices (those whose device link names an
// H:C:T:L directory), sorted.
func (fs FS) PathNames() ([]string, error) {
	ents, err := os.ReadDir(fs.sys("block"))
	if err != nil {
		return nil, fmt.Errorf("sysfs: list block devices: %w", err)
	}
	var names []string
	for _, e := range ents {
		dev, err := filepath.EvalSymlinks(fs.sys("block", e.Name(), "device"))
		if err != nil {
			continue // dm-N, loop, vd*: no SCSI device link
		}
		if _, err := ParseHCTL(filepath.Base(dev)); err == nil {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Paths reads every SCSI path. A path that cannot be read (for example
// because it was deleted mid-scan or its tree is torn) is left out and its
// error joined into err; the returned paths are valid even when err != nil.
func (fs FS) Paths() ([]Path, error) {
	names, err := fs.PathNames()
	if err != nil {
		return nil, err
	}
	return readEach(names, fs.Path)
}

// Path reads one SCSI block device by name ("sdb").
func (fs FS) Path(name string) (Path, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return Path{}, fmt.Errorf("sysfs: path %q: invalid block device name", name)
	}
	p := Path{Name: name}
	wrap := func(op string, err error) error {
		return fmt.Errorf("sysfs: path %s: %s: %w", name, op, err)
	}
	blk := fs.sys("block", name)
	real, err := filepath.EvalSymlinks(blk)
	if err != nil {
		return Path{}, wrap("resolve", err)
	}
	p.SysPath = real
	dev, err := filepath.EvalSymlinks(filepath.Join(blk, "device"))
	if err != nil {
		return Path{}, wrap("device link", err)
	}
	if p.HCTL, err = ParseHCTL(filepath.Base(dev)); err != nil {
		return Path{}, wrap("device link", fmt.Errorf("%w: %w", ErrNotSCSI, err))
	}
	s, err := readString(filepath.Join(blk, "dev"))
	if err != nil {
		return Path{}, wrap("read dev", err)
	}
	if p.Dev, err = ParseDevT(s); err != nil {
		return Path{}, wrap("read dev", err)
	}
	if p.Size, err = readUint(filepath.Join(blk, "size")); err != nil {
		return Path{}, wrap("read size", err)
	}
	if p.State, err = readTrimmed(filepath.Join(dev, "state")); err != nil {
		return Path{}, wrap("read device/state", err)
	}
	for _, a := range []struct {
		name string
		dst  *string
	}{{"vendor", &p.Vendor}, {"model", &p.Model}, {"rev", &p.Rev}} {
		if *a.dst, err = readTrimmed(filepath.Join(dev, a.name)); err != nil {
			return Path{}, wrap("read device/"+a.name, err)
		}
	}
	if v, err := readUint(filepath.Join(dev, "queue_depth")); optional(err) != nil {
		return Path{}, wrap("read device/queue_depth", err)
	} else {
		p.QueueDepth = int(v)
	}
	if v, err := readUint(filepath.Join(dev, "timeout")); optional(err) != nil {
		return Path{}, wrap("read device/timeout", err)
	} else {
		p.Timeout = int(v)
	}
	if p.AccessState, err = readTrimmed(filepath.Join(dev, "access_state")); optional(err) != nil {
		return Path{}, wrap("read device/access_state", err)
	}
	pref, err := readTrimmed(filepath.Join(dev, "preferred_path"))
	if optional(err) != nil {
		return Path{}, wrap("read device/preferred_path", err)
	}
	p.PreferredPath = pref == "1"
	if p.DHState, err = readTrimmed(filepath.Join(dev, "dh_state")); optional(err) != nil {
		return Path{}, wrap("read device/dh_state", err)
	}

	id, err := fs.identity(dev)
	if err != nil {
		return Path{}, wrap("read identity", err)
	}
	var inqErr error
	if id.VPD83 == nil && id.VPD80 == nil && fs.inq != nil {
		// The kernel cached no page of this device: ask it, as scsi_id does.
		var q Identity
		if q, inqErr = fs.inq.InquireIdentity(name); q.VPD83 != nil || q.VPD80 != nil {
			id = q
		}
	}
	p.WWID, p.WWIDErr = UdevSerial(id)
	if p.WWIDErr != nil && inqErr != nil {
		p.WWIDErr = fmt.Errorf("%w; no VPD page in sysfs and SG_IO INQUIRY: %w", p.WWIDErr, inqErr)
	}
	// What udev holds wins, as for multipathd: another rule may have set
	// ID_SERIAL differently from udev's own derivation, and the maps bear it.
	attr := UdevAttribute
	if fs.uidAttr != nil {
		attr = fs.uidAttr(p.Vendor, p.Model, p.Rev)
	}
	if attr != "" { // "": the derivation alone
		if v, ok, err := fs.UdevProperty(p.Dev, attr); err != nil {
			return Path{}, wrap("read udev database", err)
		} else if ok && v != "" {
			p.WWID, p.WWIDErr = v, nil
		}
	}
	if id.VPD83 != nil {
		ds, _ := ParseVPD83(id.VPD83)
		p.TPG, p.HasTPG = TargetPortGroup(ds)
	}

	if p.Transport, err = fs.transport(real); err != nil {
		return Path{}, wrap("transport", err)
	}
	if p.Holders, err = listDir(filepath.Join(blk, "holders")); err != nil {
		return Path{}, wrap("list holders", err)
	}
	return p, nil
}

// identity reads the raw inputs of the WWID. vendor/model come from the
// binary INQUIRY data when present (udev takes them from INQUIRY) and
// otherwise from the padded text attributes.
func (fs FS) identity(dev string) (Identity, error) {
	var id Identity
	for _, a := range []struct {
		name string
		dst  *[]byte
	}{{"vpd_pg83", &id.VPD83}, {"vpd_pg80", &id.VPD80}} {
		b, err := readAttr(filepath.Join(dev, a.name))
		if optional(err) != nil {
			return id, fmt.Errorf("%s: %w", a.name, err)
		}
		if err == nil {
			*a.dst = b
		}
	}
	inq, err := readAttr(filepath.Join(dev, "inquiry"))
	if optional(err) != nil {
		return id, fmt.Errorf("inquiry: %w", err)
	}
	if len(inq) >= 32 {
		id.Vendor, id.Model = inq[8:16], inq[16:32]
		return id, nil
	}
	v, err := readString(filepath.Join(dev, "vendor"))
	if err != nil {
		return id, err
	}
	m, err := readString(filepath.Join(dev, "model"))
	if err != nil {
		return id, err
	}
	id.Vendor, id.Model = padRight(v, 8), padRight(m, 16)
	return id, nil
}

func padRight(s string, n int) []byte {
	b := []byte(s)
	for len(b) < n {
		b = append(b, ' ')
	}
	return b
}

// transport finds the rport/session/end_device component in the resolved
// device path and reads its class attributes.
func (fs FS) transport(real string) (Transport, error) {
	t := Transport{Kind: TransportUnknown}
	elems := strings.Split(real, string(filepath.Separator))
	for i, e := range elems {
		dir := strings.Join(elems[:i+1], string(filepath.Separator))
		var err error
		switch {
		case strings.HasPrefix(e, "rport-"):
			t.Kind, t.RPort = TransportFC, e
			cls := filepath.Join(dir, "fc_remote_ports", e)
			err = readAll(cls, map[string]*string{"port_state": &t.PortState, "node_name": &t.NodeName, "port_name": &t.PortName})
		case strings.HasPrefix(e, "session") && isDigits(e[len("session"):]):
			t.Kind, t.Session = TransportISCSI, e
			cls := filepath.Join(dir, "iscsi_session", e)
			err = readAll(cls, map[string]*string{"state": &t.State, "targetname": &t.TargetName, "tpgt": &t.TPGT})
			if err == nil {
				err = fs.iscsiConn(dir, &t)
			}
		case strings.HasPrefix(e, "end_device-"):
			t.Kind, t.EndDevice = TransportSAS, e
			cls := filepath.Join(dir, "sas_device", e)
			err = readAll(cls, map[string]*string{"sas_address": &t.SASAddress})
		default:
			continue
		}
		if err != nil {
			return t, fmt.Errorf("%s: %w", e, err)
		}
	}
	return t, nil
}

func (fs FS) iscsiConn(session string, t *Transport) error {
	ents, err := os.ReadDir(session)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "connection") {
			continue
		}
		cls := filepath.Join(session, e.Name(), "iscsi_connection", e.Name())
		return readAll(cls, map[string]*string{"persistent_address": &t.Address, "persistent_port": &t.AddressPort})
	}
	return nil
}

// readAll reads the named attributes of dir; absent ones stay empty.
func readAll(dir string, attrs map[string]*string) error {
	for name, dst := range attrs {
		v, err := readTrimmed(filepath.Join(dir, name))
		if optional(err) != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		*dst = v
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// listDir returns the sorted entry names of dir; nil if it is empty or absent.
func listDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, nil
}
