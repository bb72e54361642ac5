package vm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// initMarker is the first line the guest's init prints; until it appears the boot may be hung.
const initMarker = "@@mpathd-vm: init"

// kvmBootTimeout is how long a KVM boot may take to reach init before it counts as hung. Under TCG
// init is reached in about 5 s on this class of machine; a working KVM is faster still.
const kvmBootTimeout = 30 * time.Second

var (
	accelMu     sync.Mutex
	accelChosen string
)

// accelFor decides between KVM and TCG. MPATHD_VM_ACCEL forces one. Otherwise KVM is tried when
// /dev/kvm opens, and a KVM boot that does not reach init in time is retried under TCG, which is then
// kept for the rest of the process (and remembered on disk for the next run of the same kernel).
func accelFor() (accel string, probing bool) {
	if a := os.Getenv("MPATHD_VM_ACCEL"); a == "kvm" || a == "tcg" {
		return a, false
	}
	if accelChosen != "" {
		return accelChosen, false
	}
	if b, err := os.ReadFile(accelCacheFile()); err == nil {
		if a := strings.TrimSpace(string(b)); a == "kvm" || a == "tcg" {
			accelChosen = a
			return a, false
		}
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		accelChosen = "tcg"
		return "tcg", false
	}
	f.Close()
	return "kvm", true
}

// CacheDir is where the bed keeps what outlives a test process: the accelerator chosen for this
// host and kernel, and the Debian tier's images (tests/vm/debian). It is the user cache directory's
// mpathd folder ($XDG_CACHE_HOME/mpathd, else ~/.cache/mpathd).
func CacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "mpathd")
}

func accelCacheFile() string {
	k, _ := findKernel()
	h, _ := os.Hostname()
	return filepath.Join(CacheDir(), fmt.Sprintf("vm-accel-%s-%s", h, k.release))
}

func rememberAccel(a string) {
	accelChosen = a
	p := accelCacheFile()
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		_ = os.WriteFile(p, []byte(a+"\n"), 0o644)
	}
}

var errBootHang = errors.New("guest did not reach init")

// Machine is one qemu run of a tier of the bed: the machine's own arguments (kernel, initramfs,
// disks, memory), and where its result port goes. Launch adds the accelerator, the console on
// ttyS0 (stdio) and the result port on ttyS1 (a file in Dir, parsed into Result.Records).
type Machine struct {
	Args    []string
	Dir     string
	Console io.Writer
	Timeout time.Duration
	// While, if set, runs beside each qemu attempt with the result file's path; its context ends
	// when that qemu exits. A tier uses it to act on the guest's requests as they are written (QMP).
	While func(ctx context.Context, results string)
}

// launch boots the busybox guest of a scenario.
func launch(ctx context.Context, k kernel, initrd, dir string, s Scenario, timeout time.Duration) (*Result, error) {
	mem := s.Memory
	if mem == 0 {
		mem = 1024
	}
	return Launch(ctx, Machine{
		Args: []string{
			"-m", fmt.Sprint(mem),
			"-kernel", k.image,
			"-initrd", initrd,
			// no_timer_check: on a loaded host a TCG guest can miss the IO-APIC timer test and
			// panic at boot ("IO-APIC + timer doesn't work!"); the check proves nothing about an
			// emulated PC.
			"-append", strings.TrimSpace("console=ttyS0 loglevel=4 panic=-1 rdinit=/init mitigations=off no_timer_check " + s.KernelArgs),
		},
		Dir:     dir,
		Console: s.Console,
		Timeout: timeout,
	})
}

// Launch boots a machine once a guest slot is free (MPATHD_VM_JOBS), choosing the accelerator; it
// holds accelMu while KVM is still being probed so that parallel scenarios do not all pay for a
// hung KVM boot. The guest must print initMarker on its console once its init runs.
func Launch(ctx context.Context, m Machine) (*Result, error) {
	if _, err := work(); err != nil {
		return nil, err
	}
	jobs <- struct{}{}
	defer func() { <-jobs }()
	accelMu.Lock()
	accel, probing := accelFor()
	if !probing {
		accelMu.Unlock()
		return m.qemu(ctx, accel, 0)
	}
	res, err := m.qemu(ctx, "kvm", kvmBootTimeout)
	if err != nil && (res == nil || !strings.Contains(res.Console, initMarker)) {
		// A KVM that opens but cannot run this guest either hangs (caught by kvmBootTimeout) or
		// makes qemu abort; both mean TCG.
		rememberAccel("tcg")
		accelMu.Unlock()
		if m.Console != nil {
			fmt.Fprintf(m.Console, "vm: KVM guest did not reach init (%v); retrying under TCG\n", err)
		}
		return m.qemu(ctx, "tcg", 0)
	}
	rememberAccel("kvm")
	accelMu.Unlock()
	return res, err
}

func (m Machine) qemu(ctx context.Context, accel string, bootTimeout time.Duration) (*Result, error) {
	results := filepath.Join(m.Dir, "results."+accel)
	os.Remove(results)
	args := append([]string{
		"-accel", accel,
		"-cpu", "max",
		"-smp", "2",
		"-display", "none", "-monitor", "none", "-nodefaults", "-no-reboot",
		"-serial", "stdio",
		"-serial", "file:" + results,
	}, m.Args...)
	timeout := m.Timeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Stdin = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start qemu-system-x86_64 (install qemu-system-x86): %w", err)
	}
	var console strings.Builder
	var mu sync.Mutex
	reached := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(out)
		seen := false
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				line = strings.TrimRight(line, "\r\n") + "\n"
				mu.Lock()
				console.WriteString(line)
				mu.Unlock()
				if m.Console != nil {
					io.WriteString(m.Console, line)
				}
				if !seen && strings.Contains(line, initMarker) {
					seen = true
					close(reached)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	if m.While != nil {
		wctx, wcancel := context.WithCancel(ctx)
		wdone := make(chan struct{})
		go func() { defer close(wdone); m.While(wctx, results) }()
		defer func() { wcancel(); <-wdone }()
	}
	var hung bool
	if bootTimeout > 0 {
		select {
		case <-reached:
		case <-done:
		case <-time.After(bootTimeout):
			hung = true
			cancel()
		}
	}
	<-done
	waitErr := cmd.Wait()
	res := &Result{Accel: accel, Elapsed: time.Since(start)}
	mu.Lock()
	res.Console = console.String()
	mu.Unlock()
	if b, err := os.ReadFile(results); err == nil {
		res.Records = ParseRecords(b)
	}
	switch {
	case hung:
		return res, fmt.Errorf("%s: %w within %v", accel, errBootHang, bootTimeout)
	case ctx.Err() != nil:
		return res, fmt.Errorf("vm: scenario timed out after %v under %s", timeout, accel)
	case waitErr != nil:
		return res, fmt.Errorf("vm: qemu: %v", waitErr)
	}
	return res, nil
}
