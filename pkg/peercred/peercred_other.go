//go:build !linux

// Package peercred reads who is at the other end of a Unix socket, for the
// daemon's sockets that let only root act.
package peercred

import (
	"errors"
	"net"
)

// UID fails: peer credentials are only read on Linux.
func UID(net.Conn) (uint32, error) {
	return 0, errors.New("peer credentials are only read on Linux")
}
