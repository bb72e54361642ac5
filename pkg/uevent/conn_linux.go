package uevent

import (
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// DefaultRecvBuf is the receive buffer requested by default, as udevd and
// multipathd do: a fabric flap produces thousands of events at once.
const DefaultRecvBuf = 128 << 20

// maxMsg bounds one datagram; larger ones are dropped as truncated.
const maxMsg = 64 << 10

// Config configures Listen.
type Config struct {
	Source  Source       // Kernel or Udev; required
	RecvBuf int          // socket receive buffer in bytes; 0 means DefaultRecvBuf
	Logger  *slog.Logger // drops and overflows; nil discards
}

// Stats counts what a Conn received and dropped.
type Stats struct {
	Received   uint64 // events returned by Receive
	Untrusted  uint64 // dropped: not from the kernel (Kernel) or not from root (Udev)
	Truncated  uint64 // dropped: larger than the read buffer
	Malformed  uint64 // dropped: unparseable, or in the other source's format
	Overflows  uint64 // ENOBUFS: the kernel dropped messages for us
	Discarded  uint64 // queued messages thrown away after an overflow
	RecvBufLen int    // receive buffer the kernel granted (it reports double the request)
}

// Conn is a netlink uevent listener. Receive must be called from one
// goroutine at a time; Close may be called from any goroutine and makes a
// blocked Receive return an error wrapping os.ErrClosed.
type Conn struct {
	src    Source
	f      *os.File
	rc     syscall.RawConn
	log    *slog.Logger
	buf    []byte
	oob    []byte
	rcvbuf int

	closed atomic.Bool

	received, untrusted, truncated, malformed, overflows, discarded atomic.Uint64
}

// Listen opens a NETLINK_KOBJECT_UEVENT socket joined to cfg.Source's group.
// The socket is non-blocking and served by the runtime poller, so no thread
// stays blocked in recvmsg and Close unblocks a pending Receive.
func Listen(cfg Config) (*Conn, error) {
	if cfg.Source != Kernel && cfg.Source != Udev {
		return nil, fmt.Errorf("uevent: listen: invalid source %d", cfg.Source)
	}
	if cfg.RecvBuf <= 0 {
		cfg.RecvBuf = DefaultRecvBuf
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("uevent: listen %s: socket: %w", cfg.Source, err)
	}
	fail := func(op string, err error) (*Conn, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("uevent: listen %s: %s: %w", cfg.Source, op, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return fail("SO_PASSCRED", err)
	}
	// SO_RCVBUFFORCE needs CAP_NET_ADMIN; SO_RCVBUF is capped at rmem_max.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.RecvBuf); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.RecvBuf); err != nil {
			return fail("SO_RCVBUF", err)
		}
	}
	rcvbuf, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return fail("SO_RCVBUF", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: uint32(cfg.Source)}); err != nil {
		return fail("bind", err)
	}
	f := os.NewFile(uintptr(fd), "uevent-"+cfg.Source.String())
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("uevent: listen %s: %w", cfg.Source, err)
	}
	return &Conn{
		src: cfg.Source, f: f, rc: rc, log: log, rcvbuf: rcvbuf,
		buf: make([]byte, maxMsg), oob: make([]byte, unix.CmsgSpace(unix.SizeofUcred)),
	}, nil
}

// Receive returns the next trusted, well-formed event. Dropped messages are
// counted (Stats) and logged. When the kernel reports that messages were
// lost (ENOBUFS), Receive discards what is queued and returns an event
// with Overflow set: start the resynchronisation after receiving it, and
// every later event is delivered again.
func (c *Conn) Receive() (Event, error) {
	for {
		var (
			n, oobn, flags int
			from           unix.Sockaddr
			rerr           error
		)
		err := c.rc.Read(func(fd uintptr) bool {
			for {
				n, oobn, flags, from, rerr = unix.Recvmsg(int(fd), c.buf, c.oob, 0)
				if rerr != unix.EINTR {
					return rerr != unix.EAGAIN
				}
			}
		})
		if err != nil {
			return Event{}, c.closedErr(err)
		}
		switch {
		case rerr == unix.ENOBUFS:
			if err := c.drain(); err != nil {
				return Event{}, err
			}
			c.drop(&c.overflows, "uevent: receive buffer overflowed, events lost; resync needed", "discarded", c.discarded.Load())
			return Event{Source: c.src, Overflow: true}, nil
		case rerr != nil:
			return Event{}, fmt.Errorf("uevent: receive %s: recvmsg: %w", c.src, rerr)
		case flags&unix.MSG_TRUNC != 0:
			c.drop(&c.truncated, "uevent: dropped truncated message")
			continue
		}
		if why := c.untrustedSender(from, c.oob[:oobn]); why != "" {
			c.drop(&c.untrusted, "uevent: dropped message from untrusted sender", "reason", why)
			continue
		}
		e, err := Parse(c.buf[:n])
		if err == nil && e.Source != c.src {
			err = fmt.Errorf("%w: %s-format message on the %s group", ErrMalformed, e.Source, c.src)
		}
		if err != nil {
			c.drop(&c.malformed, "uevent: dropped malformed message", "err", err)
			continue
		}
		c.received.Add(1)
		return e, nil
	}
}

// drain discards every queued message. After an overrun the kernel keeps
// dropping new messages for this socket, without reporting ENOBUFS again,
// until its queue is empty; draining at once ends that, so every event
// that follows the Overflow event is delivered, and the queued ones are
// covered by the resynchronisation the Overflow asks for.
func (c *Conn) drain() error {
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			_, _, _, _, err := unix.Recvmsg(int(fd), c.buf, c.oob, 0)
			switch err {
			case nil, unix.ENOBUFS:
				c.discarded.Add(1)
			case unix.EINTR:
			default:
				return true // EAGAIN: empty
			}
		}
	})
	if err != nil {
		return c.closedErr(err)
	}
	return nil
}

// untrustedSender returns why a message must be dropped, or "". Anyone with
// CAP_NET_ADMIN in the namespace can multicast on this family, so the
// kernel group accepts only port id 0 (the kernel) and the udev group only
// uid 0, as systemd's device monitor does. Unicasts are never expected.
func (c *Conn) untrustedSender(from unix.Sockaddr, oob []byte) string {
	nl, ok := from.(*unix.SockaddrNetlink)
	if !ok {
		return "no netlink source address"
	}
	if nl.Groups == 0 {
		return fmt.Sprintf("unicast from port %d", nl.Pid)
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return "bad control message: " + err.Error()
	}
	var cred *unix.Ucred
	for _, m := range cmsgs {
		if cr, err := unix.ParseUnixCredentials(&m); err == nil {
			cred = cr
		}
	}
	switch {
	case cred == nil:
		return "no SCM_CREDENTIALS"
	case c.src == Kernel && nl.Pid != 0:
		return fmt.Sprintf("kernel-group message from port %d (pid %d uid %d)", nl.Pid, cred.Pid, cred.Uid)
	case cred.Uid != 0:
		return fmt.Sprintf("sender uid %d (pid %d) is not root", cred.Uid, cred.Pid)
	}
	return ""
}

// drop counts and logs; under a storm it logs the 1st, 2nd, 4th, 8th, ...
// occurrence so the log stays readable while the count stays exact.
func (c *Conn) drop(ctr *atomic.Uint64, msg string, args ...any) {
	n := ctr.Add(1)
	if bits.OnesCount64(n) == 1 {
		c.log.Warn(msg, append(args, "source", c.src.String(), "count", n)...)
	}
}

// closedErr maps the poller's "use of closed file" to os.ErrClosed.
func (c *Conn) closedErr(err error) error {
	if c.closed.Load() {
		return fmt.Errorf("uevent: receive %s: %w", c.src, os.ErrClosed)
	}
	return fmt.Errorf("uevent: receive %s: %w", c.src, err)
}

// Stats returns the counters so far.
func (c *Conn) Stats() Stats {
	return Stats{
		Received: c.received.Load(), Untrusted: c.untrusted.Load(), Truncated: c.truncated.Load(),
		Malformed: c.malformed.Load(), Overflows: c.overflows.Load(), Discarded: c.discarded.Load(),
		RecvBufLen: c.rcvbuf,
	}
}

// Close closes the socket; a blocked Receive returns an error wrapping
// os.ErrClosed.
func (c *Conn) Close() error {
	c.closed.Store(true)
	if err := c.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("uevent: close %s: %w", c.src, err)
	}
	return nil
}
