package sysfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeInquirer answers with the identities it holds and records the names asked for.
type fakeInquirer struct {
	ids   map[string]Identity
	err   error
	asked *[]string
}

func (f fakeInquirer) InquireIdentity(name string) (Identity, error) {
	*f.asked = append(*f.asked, name)
	return f.ids[name], f.err
}

// noVPD copies the captured scsi_debug tree with the VPD attributes of the
// named devices removed, as the kernel leaves a device below SPC-2, and
// returns the tree and the removed pages with the devices' INQUIRY vendor
// and model.
func noVPD(t *testing.T, names ...string) (string, map[string]Identity) {
	t.Helper()
	root := copyTree(t, "testdata/scsi_debug")
	ids := map[string]Identity{}
	for _, n := range names {
		dev, err := filepath.EvalSymlinks(filepath.Join(root, "sys", "block", n, "device"))
		if err != nil {
			t.Fatal(err)
		}
		var id Identity
		for attr, dst := range map[string]*[]byte{"vpd_pg83": &id.VPD83, "vpd_pg80": &id.VPD80} {
			b, err := os.ReadFile(filepath.Join(dev, attr))
			if err != nil {
				t.Fatal(err)
			}
			*dst = b
			if err := os.Remove(filepath.Join(dev, attr)); err != nil {
				t.Fatal(err)
			}
		}
		inq, err := os.ReadFile(filepath.Join(dev, "inquiry"))
		if err != nil {
			t.Fatal(err)
		}
		id.Vendor, id.Model = inq[8:16], inq[16:32]
		ids[n] = id
	}
	return root, ids
}

// A path whose VPD pages the kernel did not cache gets its WWID from the
// pages the Inquirer reads from the device, the same string udev gave the
// device when the pages were cached; paths with cached pages are not asked.
func TestPathWWIDByInquiry(t *testing.T) {
	udev := map[string]string{}
	b, err := os.ReadFile("testdata/scsi_debug/udev-id-serial")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			udev[f[0]] = f[1]
		}
	}
	root, ids := noVPD(t, "sda", "sdd")

	without, err := New(root).Paths()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range without {
		if (p.Name == "sda" || p.Name == "sdd") && (p.WWID != "" || !errors.Is(p.WWIDErr, ErrNoWWID)) {
			t.Errorf("%s without pages and without an Inquirer: WWID %q, %v", p.Name, p.WWID, p.WWIDErr)
		}
	}

	var asked []string
	paths, err := New(root).WithInquirer(fakeInquirer{ids: ids, asked: &asked}).Paths()
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 8 {
		t.Fatalf("%d paths", len(paths))
	}
	for _, p := range paths {
		if p.WWID != udev[p.Name] || p.WWIDErr != nil {
			t.Errorf("%s: WWID %q (%v), udev ID_SERIAL %q", p.Name, p.WWID, p.WWIDErr, udev[p.Name])
		}
		if wantTPG := uint16((p.HCTL.Host+1)&0x7f) << 8; !p.HasTPG || p.TPG != wantTPG {
			t.Errorf("%s: TPG %d (%v), want %d", p.Name, p.TPG, p.HasTPG, wantTPG)
		}
	}
	if strings.Join(asked, " ") != "sda sdd" {
		t.Errorf("asked the devices %q, want only sda and sdd", asked)
	}
}

// A failed inquiry leaves the path without a WWID, with both reasons.
func TestPathWWIDInquiryFails(t *testing.T) {
	root, _ := noVPD(t, "sdb")
	var asked []string
	p, err := New(root).WithInquirer(fakeInquirer{err: errors.New("sdb: sgio: open /dev/sdb: no such device or address"), asked: &asked}).Path("sdb")
	if err != nil {
		t.Fatal(err)
	}
	if p.WWID != "" || !errors.Is(p.WWIDErr, ErrNoWWID) || !strings.Contains(p.WWIDErr.Error(), "SG_IO INQUIRY: sdb: sgio: open") {
		t.Errorf("WWID %q, error %v", p.WWID, p.WWIDErr)
	}
}
