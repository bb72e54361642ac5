package sysfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTunables(t *testing.T) {
	root := copyTree(t, "testdata/fc")
	fs := New(root)
	for _, tc := range []struct{ class, name, attr, before, val string }{
		{ClassFCRemotePort, "rport-2:0-0", "fast_io_fail_tmo", "off", "5"},
		{ClassFCRemotePort, "rport-2:0-0", "dev_loss_tmo", "30", "2147483647"},
		{ClassSCSIHost, "host3", "eh_deadline", "off", "10"},
		{ClassBlock, "sdc", "queue/max_sectors_kb", "1280", "512"},
	} {
		got, err := fs.ReadTunable(tc.class, tc.name, tc.attr)
		if err != nil || got != tc.before {
			t.Errorf("ReadTunable(%s %s %s) = %q, %v; want %q", tc.class, tc.name, tc.attr, got, err, tc.before)
		}
		if err := fs.SetTunable(tc.class, tc.name, tc.attr, tc.val); err != nil {
			t.Errorf("SetTunable(%s %s %s): %v", tc.class, tc.name, tc.attr, err)
		}
		if got, _ := fs.ReadTunable(tc.class, tc.name, tc.attr); got != tc.val {
			t.Errorf("%s %s after write = %q, want %q", tc.name, tc.attr, got, tc.val)
		}
	}
	// The write went to the device's own directory, with sysfs's newline.
	b, err := os.ReadFile(filepath.Join(root, "sys/devices/pci0000:00/0000:00:02.0/host2/rport-2:0-0/fc_remote_ports/rport-2:0-0/dev_loss_tmo"))
	if err != nil || string(b) != "2147483647\n" {
		t.Errorf("rport-2:0-0 dev_loss_tmo file = %q, %v", b, err)
	}

	iscsi := New(copyTree(t, "testdata/iscsi"))
	if err := iscsi.SetTunable(ClassISCSISession, "session1", "recovery_tmo", "5"); err != nil {
		t.Error(err)
	}
	if got, _ := iscsi.ReadTunable(ClassISCSISession, "session1", "recovery_tmo"); got != "5" {
		t.Errorf("recovery_tmo = %q, want 5", got)
	}
	if got, err := iscsi.ReadTunable(ClassSASEndDevice, "end_device-5:0", "I_T_nexus_loss_timeout"); err != nil || got != "2000" {
		t.Errorf("I_T_nexus_loss_timeout = %q, %v", got, err)
	}
}

func TestTunablesConfined(t *testing.T) {
	root := copyTree(t, "testdata/fc")
	fs := New(root)
	// A class link pointing outside sys/devices is not followed.
	if err := os.MkdirAll(filepath.Join(root, "outside/fc_remote_ports/rport-9:0-0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../outside/fc_remote_ports/rport-9:0-0", filepath.Join(root, "sys/class/fc_remote_ports/rport-9:0-0")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		class, name, attr string
		want              string
	}{
		{ClassFCRemotePort, "rport-2:0-0", "port_state", "not a tunable"},
		{ClassFCRemotePort, "rport-2:0-0", "../port_state", "not a tunable"},
		{"scsi_device", "2:0:0:0", "state", "not a tunable"},
		{ClassFCRemotePort, "../rport-2:0-0", "dev_loss_tmo", "invalid"},
		{ClassFCRemotePort, "..", "dev_loss_tmo", "invalid"},
		{ClassFCRemotePort, "rport-7:0-0", "dev_loss_tmo", "no fc_remote_ports rport-7:0-0"},
		{ClassFCRemotePort, "rport-9:0-0", "dev_loss_tmo", "not a fc_remote_ports device"},
		{ClassSCSIHost, "rport-2:0-0", "eh_deadline", "no scsi_host"},
		{ClassBlock, "dm-0", "queue/max_sectors_kb", ""}, // a block device: allowed
	} {
		err := fs.SetTunable(tc.class, tc.name, tc.attr, "1")
		if tc.want == "" {
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("SetTunable(%s %s %s) = %v", tc.class, tc.name, tc.attr, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetTunable(%s %s %s) = %v, want an error with %q", tc.class, tc.name, tc.attr, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), tc.attr) {
			t.Errorf("error %q does not name the attribute", err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "outside/fc_remote_ports/rport-9:0-0/dev_loss_tmo")); err == nil {
		t.Error("a write escaped sys/devices")
	}
}
