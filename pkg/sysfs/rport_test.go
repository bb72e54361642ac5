package sysfs_test

import (
	"errors"
	"io/fs"
	"slices"
	"testing"

	"github.com/mpathd/mpathd/pkg/sysfs"
	"github.com/mpathd/mpathd/pkg/sysfs/sysfstest"
)

// TestFCRPortStates reads an FC path through the states its remote port goes through: Online,
// Blocked, fast_io_fail expired, dev_loss expired (devices deleted, rport Not Present) and back.
func TestFCRPortStates(t *testing.T) {
	root := sysfstest.Copy(t, "fc")
	fsys := sysfs.New(root)
	read := func() (string, string) {
		t.Helper()
		p, err := fsys.Path("sdc")
		if err != nil {
			t.Fatal(err)
		}
		if p.Transport.Kind != sysfs.TransportFC || p.Transport.RPort != "rport-3:0-0" {
			t.Fatalf("transport %+v", p.Transport)
		}
		return p.Transport.PortState, p.State
	}
	for _, tc := range []struct {
		st          sysfstest.RPortState
		port, state string
	}{
		{sysfstest.Online, "Online", "running"},
		{sysfstest.Blocked, "Blocked", "blocked"},
		{sysfstest.FastFailed, "Blocked", "transport-offline"},
		{sysfstest.Online, "Online", "running"},
	} {
		sysfstest.SetRPort(t, root, "rport-3:0-0", tc.st)
		if port, state := read(); port != tc.port || state != tc.state {
			t.Errorf("%s: port_state %q, device state %q; want %q, %q", tc.st, port, state, tc.port, tc.state)
		}
	}

	gone := sysfstest.SetRPort(t, root, "rport-3:0-0", sysfstest.NotPresent)
	if !slices.Equal(gone, []string{"sdc", "sdd"}) {
		t.Errorf("devices deleted with the rport: %q", gone)
	}
	if _, err := fsys.Path("sdc"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sdc after dev_loss: %v", err)
	}
	ps, _ := fsys.Paths()
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"sda", "sdb"}) {
		t.Errorf("paths after dev_loss: %q", names)
	}
	if st := sysfstest.RPort(root, "rport-3:0-0", "port_state"); st != "Not Present" {
		t.Errorf("rport port_state %q", st)
	}

	back := sysfstest.SetRPort(t, root, "rport-3:0-0", sysfstest.Returned)
	if !slices.Equal(back, gone) {
		t.Errorf("devices back: %q", back)
	}
	if port, state := read(); port != "Online" || state != "running" {
		t.Errorf("returned: %q %q", port, state)
	}
	if f, d := sysfstest.RPort(root, "rport-3:0-0", "fast_io_fail_tmo"), sysfstest.RPort(root, "rport-3:0-0", "dev_loss_tmo"); f != "off" || d != "30" {
		t.Errorf("returned rport timeouts %s/%s, want the kernel's defaults", f, d)
	}
}
