package mpathcompat

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSystemdActivation passes two listening sockets to a child process the
// way systemd does (descriptors 3 and 4, LISTEN_FDS=2): Listen takes the one
// named, creates the other name, and leaves the foreign descriptor open.
func TestSystemdActivation(t *testing.T) {
	if os.Getenv("MPATHCOMPAT_ACTIVATED") != "" {
		activationChild()
		return
	}
	dir := t.TempDir()
	var files []*os.File
	for _, n := range []string{"ours", "foreign"} {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, n), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		f, err := l.File()
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		files = append(files, f)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSystemdActivation$")
	cmd.ExtraFiles = files
	cmd.Env = append(os.Environ(), "MPATHCOMPAT_ACTIVATED="+dir)
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.ENOEXEC) {
		t.Skipf("the test binary cannot run itself here (another architecture under qemu-user without binfmt_misc): %v", err)
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// activationChild runs in the child: it claims LISTEN_PID, calls Listen and
// exits 1 with a message when something is off.
func activationChild() {
	dir := os.Getenv("MPATHCOMPAT_ACTIVATED")
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	os.Setenv("LISTEN_FDS", "2")
	ours, extra := filepath.Join(dir, "ours"), filepath.Join(dir, "extra")
	fail := func(f string, a ...any) { fmt.Printf(f+"\n", a...); os.Exit(1) }
	ls, err := Listen(ours, extra)
	if err != nil {
		fail("Listen: %v", err)
	}
	if len(ls) != 2 || ls[0].Addr().String() != ours || ls[1].Addr().String() != extra {
		fail("listeners %v", ls)
	}
	// The passed socket is the one served: a connection to it is accepted here.
	go func() {
		if c, err := net.Dial("unix", ours); err == nil {
			WriteFrame(c, "show status")
		}
	}()
	c, err := ls[0].Accept()
	if err != nil {
		fail("accept on the passed socket: %v", err)
	}
	if m, err := ReadFrame(c, MaxRequest); err != nil || m != "show status" {
		fail("read: %q %v", m, err)
	}
	if sa, err := unix.Getsockname(4); err != nil || sa.(*unix.SockaddrUnix).Name != filepath.Join(dir, "foreign") {
		fail("the foreign descriptor 4 was touched: %v %v", sa, err)
	}
	os.Exit(0)
}
