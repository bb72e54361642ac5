//go:build !linux

package control

import (
	"errors"
	"net"
	"syscall"
)

func peerCred(net.Conn) (uint32, error) {
	return 0, errors.New("control: peer credentials are only read on Linux")
}

func errTooManyFiles() error { return syscall.EMFILE }
