package vm

import "testing"

// TestVMDMListBefore513 proves on the real kernel the listing fallback for
// kernels before 5.13, whose DM_LIST_DEVICES carries no uuids
// (pkg/dm/guest_test.go TestGuestListBefore513).
func TestVMDMListBefore513(t *testing.T) {
	t.Parallel()
	Run(t, Scenario{
		SAN:        SAN{Hosts: 2, LUNs: 1},
		GuestTests: []string{"./pkg/dm"},
		WantPass:   []string{"dm.test TestGuestListBefore513"},
		Script:     `run_gotest /bin/dm.test -test.run '^TestGuestListBefore513$' -test.v`,
	})
}
