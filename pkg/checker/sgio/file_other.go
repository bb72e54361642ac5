//go:build !(linux && (amd64 || arm64 || riscv64 || ppc64le || s390x || loong64 || 386 || arm || mips || mipsle))

package sgio

import (
	"fmt"
	"time"
)

// File is an open device that accepts SG_IO. On this platform the sg_io_hdr
// layout is not verified, so Open always fails.
type File struct{ name string }

// Open fails: SG_IO is implemented for Linux only, on the ports whose layout is pinned.
func Open(name string) (*File, error) {
	return nil, fmt.Errorf("sgio: open %s: %w", name, ErrNotSupported)
}

// Name returns the path the file was opened with.
func (f *File) Name() string { return f.name }

// Close does nothing.
func (f *File) Close() error { return nil }

// SGIO always fails.
func (f *File) SGIO([]byte, Direction, []byte, time.Duration) (Result, error) {
	return Result{}, fmt.Errorf("sgio: %s: %w", f.name, ErrNotSupported)
}
