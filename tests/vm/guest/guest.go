// Package guest is imported by guest-side tests: Go tests that the VM test bed runs inside the guest,
// as root, against the real kernel (dm-multipath, scsi_debug, SG_IO, netlink).
package guest

import (
	"os"
	"testing"
)

// Inside reports whether this process runs inside the test-bed guest.
func Inside() bool { return os.Getenv("MPATHD_VM_GUEST") == "1" }

// Require skips the test unless it runs inside the guest.
func Require(t testing.TB) {
	t.Helper()
	if !Inside() {
		t.Skip("guest-side test: runs inside the VM test bed (tests/vm)")
	}
}
