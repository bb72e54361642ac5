package mpathcompat

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerCred reads the peer's uid with SO_PEERCRED: recorded by the kernel at
// connect time, it cannot be forged by the client.
func peerCred(c net.Conn) (uint32, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, fmt.Errorf("multipathd socket: %T has no file descriptor", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("multipathd socket: peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("multipathd socket: peer credentials: %w", err)
	}
	if serr != nil {
		return 0, fmt.Errorf("multipathd socket: SO_PEERCRED: %w", serr)
	}
	return cred.Uid, nil
}

func isEMFILE(err error) bool { return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) }
