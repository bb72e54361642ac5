package vm

import (
	"strings"
	"testing"
)

// TestVMMpathctlPermissions: against a real mpathd, a non-root mpathctl reads
// but is refused actions with a clear message (exit 1), root's actions go
// through, and the human and JSON topologies name the same paths. The
// assertions are in cmd/mpathctl/guest_test.go.
func TestVMMpathctlPermissions(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:        SAN{Hosts: 2, LUNs: 2},
		Commands:   []string{"./cmd/mpathd", "./cmd/mpathctl"},
		GuestTests: []string{"./cmd/mpathctl"},
		WantPass:   []string{"mpathctl.test TestGuestPermissions"},
		Script: daemonHelpers + `
start_mpathd
run_gotest /bin/mpathctl.test -test.run '^TestGuest' -test.v
emit human "$(mpathctl show topology)"
emit paths "$(mpathctl show paths --json)"
tail -n 20 /tmp/mpathd.log
`,
	})
	if got := res.Get("gotest"); got != "/bin/mpathctl.test PASS" {
		t.Errorf("guest test: %q", got)
	}
	human := res.Get("human")
	t.Logf("mpathctl show topology:\n%s", human)
	n := 0
	for _, line := range strings.Split(res.Get("paths"), "\n") {
		if dev, ok := strings.CutPrefix(strings.TrimSpace(line), `"dev": "`); ok {
			n++
			dev = strings.TrimSuffix(dev, `",`)
			if !strings.Contains(human, " "+dev+" ") {
				t.Errorf("path %s in --json but not in the tree", dev)
			}
		}
	}
	if n != 4 {
		t.Errorf("show paths --json names %d paths, want the SAN's 4:\n%s", n, res.Get("paths"))
	}
}
