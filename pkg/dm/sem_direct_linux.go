//go:build linux && (amd64 || arm || arm64 || loong64 || mips64 || mips64le || riscv64)

package dm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// These ports have had semget, semctl and semtimedop as syscalls of their
// own since they were merged (no ipc(2) multiplexer to go through). semop
// is semtimedop without a timeout; ppc64 and s390x have no SYS_SEMOP.

func semget(key int32, flags int) (int, unix.Errno) {
	id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(key), 1, uintptr(flags))
	return int(id), errno
}

func semctl(id, cmd int, val int32) unix.Errno {
	arg := uintptr(semunArg(val, nativeBigEndian, wordSize))
	_, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), 0, uintptr(cmd), arg, 0, 0)
	return errno
}

func semtimedop(id int, b *sembuf, ts *unix.Timespec) unix.Errno {
	_, _, errno := unix.Syscall6(unix.SYS_SEMTIMEDOP, uintptr(id), uintptr(unsafe.Pointer(b)), 1, uintptr(unsafe.Pointer(ts)), 0, 0)
	return errno
}
