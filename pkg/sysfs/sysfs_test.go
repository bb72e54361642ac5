package sysfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPathsFC(t *testing.T) {
	fsys := New("testdata/fc")
	names, err := fsys.PathNames()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sda", "sdb", "sdc", "sdd"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("PathNames = %v, want %v (vda and dm-N must not be listed)", names, want)
	}
	paths, err := fsys.Paths()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Path{}
	for _, p := range paths {
		byName[p.Name] = p
	}
	sda := byName["sda"]
	want := Path{
		Name: "sda", Dev: DevT{8, 0}, HCTL: HCTL{2, 0, 0, 0},
		Vendor: "NETAPP", Model: "LUN C-Mode", Rev: "9800", Size: 2097152, State: "running",
		QueueDepth: 32, Timeout: 30, AccessState: "active/optimized", PreferredPath: true, DHState: "alua",
		WWID: "3600a0980383030534f2b4d3153324d70", TPG: 1, HasTPG: true,
		Transport: Transport{Kind: TransportFC, RPort: "rport-2:0-0", PortState: "Online",
			NodeName: "0x500a0980894ae0d2", PortName: "0x500a0981894ae0d2"},
		Holders: []string{"dm-0"}, SysPath: sda.SysPath,
	}
	if !reflect.DeepEqual(sda, want) {
		t.Errorf("sda =\n%+v\nwant\n%+v", sda, want)
	}
	if !strings.HasSuffix(sda.SysPath, "/sys/devices/pci0000:00/0000:00:02.0/host2/rport-2:0-0/target2:0:0/2:0:0:0/block/sda") {
		t.Errorf("SysPath = %s", sda.SysPath)
	}
	// Both paths of a LUN share the WWID; the host3 side is ALUA standby in
	// its own port group, and sdd is offline.
	sdc, sdd := byName["sdc"], byName["sdd"]
	if sdc.WWID != sda.WWID || sdc.AccessState != "standby" || sdc.PreferredPath || sdc.TPG != 2 {
		t.Errorf("sdc = %+v", sdc)
	}
	if sdd.State != "offline" || sdd.WWID != byName["sdb"].WWID || sdd.WWID == sda.WWID {
		t.Errorf("sdd = %+v", sdd)
	}
}

func TestPathsISCSIAndSAS(t *testing.T) {
	fsys := New("testdata/iscsi")
	sde, err := fsys.Path("sde")
	if err != nil {
		t.Fatal(err)
	}
	wantT := Transport{Kind: TransportISCSI, Session: "session1", State: "LOGGED_IN",
		TargetName: "iqn.2003-01.org.linux-iscsi.target:sn.0123", TPGT: "1", Address: "192.0.2.10", AddressPort: "3260"}
	if sde.Transport != wantT {
		t.Errorf("sde transport = %+v, want %+v", sde.Transport, wantT)
	}
	if sde.WWID != "36001405f1c1d2a6c9e4a5b9c0e1a2b3c" || !sde.HasTPG || sde.TPG != 0 {
		t.Errorf("sde WWID %q TPG %d/%v", sde.WWID, sde.TPG, sde.HasTPG)
	}
	if sde.AccessState != "" || sde.DHState != "" || sde.Holders != nil {
		t.Errorf("sde without handler/holders: %+v", sde)
	}
	sdf, err := fsys.Path("sdf")
	if err != nil {
		t.Fatal(err)
	}
	if sdf.Transport != (Transport{Kind: TransportSAS, EndDevice: "end_device-5:0", SASAddress: "0x5000c500a1b2c3d4"}) {
		t.Errorf("sdf transport = %+v", sdf.Transport)
	}
	if sdf.WWID != "25000c500a1b2c3d7" || sdf.HasTPG {
		t.Errorf("sdf WWID %q HasTPG %v", sdf.WWID, sdf.HasTPG)
	}
}

func TestPathsTorn(t *testing.T) {
	fsys := New("testdata/torn")
	paths, err := fsys.Paths()
	if err == nil {
		t.Fatal("Paths on a torn tree returned no error")
	}
	for _, want := range []string{"path sdb: read device/state", "path sdc: read dev"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap ErrNotExist", err)
	}
	var got []string
	for _, p := range paths {
		got = append(got, p.Name)
	}
	if want := []string{"sda", "sdd"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("readable paths = %v, want %v", got, want)
	}
	if sdd := paths[1]; sdd.WWID != "" || !errors.Is(sdd.WWIDErr, ErrNoWWID) {
		t.Errorf("sdd without VPD: WWID %q err %v", sdd.WWID, sdd.WWIDErr)
	}
	if _, err := fsys.Path("sdz"); err == nil || !strings.Contains(err.Error(), "sdz") {
		t.Errorf("dangling sdz: %v", err)
	}
	for _, bad := range []string{"", "..", "../x", "sd\x00"} {
		if _, err := fsys.Path(bad); err == nil {
			t.Errorf("Path(%q) succeeded", bad)
		}
	}
	maps, err := fsys.Maps()
	if err == nil || len(maps) != 0 || !strings.Contains(err.Error(), "map dm-0: read dm/name") ||
		!strings.Contains(err.Error(), "map dm-9") {
		t.Errorf("Maps on a torn tree = %v, %v", maps, err)
	}
	if _, err := New(t.TempDir()).Paths(); err == nil {
		t.Error("Paths on an empty root succeeded")
	}
}

func TestMaps(t *testing.T) {
	maps, err := New("testdata/fc").Maps()
	if err != nil {
		t.Fatal(err)
	}
	want := []Map{
		{Node: "dm-0", Dev: DevT{253, 0}, Name: "mpatha", UUID: "mpath-3600a0980383030534f2b4d3153324d70", Size: 2097152,
			Slaves: []string{"sda", "sdc"}, Holders: nil},
		{Node: "dm-1", Dev: DevT{253, 1}, Name: "mpathb", UUID: "mpath-3600a0980383030534f2b4d3153324d71", Size: 2097152,
			Slaves: []string{"sdb", "sdd"}, Holders: nil},
	}
	if !reflect.DeepEqual(maps, want) {
		t.Errorf("Maps =\n%+v\nwant\n%+v", maps, want)
	}
	if _, err := New("testdata/fc").Map("sda"); err == nil {
		t.Error("Map(sda) succeeded")
	}
}

// copyTree copies a fixture (keeping symlinks) so a test can write to it.
func copyTree(t *testing.T, src string) string {
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
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(out, b, 0o644)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestHostOps(t *testing.T) {
	root := copyTree(t, "testdata/fc")
	fsys := New(root)
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	hosts, err := fsys.Hosts()
	if err != nil {
		t.Fatal(err)
	}
	if want := []Host{{2, "qla2xxx", "running"}, {3, "qla2xxx", "running"}}; !reflect.DeepEqual(hosts, want) {
		t.Errorf("Hosts = %+v", hosts)
	}

	if err := fsys.ScanHost(2, ScanAll); err != nil {
		t.Fatal(err)
	}
	if got := read("sys/class/scsi_host/host2/scan"); got != "- - -\n" {
		t.Errorf("scan wrote %q", got)
	}
	if err := fsys.ScanHost(3, ScanAddr{0, 0, 3}); err != nil {
		t.Fatal(err)
	}
	if got := read("sys/class/scsi_host/host3/scan"); got != "0 0 3\n" {
		t.Errorf("scan wrote %q", got)
	}
	h := HCTL{3, 0, 0, 1}
	if err := fsys.RescanDevice(h); err != nil {
		t.Fatal(err)
	}
	if got := read("sys/class/scsi_device/3:0:0:1/device/rescan"); got != "1\n" {
		t.Errorf("rescan wrote %q", got)
	}
	if err := fsys.SetDeviceState(h, StateRunning); err != nil {
		t.Fatal(err)
	}
	if got := read("sys/block/sdd/device/state"); got != "running\n" {
		t.Errorf("state wrote %q", got)
	}
	if err := fsys.DeleteDevice(h); err != nil {
		t.Fatal(err)
	}
	if got := read("sys/class/scsi_device/3:0:0:1/device/delete"); got != "1\n" {
		t.Errorf("delete wrote %q", got)
	}

	for name, err := range map[string]error{
		"missing host":     fsys.ScanHost(7, ScanAll),
		"negative host":    fsys.ScanHost(-2, ScanAll),
		"bad scan address": fsys.ScanHost(2, ScanAddr{0, -5, 0}),
		"missing device":   fsys.DeleteDevice(HCTL{2, 0, 0, 9}),
		"bad state":        fsys.SetDeviceState(h, "blocked"),
		"negative device":  fsys.RescanDevice(HCTL{-1, 0, 0, 0}),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := fsys.ScanHost(7, ScanAll); !errors.Is(err, ErrNoHost) || !strings.Contains(err.Error(), "host7") {
		t.Errorf("missing host: %v", err)
	}
	if err := fsys.DeleteDevice(HCTL{2, 0, 0, 9}); !errors.Is(err, ErrNoDevice) {
		t.Errorf("missing device: %v", err)
	}
}

func TestHostOpsStayInsideDevices(t *testing.T) {
	root := copyTree(t, "testdata/fc")
	outside := t.TempDir()
	os.MkdirAll(filepath.Join(outside, "scsi_host", "host9"), 0o755)
	os.WriteFile(filepath.Join(outside, "scsi_host", "host9", "scan"), nil, 0o644)
	if err := os.Symlink(filepath.Join(outside, "scsi_host", "host9"), filepath.Join(root, "sys/class/scsi_host/host9")); err != nil {
		t.Fatal(err)
	}
	if err := New(root).ScanHost(9, ScanAll); err == nil || !strings.Contains(err.Error(), "not a scsi_host directory") {
		t.Errorf("scan through a link leaving sys/devices: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "scsi_host", "host9", "scan")); len(b) != 0 {
		t.Errorf("wrote %q outside the tree", b)
	}
}

func TestParseHCTLAndDevT(t *testing.T) {
	if h, err := ParseHCTL("2:0:1:16384"); err != nil || h != (HCTL{2, 0, 1, 16384}) || h.String() != "2:0:1:16384" {
		t.Errorf("ParseHCTL = %v, %v", h, err)
	}
	for _, bad := range []string{"", "1:2:3", "a:0:0:0", "1:2:3:4:5", "-1:0:0:0"} {
		if _, err := ParseHCTL(bad); err == nil {
			t.Errorf("ParseHCTL(%q) succeeded", bad)
		}
	}
	if d, err := ParseDevT("253:17\n"); err != nil || d != (DevT{253, 17}) || d.String() != "253:17" {
		t.Errorf("ParseDevT = %v, %v", d, err)
	}
	for _, bad := range []string{"", "8", "8:x", "x:1"} {
		if _, err := ParseDevT(bad); err == nil {
			t.Errorf("ParseDevT(%q) succeeded", bad)
		}
	}
}

// testdata/scsi_debug was captured from the tests/vm guest (TestVMSysfs with
// MPATHD_CAPTURE_FIXTURE) with udevd running: real kernel VPD bytes, and
// udev's ID_SERIAL for each path in udev-id-serial.
func TestCapturedSCSIDebug(t *testing.T) {
	fsys := New("testdata/scsi_debug")
	b, err := os.ReadFile("testdata/scsi_debug/udev-id-serial")
	if err != nil {
		t.Fatal(err)
	}
	udev := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			udev[f[0]] = f[1]
		}
	}
	paths, err := fsys.Paths()
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 8 || len(udev) != 8 {
		t.Fatalf("%d paths, %d udev serials; want 8", len(paths), len(udev))
	}
	for _, p := range paths {
		if p.WWID != udev[p.Name] {
			t.Errorf("%s: WWID %q, udev ID_SERIAL %q", p.Name, p.WWID, udev[p.Name])
		}
		wantTPG := uint16((p.HCTL.Host+1)&0x7f) << 8
		wantState := []string{"active/optimized", "active/non-optimized", "standby"}[p.HCTL.Host%3]
		if p.TPG != wantTPG || p.AccessState != wantState || p.Vendor != "Linux" || p.Model != "scsi_debug" || p.State != "running" {
			t.Errorf("%s: %+v", p.Name, p)
		}
	}
	maps, err := fsys.Maps()
	if err != nil || len(maps) != 1 || maps[0].UUID != "mpath-333333330000007d0" || len(maps[0].Slaves) != 2 {
		t.Fatalf("Maps = %+v, %v", maps, err)
	}
	for _, s := range maps[0].Slaves {
		if p, err := fsys.Path(s); err != nil || len(p.Holders) != 1 || p.Holders[0] != maps[0].Node {
			t.Errorf("slave %s: holders %v, %v", s, p.Holders, err)
		}
	}
	d, err := fsys.OpenDiskstats()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sd := 0
	if err := d.Read(func(e DiskstatsEntry) {
		if strings.HasPrefix(string(e.Name), "sd") {
			sd++
		}
	}); err != nil || sd != 8 {
		t.Errorf("diskstats: %d sd lines, %v", sd, err)
	}
}
