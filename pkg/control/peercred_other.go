//go:build !linux

package control

import (
	"syscall"

	"github.com/mpathd/mpathd/pkg/peercred"
)

var peerCred = peercred.UID

func errTooManyFiles() error { return syscall.EMFILE }
