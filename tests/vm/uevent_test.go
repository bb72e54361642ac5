package vm

import (
	"strings"
	"testing"
)

// TestVMUevent proves pkg/uevent on a real kernel with udevd running:
// deleting a path and scanning its host again is seen as block/disk remove
// and add events with the right fields on both netlink groups (udev's
// ID_SERIAL equal to pkg/sysfs's WWID); adding and removing two scsi_debug
// hosts is delivered by the coalescer as one batch per WWID, each with one
// path per new host; and a uevent spoofed from user space on the kernel
// group is dropped while genuine kernel events still arrive.
func TestVMUevent(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:        SAN{Hosts: 2, LUNs: 4},
		Udev:       true,
		GuestTests: []string{"./pkg/uevent"},
		WantPass: []string{"uevent.test TestGuestUeventDeleteScan", "uevent.test TestGuestUeventAddHostBatch",
			"uevent.test TestSpoofedKernelEventDropped", "uevent.test TestUdevGroupCredentials",
			"uevent.test TestOverflow"},
		Script: `
run_gotest /bin/uevent.test -test.run '^TestGuestUeventDeleteScan$' -test.v
run_gotest /bin/uevent.test -test.run '^TestGuestUeventAddHostBatch$' -test.v
run_gotest /bin/uevent.test -test.run '^TestSpoofedKernelEventDropped$|^TestUdevGroupCredentials$|^TestOverflow$' -test.v
emit paths.after "$(san_paths | wc -l)"
`,
	})
	for _, g := range res.All("gotest") {
		if !strings.HasSuffix(g, " PASS") {
			t.Errorf("guest test %s", g)
		}
	}
	if n := len(res.All("gotest")); n != 3 {
		t.Errorf("%d guest test runs reported, want 3", n)
	}
	if got := strings.TrimSpace(res.Get("paths.after")); got != "8" {
		t.Errorf("%s paths at the end, want 8", got)
	}
}
