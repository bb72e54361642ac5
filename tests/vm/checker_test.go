package vm

import (
	"fmt"
	"strings"
	"testing"
)

// TestVMChecker proves pkg/checker against the real kernel on a 3-host SAN,
// so host_no%3 gives one optimized, one non-optimized and one standby path:
// TUR/readsector0/directio/none on healthy, standby and offlined paths,
// sysfs and alua prioritizers against each other and against the shell's
// view of access_state, real sense data (UNIT ATTENTION, RECOVERED ERROR,
// ABORTED COMMAND, NOT READY, DID_NO_CONNECT) in fixed and descriptor
// format, and the runner's deadline on commands scsi_debug never answers.
// The guest-side assertions are in pkg/checker/guest_test.go; this test
// checks the gotest verdict and re-checks the key figures it reports.
func TestVMChecker(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:        SAN{Hosts: 3, LUNs: 1},
		GuestTests: []string{"./pkg/checker"},
		WantPass:   []string{"checker.test TestGuestChecker"},
		Script: `
for h in /sys/class/scsi_host/host*; do
	[ "$(cat $h/proc_name)" = scsi_debug ] || continue
	n=${h##*/host}
	emit access "$((n % 3)) $(cat /sys/class/scsi_device/$n:0:0:0/device/access_state)"
done
run_gotest /bin/checker.test -test.run '^TestGuestChecker$'
emit summary "$(cat /tmp/checker.summary 2>/dev/null)"
`,
	})
	summary := map[string]string{}
	for _, line := range strings.Split(res.Get("summary"), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			summary[k] = v
		}
	}
	t.Logf("guest summary:\n%s", res.Get("summary"))
	if got := res.Get("gotest"); got != "/bin/checker.test PASS" {
		t.Errorf("guest test: %q\n%s", got, res.Get("dmesg"))
	}
	wantPrio := map[string]int{"0": 50, "1": 10, "2": 1}
	wantAccess := map[string]string{"0": "active/optimized", "1": "active/non-optimized", "2": "standby"}
	access := res.All("access")
	if len(access) != 3 {
		t.Fatalf("access states %q, want 3 hosts", access)
	}
	for _, a := range access {
		mod, state, _ := strings.Cut(a, " ")
		if state != wantAccess[mod] {
			t.Errorf("host_no%%3=%s: access_state %q, want %q", mod, state, wantAccess[mod])
		}
		prio := fmt.Sprintf("sysfs=%d alua=%d detect=sysfs", wantPrio[mod], wantPrio[mod])
		if got := summary["prio."+mod]; !strings.HasPrefix(got, prio) {
			t.Errorf("host_no%%3=%s: %q, want prefix %q", mod, got, prio)
		}
	}
	for key, want := range map[string]string{
		"healthy.0":         "tur=up readsector0=up directio=up none=up",
		"healthy.1":         "tur=up readsector0=up directio=up none=up",
		"offline.tur":       "down",
		"online.tur":        "up",
		"real.ua.fixed.tur": "up",
		"real.no_connect":   "DID_NO_CONNECT",
		"vendor.0":          "hp_sw=up rdac=wild emc_clariion=wild prio.hp_sw=4 refused=rdac,emc,hds,ontap",
		"vendor.1":          "hp_sw=up rdac=wild emc_clariion=wild prio.hp_sw=4 refused=rdac,emc,hds,ontap",
	} {
		if !strings.Contains(summary[key], want) {
			t.Errorf("%s = %q, want it to contain %q", key, summary[key], want)
		}
	}
}
