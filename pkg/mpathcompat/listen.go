package mpathcompat

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/mpathd/mpathd/pkg/unixsock"
)

// Listen opens the daemon's sockets: names, or SocketNames() when none are
// given. A socket systemd passed (LISTEN_PID/LISTEN_FDS) whose address is
// one of the names is used as it is; the others are created. A path socket
// is made 0666 (peers are told apart by SO_PEERCRED); a stale one left by a
// dead daemon is replaced, a live one is an error.
func Listen(names ...string) ([]net.Listener, error) {
	if len(names) == 0 {
		names = SocketNames()
	}
	passed := activated(names)
	var ls []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range ls {
			l.Close()
		}
		return nil, err
	}
	for _, n := range names {
		if l, ok := passed[n]; ok {
			ls = append(ls, l)
			continue
		}
		l, err := unixsock.Listen(n)
		if err != nil {
			return fail(fmt.Errorf("multipathd socket: %w", err))
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// listenFDsStart is the first descriptor systemd passes.
const listenFDsStart = 3

// activated returns the sockets systemd passed to this process whose
// address is one of names. Other passed descriptors are left untouched for
// whoever owns them.
func activated(names []string) map[string]net.Listener {
	if pid, err := strconv.Atoi(os.Getenv("LISTEN_PID")); err != nil || pid != os.Getpid() {
		return nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil
	}
	out := map[string]net.Listener{}
	for fd := listenFDsStart; fd < listenFDsStart+n; fd++ {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			continue
		}
		su, ok := sa.(*unix.SockaddrUnix)
		if !ok || !slices.Contains(names, su.Name) {
			continue
		}
		unix.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), su.Name)
		l, err := net.FileListener(f)
		f.Close() // FileListener holds its own duplicate
		if err == nil {
			out[su.Name] = l
		}
	}
	return out
}
