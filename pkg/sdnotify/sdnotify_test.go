package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"
)

// fakeSystemd listens where NOTIFY_SOCKET points and returns what arrived.
func fakeSystemd(t *testing.T) func() []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return func() []string {
		var got []string
		buf := make([]byte, 4096)
		for {
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			n, err := c.Read(buf)
			if err != nil {
				return got
			}
			got = append(got, string(buf[:n]))
		}
	}
}

func TestMessages(t *testing.T) {
	read := fakeSystemd(t)
	n := New(nil)
	steps := []func() error{
		func() error { return n.Status("startup") },
		func() error { return n.Status("startup") }, // unchanged: not sent
		func() error { return n.Ready("up: 4 maps, 16 paths") },
		func() error { return n.Reloading("reconfigure") },
		func() error { return n.Ready("up: 5 maps, 20 paths") },
		func() error { return n.Stopping("shutdown") },
		func() error { return n.Errno(5) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	got := read()
	want := []string{
		"STATUS=startup",
		"READY=1\nSTATUS=up: 4 maps, 16 paths",
		"RELOADING=1\nMONOTONIC_USEC=N\nSTATUS=reconfigure",
		"READY=1\nSTATUS=up: 5 maps, 20 paths",
		"STOPPING=1\nSTATUS=shutdown",
		"ERRNO=5",
	}
	for i := range got {
		got[i] = regexp.MustCompile(`MONOTONIC_USEC=[1-9][0-9]*`).ReplaceAllString(got[i], "MONOTONIC_USEC=N")
	}
	if !slices.Equal(got, want) {
		t.Errorf("messages\n got %q\nwant %q", got, want)
	}
}

func TestNoNotifySocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	n := New(nil)
	if err := n.Ready("up"); err != nil {
		t.Fatalf("Ready without systemd: %v", err)
	}
	if n.WatchdogInterval() != 0 {
		t.Fatal("watchdog enabled without WATCHDOG_USEC")
	}
	n.Watchdog(t.Context(), func() error { return nil }) // returns at once
}

func TestGoneSocketIsAnError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone"))
	if err := New(nil).Ready("up"); err == nil || !strings.Contains(err.Error(), "READY=1") {
		t.Fatalf("Ready to a missing socket: %v", err)
	}
}

func TestWatchdogEnvironment(t *testing.T) {
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
	}{
		{"30000000", fmt.Sprint(os.Getpid()), 30 * time.Second},
		{"30000000", "", 30 * time.Second},
		{"30000000", "1", 0}, // meant for another process
		{"", "", 0},
		{"junk", "", 0},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		if got := New(nil).WatchdogInterval(); got != tc.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, want %v", tc.usec, tc.pid, got, tc.want)
		}
	}
}

// The watchdog pings at half the interval while alive says so, stops while it fails (from 12 s to
// 27 s here), and resumes when it recovers.
func TestWatchdogFollowsAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var pings []time.Duration
		start := time.Now()
		n := &Notifier{watchdog: 10 * time.Second, log: New(nil).log, send: func(s string) error {
			if s != "WATCHDOG=1" {
				t.Errorf("sent %q", s)
			}
			mu.Lock()
			pings = append(pings, time.Since(start))
			mu.Unlock()
			return nil
		}}
		alive := func() error {
			if since := time.Since(start); since >= 12*time.Second && since < 27*time.Second {
				return errors.New("a map shard is stuck")
			}
			return nil
		}
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { n.Watchdog(ctx, alive) })
		time.Sleep(32 * time.Second)
		cancel()
		wg.Wait()
		want := []time.Duration{5 * time.Second, 10 * time.Second, 30 * time.Second}
		if !slices.Equal(pings, want) {
			t.Errorf("pings at %v, want %v", pings, want)
		}
	})
}

// The shipped unit passes `systemd-analyze verify` (ExecStart pointed at a
// stand-in binary, since mpathd is not installed here).
func TestUnitFileVerifies(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile("../../configs/mpathd.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID",
		"Restart=on-failure", "DefaultDependencies=no", "Conflicts=", "multipathd.service",
		"local-fs-pre.target", "lvm2-activation-early.service", "lvm2-lvmpolld.socket"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	dir := t.TempDir()
	stub := filepath.Join(dir, "mpathd")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(unit), "/usr/sbin/mpathd", stub)
	path := filepath.Join(dir, "mpathd.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", "--man=no", path).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	// Units the host lacks (lvm2, modprobe@) are not our problem; anything
	// said about our own file is.
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(line, "mpathd.service") {
			t.Errorf("systemd-analyze: %s", line)
		}
	}
	if err != nil && len(strings.TrimSpace(string(out))) == 0 {
		t.Errorf("systemd-analyze verify failed silently: %v", err)
	}
}

// MONOTONIC_USEC past 2^31 µs (36 minutes of uptime) must not wrap where
// Timespec's fields are 32-bit.
func TestMonotonicUsec(t *testing.T) {
	for _, tc := range []struct {
		ts   unix.Timespec
		want int64
	}{
		{unix.Timespec{Sec: 0, Nsec: 1_999}, 1},
		{unix.Timespec{Sec: 2147, Nsec: 483_648_000}, 2_147_483_648},
		{unix.Timespec{Sec: 1_000_000, Nsec: 999_999_999}, 1_000_000_999_999},
	} {
		if got := monotonicUsec(tc.ts); got != tc.want {
			t.Errorf("monotonicUsec(%+v) = %d, want %d", tc.ts, got, tc.want)
		}
	}
}
