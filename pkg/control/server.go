package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/unixsock"
)

// DefaultSocket is where the daemon listens unless told otherwise.
const DefaultSocket = "/run/mpathd/mpathd.sock"

// MaxRequest is the longest request line accepted, newline included.
const MaxRequest = 64 << 10

// Defaults for the Server's limits.
const (
	DefaultMaxConns      = 128
	DefaultIdleTimeout   = 5 * time.Minute
	DefaultWriteTimeout  = 10 * time.Second
	DefaultActionTimeout = 2 * time.Minute
)

// Server answers control requests from a Service.
type Server struct {
	Service api.Service
	Log     *slog.Logger // nil: discard

	MaxConns      int           // non-root connections at once; 0: DefaultMaxConns
	IdleTimeout   time.Duration // between requests; 0: DefaultIdleTimeout
	WriteTimeout  time.Duration // per reply or event; 0: DefaultWriteTimeout
	ActionTimeout time.Duration // upper bound for one action; 0: DefaultActionTimeout

	// Metrics writes the Prometheus exposition in the text format for OpMetrics; nil: the daemon
	// offers no metrics.
	Metrics func(io.Writer) error

	// PeerUID reads the uid of the process at the other end. Nil means
	// SO_PEERCRED; tests replace it to act as another user.
	PeerUID func(net.Conn) (uint32, error)
}

// reply is an api.Response on its way out: the result is encoded straight
// to the connection, never copied into an intermediate buffer.
type reply struct {
	V      int        `json:"v"`
	ID     uint64     `json:"id,omitempty"`
	Result any        `json:"result,omitempty"`
	Event  *api.Event `json:"event,omitempty"`
	Error  *api.Error `json:"error,omitempty"`
}

// Listen creates the socket at path for the daemon, its directory created
// 0755 (see unixsock.Listen for the rest).
func Listen(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control: create socket directory: %w", err)
	}
	l, err := unixsock.Listen(path)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	return l, nil
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

// Serve accepts connections on l until ctx ends, then closes l and every
// connection and waits for their goroutines. It returns nil after a
// cancellation, or the accept error that stopped it.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	a := unixsock.Acceptor{
		Name:     "control",
		Log:      s.Log,
		MaxConns: orDefault(s.MaxConns, DefaultMaxConns),
		PeerUID:  s.PeerUID,
		Busy: func(c net.Conn) {
			s.reply(c, &reply{V: api.ProtocolVersion,
				Error: api.Errorf(api.CodeBusy, "too many control connections from non-root users; try again")})
		},
		Handle: s.serveConn,
	}
	return a.Serve(ctx, l)
}

func (s *Server) serveConn(ctx context.Context, c net.Conn, uid uint32) {
	r := bufio.NewReaderSize(c, MaxRequest)
	idle := orDefault(s.IdleTimeout, DefaultIdleTimeout)
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			s.reply(c, &reply{V: api.ProtocolVersion,
				Error: api.Errorf(api.CodeInvalid, "request longer than %d bytes; closing the connection", MaxRequest)})
			return
		}
		if err != nil {
			if len(bytes.TrimSpace(line)) > 0 && errors.Is(err, io.EOF) {
				// A last request without its newline still gets an answer.
				s.handleLine(ctx, c, line, uid)
			}
			return
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !s.handleLine(ctx, c, line, uid) {
			return
		}
	}
}

// handleLine answers one request; it reports whether the connection may go on.
func (s *Server) handleLine(ctx context.Context, c net.Conn, line []byte, uid uint32) bool {
	var req api.Request
	if err := json.Unmarshal(line, &req); err != nil {
		return s.reply(c, &reply{V: api.ProtocolVersion,
			Error: api.Errorf(api.CodeInvalid, "malformed request: %v", err)})
	}
	if req.Op == api.OpEvents && req.V == api.ProtocolVersion {
		s.stream(ctx, c, req)
		return false
	}
	return s.reply(c, s.handle(ctx, req, uid))
}

// handle answers one decoded request from a peer with this uid. It is the
// whole of the protocol except framing and the events stream.
func (s *Server) handle(ctx context.Context, req api.Request, uid uint32) (resp *reply) {
	resp = &reply{V: api.ProtocolVersion, ID: req.ID}
	defer func() {
		if p := recover(); p != nil {
			s.log().Error("control: panic serving request", "op", req.Op, "panic", p, "stack", string(debug.Stack()))
			resp.Result = nil
			resp.Error = api.Errorf(api.CodeInternal, "internal error serving %s; see the daemon log", req.Op)
		}
	}()
	if req.V != api.ProtocolVersion {
		resp.Error = api.Errorf(api.CodeInvalid, "unsupported protocol version %d (this daemon speaks %d); use a matching mpathctl", req.V, api.ProtocolVersion)
		return resp
	}
	if !api.KnownOp(req.Op) {
		resp.Error = api.Errorf(api.CodeInvalid, "unknown operation %q", req.Op)
		return resp
	}
	if err := api.Authorize(req.Op, uid); err != nil {
		resp.Error = api.AsError(err)
		return resp
	}
	actx, cancel := context.WithTimeout(ctx, orDefault(s.ActionTimeout, DefaultActionTimeout))
	defer cancel()
	result, err := s.dispatch(actx, req)
	if err != nil {
		resp.Error = api.AsError(err)
		return resp
	}
	resp.Result = result
	if api.Privileged(req.Op) {
		s.log().Info("control: request done", "op", req.Op, "args", req.Args, "uid", uid)
	}
	return resp
}

func need(what, v string) error {
	if v == "" {
		return api.Errorf(api.CodeInvalid, "missing argument: %s", what)
	}
	return nil
}

func (s *Server) dispatch(ctx context.Context, req api.Request) (any, error) {
	svc, a := s.Service, req.Args
	switch req.Op {
	case api.OpTopology, api.OpMaps:
		return svc.Topology().Normalize(), nil
	case api.OpMap:
		if err := need("map", a.Map); err != nil {
			return nil, err
		}
		t, ok := svc.Topology().Find(a.Map)
		if !ok {
			return nil, api.Errorf(api.CodeNotFound, "no map %q", a.Map)
		}
		return api.Topology{Maps: []api.Map{t}}.Normalize().Maps[0], nil
	case api.OpPaths:
		return svc.Topology().Paths(), nil
	case api.OpStatus:
		return svc.Status(), nil
	case api.OpStats:
		st := svc.Stats()
		if st.Maps == nil {
			st.Maps = []api.MapStats{}
		}
		if st.Paths == nil {
			st.Paths = []api.PathStats{}
		}
		return st, nil
	case api.OpMetrics:
		if s.Metrics == nil {
			return nil, api.Errorf(api.CodeNotFound, "this daemon offers no metrics")
		}
		var b bytes.Buffer
		if err := s.Metrics(&b); err != nil {
			return nil, api.Errorf(api.CodeInternal, "metrics: %v", err)
		}
		return api.MetricsText{Text: b.String()}, nil
	case api.OpConfig:
		text, err := svc.EffectiveConfig()
		if err != nil {
			return nil, err
		}
		return api.ConfigText{TOML: text}, nil
	case api.OpExplain:
		if err := need("target", a.Target); err != nil {
			return nil, err
		}
		return svc.Explain(a.Target)
	case api.OpCheckConfig:
		if err := need("file", a.File); err != nil {
			return nil, err
		}
		return nil, svc.CheckConfig(a.File)
	case api.OpReservation:
		if err := need("map", a.Map); err != nil {
			return nil, err
		}
		return svc.Reservation(a.Map)
	case api.OpSetPRStatus, api.OpSetPRHold:
		if err := need("map", a.Map); err != nil {
			return nil, err
		}
		if a.On == nil {
			return nil, api.Errorf(api.CodeInvalid, "%s needs \"on\": true or false", req.Op)
		}
		if req.Op == api.OpSetPRStatus {
			return nil, svc.SetPRStatus(ctx, a.Map, *a.On)
		}
		return nil, svc.SetPRHold(ctx, a.Map, *a.On)
	case api.OpSetPRKey:
		if err := need("map", a.Map); err != nil {
			return nil, err
		}
		return nil, svc.SetPRKey(ctx, a.Map, a.Key)
	case api.OpFailPath:
		if err := need("path", a.Path); err != nil {
			return nil, err
		}
		return nil, svc.FailPath(ctx, a.Path)
	case api.OpReinstatePath:
		if err := need("path", a.Path); err != nil {
			return nil, err
		}
		return nil, svc.ReinstatePath(ctx, a.Path)
	case api.OpSwitchGroup:
		if err := need("map", a.Map); err != nil {
			return nil, err
		}
		if a.Group < 1 {
			return nil, api.Errorf(api.CodeInvalid, "group must be 1 or more (groups are numbered from 1), got %d", a.Group)
		}
		return nil, svc.SwitchGroup(ctx, a.Map, a.Group)
	case api.OpReconfigure:
		return nil, svc.Reconfigure(ctx)
	case api.OpResizeMap:
		if err := need("map", a.Map); err != nil {
			return nil, err
		}
		return nil, svc.ResizeMap(ctx, a.Map)
	case api.OpFlushMap:
		if err := need("map", a.Map); err != nil {
			return nil, err
		}
		return nil, svc.FlushMap(ctx, a.Map)
	case api.OpAddPath:
		if err := need("path", a.Path); err != nil {
			return nil, err
		}
		return nil, svc.AddPath(ctx, a.Path)
	case api.OpDelPath:
		if err := need("path", a.Path); err != nil {
			return nil, err
		}
		return nil, svc.DelPath(ctx, a.Path)
	case api.OpRescan:
		host := -1
		if a.Host != nil {
			host = *a.Host
		}
		if host < -1 {
			return nil, api.Errorf(api.CodeInvalid, "host must be 0 or more, got %d", host)
		}
		return nil, svc.Rescan(ctx, host)
	}
	return nil, api.Errorf(api.CodeInvalid, "operation %q is not served here", req.Op)
}

// stream serves an events subscription until the peer hangs up, a write
// stalls, or the server stops.
func (s *Server) stream(ctx context.Context, c net.Conn, req api.Request) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var reader sync.WaitGroup
	defer reader.Wait()
	defer c.Close() // ends the reader
	// The client sends nothing more; a read returning means it hung up.
	reader.Go(func() {
		c.SetReadDeadline(time.Time{})
		io.Copy(io.Discard, c)
		cancel()
	})
	events := s.Service.Subscribe(ctx)
	if !s.reply(c, &reply{V: api.ProtocolVersion, ID: req.ID, Result: struct{}{}}) {
		return
	}
	for ev := range events {
		if !s.reply(c, &reply{V: api.ProtocolVersion, ID: req.ID, Event: &ev}) {
			return
		}
	}
}

// reply writes one response line; it reports whether the write succeeded.
func (s *Server) reply(c net.Conn, resp *reply) bool {
	c.SetWriteDeadline(time.Now().Add(orDefault(s.WriteTimeout, DefaultWriteTimeout)))
	// Encode buffers the whole line before writing, so a failed encoding
	// writes nothing and can still be answered.
	err := json.NewEncoder(c).Encode(resp)
	var ue *json.UnsupportedValueError
	var me *json.MarshalerError
	if errors.As(err, &ue) || errors.As(err, &me) {
		s.log().Error("control: encode reply", "err", err)
		err = json.NewEncoder(c).Encode(&reply{V: api.ProtocolVersion, ID: resp.ID,
			Error: api.Errorf(api.CodeInternal, "encode reply: %v", err)})
	}
	if err != nil {
		s.log().Debug("control: write reply", "err", err)
		return false
	}
	return true
}
