package unixsock

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

func TestListen(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "live")
	l, err := Listen(live)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if fi, err := os.Stat(live); err != nil || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode = %v, %v; want 0666", fi.Mode().Perm(), err)
	}
	if _, err := Listen(live); err == nil {
		t.Error("a second Listen on a live socket succeeded")
	}

	stale := filepath.Join(dir, "stale")
	sl, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	sl.SetUnlinkOnClose(false)
	sl.Close()
	if l, err := Listen(stale); err != nil {
		t.Errorf("stale socket not replaced: %v", err)
	} else {
		l.Close()
	}

	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Listen(file); err == nil {
		t.Error("Listen replaced a regular file")
	}
	if _, err := Listen(""); err == nil {
		t.Error("Listen accepted an empty name")
	}
}

// echo answers each line with uid:line, to show whom the acceptor saw.
func echo(_ context.Context, c net.Conn, uid uint32) {
	r := bufio.NewScanner(c)
	for r.Scan() {
		if _, err := c.Write([]byte(string(rune('0'+uid%10)) + ":" + r.Text() + "\n")); err != nil {
			return
		}
	}
}

func dial(t *testing.T, l net.Listener) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, msg string) string {
	t.Helper()
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		return "write: " + err.Error()
	}
	s, err := r.ReadString('\n')
	if err != nil {
		return "read: " + err.Error()
	}
	return s
}

// TestAcceptorCapsOnlyNonRoot fills the non-root slots: the next non-root
// peer gets Busy and is closed; root is still served.
func TestAcceptorCapsOnlyNonRoot(t *testing.T) {
	l, err := Listen(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	next := []uint32{1001, 1001, 0} // uids handed out in connection order
	a := &Acceptor{
		Name:     "test",
		MaxConns: 1,
		PeerUID: func(net.Conn) (uint32, error) {
			mu.Lock()
			defer mu.Unlock()
			uid := next[0]
			next = next[1:]
			return uid, nil
		},
		Busy:   func(c net.Conn) { c.Write([]byte("busy\n")) },
		Handle: echo,
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, l) }()

	c1, r1 := dial(t, l)
	if got := roundTrip(t, c1, r1, "a"); got != "1:a\n" {
		t.Fatalf("first user: %q", got)
	}
	// The acceptor answers a peer over the cap before it writes anything.
	_, r2 := dial(t, l)
	if got, _ := r2.ReadString('\n'); got != "busy\n" {
		t.Errorf("second user over the cap: %q, want busy", got)
	}
	c3, r3 := dial(t, l)
	if got := roundTrip(t, c3, r3, "c"); got != "0:c\n" {
		t.Errorf("root over the cap: %q, want served", got)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel = %v, want nil", err)
	}
	// Cancelling closed the connections still open.
	if _, err := r1.ReadString('\n'); err == nil {
		t.Error("connection still open after Serve returned")
	}
}

// TestAcceptorUnreadableCredentialsAreNobody: a peer whose uid cannot be
// read is served as a user who may only look, never as root.
func TestAcceptorUnreadableCredentialsAreNobody(t *testing.T) {
	l, err := Listen(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan uint32, 1)
	a := &Acceptor{
		Name:     "test",
		MaxConns: 4,
		PeerUID:  func(net.Conn) (uint32, error) { return 0, errors.New("no credentials") },
		Handle:   func(_ context.Context, _ net.Conn, uid uint32) { got <- uid },
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go a.Serve(ctx, l)
	dial(t, l)
	if uid := <-got; uid != Nobody {
		t.Errorf("uid = %d, want Nobody", uid)
	}
}

// TestAcceptorStopsOnAcceptError: one listener failing stops Serve with its
// error, and the other listeners with it.
func TestAcceptorStopsOnAcceptError(t *testing.T) {
	dir := t.TempDir()
	good, err := Listen(filepath.Join(dir, "good"))
	if err != nil {
		t.Fatal(err)
	}
	bad := failingListener{good.Addr()}
	a := &Acceptor{Name: "test", MaxConns: 1, Handle: echo}
	err = a.Serve(t.Context(), good, bad)
	if err == nil || !errors.Is(err, errBroken) {
		t.Fatalf("Serve = %v, want the accept error", err)
	}
	if _, err := good.Accept(); err == nil {
		t.Error("the other listener was left open")
	}
}

var errBroken = errors.New("broken listener")

type failingListener struct{ addr net.Addr }

func (failingListener) Accept() (net.Conn, error) { return nil, errBroken }
func (failingListener) Close() error              { return nil }
func (f failingListener) Addr() net.Addr          { return f.addr }

// TestPeerUID reads the real SO_PEERCRED of a connection to ourselves.
func TestPeerUID(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peer credentials are read on Linux only")
	}
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := net.Dial("unix", l.Addr().String()); err == nil {
			defer c.Close()
			var b [1]byte
			c.Read(b[:])
		}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	uid, err := PeerUID(c)
	if err != nil || uid != uint32(os.Getuid()) {
		t.Errorf("PeerUID = %d, %v; want %d", uid, err, os.Getuid())
	}
}
