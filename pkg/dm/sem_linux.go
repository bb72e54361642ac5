//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x)

package dm

import (
	"encoding/binary"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// semSetVal is SETVAL from <linux/sem.h>; x/sys/unix lacks it.
const semSetVal = 16

// sysvSemaphores is the real seam. How the SysV semaphore syscalls are
// reached differs per port (semget, semctl, semtimedop in
// sem_direct_linux.go, or the ipc(2) multiplexer in sem_ipc_linux.go);
// the retry rules are the same everywhere.
type sysvSemaphores struct{}

func (sysvSemaphores) get(key int32, flags int) (int, error) {
	id, errno := semget(key, flags)
	return id, errnoErr(errno)
}

func (sysvSemaphores) setVal(id, val int) error {
	return errnoErr(semctl(id, semSetVal, int32(val)))
}

func (sysvSemaphores) remove(id int) error {
	return errnoErr(semctl(id, unix.IPC_RMID, 0))
}

func (sysvSemaphores) op(id int, b sembuf, timeout time.Duration) error {
	if timeout <= 0 {
		for {
			if errno := semtimedop(id, &b, nil); errno != unix.EINTR {
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
		if errno := semtimedop(id, &b, &ts); errno != unix.EINTR {
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

// nativeBigEndian and wordSize describe the running port, for semunArg.
var (
	nativeBigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1
	wordSize        = int(unsafe.Sizeof(uintptr(0)))
)

// semunArg is the register value of a union semun holding val, as semctl(2)
// takes it by value: the kernel reads SETVAL's int from the low 32 bits of
// the unsigned long, except on big-endian 64-bit ports, where the union's
// first four bytes are the high half (ipc/sem.c: "val = arg >> 32"). Passed
// as a plain uintptr(val) there, every SETVAL would set 0.
func semunArg(val int32, bigEndian bool, word int) uint64 {
	if bigEndian && word == 8 {
		return uint64(uint32(val)) << 32
	}
	return uint64(uint32(val))
}
