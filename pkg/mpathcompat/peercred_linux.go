package mpathcompat

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/mpathd/mpathd/pkg/peercred"
)

// peerCred is the peer process's uid, which the kernel recorded at connect time.
var peerCred = peercred.UID

func isEMFILE(err error) bool { return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) }
