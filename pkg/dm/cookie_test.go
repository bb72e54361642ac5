package dm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeSem is a SysV semaphore table with udev attached: the fake kernel
// queues the cookie of every uevent it generates, and fakeUdev completes
// them the way "dmsetup udevcomplete" does (rebuild the key from the
// cookie, decrement) when the client starts waiting, unless it is stopped.
type fakeSem struct {
	vals    map[int]int
	keys    map[int32]int
	next    int
	calls   []string
	eexist  int   // get fails with EEXIST this many times
	getErr  error // then get fails with this
	setErr  error
	queued  []uint32 // DM_COOKIE values of uevents not yet processed
	stopped bool     // udevd is stopped: events stay queued
}

func newFakeSem() *fakeSem { return &fakeSem{vals: map[int]int{}, keys: map[int32]int{}, next: 7} }

func (f *fakeSem) get(key int32, flags int) (int, error) {
	f.calls = append(f.calls, fmt.Sprintf("get %#x %O", key, flags))
	if f.eexist > 0 {
		f.eexist--
		return 0, unix.EEXIST
	}
	if f.getErr != nil {
		return 0, f.getErr
	}
	if _, ok := f.keys[key]; ok {
		return 0, unix.EEXIST
	}
	f.next++
	f.keys[key] = f.next
	f.vals[f.next] = 0
	return f.next, nil
}

func (f *fakeSem) setVal(id, val int) error {
	f.calls = append(f.calls, fmt.Sprintf("setval %d", val))
	if f.setErr != nil {
		return f.setErr
	}
	f.vals[id] = val
	return nil
}

func (f *fakeSem) op(id int, b sembuf, timeout time.Duration) error {
	switch {
	case b.op == 0:
		f.calls = append(f.calls, fmt.Sprintf("wait0 %v", timeout))
		f.udev()
	case b.flg&unix.IPC_NOWAIT != 0:
		f.calls = append(f.calls, fmt.Sprintf("op %+d nowait", b.op))
	default:
		f.calls = append(f.calls, fmt.Sprintf("op %+d", b.op))
	}
	v, ok := f.vals[id]
	if !ok {
		return unix.EINVAL
	}
	switch {
	case b.op == 0 && v != 0:
		return unix.EAGAIN // the timeout expired
	case int(v)+int(b.op) < 0:
		return unix.EAGAIN // would block; the client never does this
	}
	f.vals[id] = v + int(b.op)
	return nil
}

func (f *fakeSem) remove(id int) error {
	f.calls = append(f.calls, "rmid")
	if _, ok := f.vals[id]; !ok {
		return unix.EINVAL
	}
	delete(f.vals, id)
	for k, v := range f.keys {
		if v == id {
			delete(f.keys, k)
		}
	}
	return nil
}

// udev processes the queued events: 95-dm-notify.rules' udevcomplete.
func (f *fakeSem) udev() {
	if f.stopped {
		return
	}
	for _, cookie := range f.queued {
		if cookie&0xffff == 0 {
			continue // flags only
		}
		if id, ok := f.keys[int32(cookieMagic<<16|cookie&0xffff)]; ok && f.vals[id] > 0 {
			f.vals[id]--
		}
	}
	f.queued = nil
}

// logRecorder keeps the client's log records.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// warnings returns the "err" attribute of every warning.
func (l *logRecorder) warnings() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, r := range l.recs {
		if r.Level < slog.LevelWarn {
			continue
		}
		var err error = errors.New(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				err, _ = a.Value.Any().(error)
			}
			return true
		})
		errs = append(errs, err)
	}
	return errs
}

// cookieKernel answers resume, remove and rename like dm-ioctl.c:
// generated says whether the ioctl sends a uevent; each one is queued for
// udev with the cookie it carried.
func cookieKernel(sem *fakeSem, generated bool, fail error) func(fdCall) (header, []byte, error) {
	return func(c fdCall) (header, []byte, error) {
		if fail != nil {
			return header{}, nil, fail
		}
		h := header{Name: c.h.Name, Dev: unix.Mkdev(253, 0)}
		if generated {
			h.Flags |= flagUeventGenerated
			sem.queued = append(sem.queued, c.h.EventNr)
		}
		return h, nil, nil
	}
}

func newCookieClient(t *testing.T, sem *fakeSem, opts Options, handle func(fdCall) (header, []byte, error)) (*Client, *fakeFD, *logRecorder) {
	t.Helper()
	c, fd := newTestClient(t, true, handle)
	rec := &logRecorder{}
	c.opts.UdevWait = opts.UdevWait
	c.opts.UdevTimeout = opts.UdevTimeout
	if opts.UdevRunning != nil {
		c.opts.UdevRunning = opts.UdevRunning
	}
	c.log = slog.New(rec)
	c.sem = sem
	bases := []uint16{0x1234, 0x2345, 0x3456}
	c.random = func() uint16 {
		b := bases[0]
		bases = append(bases[1:], b+1)
		return b
	}
	return c, fd, rec
}

// cookieOps runs each cookie-carrying call.
var cookieOps = []struct {
	name  string
	flags UdevFlags // what the call adds to the caller's flags
	run   func(c *Client) error
}{
	{"resume", MpathNoKpartx, func(c *Client) error { _, err := c.Resume("mpatha", MpathNoKpartx); return err }},
	{"remove", MpathNoKpartx, func(c *Client) error {
		_, err := c.Remove("mpatha", RemoveOptions{Udev: MpathNoKpartx})
		return err
	}},
	{"rename", MpathNoKpartx, func(c *Client) error { return c.Rename("mpatha", "mpathb", MpathNoKpartx) }},
}

func TestUdevWaitSequence(t *testing.T) {
	for _, op := range cookieOps {
		t.Run(op.name, func(t *testing.T) {
			sem := newFakeSem()
			c, fd, rec := newCookieClient(t, sem, Options{UdevWait: true}, nil)
			fd.handle = cookieKernel(sem, true, nil)
			if err := op.run(c); err != nil {
				t.Fatal(err)
			}
			flags := uint32(UdevPrimarySource|UdevDisableLibraryFallback|op.flags) << 16
			if got, want := fd.last().h.EventNr, flags|0x1234; got != want {
				t.Errorf("event_nr %#x, want %#x", got, want)
			}
			want := []string{
				"get 0xd4d1234 0o3600", // IPC_CREAT|IPC_EXCL|0600
				"setval 1",
				"op +1",        // before the ioctl: the uevent's count
				"op -1 nowait", // after: the caller's own hold
				"wait0 30s",    // udev takes the uevent's count
				"rmid",
			}
			if !slices.Equal(sem.calls, want) {
				t.Errorf("semaphore calls\n got %q\nwant %q", sem.calls, want)
			}
			if len(sem.vals) != 0 {
				t.Errorf("semaphores left: %v", sem.vals)
			}
			if w := rec.warnings(); len(w) != 0 {
				t.Errorf("warnings %v", w)
			}
		})
	}
}

// When the kernel sends no uevent (a resume of a running map, a deferred
// remove of an open map, a failed ioctl) the client takes the ioctl's
// count back itself: nobody else will.
func TestUdevWaitWithoutUevent(t *testing.T) {
	for _, fail := range []error{nil, unix.ENXIO} {
		for _, op := range cookieOps {
			t.Run(fmt.Sprintf("%s/%v", op.name, fail), func(t *testing.T) {
				sem := newFakeSem()
				c, fd, rec := newCookieClient(t, sem, Options{UdevWait: true, UdevTimeout: time.Second}, nil)
				fd.handle = cookieKernel(sem, false, fail)
				if err := op.run(c); !errors.Is(err, fail) || (fail == nil) != (err == nil) {
					t.Fatalf("err %v, want %v", err, fail)
				}
				want := []string{"get 0xd4d1234 0o3600", "setval 1", "op +1", "op -1 nowait", "op -1 nowait", "wait0 1s", "rmid"}
				if !slices.Equal(sem.calls, want) {
					t.Errorf("semaphore calls\n got %q\nwant %q", sem.calls, want)
				}
				if len(sem.vals) != 0 {
					t.Errorf("semaphores left: %v", sem.vals)
				}
				if w := rec.warnings(); len(w) != 0 {
					t.Errorf("warnings %v", w)
				}
			})
		}
	}
}

// A stopped udevd: the wait times out, the semaphore is removed anyway,
// the operation reports success and the timeout is logged.
func TestUdevWaitTimeout(t *testing.T) {
	for _, op := range cookieOps {
		t.Run(op.name, func(t *testing.T) {
			sem := newFakeSem()
			sem.stopped = true
			c, fd, rec := newCookieClient(t, sem, Options{UdevWait: true, UdevTimeout: 2 * time.Second}, nil)
			fd.handle = cookieKernel(sem, true, nil)
			if err := op.run(c); err != nil {
				t.Fatalf("operation failed on a udev timeout: %v", err)
			}
			if got := sem.calls[len(sem.calls)-2:]; !slices.Equal(got, []string{"wait0 2s", "rmid"}) {
				t.Errorf("calls end %q", got)
			}
			if len(sem.vals) != 0 {
				t.Errorf("semaphores left: %v", sem.vals)
			}
			w := rec.warnings()
			if len(w) != 1 || !errors.Is(w[0], ErrUdevTimeout) {
				t.Errorf("warnings %v, want one ErrUdevTimeout", w)
			}
			// udevd comes back and completes the stale cookie: its key is
			// gone, so nothing happens (udevcomplete fails harmlessly).
			sem.stopped = false
			sem.udev()
			if len(sem.vals) != 0 {
				t.Errorf("semaphores after late udev: %v", sem.vals)
			}
		})
	}
}

// CreateMap keeps the map when udev times out on the resume.
func TestCreateMapKeepsMapOnUdevTimeout(t *testing.T) {
	sem := newFakeSem()
	sem.stopped = true
	c, fd, rec := newCookieClient(t, sem, Options{UdevWait: true}, nil)
	resume := cookieKernel(sem, true, nil)
	fd.handle = func(call fdCall) (header, []byte, error) {
		if call.cmd == cmdDevRemove.req {
			t.Error("map removed after a udev timeout")
		}
		if call.cmd == cmdDevSuspend.req {
			return resume(call)
		}
		return header{Name: call.h.Name, Dev: unix.Mkdev(253, 0)}, nil, nil
	}
	tb, err := ParseTable(tableExamples[0].load)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateMap(c, "mpatha", "mpath-1", 2048, tb, 0); err != nil {
		t.Fatal(err)
	}
	if w := rec.warnings(); len(w) != 1 || !errors.Is(w[0], ErrUdevTimeout) {
		t.Errorf("warnings %v", w)
	}
}

func TestUdevCookieRetriesTakenKeys(t *testing.T) {
	sem := newFakeSem()
	sem.eexist = 2 // 0x1234 and 0x2345 belong to someone else
	c, fd, _ := newCookieClient(t, sem, Options{UdevWait: true}, nil)
	bases := []uint16{0, 0x1234, 0x2345, 0x3456} // 0 is never a base
	c.random = func() uint16 { b := bases[0]; bases = bases[1:]; return b }
	fd.handle = cookieKernel(sem, true, nil)
	if _, err := c.Resume("mpatha", 0); err != nil {
		t.Fatal(err)
	}
	if got := fd.last().h.EventNr & 0xffff; got != 0x3456 {
		t.Errorf("base %#x, want 0x3456", got)
	}
	want := []string{"get 0xd4d1234 0o3600", "get 0xd4d2345 0o3600", "get 0xd4d3456 0o3600"}
	if got := sem.calls[:3]; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if len(sem.vals) != 0 {
		t.Errorf("semaphores left: %v", sem.vals)
	}
}

// Without a semaphore the operation goes on with a flags-only cookie.
func TestUdevCookieSetupFailure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*fakeSem)
		calls []string
	}{
		{"semget", func(s *fakeSem) { s.getErr = unix.ENOSPC }, []string{"get 0xd4d1234 0o3600"}},
		{"setval", func(s *fakeSem) { s.setErr = unix.EPERM }, []string{"get 0xd4d1234 0o3600", "setval 1", "rmid"}},
		{"all keys taken", func(s *fakeSem) { s.eexist = createAttempts }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sem := newFakeSem()
			tc.setup(sem)
			c, fd, rec := newCookieClient(t, sem, Options{UdevWait: true}, nil)
			fd.handle = cookieKernel(sem, true, nil)
			if _, err := c.Resume("mpatha", 0); err != nil {
				t.Fatal(err)
			}
			if got, want := fd.last().h.EventNr, uint32(UdevPrimarySource|UdevDisableLibraryFallback)<<16; got != want {
				t.Errorf("event_nr %#x, want flags only %#x", got, want)
			}
			if tc.calls != nil && !slices.Equal(sem.calls, tc.calls) {
				t.Errorf("calls %q, want %q", sem.calls, tc.calls)
			}
			if len(sem.vals) != 0 {
				t.Errorf("semaphores left: %v", sem.vals)
			}
			if w := rec.warnings(); len(w) != 1 {
				t.Errorf("warnings %v, want one", w)
			}
		})
	}
}

// Without udev, or without UdevWait, no semaphore is touched and the
// cookie carries flags only.
func TestUdevWaitOff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wait    bool
		running bool
		flags   UdevFlags
	}{
		{"no UdevWait", false, true, UdevPrimarySource | UdevDisableLibraryFallback},
		{"no udev", true, false, UdevPrimarySource},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sem := newFakeSem()
			running := tc.running
			c, fd, _ := newCookieClient(t, sem, Options{UdevWait: tc.wait, UdevRunning: func() bool { return running }}, nil)
			fd.handle = cookieKernel(sem, true, nil)
			for _, op := range cookieOps {
				if err := op.run(c); err != nil {
					t.Fatal(err)
				}
				if got, want := fd.last().h.EventNr, uint32(tc.flags|op.flags)<<16; got != want {
					t.Errorf("%s event_nr %#x, want %#x", op.name, got, want)
				}
			}
			if len(sem.calls) != 0 {
				t.Errorf("semaphore calls %q", sem.calls)
			}
		})
	}
}

// TestSysVSemaphores runs the protocol on the host's real SysV
// semaphores, with a goroutine in udev's place.
func TestSysVSemaphores(t *testing.T) {
	sem := sysvSemaphores{}
	u, err := newUdevCookie(sem, randomBase)
	if err != nil {
		t.Skipf("no SysV semaphores here: %v", err)
	}
	if err := u.inc(sem); err != nil {
		t.Fatal(err)
	}
	if !semKeyExists(t, u.key()) {
		t.Fatalf("key %#x not in /proc/sysvipc/sem", u.key())
	}
	done := make(chan error, 1)
	go func() {
		// "dmsetup udevcomplete": find the semaphore by key, take one off.
		id, err := sem.get(int32(u.key()), 0)
		if err == nil {
			err = sem.op(id, sembuf{op: -1, flg: unix.IPC_NOWAIT}, 0)
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := u.wait(sem, time.Minute); err != nil {
		t.Fatal(err)
	}
	if semKeyExists(t, u.key()) {
		t.Errorf("key %#x left behind", u.key())
	}

	// Nobody completes: the wait times out and still removes the semaphore.
	u, err = newUdevCookie(sem, randomBase)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.inc(sem); err != nil {
		t.Fatal(err)
	}
	if err := u.wait(sem, 20*time.Millisecond); !errors.Is(err, ErrUdevTimeout) {
		t.Errorf("wait = %v, want ErrUdevTimeout", err)
	}
	if semKeyExists(t, u.key()) {
		t.Errorf("key %#x left behind after a timeout", u.key())
	}
}

// semKeyExists looks a SysV semaphore key up in /proc/sysvipc/sem.
func semKeyExists(t *testing.T, key uint32) bool {
	t.Helper()
	keys, err := sysvSemKeys()
	if err != nil {
		t.Skip(err)
	}
	return slices.Contains(keys, key)
}

// sysvSemKeys lists the keys of all SysV semaphore sets.
func sysvSemKeys() ([]uint32, error) {
	b, err := os.ReadFile("/proc/sysvipc/sem")
	if err != nil {
		return nil, err
	}
	var keys []uint32
	for i, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if i == 0 || len(f) == 0 {
			continue
		}
		k, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/sysvipc/sem line %q: %w", l, err)
		}
		keys = append(keys, uint32(k))
	}
	return keys, nil
}

// ResumeDeferred returns once the ioctl is done, with the semaphore still held for udev; the wait
// (and the semaphore's removal) happens when the returned function runs.
func TestResumeDeferredWaitsLater(t *testing.T) {
	sem := newFakeSem()
	c, fd, rec := newCookieClient(t, sem, Options{UdevWait: true}, nil)
	fd.handle = cookieKernel(sem, true, nil)
	if _, wait, err := c.ResumeDeferred("mpatha", 0); err != nil {
		t.Fatal(err)
	} else {
		before := []string{"get 0xd4d1234 0o3600", "setval 1", "op +1"}
		if !slices.Equal(sem.calls, before) {
			t.Errorf("semaphore calls before the wait\n got %q\nwant %q", sem.calls, before)
		}
		wait()
	}
	want := []string{"get 0xd4d1234 0o3600", "setval 1", "op +1", "op -1 nowait", "wait0 30s", "rmid"}
	if !slices.Equal(sem.calls, want) {
		t.Errorf("semaphore calls\n got %q\nwant %q", sem.calls, want)
	}
	if len(sem.vals) != 0 {
		t.Errorf("semaphores left: %v", sem.vals)
	}
	if w := rec.warnings(); len(w) != 0 {
		t.Errorf("warnings %v", w)
	}
}
