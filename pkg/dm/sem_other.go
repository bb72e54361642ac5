//go:build !(linux && (amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x || sparc64))

package dm

import (
	"errors"
	"time"
)

// sysvSemaphores fails where SysV semaphores are reached only through the
// ipc(2) multiplexer (32-bit ports): the client then sends flags-only
// cookies, as without Options.UdevWait.
type sysvSemaphores struct{}

var errSemUnsupported = errors.New("SysV semaphores not supported on this platform")

func (sysvSemaphores) get(int32, int) (int, error)         { return 0, errSemUnsupported }
func (sysvSemaphores) setVal(int, int) error               { return errSemUnsupported }
func (sysvSemaphores) op(int, sembuf, time.Duration) error { return errSemUnsupported }
func (sysvSemaphores) remove(int) error                    { return errSemUnsupported }
