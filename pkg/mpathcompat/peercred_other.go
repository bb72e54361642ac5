//go:build !linux

package mpathcompat

import (
	"errors"
	"net"
)

func peerCred(net.Conn) (uint32, error) {
	return 0, errors.New("multipathd socket: peer credentials are only available on Linux")
}

func isEMFILE(error) bool { return false }
