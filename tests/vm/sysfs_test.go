package vm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/sysfs"
)

// TestVMSysfs proves pkg/sysfs on a real kernel with udevd running: every
// scsi_debug path's WWID equals udev's ID_SERIAL (checked in the guest and
// again here from the emitted table), ALUA/TPG data match scsi_debug's
// formulas, a deleted path comes back with a host scan, and a dmsetup map
// is read back with its slaves and holders. The guest's sysfs is also
// captured (pkg/sysfs/testdata/capture.sh) and read here on the host, which
// must again give udev's WWIDs; MPATHD_CAPTURE_FIXTURE=DIR saves the capture
// as a fixture tree (pkg/sysfs/testdata/scsi_debug was made this way).
func TestVMSysfs(t *testing.T) {
	t.Parallel()
	capture, err := os.ReadFile("../../pkg/sysfs/testdata/capture.sh")
	if err != nil {
		t.Fatal(err)
	}
	res := Run(t, Scenario{
		Files:      map[string][]byte{"/capture.sh": capture},
		SAN:        SAN{Hosts: 2, LUNs: 4},
		Udev:       true,
		GuestTests: []string{"./pkg/sysfs"},
		WantPass:   []string{"sysfs.test TestGuestSysfsWWID", "sysfs.test TestGuestSysfsHostOps"},
		Script: `
run_gotest /bin/sysfs.test -test.run '^TestGuestSysfsWWID$' -test.v
emit wwids "$(cat /tmp/wwids)"
for b in /sys/block/sd*; do
	emit udev "${b##*/} $(udevadm info -q property -n /dev/${b##*/} | grep '^ID_SERIAL=' | cut -d= -f2)"
done
set -- $(for b in /sys/block/sd*; do
	[ "$(udevadm info -q property -n /dev/${b##*/} | grep '^ID_SERIAL=')" = ID_SERIAL=333333330000007d0 ] && cat $b/dev
done)
dmsetup create mpcap -u mpath-333333330000007d0 --table "0 $(cat /sys/block/sda/size) multipath 0 0 2 1 round-robin 0 1 1 $1 1 round-robin 0 1 1 $2 1"
sh /capture.sh /tmp/cap
emit fixture "$(tar -C /tmp/cap -cf - . | gzip -9 | base64)"
dmsetup remove mpcap
run_gotest /bin/sysfs.test -test.run '^TestGuestSysfsHostOps$' -test.v
emit paths.after "$(san_paths | wc -l)"
`,
	})
	for _, g := range res.All("gotest") {
		if !strings.HasSuffix(g, " PASS") {
			t.Errorf("guest test %s", g)
		}
	}
	if n := len(res.All("gotest")); n != 2 {
		t.Errorf("%d guest test runs reported, want 2", n)
	}
	t.Logf("sdX, pkg/sysfs WWID, udev ID_SERIAL:\n%s", res.Get("wwids"))
	ours := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(res.Get("wwids")), "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			ours[f[0]] = f[1]
		}
	}
	udev := res.All("udev")
	if len(udev) != 8 {
		t.Fatalf("udev reported %d devices, want 8: %q", len(udev), udev)
	}
	for _, l := range udev {
		f := strings.Fields(l)
		if len(f) != 2 || f[1] == "" || ours[f[0]] != f[1] {
			t.Errorf("%q: pkg/sysfs WWID %q", l, ours[f[0]])
		}
	}
	if got := strings.TrimSpace(res.Get("paths.after")); got != "8" {
		t.Errorf("%s paths after delete+scan, want 8", got)
	}

	dir := t.TempDir()
	if err := untarFixture(res.Get("fixture"), dir); err != nil {
		t.Fatalf("captured fixture: %v", err)
	}
	paths, err := sysfs.New(dir).Paths()
	if err != nil || len(paths) != 8 {
		t.Fatalf("captured tree: %d paths, %v", len(paths), err)
	}
	for _, p := range paths {
		if p.WWID != ours[p.Name] {
			t.Errorf("captured %s: WWID %q, in the guest %q", p.Name, p.WWID, ours[p.Name])
		}
	}
	maps, err := sysfs.New(dir).Maps()
	if err != nil || len(maps) != 1 || maps[0].UUID != "mpath-333333330000007d0" || len(maps[0].Slaves) != 2 {
		t.Errorf("captured maps: %+v, %v", maps, err)
	}
	if save := os.Getenv("MPATHD_CAPTURE_FIXTURE"); save != "" {
		if err := os.RemoveAll(save); err != nil {
			t.Fatal(err)
		}
		if err := untarFixture(res.Get("fixture"), save); err != nil {
			t.Fatal(err)
		}
		t.Logf("fixture saved in %s", save)
	}
}

// untarFixture unpacks the guest's base64 tar.gz into dir, refusing names
// that would leave it.
func untarFixture(b64, dir string) error {
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64), ""))
	if err != nil {
		return err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if !filepath.IsLocal(name) {
			if name == "." {
				continue
			}
			return errors.New("tar entry outside the fixture: " + h.Name)
		}
		out := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(out, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, out)
		case tar.TypeReg:
			var data []byte
			if data, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(out, data, 0o644)
			}
		}
		if err != nil {
			return err
		}
	}
}
