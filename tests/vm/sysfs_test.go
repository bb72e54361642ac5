package vm

import (
	"strings"
	"testing"
)

// TestVMSysfs proves pkg/sysfs on a real kernel with udevd running: every
// scsi_debug path's WWID equals udev's ID_SERIAL (checked in the guest and
// again here from the emitted table), ALUA/TPG data match scsi_debug's
// formulas, a deleted path comes back with a host scan, and a dmsetup map
// is read back with its slaves and holders.
func TestVMSysfs(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:        SAN{Hosts: 2, LUNs: 4},
		Udev:       true,
		GuestTests: []string{"./pkg/sysfs"},
		Script: `
run_gotest /bin/sysfs.test -test.run '^TestGuestSysfsWWID$' -test.v
emit wwids "$(cat /tmp/wwids)"
for b in /sys/block/sd*; do
	emit udev "${b##*/} $(udevadm info -q property -n /dev/${b##*/} | grep '^ID_SERIAL=' | cut -d= -f2)"
done
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
}
