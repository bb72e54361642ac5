//go:build !(linux && (386 || amd64 || arm || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x))

package dm

import (
	"errors"
	"time"
)

// sysvSemaphores fails on ports whose SysV semaphore calls mpathd does not
// know (32-bit MIPS, non-Linux): the client then sends flags-only
// cookies, as without Options.UdevWait.
type sysvSemaphores struct{}

var errSemUnsupported = errors.New("SysV semaphores not supported on this platform")

func (sysvSemaphores) get(int32, int) (int, error)         { return 0, errSemUnsupported }
func (sysvSemaphores) setVal(int, int) error               { return errSemUnsupported }
func (sysvSemaphores) op(int, sembuf, time.Duration) error { return errSemUnsupported }
func (sysvSemaphores) remove(int) error                    { return errSemUnsupported }
