package linux

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mpathd/mpathd/internal/daemon"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// results collects what a Monitor delivers, per path.
type results struct {
	mu  sync.Mutex
	got map[string][]daemon.CheckResult
	new chan struct{}
}

func (r *results) deliver(dev string, res daemon.CheckResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[dev] = append(r.got[dev], res)
	select {
	case r.new <- struct{}{}:
	default:
	}
}

// first waits for the first result of dev.
func (r *results) first(t *testing.T, dev string) daemon.CheckResult {
	t.Helper()
	deadline := time.After(30 * time.Second) // far above a check on a missing node; only against a hang
	for {
		r.mu.Lock()
		rs := r.got[dev]
		r.mu.Unlock()
		if len(rs) > 0 {
			return rs[0]
		}
		select {
		case <-r.new:
		case <-deadline:
			t.Fatalf("no check result for %s", dev)
		}
	}
}

// sysTree writes a minimal /sys for paths sdx and sdy (state running) and sdz (state offline).
func sysTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for dev, state := range map[string]string{"sdx": "running", "sdy": "running", "sdz": "offline"} {
		dir := filepath.Join(root, "block", dev, "device")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "state"), []byte(state+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// The monitor checks a new path at once with its checker, rates a usable one with its
// prioritizer, and hands the result over; a path it cannot check is down, not missing.
func TestMonitor(t *testing.T) {
	res := &results{got: map[string][]daemon.CheckResult{}, new: make(chan struct{}, 1)}
	m := NewMonitor(MonitorConfig{PollingInterval: time.Hour, MaxPollingInterval: time.Hour, SysRoot: sysTree(t), DevRoot: t.TempDir()}, res.deliver)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	path := func(name string) sysfs.Path { return sysfs.Path{Name: name, WWID: "w"} }
	for _, tt := range []struct {
		name string
		dev  string
		spec daemon.CheckSpec
		want checker.State
		prio string // prioritizer of a usable path
	}{
		// none only looks at the device state: usable, rated by the configured prioritizer.
		{"none checker, const prio", "sdy", daemon.CheckSpec{Spec: checker.Spec{Checker: checker.NameNone, Prio: checker.PrioNameConst}}, checker.Up, checker.PrioNameConst},
		// An offline device is down before any I/O.
		{"offline device", "sdz", daemon.CheckSpec{Spec: checker.Spec{Checker: "tur"}}, checker.Down, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m.Watch(path(tt.dev), tt.spec)
			r := res.first(t, tt.dev)
			if r.State != tt.want || r.PrioName != tt.prio || r.Reason == "" {
				t.Errorf("%s: %+v, want state %v with a reason, prioritizer %q", tt.dev, r, tt.want, tt.prio)
			}
			if !tt.want.Usable() && r.Prio != checker.PrioUndefined {
				t.Errorf("%s: an unusable path was rated %d", tt.dev, r.Prio)
			}
			m.Unwatch(tt.dev)
		})
	}
}

// A path whose device node cannot be opened is down with the reason, and a configured checker or
// prioritizer that does not exist falls back to tur and to detection instead of leaving the path
// unchecked.
func TestMonitorFallbacks(t *testing.T) {
	res := &results{got: map[string][]daemon.CheckResult{}, new: make(chan struct{}, 1)}
	sys, dev := sysTree(t), t.TempDir()
	m := NewMonitor(MonitorConfig{PollingInterval: time.Hour, MaxPollingInterval: time.Hour, SysRoot: sys, DevRoot: dev}, res.deliver)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// sdy runs but has no node under DevRoot: tur cannot open it.
	m.Watch(sysfs.Path{Name: "sdy", WWID: "w"}, daemon.CheckSpec{Spec: checker.Spec{Checker: "no-such-checker", Prio: "no-such-prio"}, Timeout: time.Second})
	r := res.first(t, "sdy")
	if r.State != checker.Down || r.Reason == "" {
		t.Errorf("unknown checker on a path without a node: %+v, want tur's down with a reason", r)
	}
	m.Unwatch("sdy")
	if !strings.Contains(r.Fallback, `path_checker "no-such-checker" is unknown: using tur`) || r.Checker != checker.NameTUR {
		t.Errorf("unknown checker: checker %q, fallback %q; want tur, named", r.Checker, r.Fallback)
	}
	m.Unwatch("sdy")
	for i, tc := range []struct {
		name     string
		spec     checker.Spec
		state    checker.State
		prio     string
		fallback string
		from     string // CheckerSource/PrioSource
	}{
		{"unknown prioritizer", checker.Spec{Checker: checker.NameNone, Prio: "no-such-prio"}, checker.Up, checker.PrioNameConst,
			`prio no-such-prio: checker: unknown prioritizer "no-such-prio": using const`, "configured/fallback"},
		{"bad prio_args", checker.Spec{Checker: checker.NameNone, Prio: checker.PrioNamePathLatency, PrioArgs: "io_num=1000"}, checker.Up, checker.PrioNameConst,
			"prio path_latency: checker: path_latency: io_num=1000 is outside [2, 200]: using const", "configured/fallback"},
		{"prioritizer fails", checker.Spec{Checker: checker.NameNone, Prio: checker.PrioNameRDAC}, checker.Up, checker.PrioNameRDAC,
			"prio rdac failed", "configured/configured"},
		// sdx is a regular file: SG_IO is not supported, so rdac cannot work and tur takes over.
		{"vendor checker cannot work", checker.Spec{Checker: checker.NameRDAC, Prio: checker.PrioNameConst}, checker.Wild, "",
			"checker rdac cannot check this device", "fallback/configured"},
	} {
		// A path of its own per case (a running device whose node is a regular file, which has no
		// SG_IO), so no result of an earlier case is taken for this one.
		name := fmt.Sprintf("sd%c", 'a'+i)
		if err := os.MkdirAll(filepath.Join(sys, "block", name, "device"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sys, "block", name, "device", "state"), []byte("running\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dev, name), make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
		if tc.spec.Checker == checker.NameRDAC && sgioEmulated(t) {
			t.Logf("%s: skipped: SG_IO is not passed through here (qemu-user answers ENOSYS, a kernel ENOTTY)", tc.name)
			continue
		}
		m.Watch(sysfs.Path{Name: name, WWID: "w"}, daemon.CheckSpec{Spec: tc.spec})
		r := res.first(t, name)
		if r.State != tc.state || r.PrioName != tc.prio || !strings.Contains(r.Fallback, tc.fallback) || r.CheckerSource+"/"+r.PrioSource != tc.from {
			t.Errorf("%s: %+v; want %v, prio %q, fallback %q, sources %s", tc.name, r, tc.state, tc.prio, tc.fallback, tc.from)
		}
		m.Unwatch(name)
	}
}

// sgioEmulated reports whether SG_IO on a regular file fails with ENOSYS, as under qemu-user,
// which does not pass the ioctl through, instead of the kernel's ENOTTY.
func sgioEmulated(t *testing.T) bool {
	file := filepath.Join(t.TempDir(), "probe")
	if err := os.WriteFile(file, make([]byte, 512), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := sgio.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.SGIO([]byte{0, 0, 0, 0, 0, 0}, sgio.DirNone, nil, time.Second)
	return errors.Is(err, syscall.ENOSYS)
}

// lazySG and lazyDirect open the node on first use and drop it after a failure, so an offline
// device's stale fd or a re-added device's old inode is never reused.
func TestLazyDevicesReopenAfterFailure(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sdq")
	if err := os.WriteFile(file, make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := &lazySG{name: filepath.Join(t.TempDir(), "gone")}
	if _, err := missing.SGIO([]byte{0, 0, 0, 0, 0, 0}, sgio.DirNone, nil, time.Second); err == nil {
		t.Errorf("SG_IO on a missing node succeeded")
	}
	if missing.f != nil {
		t.Errorf("a failed open left a file behind")
	}
	// A node that does not do SG_IO at all keeps its fd: reopening it would not change that.
	sg := &lazySG{name: file}
	_, err := sg.SGIO([]byte{0, 0, 0, 0, 0, 0}, sgio.DirNone, nil, time.Second)
	if errors.Is(err, syscall.ENOSYS) {
		t.Skipf("SG_IO is not passed through here (qemu-user answers ENOSYS, a kernel ENOTTY): %v", err)
	}
	if !errors.Is(err, sgio.ErrNotSupported) {
		t.Errorf("SG_IO on a regular file: %v, want ErrNotSupported", err)
	}
	if sg.f == nil {
		t.Errorf("the fd of a node without SG_IO was dropped")
	}
	sg.close()
	if sg.f != nil {
		t.Errorf("close kept the fd")
	}

	d := &lazyDirect{name: file}
	if _, err := d.ReadAt(make([]byte, 3), 1); err == nil { // unaligned: O_DIRECT refuses it, or the open does
		t.Errorf("an unaligned O_DIRECT read succeeded")
	}
	if d.f != nil {
		t.Errorf("the fd of a failed read is kept for the next check")
	}
	d.close()
}
