package dbusapi

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/mpathd/mpathd/tests/vm/guest"
)

// TestGuestPolicy runs in the VM (tests/vm TestVMDBus) against mpathd on a
// system bus configured with the shipped policy: nobody may read a map's
// properties but is refused an action by the bus.
func TestGuestPolicy(t *testing.T) {
	guest.Require(t)
	send := func(args ...string) (string, error) {
		cmd := exec.Command("/bin/dbus-send", append([]string{"--system", "--print-reply", "--dest=" + BusName}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		cmd.Env = []string{"DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + SystemBusSocket}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := send(string(ManagerPath), ManagerIface+".ListMaps")
	if err != nil || !strings.Contains(out, "object path \"/org/mpathd/Daemon1/map/") {
		t.Errorf("ListMaps as nobody: %v\n%s", err, out)
	}
	out, err = send(string(ManagerPath), ManagerIface+".Reconfigure")
	if err == nil || !strings.Contains(out, "org.freedesktop.DBus.Error.AccessDenied") {
		t.Errorf("Reconfigure as nobody: %v\n%s", err, out)
	}
}
