package mpathcompat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"unsafe"
)

// Limits of one message, as multipathd enforces them.
const (
	// MaxRequest bounds a command, terminating NUL included. multipathd
	// accepts commands of a few hundred bytes; a long format string fits.
	MaxRequest = 4096
	// MaxReply bounds a reply (multipathd's limit: 32 MiB).
	MaxReply = 32 << 20
)

// sizeLen is the width of the length prefix: the client's native size_t,
// which is the width of a Go int on every platform Go and multipathd share.
const sizeLen = strconv.IntSize / 8

// ErrTooLong is returned (wrapped) by ReadFrame for a length above the limit.
var ErrTooLong = errors.New("frame longer than the limit")

// AppendFrame appends msg framed as multipathd frames it: a native-endian
// size_t holding len(msg)+1, msg, then a NUL.
func AppendFrame(b []byte, msg string) []byte {
	n := uint64(len(msg) + 1)
	if sizeLen == 8 {
		b = binary.NativeEndian.AppendUint64(b, n)
	} else {
		b = binary.NativeEndian.AppendUint32(b, uint32(n))
	}
	b = append(b, msg...)
	return append(b, 0)
}

// WriteFrame writes msg as one frame: on a connection with one gathered
// write (writev), without copying msg, which may be a reply of megabytes.
func WriteFrame(w io.Writer, msg string) error {
	hdr := make([]byte, sizeLen)
	if sizeLen == 8 {
		binary.NativeEndian.PutUint64(hdr, uint64(len(msg)+1))
	} else {
		binary.NativeEndian.PutUint32(hdr, uint32(len(msg)+1))
	}
	// The body is only read by the write; the string stays immutable.
	bufs := net.Buffers{hdr, unsafe.Slice(unsafe.StringData(msg), len(msg)), []byte{0}}
	if _, err := bufs.WriteTo(w); err != nil {
		return fmt.Errorf("multipathd socket: write: %w", err)
	}
	return nil
}

// ReadFrame reads one frame of at most limit bytes (NUL included) and
// returns its text up to the first NUL, as multipathd reads a C string; a
// frame without a NUL is returned whole. io.EOF means the peer closed the
// connection cleanly between frames.
func ReadFrame(r io.Reader, limit int) (string, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:sizeLen]); err != nil {
		if errors.Is(err, io.EOF) {
			return "", io.EOF
		}
		return "", fmt.Errorf("multipathd socket: read length: %w", err)
	}
	var n uint64
	if sizeLen == 8 {
		n = binary.NativeEndian.Uint64(hdr[:])
	} else {
		n = uint64(binary.NativeEndian.Uint32(hdr[:]))
	}
	if n == 0 {
		return "", errors.New("multipathd socket: empty frame (length 0)")
	}
	if n > uint64(limit) {
		return "", fmt.Errorf("multipathd socket: length %d: %w of %d bytes", n, ErrTooLong, limit)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", fmt.Errorf("multipathd socket: read %d-byte frame: %w", n, io.ErrUnexpectedEOF)
	}
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	return string(buf), nil
}
