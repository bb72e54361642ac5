// Package sysfstest copies package sysfs's fixture trees for tests that change them, and moves an
// FC remote port of a copy through the states the kernel's FC transport gives it, with the
// refusals the transport makes of an rport's timeouts.
//
// The states, as the FC transport (scsi_transport_fc) makes them:
//
//   - Online: port_state Online; the rport's SCSI devices are running.
//   - Blocked: the port left the fabric; port_state Blocked and its devices blocked (the SCSI
//     layer holds their I/O; a checker sees the state, not the I/O).
//   - FastFailed: still Blocked after fast_io_fail_tmo; the transport fails the held I/O and the
//     devices are transport-offline.
//   - NotPresent: dev_loss_tmo passed; the SCSI devices are deleted and the rport stays as
//     "Not Present" until the port returns.
//   - Returned: the port is back after dev_loss: the rport is Online again with the kernel's
//     default timeouts (as an rport the transport makes new), and its devices are added again,
//     under the same names.
package sysfstest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mpathd/mpathd/pkg/sysfs"
)

// RPortState is one state of an FC remote port.
type RPortState string

const (
	Online     RPortState = "Online"
	Blocked    RPortState = "Blocked"
	FastFailed RPortState = "FastFailed"
	NotPresent RPortState = "Not Present"
	Returned   RPortState = "Returned"
)

// The kernel's defaults for a new rport (what qla2xxx and lpfc leave).
const (
	DefaultFastIOFail = "off"
	DefaultDevLoss    = "30"
)

// Copy copies the fixture tree pkg/sysfs/testdata/<name> ("fc", "iscsi", ...) into a temporary
// directory and returns its root, for sysfs.New.
func Copy(t testing.TB, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return CopyTree(t, filepath.Join(filepath.Dir(file), "..", "testdata", name))
}

// CopyTree copies the tree at src, keeping its symlinks, into a temporary directory that a test
// may change, and returns that directory.
func CopyTree(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, out)
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatalf("sysfstest: copy %s: %v", src, err)
	}
	return dst
}

// RPort reads attribute attr of rport in the tree at root ("" when absent).
func RPort(root, rport, attr string) string {
	b, _ := os.ReadFile(filepath.Join(root, "sys/class/fc_remote_ports", rport, attr))
	return strings.TrimSpace(string(b))
}

// SetRPort moves rport (as "rport-2:0-0") of the tree at root to state st, and returns the kernel
// names of the block devices it took away (NotPresent) or brought back (Returned).
func SetRPort(t testing.TB, root, rport string, st RPortState) []string {
	t.Helper()
	cls := filepath.Join(root, "sys/class/fc_remote_ports", rport)
	real, err := filepath.EvalSymlinks(cls)
	if err != nil {
		t.Fatalf("sysfstest: %s: %v", rport, err)
	}
	dir := filepath.Dir(filepath.Dir(real)) // .../hostH/rport-H:B-R
	stash := filepath.Join(root, ".gone", rport)
	put := func(file, v string) {
		if err := os.WriteFile(file, []byte(v+"\n"), 0o644); err != nil {
			t.Fatalf("sysfstest: %v", err)
		}
	}
	sdevState := func(v string) {
		targets, _ := filepath.Glob(filepath.Join(dir, "target*", "*:*:*:*", "state"))
		for _, f := range targets {
			put(f, v)
		}
	}
	var names []string
	switch st {
	case Online:
		put(filepath.Join(real, "port_state"), "Online")
		sdevState("running")
	case Blocked:
		put(filepath.Join(real, "port_state"), "Blocked")
		sdevState("blocked")
	case FastFailed:
		put(filepath.Join(real, "port_state"), "Blocked")
		sdevState("transport-offline")
	case NotPresent:
		put(filepath.Join(real, "port_state"), "Not Present")
		targets, _ := filepath.Glob(filepath.Join(dir, "target*"))
		if err := os.MkdirAll(stash, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, tg := range targets {
			names = append(names, unlinkTarget(t, root, tg)...)
			if err := os.Rename(tg, filepath.Join(stash, filepath.Base(tg))); err != nil {
				t.Fatal(err)
			}
		}
	case Returned:
		put(filepath.Join(real, "port_state"), "Online")
		put(filepath.Join(real, "fast_io_fail_tmo"), DefaultFastIOFail)
		put(filepath.Join(real, "dev_loss_tmo"), DefaultDevLoss)
		targets, _ := filepath.Glob(filepath.Join(stash, "target*"))
		for _, tg := range targets {
			back := filepath.Join(dir, filepath.Base(tg))
			if err := os.Rename(tg, back); err != nil {
				t.Fatal(err)
			}
			names = append(names, linkTarget(t, root, back)...)
		}
		sdevState("running")
	default:
		t.Fatalf("sysfstest: unknown rport state %q", st)
	}
	return names
}

// unlinkTarget removes the /sys/block and /sys/class/scsi_device links to the devices of a target.
func unlinkTarget(t testing.TB, root, target string) []string {
	t.Helper()
	var names []string
	blocks, _ := filepath.Glob(filepath.Join(target, "*:*:*:*", "block", "*"))
	for _, b := range blocks {
		names = append(names, filepath.Base(b))
		os.Remove(filepath.Join(root, "sys/block", filepath.Base(b)))
	}
	sdevs, _ := filepath.Glob(filepath.Join(target, "*:*:*:*"))
	for _, d := range sdevs {
		os.Remove(filepath.Join(root, "sys/class/scsi_device", filepath.Base(d)))
	}
	return names
}

// linkTarget makes the links unlinkTarget removed, relative as the kernel's are.
func linkTarget(t testing.TB, root, target string) []string {
	t.Helper()
	link := func(to, at string) {
		rel, err := filepath.Rel(filepath.Dir(at), to)
		if err == nil {
			err = os.Symlink(rel, at)
		}
		if err != nil {
			t.Fatalf("sysfstest: %v", err)
		}
	}
	var names []string
	blocks, _ := filepath.Glob(filepath.Join(target, "*:*:*:*", "block", "*"))
	for _, b := range blocks {
		names = append(names, filepath.Base(b))
		link(b, filepath.Join(root, "sys/block", filepath.Base(b)))
	}
	sdevs, _ := filepath.Glob(filepath.Join(target, "*:*:*:*", "scsi_device", "*"))
	for _, d := range sdevs {
		link(d, filepath.Join(root, "sys/class/scsi_device", filepath.Base(d)))
	}
	return names
}

// Kernel is a sysfs.FS whose FC remote ports refuse timeouts as the FC transport does: EBUSY while
// the port is Blocked or Not Present, EINVAL for a fast_io_fail_tmo not below dev_loss_tmo or above
// 600, and for a dev_loss_tmo above 600 while fast_io_fail_tmo is off. Other writes go to the tree.
type Kernel struct{ sysfs.FS }

// SetTunable implements transport.Attrs.
func (k Kernel) SetTunable(class, name, attr, val string) error {
	if class == sysfs.ClassFCRemotePort {
		if err := k.fcCheck(name, attr, val); err != nil {
			return fmt.Errorf("sysfs: write %s %s %q: %w", name, attr, val, err)
		}
	}
	return k.FS.SetTunable(class, name, attr, val)
}

func (k Kernel) fcCheck(name, attr, val string) error {
	read := func(a string) string {
		v, _ := k.FS.ReadTunable(sysfs.ClassFCRemotePort, name, a)
		return v
	}
	switch RPort(k.Root(), name, "port_state") {
	case "Blocked", "Not Present", "Deleted":
		return syscall.EBUSY
	}
	n, nerr := strconv.Atoi(val)
	switch attr {
	case "fast_io_fail_tmo":
		dl, _ := strconv.Atoi(read("dev_loss_tmo"))
		if nerr == nil && (n >= dl || n > 600) {
			return syscall.EINVAL
		}
	case "dev_loss_tmo":
		if nerr == nil && read("fast_io_fail_tmo") == "off" && n > 600 {
			return syscall.EINVAL
		}
	}
	return nil
}
