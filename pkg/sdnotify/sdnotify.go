// Package sdnotify tells systemd how the daemon is doing (sd_notify(3)):
// READY=1 after the first assembly of the maps, RELOADING=1 while a SIGHUP
// reconfigure runs, STOPPING=1 on the way out, STATUS= lines a human reads in
// `systemctl status`, and WATCHDOG=1 pings that are only sent while the
// daemon's own loops prove they are making progress.
//
// Without NOTIFY_SOCKET (started by hand, in an initramfs without systemd,
// in tests) every call is a cheap no-op.
package sdnotify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Notifier sends state changes to the service manager. It is safe for
// concurrent use.
type Notifier struct {
	// send delivers one notification; the default dials NOTIFY_SOCKET.
	send func(state string) error
	// watchdog is the WatchdogSec interval, 0 when not watched.
	watchdog time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	status string
}

// New returns a Notifier for the environment systemd gave the process
// (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID). log may be nil.
func New(log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{log: log, send: func(state string) error {
		_, err := daemon.SdNotify(false, state)
		return err
	}}
	wd, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("sdnotify: ignoring the watchdog settings", "err", err)
	}
	n.watchdog = wd
	return n
}

func (n *Notifier) notify(lines ...string) error {
	if err := n.send(strings.Join(lines, "\n")); err != nil {
		return fmt.Errorf("sdnotify: %s: %w", lines[0], err)
	}
	return nil
}

// Ready says the first assembly is done: the maps exist and dependants
// (local-fs, LVM) may start.
func (n *Notifier) Ready(status string) error {
	n.setStatus(status)
	return n.notify(daemon.SdNotifyReady, "STATUS="+status)
}

// Reloading says a reconfigure started; call Ready when it is over. The
// monotonic timestamp lets Type=notify-reload units match the reload.
func (n *Notifier) Reloading(status string) error {
	n.setStatus(status)
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return n.notify(daemon.SdNotifyReloading, "STATUS="+status)
	}
	return n.notify(daemon.SdNotifyReloading, fmt.Sprintf("MONOTONIC_USEC=%d", monotonicUsec(ts)), "STATUS="+status)
}

// monotonicUsec converts ts to microseconds in 64 bits: Timespec's fields are
// 32-bit on 32-bit ports, where seconds × 10^6 wraps after 36 minutes of uptime.
func monotonicUsec(ts unix.Timespec) int64 {
	return int64(ts.Sec)*1_000_000 + int64(ts.Nsec)/1_000
}

// Stopping says shutdown started.
func (n *Notifier) Stopping(status string) error {
	n.setStatus(status)
	return n.notify(daemon.SdNotifyStopping, "STATUS="+status)
}

// Status updates the STATUS= line, only when it changed, so a caller may
// report every loop iteration without flooding the manager.
func (n *Notifier) Status(status string) error {
	if !n.setStatus(status) {
		return nil
	}
	return n.notify("STATUS=" + status)
}

// Errno reports the error the daemon exits with.
func (n *Notifier) Errno(errno int) error {
	return n.notify(fmt.Sprintf("ERRNO=%d", errno))
}

func (n *Notifier) setStatus(s string) (changed bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	changed = n.status != s
	n.status = s
	return changed
}

// WatchdogInterval is WatchdogSec as systemd set it, 0 when not watched.
func (n *Notifier) WatchdogInterval() time.Duration { return n.watchdog }

// Watchdog pings systemd at half the watchdog interval until ctx ends, but
// only when alive returns nil: a daemon whose core is wedged stops pinging
// and is restarted by systemd, while a free-running timer would keep a dead
// daemon "healthy". It returns at once when no watchdog is configured.
func (n *Notifier) Watchdog(ctx context.Context, alive func() error) {
	if n.watchdog <= 0 {
		return
	}
	t := time.NewTicker(n.watchdog / 2)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := alive(); err != nil {
			if !failing {
				n.log.Error("sdnotify: not pinging the watchdog; systemd will restart the daemon unless it recovers",
					"err", err, "watchdog", n.watchdog)
			}
			failing = true
			continue
		}
		if failing {
			n.log.Warn("sdnotify: daemon alive again, watchdog pings resume")
			failing = false
		}
		if err := n.notify(daemon.SdNotifyWatchdog); err != nil {
			n.log.Warn("sdnotify: watchdog ping", "err", err)
		}
	}
}
