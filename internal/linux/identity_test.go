package linux

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
	"github.com/mpathd/mpathd/pkg/sysfs"
	"github.com/mpathd/mpathd/pkg/sysfs/sysfstest"
)

// fakeSG is an Inquirer whose devices are fake SG_IO devices.
type fakeSG map[string]*sgiotest.Device

func (f fakeSG) InquireIdentity(name string) (sysfs.Identity, error) {
	return inquireIdentity(name, func() (sgio.Device, func(), error) {
		d, ok := f[name]
		if !ok {
			return nil, nil, syscall.ENOENT
		}
		return d, func() {}, nil
	})
}

// The WWID of a path whose VPD pages the kernel did not cache is read
// through SG_IO as scsi_id reads it and equals udev's ID_SERIAL for the same
// device: the captured scsi_debug SAN with every VPD attribute removed, each
// fake device answering INQUIRY with the pages and standard data that were
// captured for it.
func TestInquirerWWIDEqualsUdev(t *testing.T) {
	src := "../../pkg/sysfs/testdata/scsi_debug"
	b, err := os.ReadFile(filepath.Join(src, "udev-id-serial"))
	if err != nil {
		t.Fatal(err)
	}
	udev := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			udev[f[0]] = f[1]
		}
	}
	root := sysfstest.CopyTree(t, src)
	devs := fakeSG{}
	for name := range udev {
		dev, err := filepath.EvalSymlinks(filepath.Join(root, "sys", "block", name, "device"))
		if err != nil {
			t.Fatal(err)
		}
		read := func(attr string) []byte {
			b, err := os.ReadFile(filepath.Join(dev, attr))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		devs[name] = &sgiotest.Device{Handler: sgiotest.Pages(read("inquiry"), map[uint8][]byte{0x83: read("vpd_pg83"), 0x80: read("vpd_pg80")})}
		for _, attr := range []string{"vpd_pg83", "vpd_pg80"} {
			if err := os.Remove(filepath.Join(dev, attr)); err != nil {
				t.Fatal(err)
			}
		}
	}
	paths, err := sysfs.New(root).WithInquirer(devs).Paths()
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(udev) || len(paths) == 0 {
		t.Fatalf("%d paths, %d udev serials", len(paths), len(udev))
	}
	for _, p := range paths {
		if p.WWID != udev[p.Name] || p.WWIDErr != nil {
			t.Errorf("%s: WWID %q (%v), udev ID_SERIAL %q", p.Name, p.WWID, p.WWIDErr, udev[p.Name])
		}
		if n := len(devs[p.Name].Calls()); n != 4 {
			t.Errorf("%s: %d INQUIRY commands, want 4 (standard, 0x00, 0x83, 0x80)", p.Name, n)
		}
	}

	// A node that cannot be opened: no WWID, and the reason names the device.
	delete(devs, "sda")
	p, err := sysfs.New(root).WithInquirer(devs).Path("sda")
	if err != nil {
		t.Fatal(err)
	}
	if p.WWID != "" || p.WWIDErr == nil || !strings.Contains(p.WWIDErr.Error(), "SG_IO INQUIRY: sda: no such file") {
		t.Errorf("sda without a node: WWID %q, %v", p.WWID, p.WWIDErr)
	}
}

// The real Inquirer on a node that is no SCSI device fails with the node's name.
func TestInquirerOnARegularFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sdz"), make([]byte, 512), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Inquirer{DevRoot: dir}.InquireIdentity("sdz")
	if err == nil || !strings.Contains(err.Error(), "sdz") {
		t.Errorf("InquireIdentity on a regular file: %v", err)
	}
}
