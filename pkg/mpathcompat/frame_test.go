package mpathcompat

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// multipathd's length prefix is the native size_t: 8 bytes on 64-bit ports,
// 4 on 32-bit ones, in the host's byte order. want is spelled out byte by
// byte for each, so the test does not share the code's notion of the width.
func TestAppendFrame(t *testing.T) {
	got := AppendFrame(nil, "show status")
	var want []byte
	switch {
	case unsafe.Sizeof(uintptr(0)) == 4 && binary.NativeEndian.Uint16([]byte{1, 0}) == 1:
		want = []byte{12, 0, 0, 0}
	case unsafe.Sizeof(uintptr(0)) == 4:
		want = []byte{0, 0, 0, 12}
	case binary.NativeEndian.Uint16([]byte{1, 0}) == 1:
		want = []byte{12, 0, 0, 0, 0, 0, 0, 0}
	default:
		want = []byte{0, 0, 0, 0, 0, 0, 0, 12}
	}
	want = append(want, "show status\x00"...)
	if !bytes.Equal(got, want) {
		t.Errorf("AppendFrame = %q, want %q", got, want)
	}
}

// frame prefixes body with n as a native size_t; n is cut to 32 bits on a
// 32-bit port, as a C client's size_t would hold it.
func frame(n uint64, body string) []byte {
	if unsafe.Sizeof(uintptr(0)) == 4 {
		return append(binary.NativeEndian.AppendUint32(nil, uint32(n)), body...)
	}
	return append(binary.NativeEndian.AppendUint64(nil, n), body...)
}

func TestReadFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		limit   int
		want    string
		wantErr string
	}{
		{"command", frame(12, "show status\x00"), MaxRequest, "show status", ""},
		{"no NUL", frame(4, "show"), MaxRequest, "show", ""},
		{"stops at the first NUL", frame(8, "ok\n\x00junk"), MaxRequest, "ok\n", ""},
		{"empty text", frame(1, "\x00"), MaxRequest, "", ""},
		{"zero length", frame(0, ""), MaxRequest, "", "empty frame"},
		{"too long", frame(5000, ""), MaxRequest, "", "longer than the limit"},
		{"huge length", frame(^uint64(0), ""), MaxRequest, "", "longer than the limit"},
		{"short body", frame(10, "abc"), MaxRequest, "", "unexpected EOF"},
		{"short length", []byte{1, 0, 0}, MaxRequest, "", "read length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadFrame(bytes.NewReader(tc.in), tc.limit)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ReadFrame error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ReadFrame = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := ReadFrame(bytes.NewReader(nil), MaxRequest); err != io.EOF {
		t.Errorf("ReadFrame at end = %v, want io.EOF", err)
	}
}

func TestReadFrameSequence(t *testing.T) {
	var buf bytes.Buffer
	for _, m := range []string{"show status", "show daemon", ""} {
		if err := WriteFrame(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"show status", "show daemon", ""} {
		got, err := ReadFrame(&buf, MaxRequest)
		if err != nil || got != want {
			t.Fatalf("ReadFrame = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := ReadFrame(&buf, MaxRequest); !errors.Is(err, io.EOF) {
		t.Errorf("after the last frame: %v, want EOF", err)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(frame(12, "show status\x00"))
	f.Add(frame(0, ""))
	f.Add(frame(3, "ok\n"))
	f.Add(frame(^uint64(0), "x"))
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ReadFrame(bytes.NewReader(in), MaxRequest)
		if err != nil {
			return
		}
		if len(s) >= MaxRequest || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("ReadFrame returned %d bytes with NUL or over the limit", len(s))
		}
		// Re-framing the text reads back the same text.
		again, err := ReadFrame(bytes.NewReader(AppendFrame(nil, s)), MaxRequest)
		if err != nil || again != s {
			t.Fatalf("round trip: %q, %v; want %q", again, err, s)
		}
	})
}

// TestClientSeveralRequests runs two commands on one connection against a
// trivial echo server.
func TestClientSeveralRequests(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for {
			m, err := ReadFrame(c, MaxRequest)
			if err != nil {
				return
			}
			WriteFrame(c, "got "+m+"\n")
		}
	}()
	t.Setenv(SocketEnv, sock)
	c, err := Dial(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, cmd := range []string{"show status", "show daemon"} {
		got, err := c.Do(context.Background(), cmd)
		if err != nil || got != "got "+cmd+"\n" {
			t.Errorf("Do(%q) = %q, %v", cmd, got, err)
		}
	}
}

func TestDialNames(t *testing.T) {
	t.Setenv(SocketEnv, "")
	if got := SocketNames(); len(got) != 2 || got[0] != PathSocket || got[1] != AbstractSocket {
		t.Errorf("SocketNames = %q", got)
	}
	t.Setenv(SocketEnv, "@x")
	if got := SocketNames(); len(got) != 1 || got[0] != "@x" {
		t.Errorf("SocketNames with %s = %q", SocketEnv, got)
	}
	if _, err := Dial(context.Background(), filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "connect to") {
		t.Errorf("Dial to nothing: %v", err)
	}
}
