package control

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerCred reads the uid of the peer process with SO_PEERCRED. The kernel
// records it at connect time, so it cannot be forged by the client.
func peerCred(c net.Conn) (uint32, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, fmt.Errorf("control: %T has no file descriptor", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("control: peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("control: peer credentials: %w", err)
	}
	if serr != nil {
		return 0, fmt.Errorf("control: SO_PEERCRED: %w", serr)
	}
	return cred.Uid, nil
}

func errTooManyFiles() error { return unix.EMFILE }
