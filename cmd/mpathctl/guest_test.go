package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/control"
	"github.com/mpathd/mpathd/tests/vm/guest"
)

// TestGuestPermissions runs in the VM against a real mpathd (tests/vm
// TestVMMpathctlPermissions starts it): the socket's modes let every user
// in, a non-root user reads the topology but is refused an action with a
// clear message and exit status 1, and root's action goes through.
func TestGuestPermissions(t *testing.T) {
	guest.Require(t)
	for path, want := range map[string]os.FileMode{"/run/mpathd": 0o755 | os.ModeDir, control.DefaultSocket: 0o666 | os.ModeSocket} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, mode %v, want %v", path, err, fi.Mode(), want)
		}
	}
	ctl := func(nobody bool, args ...string) (string, string, int) {
		cmd := exec.Command("/bin/mpathctl", args...)
		if nobody {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("mpathctl %v: %v", args, err)
		}
		return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
	}

	out, errOut, code := ctl(true, "show", "topology", "--json")
	var topo api.Topology
	if code != 0 || json.Unmarshal([]byte(out), &topo) != nil || len(topo.Maps) == 0 {
		t.Fatalf("show topology as nobody: exit %d, %q %q", code, out, errOut)
	}
	dev := topo.Maps[0].Groups[0].Paths[0].Dev
	_, errOut, code = ctl(true, "fail", "path", dev)
	want := "mpathctl: fail path: fail_path changes the daemon's state and needs root (you are uid 65534)"
	if code != 1 || !strings.HasPrefix(errOut, want) {
		t.Errorf("fail path as nobody: exit %d, %q; want 1 and %q", code, errOut, want)
	}
	if _, errOut, code := ctl(true, "show", "status"); code != 0 {
		t.Errorf("show status as nobody after a refusal: exit %d %q", code, errOut)
	}
	if out, errOut, code := ctl(false, "fail", "path", dev); code != 0 || out != "ok\n" {
		t.Errorf("fail path as root: exit %d, %q %q", code, out, errOut)
	}
	if out, errOut, code := ctl(false, "reinstate", "path", dev); code != 0 || out != "ok\n" {
		t.Errorf("reinstate path as root: exit %d, %q %q", code, out, errOut)
	}
}
