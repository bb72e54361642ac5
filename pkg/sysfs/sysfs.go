// Package sysfs reads the SCSI and block topology that a multipath daemon
// needs (paths, their identity and ALUA state, transports, device-mapper
// maps), computes WWIDs from VPD pages as udev does, drives SCSI host
// scan/rescan/delete, and reads I/O counters without allocating.
//
// Everything goes through an FS rooted at a directory (default "/"), so the
// same code reads the live /sys and /proc or a fixture tree in testdata.
package sysfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FS is a view of /sys and /proc under Root. The zero value reads the live
// system. FS is a value type and safe for concurrent use.
type FS struct {
	root    string
	inq     Inquirer
	uidAttr func(vendor, product, revision string) string
}

// Inquirer reads a path's identity from the device itself, through SG_IO as
// udev's scsi_id does. The kernel caches no VPD pages for a device below
// SPC-2 that is not on its VPD list (HPE XP before Linux 5.14, for one), yet
// udev and multipathd identify it by the pages the device returns.
type Inquirer interface {
	InquireIdentity(name string) (Identity, error)
}

// WithUIDAttribute returns a copy of fs that reads a path's WWID from the
// udev property f names for the path's INQUIRY vendor, product and revision
// (multipath-tools' uid_attribute) instead of ID_SERIAL; f returning ""
// ignores the udev database and derives the WWID from the VPD pages.
func (fs FS) WithUIDAttribute(f func(vendor, product, revision string) string) FS {
	fs.uidAttr = f
	return fs
}

// WithInquirer returns a copy of fs that asks q for the identity of a path
// whose sysfs device has neither vpd_pg83 nor vpd_pg80. Without one such a
// path has no WWID unless the udev database holds its ID_SERIAL.
func (fs FS) WithInquirer(q Inquirer) FS {
	fs.inq = q
	return fs
}

// New returns an FS rooted at root; "" means "/".
func New(root string) FS {
	if root == "" {
		root = "/"
	}
	return FS{root: root}
}

// Root is the directory under which sys/ and proc/ are read.
func (fs FS) Root() string {
	if fs.root == "" {
		return "/"
	}
	return fs.root
}

func (fs FS) sys(elem ...string) string {
	return filepath.Join(append([]string{fs.Root(), "sys"}, elem...)...)
}

func (fs FS) proc(elem ...string) string {
	return filepath.Join(append([]string{fs.Root(), "proc"}, elem...)...)
}

// maxAttr bounds attribute reads; sysfs attributes are at most a page,
// binary VPD attributes at most 64 KiB plus header.
const maxAttr = 1 << 17

// readAttr reads a whole attribute file. Reads loop until EOF, so values
// longer than any fixed buffer are never cut short.
func readAttr(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAttr+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxAttr {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, maxAttr)
	}
	return b, nil
}

// readString reads a text attribute with the trailing newline removed.
func readString(path string) (string, error) {
	b, err := readAttr(path)
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(b, []byte("\n"))), nil
}

func readTrimmed(path string) (string, error) {
	s, err := readString(path)
	return strings.TrimSpace(s), err
}

func readUint(path string) (uint64, error) {
	s, err := readTrimmed(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

// optional turns "attribute absent or not readable here" into a zero value.
// sysfs returns EINVAL/ENXIO/ENODEV for attributes without a backing
// provider (e.g. access_state with no device handler attached).
func optional(err error) error {
	if err == nil || errors.Is(err, os.ErrNotExist) || isNoProvider(err) {
		return nil
	}
	return err
}

// DevT is a block device number.
type DevT struct{ Major, Minor uint32 }

func (d DevT) String() string { return fmt.Sprintf("%d:%d", d.Major, d.Minor) }

// ParseDevT parses "MAJ:MIN" with an optional trailing newline.
func ParseDevT(s string) (DevT, error) {
	s = strings.TrimSpace(s)
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return DevT{}, fmt.Errorf("dev_t %q: want MAJ:MIN", s)
	}
	a, err := strconv.ParseUint(maj, 10, 32)
	if err != nil {
		return DevT{}, fmt.Errorf("dev_t %q: %w", s, err)
	}
	b, err := strconv.ParseUint(min, 10, 32)
	if err != nil {
		return DevT{}, fmt.Errorf("dev_t %q: %w", s, err)
	}
	return DevT{uint32(a), uint32(b)}, nil
}

// HCTL is a SCSI address host:channel:target:lun.
type HCTL struct {
	Host, Channel, Target int
	LUN                   uint64
}

func (h HCTL) String() string { return fmt.Sprintf("%d:%d:%d:%d", h.Host, h.Channel, h.Target, h.LUN) }

// ParseHCTL parses "H:C:T:L".
func ParseHCTL(s string) (HCTL, error) {
	f := strings.Split(s, ":")
	if len(f) != 4 {
		return HCTL{}, fmt.Errorf("hctl %q: want H:C:T:L", s)
	}
	var v [3]int
	for i := range 3 {
		n, err := strconv.ParseUint(f[i], 10, 31)
		if err != nil {
			return HCTL{}, fmt.Errorf("hctl %q: %w", s, err)
		}
		v[i] = int(n)
	}
	l, err := strconv.ParseUint(f[3], 10, 64)
	if err != nil {
		return HCTL{}, fmt.Errorf("hctl %q: %w", s, err)
	}
	return HCTL{v[0], v[1], v[2], l}, nil
}

// readEach reads every named device. One that cannot be read (deleted mid-scan, a torn tree) is
// left out and its error joined, so the others are still returned.
func readEach[T any](names []string, read func(string) (T, error)) ([]T, error) {
	out := make([]T, 0, len(names))
	var errs []error
	for _, n := range names {
		v, err := read(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, v)
	}
	return out, errors.Join(errs...)
}
