package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"syscall"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
)

// MaxReply bounds one reply line read by the client (a topology of tens of
// thousands of paths fits easily).
const MaxReply = 256 << 20

// DefaultTimeout bounds a call whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// Client talks to the daemon over one connection. It is not safe for
// concurrent use.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
	id   uint64
	path string
}

// Dial connects to the daemon's socket at path.
func Dial(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("mpathd is not running (nothing listening on %s)", path)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("cannot connect to %s: permission denied", path)
		}
		return nil, fmt.Errorf("connect to %s: %w", path, err)
	}
	return &Client{conn: c, r: bufio.NewReaderSize(c, 64<<10), path: path}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Call sends one request and decodes its result into out (nil to ignore it).
// A failure reported by the daemon is returned as an *api.Error.
func (c *Client) Call(ctx context.Context, op string, args api.Args, out any) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	c.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
	defer stop()

	resp, err := c.roundTrip(op, args)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		return err
	}
	if resp.Error != nil {
		return resp.Error
	}
	if out != nil && len(resp.Result) > 0 {
		if err := json.Unmarshal(resp.Result, out); err != nil {
			return fmt.Errorf("%s: decode reply: %w", op, err)
		}
	}
	return nil
}

func (c *Client) roundTrip(op string, args api.Args) (*api.Response, error) {
	c.id++
	b, err := json.Marshal(api.Request{V: api.ProtocolVersion, ID: c.id, Op: op, Args: args})
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", op, err)
	}
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		// The daemon may have answered before hanging up (too many
		// connections); that answer says more than the broken pipe.
		if resp, rerr := c.read(); rerr == nil && resp.Error != nil {
			return resp, nil
		}
		return nil, fmt.Errorf("%s: send to %s: %w", op, c.path, err)
	}
	resp, err := c.read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if resp.ID != c.id && resp.Error == nil {
		return nil, fmt.Errorf("%s: reply for request %d, expected %d", op, resp.ID, c.id)
	}
	return resp, nil
}

func (c *Client) read() (*api.Response, error) {
	var line []byte
	for {
		chunk, err := c.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxReply {
			return nil, fmt.Errorf("reply longer than %d bytes", MaxReply)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read reply from %s: %w", c.path, err)
		}
		break
	}
	var resp api.Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("malformed reply: %w", err)
	}
	return &resp, nil
}

// Events subscribes to the daemon's event stream and calls fn for each event
// until ctx ends (nil is returned), fn returns an error (returned), or the
// connection fails.
func (c *Client) Events(ctx context.Context, fn func(api.Event) error) error {
	c.conn.SetDeadline(time.Now().Add(DefaultTimeout))
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
	defer stop()
	resp, err := c.roundTrip(api.OpEvents, api.Args{})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if resp.Error != nil {
		return resp.Error
	}
	c.conn.SetDeadline(time.Time{})
	if ctx.Err() != nil {
		return nil
	}
	for {
		resp, err := c.read()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("events: %w", err)
		}
		if resp.Error != nil {
			return resp.Error
		}
		if resp.Event == nil {
			continue
		}
		if err := fn(*resp.Event); err != nil {
			return err
		}
	}
}
