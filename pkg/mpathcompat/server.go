package mpathcompat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/unixsock"
)

// Defaults for the Server's limits.
const (
	// DefaultActionTimeout keeps an action's answer inside the client's
	// 4 s uxsock_timeout: past it the reply is "timeout" and the action
	// goes on, as in multipathd.
	DefaultActionTimeout = 3500 * time.Millisecond
	DefaultIdleTimeout   = 5 * time.Minute
	DefaultWriteTimeout  = 10 * time.Second
	DefaultMaxConns      = 128
	// reconfigureBound bounds a reconfigure that outlives its reply.
	reconfigureBound = 2 * time.Minute
)

// Server answers multipathd's commands from an api.Service.
type Server struct {
	Service api.Service
	Log     *slog.Logger // nil: discard
	// Version is printed in the help text.
	Version string
	// Shutdown stops the daemon (the shutdown command); nil: refused.
	Shutdown func()
	// SysBlock is the directory show devices lists and %k reads (default /sys/block).
	SysBlock string

	ActionTimeout time.Duration // 0: DefaultActionTimeout
	IdleTimeout   time.Duration // between requests; 0: DefaultIdleTimeout
	WriteTimeout  time.Duration // 0: DefaultWriteTimeout
	MaxConns      int           // non-root connections at once; 0: DefaultMaxConns

	// PeerUID reads the uid of the peer; nil means SO_PEERCRED.
	PeerUID func(net.Conn) (uint32, error)

	json jsonCache
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// Serve accepts connections on every listener until ctx ends, then closes
// them and every connection and waits for their goroutines.
func (s *Server) Serve(ctx context.Context, ls ...net.Listener) error {
	a := unixsock.Acceptor{
		Name:     "multipathd socket",
		Log:      s.Log,
		MaxConns: orDefault(s.MaxConns, DefaultMaxConns),
		PeerUID:  s.PeerUID,
		Busy: func(c net.Conn) {
			c.SetWriteDeadline(time.Now().Add(orDefault(s.WriteTimeout, DefaultWriteTimeout)))
			WriteFrame(c, replyFail)
		},
		Handle: func(ctx context.Context, c net.Conn, uid uint32) { s.serveConn(ctx, c, uid == 0) },
	}
	return a.Serve(ctx, ls...)
}

func (s *Server) serveConn(ctx context.Context, c net.Conn, root bool) {
	for {
		c.SetReadDeadline(time.Now().Add(orDefault(s.IdleTimeout, DefaultIdleTimeout)))
		cmd, err := ReadFrame(c, MaxRequest)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				s.log().Debug("multipathd socket: read", "err", err)
			}
			return
		}
		reply := s.Execute(ctx, cmd, root)
		c.SetWriteDeadline(time.Now().Add(orDefault(s.WriteTimeout, DefaultWriteTimeout)))
		if err := WriteFrame(c, reply); err != nil {
			s.log().Debug("multipathd socket: write", "err", err)
			return
		}
	}
}

// Replies that are not a command's output.
const (
	replyOK         = "ok\n"
	replyFail       = "fail\n"
	replyTimeout    = "timeout\n"
	replyPermission = "permission deny: need to be root\n"
)

// errTimeout marks an action that did not finish within ActionTimeout.
var errTimeout = errors.New("timeout")

// Execute runs one command line for a peer (root or not) and returns the
// reply text: the command's output, "ok\n", "fail\n" (the reason is logged),
// "timeout\n", the permission refusal, or the help text for a command it
// does not know.
func (s *Server) Execute(ctx context.Context, line string, root bool) (reply string) {
	defer func() {
		if r := recover(); r != nil {
			s.log().Error("multipathd socket: panic serving a command", "cmd", line, "panic", r, "stack", string(debug.Stack()))
			reply = replyFail
		}
	}()
	cmd, err := ParseCommand(line)
	switch {
	case errors.Is(err, ErrAmbiguous):
		s.log().Debug("multipathd socket: refused", "cmd", line, "err", err)
		return replyFail
	case errors.Is(err, ErrMissingArgument):
		return s.help(line, ErrMissingArgument)
	case err != nil:
		return s.help(line, ErrNotFound)
	}
	h := findHandler(cmd)
	if h == nil {
		return s.help(line, ErrNotFound)
	}
	if !root && cmd.Verb != kwList {
		return replyPermission
	}
	out, err := h.fn(s, ctx, cmd)
	switch {
	case errors.Is(err, errTimeout):
		s.log().Warn("multipathd socket: command timed out; it goes on", "cmd", line)
		return replyTimeout
	case err != nil:
		// The reason goes to the log only: multipathd's client exits 1 only when the reply is
		// exactly "fail\n", and scripts rely on that status.
		s.log().Warn("multipathd socket: command failed", "cmd", line, "err", api.AsError(err).Message)
		return replyFail
	case cmd.Verb != kwList:
		s.log().Info("multipathd socket: command done", "cmd", line)
	}
	if out == "" {
		return replyOK
	}
	return out
}

// act runs an action with the action timeout; a deadline reached is
// errTimeout, the action itself going on in the daemon.
func (s *Server) act(ctx context.Context, fn func(ctx context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, orDefault(s.ActionTimeout, DefaultActionTimeout))
	defer cancel()
	err := fn(actx)
	if err != nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return errTimeout
	}
	return err
}

// help is multipathd's answer to a command it cannot parse: the command as
// received and why, then every command it knows.
func (s *Server) help(line string, why error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v\n", line, why)
	fmt.Fprintf(&b, "mpathd %s (multipathd-compatible)\nCLI commands reference:\n", s.Version)
	for _, h := range handlers {
		b.WriteString(" " + h.usage + "\n")
	}
	return b.String()
}
