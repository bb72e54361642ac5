package control

import (
	"golang.org/x/sys/unix"

	"github.com/mpathd/mpathd/pkg/peercred"
)

// peerCred is the peer process's uid, which the kernel recorded at connect time.
var peerCred = peercred.UID

func errTooManyFiles() error { return unix.EMFILE }
