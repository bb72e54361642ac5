//go:build linux && (386 || ppc64 || ppc64le || s390x)

package dm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// On these ports the SysV semaphore calls have had syscalls of their own
// only since Linux 5.1 (and i386 has never had a semtimedop with its old
// timespec); ipc(2) reaches them on every kernel. Call numbers from
// <linux/ipc.h>.
const (
	ipcSemGet     = 2
	ipcSemCtl     = 3
	ipcSemTimedOp = 4
)

func semget(key int32, flags int) (int, unix.Errno) {
	id, _, errno := unix.Syscall6(unix.SYS_IPC, ipcSemGet, uintptr(key), 1, uintptr(flags), 0, 0)
	return int(id), errno
}

// semctl passes the union semun through memory: ipc(2) reads an unsigned
// long at ptr and hands it on as semctl's by-value argument, so the union
// is laid out as in C, the int in its first bytes whatever the byte order.
func semctl(id, cmd int, val int32) unix.Errno {
	var semun uint64
	*(*int32)(unsafe.Pointer(&semun)) = val
	_, _, errno := unix.Syscall6(unix.SYS_IPC, ipcSemCtl, uintptr(id), 0, uintptr(cmd), uintptr(unsafe.Pointer(&semun)), 0)
	return errno
}

// semtimedop passes the timeout both as the fifth argument (the generic
// ipc(2)) and the third (s390's five-argument ipc(2) reads it there); each
// ignores the other slot for SEMTIMEDOP.
func semtimedop(id int, b *sembuf, ts *unix.Timespec) unix.Errno {
	t := uintptr(unsafe.Pointer(ts))
	_, _, errno := unix.Syscall6(unix.SYS_IPC, ipcSemTimedOp, uintptr(id), 1, t, uintptr(unsafe.Pointer(b)), t)
	return errno
}
