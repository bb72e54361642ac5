package vm

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/dm"
)

// TestVMDM proves pkg/dm on the real dm-multipath target: the guest-side
// tests in pkg/dm/guest_test.go create, message, fail over, reload under
// I/O, rename and remove a map for LUN 0 on a 2-host SAN, with dmsetup as
// the oracle; then a map is left for the host to compare dmsetup's table
// and status lines with what pkg/dm rendered and parsed. udev is not
// running, so the client creates /dev/mapper nodes itself.
func TestVMDM(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:        SAN{Hosts: 2, LUNs: 1},
		GuestTests: []string{"./pkg/dm"},
		WantPass:   []string{"dm.test TestGuestDM", "dm.test TestGuestReadback", "dm.test TestGuestDMKeep"},
		Script: `
run_gotest /bin/dm.test -test.run '^TestGuestDM$'
run_gotest /bin/dm.test -test.run '^TestGuestReadback$'
run_gotest /bin/dm.test -test.run '^TestGuestDMKeep$'
emit table.ours "$(cat /tmp/mpathkeep.table)"
emit table.dmsetup "$(dmsetup table mpathkeep)"
emit status.ours "$(cat /tmp/mpathkeep.status)"
emit status.dmsetup "$(dmsetup status mpathkeep)"
emit node "$(ls -l /dev/mapper/mpathkeep | awk '{print $1, $5, $6}')"
emit dm.dev "$(cat /sys/block/dm-*/dev)"
emit maps "$(dmsetup ls | wc -l)"
dmsetup remove mpathkeep
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
	trim := func(k string) string { return strings.TrimRight(res.Get(k), " ") }
	if ours, theirs := trim("table.ours"), trim("table.dmsetup"); ours == "" || ours != theirs {
		t.Errorf("table:\n  pkg/dm  %q\n  dmsetup %q", ours, theirs)
	}
	// The status line must parse to the same value from both sources.
	parse := func(line string) string {
		f := strings.SplitN(line, " ", 4)
		if len(f) < 4 || f[2] != dm.TargetType {
			t.Errorf("status line %q", line)
			return ""
		}
		st, err := dm.ParseStatus(f[3])
		if err != nil {
			t.Error(err)
		}
		return st.String()
	}
	if ours, theirs := parse(trim("status.ours")), parse(trim("status.dmsetup")); ours != theirs {
		t.Errorf("status:\n  pkg/dm  %q\n  dmsetup %q", ours, theirs)
	}
	// A block node made by pkg/dm (no udev): "brw------- MAJ, MIN" matching dm-N's dev.
	node, dev := res.Get("node"), res.Get("dm.dev")
	maj, min, _ := strings.Cut(dev, ":")
	if !strings.HasPrefix(node, "brw-------") || !strings.HasSuffix(node, maj+", "+min) {
		t.Errorf("/dev/mapper/mpathkeep = %q, dm device %q", node, dev)
	}
	if res.Get("maps") != "1" {
		t.Errorf("dmsetup ls shows %s maps, want only mpathkeep (the others must be removed)", res.Get("maps"))
	}
}

// TestVMDMUdev runs pkg/dm next to udevd and the distribution's dm rules:
// udev makes /dev/mapper links from our cookie flags and pkg/dm leaves the
// directory alone (TestGuestUdev, flags-only cookies); with
// Options.UdevWait, create, reload and remove return only once
// 95-dm-notify.rules' "dmsetup udevcomplete" has released the cookie
// semaphore, and time out without failing while udevd is stopped
// (TestGuestUdevWait). No SysV semaphore is left in the guest afterwards.
func TestVMDMUdev(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:        SAN{Hosts: 2, LUNs: 1},
		Udev:       true,
		GuestTests: []string{"./pkg/dm"},
		WantPass:   []string{"dm.test TestGuestUdev", "dm.test TestGuestUdevWait"},
		Script: `
run_gotest /bin/dm.test -test.run '^TestGuestUdev$'
run_gotest /bin/dm.test -test.run '^TestGuestUdevWait$'
emit udevwait "$(cat /tmp/udevwait.txt)"
emit semaphores "$(tail -n +2 /proc/sysvipc/sem | wc -l)"
emit maps "$(dmsetup ls)"
`,
	})
	want := []string{"/bin/dm.test PASS", "/bin/dm.test PASS"}
	if got := res.All("gotest"); !slices.Equal(got, want) {
		t.Errorf("gotest = %q, want %q", got, want)
	}
	// Call times with udev confirming each event, then with udevd stopped
	// (each bounded by the 2 s UdevTimeout).
	// The figures are for reading (-v); their shape shows the guest test measured every call.
	uw := strings.Fields(res.Get("udevwait"))
	if len(uw) < 6 {
		t.Errorf("udev wait figures %q: want the timed calls with udevd running and stopped", uw)
	}
	for _, f := range uw {
		if !regexp.MustCompile(`^[a-z.]+=(\d+ms|true|false)$`).MatchString(f) {
			t.Errorf("udev wait figure %q is not NAME=Nms", f)
		}
	}
	t.Logf("udev wait: %s", res.Get("udevwait"))
	if got := res.Get("semaphores"); got != "0" {
		t.Errorf("%s SysV semaphores left in the guest, want 0", got)
	}
	if got := res.Get("maps"); got != "No devices found" {
		t.Errorf("maps left: %q", got)
	}
}

// TestVMDMFake proves dm.Fake against the real kernel: the guest-side
// tests in pkg/dm/fakekernel_guest_test.go run each scenario on
// dm-multipath and on a Fake side by side (queued I/O, group switching on
// the next I/O, deferred remove; the tables the kernel rejects; linear
// partition tables over a map) and require the same results from both.
func TestVMDMFake(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:        SAN{Hosts: 2, LUNs: 1},
		GuestTests: []string{"./pkg/dm"},
		WantPass:   []string{"dm.test TestGuestFakeKernel", "dm.test TestGuestFakeRejects", "dm.test TestGuestFakeLinear"},
		Script: `
run_gotest /bin/dm.test -test.run '^TestGuestFakeKernel$'
run_gotest /bin/dm.test -test.run '^TestGuestFakeRejects$'
run_gotest /bin/dm.test -test.run '^TestGuestFakeLinear$'
emit maps "$(dmsetup ls)"
`,
	})
	if got := res.Get("maps"); got != "No devices found" {
		t.Errorf("maps left: %q", got)
	}
}
