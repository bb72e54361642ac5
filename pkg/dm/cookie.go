package dm

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"golang.org/x/sys/unix"
)

// libdevmapper's udev synchronisation (KI §1.10): a resume, remove or
// rename that should be waited for carries a cookie whose low 16 bits are
// the base of a SysV semaphore keyed cookieMagic<<16|base. The caller
// holds the semaphore at 1 and adds 1 per ioctl that generates a uevent;
// udev's 95-dm-notify.rules runs "dmsetup udevcomplete $DM_COOKIE" after
// the other rules, which takes 1 off. The caller then takes its own 1 off
// and waits for zero: at zero every uevent of the cookie has been through
// the rules, so /dev/mapper links and the udev database are up to date.

// cookieMagic is DM_COOKIE_MAGIC, the high half of every semaphore key.
const cookieMagic = 0x0D4D

// DefaultUdevTimeout bounds a wait for udev when Options.UdevTimeout is 0.
const DefaultUdevTimeout = 30 * time.Second

// ErrUdevTimeout means udev did not finish with an event in time. The dm
// operation itself succeeded; only the udev side (links, database) may lag.
var ErrUdevTimeout = errors.New("timed out waiting for udev")

// createAttempts bounds the search for a free semaphore key; libdevmapper
// retries for ever, but 64 collisions in a 16-bit space mean something
// else is wrong.
const createAttempts = 64

// sembuf is struct sembuf: one semaphore operation.
type sembuf struct {
	num uint16 // sem_num
	op  int16  // sem_op: >0 add, <0 take (blocks below 0), 0 wait for zero
	flg int16  // sem_flg: IPC_NOWAIT
}

// semaphores is the seam between the cookie protocol and the SysV
// semaphore syscalls; tests use a fake that plays udev.
type semaphores interface {
	// get is semget(key, 1, flags).
	get(key int32, flags int) (id int, err error)
	// setVal is semctl(id, 0, SETVAL, val).
	setVal(id, val int) error
	// op is semop(id, &b, 1), or semtimedop with timeout when it is
	// positive; an interrupted call resumes with the time that is left,
	// and a timeout reports unix.EAGAIN.
	op(id int, b sembuf, timeout time.Duration) error
	// remove is semctl(id, 0, IPC_RMID).
	remove(id int) error
}

// udevCookie is one cookie semaphore, made for one ioctl.
type udevCookie struct {
	id   int
	base uint16
}

// key is the semaphore's SysV key (and the cookie udevcomplete rebuilds).
func (u *udevCookie) key() uint32 { return cookieMagic<<16 | uint32(u.base) }

// newUdevCookie creates a semaphore with a random free key and sets it
// to 1, the caller's own hold.
func newUdevCookie(sem semaphores, random func() uint16) (*udevCookie, error) {
	for range createAttempts {
		base := random()
		if base == 0 {
			continue // base 0 means "flags only" to udevcomplete
		}
		u := &udevCookie{base: base}
		id, err := sem.get(int32(u.key()), unix.IPC_CREAT|unix.IPC_EXCL|0o600)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("create semaphore %#x: %w", u.key(), err)
		}
		u.id = id
		if err := sem.setVal(id, 1); err != nil {
			return nil, errors.Join(fmt.Errorf("init semaphore %#x: %w", u.key(), err), u.destroy(sem))
		}
		return u, nil
	}
	return nil, fmt.Errorf("create semaphore: no free key in %d attempts", createAttempts)
}

func (u *udevCookie) destroy(sem semaphores) error {
	if err := sem.remove(u.id); err != nil {
		return fmt.Errorf("remove semaphore %#x: %w", u.key(), err)
	}
	return nil
}

// inc adds the hold for one uevent that udev will complete.
func (u *udevCookie) inc(sem semaphores) error {
	if err := sem.op(u.id, sembuf{op: 1}, 0); err != nil {
		return fmt.Errorf("increment semaphore %#x: %w", u.key(), err)
	}
	return nil
}

// dec takes one hold off; it never blocks, as every hold it takes is one
// the caller put there.
func (u *udevCookie) dec(sem semaphores) error {
	if err := sem.op(u.id, sembuf{op: -1, flg: unix.IPC_NOWAIT}, 0); err != nil {
		return fmt.Errorf("decrement semaphore %#x: %w", u.key(), err)
	}
	return nil
}

// wait drops the caller's hold, waits up to timeout for udev to complete
// every event, and removes the semaphore whatever happened, so a timeout
// leaves nothing behind (a late udevcomplete then fails harmlessly).
func (u *udevCookie) wait(sem semaphores, timeout time.Duration) error {
	err := u.dec(sem)
	if err == nil {
		err = sem.op(u.id, sembuf{op: 0}, timeout)
		switch {
		case errors.Is(err, unix.EAGAIN):
			err = fmt.Errorf("semaphore %#x after %v: %w", u.key(), timeout, ErrUdevTimeout)
		case errors.Is(err, unix.EIDRM):
			// Someone removed it (an admin's ipcrm): nothing left to wait for.
			return nil
		case err != nil:
			err = fmt.Errorf("wait on semaphore %#x: %w", u.key(), err)
		}
	}
	return errors.Join(err, u.destroy(sem))
}

// randomBase draws a semaphore base; the key space is shared with every
// libdevmapper user on the host, so it must not be predictable per boot.
func randomBase() uint16 { return uint16(rand.Uint32()) }

// udevSync is one cookie-carrying ioctl in progress.
type udevSync struct {
	eventNr uint32
	cookie  *udevCookie // nil: flags only, nothing to wait for
}

// beginUdev builds the event_nr for a resume, remove or rename. With
// Options.UdevWait and udev running it creates a cookie semaphore holding
// one count for the ioctl's uevent; if that fails the operation goes on
// with a flags-only cookie and the failure is logged.
func (c *Client) beginUdev(op, name string, flags UdevFlags) udevSync {
	flags |= UdevPrimarySource
	running := c.opts.UdevRunning()
	if running {
		flags |= UdevDisableLibraryFallback
	}
	s := udevSync{eventNr: Cookie(flags)}
	if !running || !c.opts.UdevWait {
		return s
	}
	u, err := newUdevCookie(c.sem, c.random)
	if err == nil {
		if err = u.inc(c.sem); err != nil {
			err = errors.Join(err, u.destroy(c.sem))
		}
	}
	if err != nil {
		c.log.Warn("dm: not waiting for udev", "op", op, "device", name, "err", err)
		return s
	}
	s.cookie = u
	s.eventNr |= uint32(u.base)
	return s
}

// endUdev finishes the cookie after the ioctl: if the kernel sent no
// uevent (the ioctl failed, a resume of a running device, a remove that
// was only deferred) the ioctl's count is taken back, then it waits for
// udev. Failures are logged, never returned: the dm operation is done.
func (c *Client) endUdev(s udevSync, op, name string, rh header, ioctlErr error) {
	c.deferUdev(s, op, name, rh, ioctlErr)()
}

// deferUdev is endUdev with the wait left to the returned function: the ioctl's count is settled at
// once, the wait for udev (and the semaphore's removal) when the function runs.
func (c *Client) deferUdev(s udevSync, op, name string, rh header, ioctlErr error) func() {
	if s.cookie == nil {
		return func() {}
	}
	var err error
	if ioctlErr != nil || rh.Flags&flagUeventGenerated == 0 {
		err = s.cookie.dec(c.sem)
	}
	if err != nil {
		err = errors.Join(err, s.cookie.destroy(c.sem))
		return func() { c.udevDone(s, op, name, 0, err) }
	}
	return func() {
		start := time.Now()
		err := s.cookie.wait(c.sem, c.opts.udevTimeout())
		c.udevDone(s, op, name, time.Since(start), err)
	}
}

func (c *Client) udevDone(s udevSync, op, name string, waited time.Duration, err error) {
	if err != nil {
		c.log.Warn("dm: udev did not confirm the event", "op", op, "device", name, "cookie", fmt.Sprintf("%#x", s.eventNr), "waited", waited, "err", err)
		return
	}
	c.log.Debug("dm: udev confirmed the event", "op", op, "device", name, "cookie", fmt.Sprintf("%#x", s.eventNr), "waited", waited)
}

func (o Options) udevTimeout() time.Duration {
	if o.UdevTimeout > 0 {
		return o.UdevTimeout
	}
	return DefaultUdevTimeout
}
