package sysfs

import (
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// udevRoot is a root whose sys and proc are the fixture tree's and whose
// run/udev/data holds the given database files.
func udevRoot(t *testing.T, fixture string, db map[string]string) FS {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"sys", "proc"} {
		abs, err := filepath.Abs(filepath.Join(fixture, d))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(root, d)); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(root, "run", "udev", "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range db {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return New(root)
}

// Where another rule set ID_SERIAL (sg3_utils' 55-scsi-sg3_id.rules gives
// a T10 vendor ID designator's "1"+text form, for one), the udev database's
// value is the WWID, as multipathd's uid_attribute makes it; a device udev
// has no record of, or a record without ID_SERIAL, keeps the derivation.
func TestPathWWIDFromUdevDatabase(t *testing.T) {
	plain, err := New("testdata/fc").Paths()
	if err != nil {
		t.Fatal(err)
	}
	derived := map[string]string{}
	for _, p := range plain {
		derived[p.Name] = p.WWID
	}
	const sg3 = "1NETAPP  LUN C-Mode      80-3s7ebd5mM3"
	fsys := udevRoot(t, "testdata/fc", map[string]string{
		"b8:0":  "S:disk/by-id/scsi-" + sg3 + "\nI:1234\nE:ID_VENDOR=NETAPP\nE:ID_SERIAL=" + sg3 + "\nE:ID_SERIAL_SHORT=x\nG:systemd\n",
		"b8:16": "E:ID_VENDOR=NETAPP\nE:ID_MODEL=LUN_C-Mode\n", // udev ran, no ID_SERIAL
	})
	paths, err := fsys.Paths()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		want := derived[p.Name]
		if p.Name == "sda" {
			want = sg3
		}
		if p.WWID != want || p.WWIDErr != nil {
			t.Errorf("%s: WWID %q (%v), want %q", p.Name, p.WWID, p.WWIDErr, want)
		}
	}
}

func TestParseUdevDB(t *testing.T) {
	got := ParseUdevDB([]byte("S:disk/by-id/wwn-0x1\nE:ID_SERIAL=3600a0980\nE:ID_FS_LABEL=a=b\nE:NOVALUE\nE:=x\nW:3\nE:ID_SERIAL_SHORT=600a0980"))
	want := map[string]string{"ID_SERIAL": "3600a0980", "ID_FS_LABEL": "a=b", "ID_SERIAL_SHORT": "600a0980"}
	if !maps.Equal(got, want) {
		t.Errorf("ParseUdevDB = %v, want %v", got, want)
	}
}

func FuzzParseUdevDB(f *testing.F) {
	f.Add([]byte("E:ID_SERIAL=3600a0980383030534f2b4d3153324d70\nS:disk/by-id/scsi-3600a\n"))
	f.Add([]byte("E:A=\nE:=\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		props := ParseUdevDB(b)
		// Rendered back as E: lines, the properties parse to themselves.
		var out []byte
		for k, v := range props {
			if k == "" {
				t.Fatalf("empty key from %q", b)
			}
			out = append(out, "E:"+k+"="+v+"\n"...)
		}
		if again := ParseUdevDB(out); !maps.Equal(again, props) {
			t.Fatalf("re-rendered %v parses to %v", props, again)
		}
	})
}

// uid_attribute names the udev property the WWID is read from: another
// property (ID_WWN) when set, the VPD derivation when it is "" or when the
// path's udev record lacks it. The function sees the path's INQUIRY vendor,
// product and revision, so a [[devices]] entry can set its own.
func TestPathWWIDFromUIDAttribute(t *testing.T) {
	plain, err := New("testdata/fc").Path("sda")
	if err != nil {
		t.Fatal(err)
	}
	fsys := udevRoot(t, "testdata/fc", map[string]string{
		"b8:0": "E:ID_SERIAL=1NETAPP_LUN_C-Mode_80-3s7ebd5mM3\nE:ID_WWN=0x600a098038303053\n",
	})
	var seen []string
	for _, tc := range []struct{ attr, want string }{
		{"ID_WWN", "0x600a098038303053"},
		{"ID_SERIAL", "1NETAPP_LUN_C-Mode_80-3s7ebd5mM3"},
		{"", plain.WWID},
		{"ID_NO_SUCH", plain.WWID},
	} {
		p, err := fsys.WithUIDAttribute(func(vendor, product, revision string) string {
			seen = append(seen, vendor+"/"+product+"/"+revision)
			return tc.attr
		}).Path("sda")
		if err != nil {
			t.Fatal(err)
		}
		if p.WWID != tc.want || p.WWIDErr != nil {
			t.Errorf("uid_attribute %q: WWID %q (%v), want %q", tc.attr, p.WWID, p.WWIDErr, tc.want)
		}
	}
	if want := plain.Vendor + "/" + plain.Model + "/" + plain.Rev; len(seen) != 4 || seen[0] != want {
		t.Errorf("uid_attribute asked for %q, want 4 × %q", seen, want)
	}
}
