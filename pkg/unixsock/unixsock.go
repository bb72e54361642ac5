// Package unixsock is the plumbing the daemon's Unix sockets share (its JSON
// control socket and multipathd's socket): listening without clobbering a
// live daemon's socket, accepting with a cap on connections from users other
// than root, and telling root from the rest by SO_PEERCRED.
package unixsock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Nobody is the uid a peer is given when its credentials cannot be read: it
// is not root, so it may only look.
const Nobody = ^uint32(0)

// Listen listens on name: an abstract socket when name starts with '@',
// otherwise a path socket made 0666 (the peers are told apart by their
// credentials, not by file modes). A stale path socket left by a dead daemon
// is replaced; a live one (something answers) is an error, and so is a path
// that exists but is not a socket.
func Listen(name string) (*net.UnixListener, error) {
	if name == "" {
		return nil, errors.New("listen: empty socket name")
	}
	addr := &net.UnixAddr{Name: name, Net: "unix"}
	if name[0] == '@' {
		l, err := net.ListenUnix("unix", addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", name, err)
		}
		return l, nil
	}
	if fi, err := os.Lstat(name); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("listen: %s exists and is not a socket; not replacing it", name)
		}
		if c, err := net.DialTimeout("unix", name, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen: another daemon is listening on %s", name)
		}
		if err := os.Remove(name); err != nil {
			return nil, fmt.Errorf("listen: remove stale socket %s: %w", name, err)
		}
	}
	l, err := net.ListenUnix("unix", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", name, err)
	}
	// The socket is created with the umask applied; readers need write
	// access to connect.
	if err := os.Chmod(name, 0o666); err != nil {
		l.Close()
		return nil, fmt.Errorf("listen: chmod %s: %w", name, err)
	}
	return l, nil
}

// Acceptor serves the connections of one or more listeners, each in a
// goroutine of its own.
type Acceptor struct {
	// Name prefixes log lines and errors ("control", "multipathd socket").
	Name string
	Log  *slog.Logger // nil: discard
	// MaxConns caps the connections of non-root peers open at once. Root is
	// never turned away, so idle connections opened by other users cannot
	// lock the administrator out.
	MaxConns int
	// PeerUID reads the uid of the peer; nil means SO_PEERCRED (PeerUID).
	// Tests replace it to act as another user.
	PeerUID func(net.Conn) (uint32, error)
	// Busy answers a non-root peer turned away because MaxConns are open;
	// the connection is closed after it. Nil: closed without a word.
	Busy func(net.Conn)
	// Handle serves one connection; the connection is closed when it
	// returns, and also when Serve's context ends.
	Handle func(ctx context.Context, c net.Conn, uid uint32)
}

// Serve accepts on every listener until ctx ends or one of them fails, then
// closes the listeners and every connection and waits for the handlers. It
// returns nil after a cancellation, or the accept error that stopped it.
func (a *Acceptor) Serve(ctx context.Context, ls ...net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		conns    = map[net.Conn]struct{}{}
		handlers sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() {
		for _, l := range ls {
			l.Close()
		}
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()

	sem := make(chan struct{}, max(a.MaxConns, 1))
	serve := func(c net.Conn) {
		uid, err := a.peerUID(c)
		if err != nil {
			a.log().Warn(a.Name+": peer credentials; serving the peer as an unprivileged user", "err", err)
			uid = Nobody
		}
		if uid != 0 {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			default:
				if a.Busy != nil {
					a.Busy(c)
				}
				return
			}
		}
		a.Handle(ctx, c, uid)
	}

	errc := make(chan error, len(ls))
	var accepting sync.WaitGroup
	for _, l := range ls {
		accepting.Go(func() {
			var delay time.Duration
			for {
				c, err := l.Accept()
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() || tooManyFiles(err) {
						// Out of descriptors: back off rather than spin.
						delay = min(max(2*delay, 5*time.Millisecond), time.Second)
						a.log().Warn(a.Name+": accept", "err", err, "retry_in", delay)
						select {
						case <-time.After(delay):
							continue
						case <-ctx.Done():
							return
						}
					}
					// One socket failing stops them all: Serve returns and
					// the daemon decides.
					errc <- fmt.Errorf("%s: accept on %s: %w", a.Name, l.Addr(), err)
					cancel()
					return
				}
				delay = 0
				mu.Lock()
				if ctx.Err() != nil {
					mu.Unlock()
					c.Close()
					return
				}
				conns[c] = struct{}{}
				mu.Unlock()
				handlers.Go(func() {
					defer func() {
						mu.Lock()
						delete(conns, c)
						mu.Unlock()
						c.Close()
					}()
					serve(c)
				})
			}
		})
	}
	accepting.Wait()
	handlers.Wait()
	close(errc)
	return <-errc
}

func (a *Acceptor) peerUID(c net.Conn) (uint32, error) {
	if a.PeerUID != nil {
		return a.PeerUID(c)
	}
	return PeerUID(c)
}

func (a *Acceptor) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

// tooManyFiles tells whether an accept failed for want of descriptors, a
// state that passes.
func tooManyFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}
