package sysfs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mpathd/mpathd/tests/vm/guest"
)

// udevProps returns udev's properties for a device node (udevadm is the oracle).
func udevProps(t *testing.T, node string) map[string]string {
	t.Helper()
	out, err := exec.Command("udevadm", "info", "-q", "property", "-n", node).Output()
	if err != nil {
		t.Fatalf("udevadm info %s: %v", node, err)
	}
	props := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			props[k] = v
		}
	}
	return props
}

// TestGuestSysfsWWID: on the scsi_debug SAN (2 hosts x 4 LUNs, udevd
// running) every path's WWID equals udev's ID_SERIAL, LUN k has the same
// WWID on every host, and the ALUA data matches scsi_debug's formulas.
// Writes "sdX WWID ID_SERIAL" lines to /tmp/wwids for the host side.
func TestGuestSysfsWWID(t *testing.T) {
	guest.Require(t)
	fsys := New("/")
	paths, err := fsys.Paths()
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 8 {
		t.Fatalf("%d paths, want 8", len(paths))
	}
	var report strings.Builder
	byLUN := map[uint64]string{}
	for _, p := range paths {
		props := udevProps(t, "/dev/"+p.Name)
		fmt.Fprintf(&report, "%s %s %s\n", p.Name, p.WWID, props["ID_SERIAL"])
		if p.WWID == "" || p.WWID != props["ID_SERIAL"] {
			t.Errorf("%s: WWID %q (%v), udev ID_SERIAL %q", p.Name, p.WWID, p.WWIDErr, props["ID_SERIAL"])
		}
		if w, ok := byLUN[p.HCTL.LUN]; ok && w != p.WWID {
			t.Errorf("%s: LUN %d WWID %q differs from another path's %q", p.Name, p.HCTL.LUN, p.WWID, w)
		}
		byLUN[p.HCTL.LUN] = p.WWID
		if want := uint16((p.HCTL.Host+1)&0x7f) << 8; !p.HasTPG || p.TPG != want {
			t.Errorf("%s: TPG %#x/%v, want %#x", p.Name, p.TPG, p.HasTPG, want)
		}
		wantState := []string{"active/optimized", "active/non-optimized", "standby"}[p.HCTL.Host%3]
		if p.AccessState != wantState || p.DHState != "alua" || p.State != "running" || p.Vendor != "Linux" ||
			p.Model != "scsi_debug" || p.Size == 0 || p.Dev.Major != 8 || p.Transport.Kind != TransportUnknown {
			t.Errorf("%s: %+v (want access_state %s)", p.Name, p, wantState)
		}
	}
	if len(byLUN) != 4 {
		t.Errorf("%d distinct LUN WWIDs, want 4", len(byLUN))
	}
	if err := os.WriteFile("/tmp/wwids", []byte(report.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	// The stat reader works on kernel-generated files, and /proc/diskstats
	// lists every path with the same counters' field count.
	f, err := fsys.OpenStat(paths[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var s Stat
	if err := f.Read(&s); err != nil || s.Fields != 17 || s.ReadIOs == 0 {
		t.Errorf("stat %s: %+v, %v", paths[0].Name, s, err)
	}
	d, err := fsys.OpenDiskstats()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	seen := 0
	if err := d.Read(func(e DiskstatsEntry) {
		if strings.HasPrefix(string(e.Name), "sd") && e.Stat.Fields == 17 {
			seen++
		}
	}); err != nil || seen != 8 {
		t.Errorf("diskstats: %d sd entries, %v", seen, err)
	}
}

// TestGuestSysfsHostOps deletes a path, brings it back with a targeted host
// scan, offlines and restores it, and checks a dm map built on it by dmsetup.
func TestGuestSysfsHostOps(t *testing.T) {
	guest.Require(t)
	fsys := New("/")
	paths, err := fsys.Paths()
	if err != nil {
		t.Fatal(err)
	}
	p := paths[len(paths)-1]
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		for !cond() {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: %v", what, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if err := fsys.DeleteDevice(p.HCTL); err != nil {
		t.Fatal(err)
	}
	waitFor("path deleted", func() bool { _, err := os.Stat("/sys/class/scsi_device/" + p.HCTL.String()); return err != nil })
	if err := fsys.RescanDevice(p.HCTL); err == nil {
		t.Error("rescan of a deleted device succeeded")
	}
	if err := fsys.ScanHost(p.HCTL.Host, ScanAddr{p.HCTL.Channel, p.HCTL.Target, int64(p.HCTL.LUN)}); err != nil {
		t.Fatal(err)
	}
	var back Path
	waitFor("path back after scan", func() bool {
		names, _ := fsys.PathNames()
		for _, n := range names {
			if q, err := fsys.Path(n); err == nil && q.HCTL == p.HCTL {
				back = q
				return true
			}
		}
		return false
	})
	if back.WWID != p.WWID {
		t.Errorf("path back as %s with WWID %q, want %q", back.Name, back.WWID, p.WWID)
	}
	if err := fsys.RescanDevice(back.HCTL); err != nil {
		t.Error(err)
	}
	if err := fsys.SetDeviceState(back.HCTL, StateOffline); err != nil {
		t.Fatal(err)
	}
	if q, err := fsys.Path(back.Name); err != nil || q.State != "offline" {
		t.Errorf("after offline: %+v, %v", q, err)
	}
	if err := fsys.SetDeviceState(back.HCTL, StateRunning); err != nil {
		t.Fatal(err)
	}
	if err := fsys.ScanHost(99, ScanAll); err == nil {
		t.Error("scan of host99 succeeded")
	}

	// A map made by dmsetup (the oracle) is read back with its slaves/holders.
	a, b := paths[0], back
	if a.WWID != b.WWID {
		for _, q := range paths {
			if q.WWID == b.WWID && q.Name != b.Name {
				a = q
			}
		}
	}
	table := fmt.Sprintf("0 %d multipath 0 0 1 1 round-robin 0 2 1 %s 1 %s 1", a.Size, a.Dev, b.Dev)
	if out, err := exec.Command("dmsetup", "create", "mpsysfs", "-u", "mpath-"+a.WWID, "--table", table).CombinedOutput(); err != nil {
		t.Fatalf("dmsetup create: %v: %s", err, out)
	}
	defer exec.Command("dmsetup", "remove", "mpsysfs").Run()
	maps, err := fsys.Maps()
	if err != nil {
		t.Fatal(err)
	}
	var m *Map
	for i := range maps {
		if maps[i].Name == "mpsysfs" {
			m = &maps[i]
		}
	}
	if m == nil || m.UUID != "mpath-"+a.WWID || m.Suspended || len(m.Slaves) != 2 || m.Size != a.Size {
		t.Fatalf("map = %+v", m)
	}
	if q, err := fsys.Path(a.Name); err != nil || len(q.Holders) != 1 || q.Holders[0] != m.Node {
		t.Errorf("%s holders = %v, %v; want [%s]", a.Name, q.Holders, err, m.Node)
	}
}
