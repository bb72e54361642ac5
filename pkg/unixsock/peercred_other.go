//go:build !linux

package unixsock

import (
	"errors"
	"net"
)

// PeerUID fails: peer credentials are only read on Linux.
func PeerUID(net.Conn) (uint32, error) {
	return 0, errors.New("peer credentials are only read on Linux")
}
