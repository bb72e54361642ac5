package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(good, []byte("[defaults]\npolling_interval = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("[defaults]\nno_such_key = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	warn := filepath.Join(dir, "warn.toml")
	if err := os.WriteFile(warn, []byte("[defaults]\nrr_min_io_rq = 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file     string
		ok       bool
		mentions string
	}{
		{good, true, "valid"},
		{bad, false, "no_such_key"},
		{filepath.Join(dir, "missing.toml"), false, "missing.toml"},
		{warn, true, "warning: " + warn + ":2: defaults.rr_min_io_rq: not implemented by mpathd"},
	} {
		var out, errb bytes.Buffer
		rc := run([]string{"--check", "--config", tt.file}, &out, &errb)
		if (rc == 0) != tt.ok {
			t.Errorf("--check %s: exit %d, want ok=%v (stderr %q)", tt.file, rc, tt.ok, errb.String())
		}
		if got := out.String() + errb.String(); !strings.Contains(got, tt.mentions) {
			t.Errorf("--check %s: output %q does not mention %q", tt.file, got, tt.mentions)
		}
	}
}

// Scenario 17: an event source that ends while the daemon runs (the uevent socket failed, the dm
// event watcher died) must stop the daemon with an error naming it, so systemd restarts it,
// instead of leaving it running blind.
func TestSuperviseStopsWhenAnEventSourceEnds(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{{"uevent listener", nil}, {"dm event watcher", errors.New("poll: EBADF")}} {
		ctx, cancel := context.WithCancel(context.Background())
		runErr := make(chan error, 1)
		go func() { <-ctx.Done(); runErr <- nil }() // Run returns once stopped
		exits := make(chan pumpExit, 1)
		exits <- pumpExit{name: tt.name, err: tt.err}
		err := supervise(ctx, cancel, runErr, exits)
		if err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s ended (%v): supervise returned %v, want an error naming it", tt.name, tt.err, err)
		}
		if ctx.Err() == nil {
			t.Errorf("%s ended: the daemon was not stopped", tt.name)
		}
		cancel()
	}
	// A clean stop (SIGTERM) ends the sources with the context: no error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	runErr := make(chan error, 1)
	runErr <- nil
	exits := make(chan pumpExit, 1)
	exits <- pumpExit{name: "uevent listener"}
	if err := supervise(ctx, cancel, runErr, exits); err != nil {
		t.Errorf("clean stop: %v", err)
	}
}
