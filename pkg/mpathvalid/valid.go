// Package mpathvalid answers udev's question about a block device: is it a
// path that the multipath daemon will use (and so should be hidden from LVM,
// systemd and filesystems), as `multipath -c` and `multipath -u` answer it for
// multipath.rules. The decision is the daemon's own: its blacklist, its
// find_multipaths rule (config.ShouldMultipath) and its wwids file, so that
// udev claims exactly the devices mpathd will put in maps.
package mpathvalid

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// Result is the answer for one device.
type Result int

const (
	// NotValid: not a path the daemon uses; leave the device to others.
	NotValid Result = iota
	// Valid: the daemon will multipath it.
	Valid
	// ValidNoCheck: a map already holds it, or its WWID is in the wwids
	// file: claimed whatever udev decided before.
	ValidNoCheck
)

// Property is the value of DM_MULTIPATH_DEVICE_PATH for the result, as
// multipath.rules reads it.
func (r Result) Property() string {
	if r == NotValid {
		return "0"
	}
	return "1"
}

// Verdict is a Result and why.
type Verdict struct {
	Result Result
	InMap  bool // a multipath map holds the device now
	WWID   string
	Reason string
}

// WWIDs is the wwids file (bindings.WWIDs).
type WWIDs interface {
	Contains(wwid string) (bool, error)
}

// Checker decides with the daemon's configuration, sysfs, the kernel's maps
// and the wwids file.
type Checker struct {
	Config *config.Config
	Sys    sysfs.FS
	DM     dm.Control
	WWIDs  WWIDs
}

// Check decides for the block device dev ("sdb"). An error means the
// question could not be answered (unreadable sysfs, dm, wwids file); a
// device that is not a SCSI disk is simply NotValid.
func (c Checker) Check(dev string) (Verdict, error) {
	if _, err := os.Stat(filepath.Join(c.Sys.Root(), "sys", "block", dev)); err != nil || strings.ContainsAny(dev, "/\x00") {
		return Verdict{}, fmt.Errorf("mpathvalid: %q: no such block device", dev)
	}
	p, err := c.Sys.Path(dev)
	switch {
	case errors.Is(err, sysfs.ErrNotSCSI), errors.Is(err, fs.ErrNotExist):
		return Verdict{Reason: "not a SCSI disk"}, nil // dm-N, vda, nvme: mpathd takes SCSI paths only
	case err != nil:
		return Verdict{}, fmt.Errorf("mpathvalid: %s: %w", dev, err)
	}
	for _, h := range p.Holders {
		if m, err := c.Sys.Map(h); err == nil && strings.HasPrefix(m.UUID, "mpath-") {
			return Verdict{Result: ValidNoCheck, InMap: true, WWID: strings.TrimPrefix(m.UUID, "mpath-"), Reason: "in map " + m.Name}, nil
		}
	}
	if p.WWID == "" {
		return Verdict{Reason: fmt.Sprintf("no WWID: %v", p.WWIDErr)}, nil
	}
	v := Verdict{WWID: p.WWID}
	if bl := c.Config.Filter(filterInfo(p)); bl.Blacklisted {
		v.Reason = bl.String()
		return v, nil
	}
	listed, err := c.WWIDs.Contains(p.WWID)
	if err != nil {
		return Verdict{}, fmt.Errorf("mpathvalid: %s: %w", dev, err)
	}
	exists, err := c.mapExists(p.WWID)
	if err != nil {
		return Verdict{}, fmt.Errorf("mpathvalid: %s: %w", dev, err)
	}
	// Other paths of the LUN are looked for only when their number could change the answer:
	// udev runs this for every path of a large SAN, and reading every path each time would
	// make a coldplug quadratic.
	mode := c.Config.Global().FindMultipaths
	cand := config.Candidate{Paths: 1, InWWIDsFile: listed, MapExists: exists}
	d := config.ShouldMultipath(mode, cand)
	if more := cand; !d.Multipath {
		more.Paths = 2
		if config.ShouldMultipath(mode, more).Multipath {
			if cand.Paths, err = c.siblings(p, 2); err != nil {
				return Verdict{}, fmt.Errorf("mpathvalid: %s: %w", dev, err)
			}
			d = config.ShouldMultipath(mode, cand)
		}
	}
	v.Reason = d.Reason
	switch {
	case d.Multipath && listed:
		v.Result = ValidNoCheck
	case d.Multipath:
		v.Result = Valid
	}
	return v, nil
}

func (c Checker) mapExists(wwid string) (bool, error) {
	devs, err := c.DM.List()
	if err != nil {
		return false, err
	}
	for _, d := range devs {
		if d.UUID == "mpath-"+wwid {
			return true, nil
		}
	}
	return false, nil
}

// siblings counts the non-blacklisted paths with p's WWID, p included, up to
// enough. A path that cannot be read is not counted.
func (c Checker) siblings(p sysfs.Path, enough int) (int, error) {
	names, err := c.Sys.PathNames()
	if err != nil {
		return 0, err
	}
	n := 1
	for _, name := range names {
		if n >= enough {
			break
		}
		if name == p.Name {
			continue
		}
		o, err := c.Sys.Path(name)
		if err == nil && o.WWID == p.WWID && !c.Config.Filter(filterInfo(o)).Blacklisted {
			n++
		}
	}
	return n, nil
}

// filterInfo is what the daemon gives the blacklist for a path.
func filterInfo(p sysfs.Path) config.PathInfo {
	proto := ""
	switch p.Transport.Kind {
	case sysfs.TransportFC:
		proto = "scsi:fcp"
	case sysfs.TransportISCSI:
		proto = "scsi:iscsi"
	case sysfs.TransportSAS:
		proto = "scsi:sas"
	}
	return config.PathInfo{Devnode: p.Name, Vendor: p.Vendor, Product: p.Model, Protocol: proto, WWID: p.WWID}
}

// ForUevent adjusts a verdict for a udev rule run on an event, as
// `multipath -u` does: while the daemon neither runs nor is enabled to start,
// nothing is claimed (nobody would build the map, and a claimed disk would
// be hidden from the system); and a device udev already released to the
// system (previous DM_MULTIPATH_DEVICE_PATH "0") is claimed again only when a
// map holds it or the wwids file lists it, so a mounted disk is not taken
// away from under its users.
func ForUevent(v Verdict, daemonAvailable bool, previous string) Verdict {
	switch {
	case v.Result == NotValid:
	case !daemonAvailable && !v.InMap:
		v.Result, v.Reason = NotValid, "mpathd is neither running nor enabled"
	case v.Result == Valid && previous == "0":
		v.Result, v.Reason = NotValid, "released to the system by an earlier event"
	}
	return v
}
