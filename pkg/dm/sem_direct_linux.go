//go:build linux && (amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x || sparc64)

package dm

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// semSetVal is SETVAL from <linux/sem.h>; x/sys/unix lacks it.
const semSetVal = 16

// sysvSemaphores is the real seam: the direct semget/semctl/semop/
// semtimedop syscalls that 64-bit Linux ports have (no ipc(2) multiplexer).
type sysvSemaphores struct{}

func (sysvSemaphores) get(key int32, flags int) (int, error) {
	id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(key), 1, uintptr(flags))
	if errno != 0 {
		return 0, errno
	}
	return int(id), nil
}

func (sysvSemaphores) setVal(id, val int) error {
	// union semun is passed by value; for SETVAL it is the int itself.
	_, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, semSetVal, uintptr(val), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func (sysvSemaphores) remove(id int) error {
	_, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func (sysvSemaphores) op(id int, b sembuf, timeout time.Duration) error {
	if timeout <= 0 {
		for {
			_, _, errno := unix.Syscall(unix.SYS_SEMOP, uintptr(id), uintptr(unsafe.Pointer(&b)), 1)
			if errno != unix.EINTR {
				return errnoErr(errno)
			}
		}
	}
	// The Go runtime's preemption signals interrupt a blocked semtimedop
	// often, so it restarts with the time that is left.
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return unix.EAGAIN
		}
		ts := unix.NsecToTimespec(left.Nanoseconds())
		_, _, errno := unix.Syscall6(unix.SYS_SEMTIMEDOP, uintptr(id), uintptr(unsafe.Pointer(&b)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0)
		if errno != unix.EINTR {
			return errnoErr(errno)
		}
	}
}

func errnoErr(errno unix.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}
