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
emit log "$(tail -n 20 /tmp/mpathd.log)"
`,
	})
	if got := res.Get("gotest"); got != "/bin/mpathctl.test PASS" {
		t.Errorf("guest test: %q\n%s", got, res.Get("log"))
	}
	human := res.Get("human")
	t.Logf("mpathctl show topology:\n%s", human)
	for _, line := range strings.Split(res.Get("paths"), "\n") {
		if dev, ok := strings.CutPrefix(strings.TrimSpace(line), `"dev": "`); ok {
			dev = strings.TrimSuffix(dev, `",`)
			if !strings.Contains(human, " "+dev+" ") {
				t.Errorf("path %s in --json but not in the tree", dev)
			}
		}
	}
}
