package uevent

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sender is a user-space socket that multicasts on the uevent family, as a
// spoofer would. It needs CAP_NET_ADMIN; tests skip without it.
func sender(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		t.Skipf("no netlink uevent socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	return fd
}

// send multicasts msg to group; cred, if set, is the claimed SCM_CREDENTIALS.
func send(t *testing.T, fd int, group uint32, msg []byte, cred *unix.Ucred) {
	t.Helper()
	var oob []byte
	if cred != nil {
		oob = unix.UnixCredentials(cred)
	}
	err := unix.Sendmsg(fd, msg, oob, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (group - 1)}, 0)
	if errors.Is(err, unix.EPERM) {
		t.Skipf("multicast on the uevent family needs CAP_NET_ADMIN: %v", err)
	}
	if err != nil {
		t.Fatalf("sendmsg: %v", err)
	}
}

func listen(t *testing.T, cfg Config) *Conn {
	t.Helper()
	c, err := Listen(cfg)
	if err != nil {
		t.Skipf("cannot listen: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// receive runs Receive with a generous guard so a regression fails the test
// instead of hanging it; the guard is not a timing assertion.
func receive(t *testing.T, c *Conn) Event {
	t.Helper()
	type res struct {
		e   Event
		err error
	}
	ch := make(chan res, 1)
	go func() { e, err := c.Receive(); ch <- res{e, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Receive: %v", r.err)
		}
		return r.e
	case <-time.After(30 * time.Second):
		c.Close()
		t.Fatal("Receive did not return")
	}
	return Event{}
}

// markerDir is unique to this process, so tests that run at the same time
// in other processes (and send on the same groups) do not confuse these.
var markerDir = "/devices/virtual/mpathd-test-" + strconv.Itoa(os.Getpid()) + "/"

func marker(name string) Event {
	return Event{Action: Change, DevPath: markerDir + name, Env: map[string]string{"SUBSYSTEM": "mpathd-test"}}
}

// receiveOwn is receive, keeping only this process's test events and overflows: real events
// (udevd rebroadcasting a change another test triggered) and other processes' test events are
// skipped.
func receiveOwn(t *testing.T, c *Conn) Event {
	t.Helper()
	for {
		e := receive(t, c)
		if e.Overflow || e.Subsystem == "mpathd-test" && strings.HasPrefix(e.DevPath, markerDir) {
			return e
		}
	}
}

// A uevent multicast to the kernel group by a user-space socket (port id
// != 0) is dropped even when the sender is root.
func TestSpoofedKernelEventDropped(t *testing.T) {
	c := listen(t, Config{Source: Kernel})
	fd := sender(t)
	send(t, fd, 1, marker("spoof").MarshalKernel(), nil)

	// Something genuine from the kernel to prove the listener is live.
	if err := os.WriteFile("/sys/devices/virtual/mem/null/uevent", []byte("change"), 0); err != nil {
		t.Skipf("cannot trigger a kernel uevent: %v", err)
	}
	for {
		e := receive(t, c)
		if e.DevPath == markerDir+"spoof" {
			t.Fatalf("spoofed event delivered: %+v", e)
		}
		if e.DevPath == "/devices/virtual/mem/null" {
			if e.Action != Change || e.Subsystem != "mem" || e.Seqnum == 0 || e.Source != Kernel {
				t.Errorf("kernel event = %+v", e)
			}
			break
		}
	}
	if s := c.Stats(); s.Untrusted < 1 || s.Received == 0 {
		t.Errorf("Stats = %+v, want an untrusted drop", s)
	}
}

// On the udev group root is trusted, any other uid is not, and a message
// in the kernel's format is malformed there.
func TestUdevGroupCredentials(t *testing.T) {
	c := listen(t, Config{Source: Udev})
	fd := sender(t)
	pid := int32(os.Getpid())
	send(t, fd, 2, marker("uid1000").MarshalUdev(), &unix.Ucred{Pid: pid, Uid: 1000, Gid: 1000})
	send(t, fd, 2, marker("kernel-format").MarshalKernel(), nil)
	send(t, fd, 2, marker("root").MarshalUdev(), nil)
	e := receiveOwn(t, c)
	if e.DevPath != markerDir+"root" || e.Source != Udev || e.Subsystem != "mpathd-test" {
		t.Errorf("event = %+v", e)
	}
	if s := c.Stats(); s.Untrusted < 1 || s.Malformed < 1 || s.Received < 1 {
		t.Errorf("Stats = %+v", s)
	}
}

// Filling a tiny receive buffer makes the kernel drop messages; the
// listener reports one Overflow and then delivers every new event.
func TestOverflow(t *testing.T) {
	c := listen(t, Config{Source: Udev, RecvBuf: 4096})
	fd := sender(t)
	for i := range 200 {
		send(t, fd, 2, marker("flood"+strconv.Itoa(i)).MarshalUdev(), nil)
	}
	if e := receiveOwn(t, c); !e.Overflow {
		t.Fatalf("first event after the flood = %+v, want Overflow", e)
	}
	// The queue was drained, so the next event is the first one sent after
	// the overflow: nothing stale, nothing lost.
	send(t, fd, 2, marker("after").MarshalUdev(), nil)
	if e := receiveOwn(t, c); e.DevPath != markerDir+"after" {
		t.Fatalf("event after the overflow = %+v", e)
	}
	if s := c.Stats(); s.Overflows != 1 || s.Discarded == 0 || s.Received < 1 {
		t.Errorf("Stats = %+v", s)
	}
}

// A datagram larger than the read buffer is dropped, not parsed cut short.
func TestTruncatedDropped(t *testing.T) {
	c := listen(t, Config{Source: Udev})
	fd := sender(t)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 1<<20); err != nil {
		t.Skipf("SO_SNDBUFFORCE: %v", err)
	}
	big := marker("big")
	big.Env["PAD"] = strings.Repeat("x", maxMsg)
	send(t, fd, 2, big.MarshalUdev(), nil)
	send(t, fd, 2, marker("small").MarshalUdev(), nil)
	if e := receiveOwn(t, c); e.DevPath != markerDir+"small" {
		t.Fatalf("event = %.200v", e)
	}
	if s := c.Stats(); s.Truncated < 1 || s.Received < 1 {
		t.Errorf("Stats = %+v", s)
	}
}

// Close unblocks a pending Receive and leaves no goroutine behind.
func TestCloseUnblocksReceive(t *testing.T) {
	before := runtime.NumGoroutine()
	c, err := Listen(Config{Source: Kernel, RecvBuf: 1 << 20})
	if err != nil {
		t.Skipf("cannot listen: %v", err)
	}
	if c.Stats().RecvBufLen < 1<<20 {
		t.Errorf("RecvBufLen = %d", c.Stats().RecvBufLen)
	}
	done := make(chan error)
	go func() {
		_, err := c.Receive()
		done <- err
	}()
	runtime.Gosched()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, os.ErrClosed) {
		t.Errorf("Receive after Close: %v, want os.ErrClosed", err)
	}
	// The receiving goroutine ends soon after it has sent; under an emulator (qemu-user for the
	// other ports) "soon" can be many scheduler rounds, so wait up to a bound far past it.
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := Listen(Config{Source: 3}); err == nil {
		t.Error("Listen accepted group 3")
	}
}
