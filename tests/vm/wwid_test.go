package vm

import (
	"strings"
	"testing"
)

// TestVMWWIDByInquiry: a SAN whose LUNs report SCSI-2 (scsi_debug scsi_level=2) gets no VPD page
// cached by the kernel (it asks only SPC-2 and later devices, as for HPE XP before 5.14), so sysfs
// has no vpd_pg83/vpd_pg80. Without udev, mpathd still builds the map, identified by the WWID it
// reads through SG_IO, and that WWID is the ID_SERIAL udev's own scsi_id prints for each path.
func TestVMWWIDByInquiry(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:       SAN{Hosts: 2, LUNs: 1, Extra: "scsi_level=2"},
		Commands:  []string{"./cmd/mpathd", "./cmd/mpathctl"},
		HostTools: []string{"/lib/udev/scsi_id"},
		Script: daemonHelpers + `
for d in $(san_paths | awk '{print $1}'); do
	emit level "$d $(cat /sys/block/$d/device/scsi_level)"
	emit vpd "$d $(ls /sys/block/$d/device | grep -c '^vpd_pg')"
	emit scsi_id "$d $(/lib/udev/scsi_id --whitelisted --replace-whitespace --device=/dev/$d)"
done
start_mpathd
wait_for 30 sh -c '[ "$(dmsetup table --target multipath | grep -c " multipath ")" = 1 ]' || fail "no map: $(tail -n 20 /tmp/mpathd.log)"
emit uuid "$(dmsetup info -c --noheadings -o uuid --target multipath)"
emit table "$(dmsetup table --target multipath)"
mpathctl show topology
`,
	})
	ids := map[string]bool{}
	for _, l := range res.All("scsi_id") {
		f := strings.Fields(l)
		if len(f) != 2 || f[1] == "" {
			t.Fatalf("scsi_id gave no ID_SERIAL: %q", l)
		}
		ids[f[1]] = true
	}
	if len(ids) != 1 || len(res.All("scsi_id")) != 2 {
		t.Fatalf("scsi_id IDs %q, want one WWID for two paths", res.All("scsi_id"))
	}
	for _, l := range res.All("level") {
		// sysfs scsi_level is the kernel's SCSI_2 (3), below SCSI_SPC_2 (5).
		if f := strings.Fields(l); len(f) != 2 || f[1] != "3" {
			t.Errorf("scsi_level %q, want 3", l)
		}
	}
	for _, l := range res.All("vpd") {
		if f := strings.Fields(l); len(f) != 2 || f[1] != "0" {
			t.Errorf("VPD attributes in sysfs: %q, want none", l)
		}
	}
	var wwid string
	for id := range ids {
		wwid = id
	}
	// The same scsi_debug identity at the default level (SPC-5, pages cached) has this ID_SERIAL for
	// LUN 0 (pkg/sysfs/testdata/scsi_debug/udev-id-serial, captured from udev).
	if wwid != "333333330000007d0" {
		t.Errorf("scsi_id gave %q, the SPC-5 capture 333333330000007d0", wwid)
	}
	if got := res.Get("uuid"); got != "mpath-"+wwid {
		t.Errorf("map uuid %q, want mpath-%s (scsi_id)", got, wwid)
	}
	if tab := res.Get("table"); strings.Count(tab, " 8:") != 2 {
		t.Errorf("map table %q, want both paths", tab)
	}
	t.Logf("WWID by SG_IO INQUIRY = scsi_id: %s", wwid)
}
