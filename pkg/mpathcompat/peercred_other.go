//go:build !linux

package mpathcompat

import (
	"github.com/mpathd/mpathd/pkg/peercred"
)

var peerCred = peercred.UID

func isEMFILE(error) bool { return false }
