//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x)

package dm

import "testing"

// TestSemunArg checks SETVAL's by-value union against the kernel's reading
// of it (ipc/sem.c): the low 32 bits, or the high 32 bits on big-endian
// 64-bit ports. TestSysVSemaphores proves it on the running port (under
// qemu-s390x too, whose semctl emulation reads the union the same way).
func TestSemunArg(t *testing.T) {
	kernelVal := func(arg uint64, bigEndian bool, word int) int32 {
		if bigEndian && word == 8 {
			return int32(arg >> 32)
		}
		if word == 4 {
			arg = uint64(uint32(arg)) // an unsigned long is 32 bits there
		}
		return int32(arg)
	}
	for _, port := range []struct {
		name      string
		bigEndian bool
		word      int
	}{{"amd64", false, 8}, {"s390x", true, 8}, {"386", false, 4}, {"mips", true, 4}} {
		for _, val := range []int32{0, 1, 7, -1, 1 << 30} {
			if got := kernelVal(semunArg(val, port.bigEndian, port.word), port.bigEndian, port.word); got != val {
				t.Errorf("%s: SETVAL %d reaches the kernel as %d", port.name, val, got)
			}
		}
	}
	if got := kernelVal(semunArg(1, nativeBigEndian, wordSize), nativeBigEndian, wordSize); got != 1 {
		t.Errorf("this port (big-endian %v, %d-byte words): SETVAL 1 reaches the kernel as %d", nativeBigEndian, wordSize, got)
	}
}
