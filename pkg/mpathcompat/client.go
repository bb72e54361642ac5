package mpathcompat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// multipathd's sockets. A name starting with @ is an abstract socket.
const (
	AbstractSocket = "@/org/kernel/linux/storage/multipathd"
	PathSocket     = "/run/multipathd.socket"
	// SocketEnv names another socket for both client and daemon.
	SocketEnv = "MULTIPATH_SOCKET_NAME"
)

// DefaultTimeout is multipathd's uxsock_timeout default: how long a client
// waits for a reply.
const DefaultTimeout = 4 * time.Second

// SocketNames lists the sockets to use, in the order a client tries them:
// the one named by MULTIPATH_SOCKET_NAME when set, else the path socket then
// the abstract one.
func SocketNames() []string {
	if n := os.Getenv(SocketEnv); n != "" {
		return []string{n}
	}
	return []string{PathSocket, AbstractSocket}
}

// Client is a connection to a multipathd-compatible socket. Several commands
// may be sent on one connection, one at a time; a Client is not safe for
// concurrent use.
type Client struct {
	conn net.Conn
	// Timeout bounds each command when the context has no earlier deadline.
	Timeout time.Duration
}

// Dial connects to the socket named name, or, when name is "", to the first
// of SocketNames that accepts.
func Dial(ctx context.Context, name string) (*Client, error) {
	names := []string{name}
	if name == "" {
		names = SocketNames()
	}
	var d net.Dialer
	var errs []error
	for _, n := range names {
		c, err := d.DialContext(ctx, "unix", n)
		if err == nil {
			return &Client{conn: c, Timeout: DefaultTimeout}, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("multipathd socket: connect to %s: %w", strings.Join(names, " or "), errors.Join(errs...))
}

// Do sends one command and returns the daemon's reply text as it came
// ("ok\n", "fail\n", "timeout\n", a table). A command the daemon refused is still a
// reply, not an error: the error is for transport failures only.
func (c *Client) Do(ctx context.Context, cmd string) (string, error) {
	deadline, ok := ctx.Deadline()
	if t := time.Now().Add(c.Timeout); c.Timeout > 0 && (!ok || t.Before(deadline)) {
		deadline = t
	}
	c.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := WriteFrame(c.conn, cmd); err != nil {
		return "", err
	}
	reply, err := ReadFrame(c.conn, MaxReply)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("multipathd socket: %q: %w", cmd, ctx.Err())
		}
		return "", fmt.Errorf("multipathd socket: %q: %w", cmd, err)
	}
	return reply, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }
