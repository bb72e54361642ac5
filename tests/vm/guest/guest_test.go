package guest

import (
	"os"
	"testing"
)

// TestGuestInside runs only in the VM: it checks that the guest is the test bed (root, device-mapper).
func TestGuestInside(t *testing.T) {
	Require(t)
	if os.Geteuid() != 0 {
		t.Fatalf("guest tests run as uid %d, want root", os.Geteuid())
	}
	if _, err := os.Stat("/dev/mapper/control"); err != nil {
		t.Fatalf("device-mapper control node: %v", err)
	}
}

// TestGuestSkips always skips: the bed's own test runs it to prove that a skipped guest test fails
// its scenario.
func TestGuestSkips(t *testing.T) {
	Require(t)
	t.Skip("on purpose")
}
