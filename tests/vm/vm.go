package vm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var vmFlag = flag.Bool("vm", false, "run the VM test bed scenarios (or set MPATHD_VM=1)")

// Enabled reports whether VM scenarios run in this test process.
func Enabled() bool {
	return *vmFlag || os.Getenv("MPATHD_VM") == "1"
}

// SAN is the simulated storage network: a scsi_debug module load.
type SAN struct {
	Hosts int    // scsi_debug add_host; every host is one path to each LUN (default 2)
	LUNs  int    // LUNs per target (max_luns; default 4)
	Extra string // further scsi_debug parameters, e.g. "dsense=1"
	None  bool   // load no scsi_debug at all
}

// Paths is how many sd devices the SAN should show.
func (s SAN) Paths() int {
	if s.None {
		return 0
	}
	h, l := s.Hosts, s.LUNs
	if h == 0 {
		h = 2
	}
	if l == 0 {
		l = 4
	}
	return h * l
}

// Params are scsi_debug's module parameters for the SAN ("" for None).
func (s SAN) Params() string {
	if s.None {
		return ""
	}
	h, l := s.Hosts, s.LUNs
	if h == 0 {
		h = 2
	}
	if l == 0 {
		l = 4
	}
	p := fmt.Sprintf("add_host=%d num_tgts=1 max_luns=%d vpd_use_hostno=0 dev_size_mb=16", h, l)
	if s.Extra != "" {
		p += " " + s.Extra
	}
	return p
}

// Scenario is one boot of the guest: a SAN, the programs to put in it, and a script to run.
type Scenario struct {
	SAN  SAN
	Udev bool // start systemd-udevd and trigger coldplug before the script
	// UdevLater puts udev in the guest without starting it: the script calls start_udev when it
	// wants it (a large SAN is found faster without udev, whose coldplug under TCG is slow).
	UdevLater bool

	// Commands are main packages built statically into /bin (e.g. "./cmd/mpathd").
	Commands []string
	// GuestTests are packages whose test binaries go into /bin as <base>.test (e.g. "./pkg/dm" →
	// /bin/dm.test). Their TestGuest* functions call guest.Require and run against the real kernel.
	GuestTests []string
	// WantPass names the guest tests the script's run_gotest calls must see pass, as "BIN TestName"
	// with BIN the binary's base name (e.g. "dm.test TestGuestDM"). The scenario fails when one of
	// them did not report PASS, or when a binary ran under run_gotest has none of its tests named
	// here; a binary that ran no test, or a test that skipped, fails it in the guest already.
	WantPass []string
	// Files are extra guest files by absolute path.
	Files map[string][]byte
	// HostTools are further dynamically linked host programs (e.g. "/sbin/multipathd"), copied to the
	// same path in the guest with the shared libraries ldd names for them, as dmsetup and fio are.
	HostTools []string
	// HostFiles are host files or whole directories copied to the same path in the guest as they
	// are (symbolic links inside a directory stay links); every ELF file among them also brings the
	// shared libraries ldd names for it, so dlopen'ed plugins find theirs.
	HostFiles []string
	// Script is the busybox sh run as root once the SAN is up. Helpers: emit KEY VALUE, fail MSG,
	// check_eq NAME GOT WANT, run_gotest BIN [ARGS] (see WantPass), wait_for SECS CMD..., san_paths,
	// sd_of H:C:T:L.
	Script string
	// Timeout bounds the whole boot (default 3 minutes).
	Timeout time.Duration
	// Console, if set, receives the guest console as it is printed.
	Console io.Writer
	// Memory in MiB (default 1024).
	Memory int
	// Modules are further kernel modules (e.g. "veth"), loaded with their dependencies at boot
	// after the base ones and before the SAN.
	Modules []string
	// ISCSI puts an iSCSI SAN kit in the guest: the LIO target, open-iscsi's iscsid and iscsiadm,
	// iproute2's ip, veth and the iscsi.sh library (iscsi_san, iscsi_link, iscsi_portal, …; see
	// iscsi.sh), sourced before the script. The script builds the SAN with iscsi_san.
	ISCSI bool
	// KernelArgs are added to the guest kernel's command line.
	KernelArgs string
}

// Result is what came back from a guest.
type Result struct {
	Console string
	Records []Record
	Accel   string        // "kvm" or "tcg"
	Elapsed time.Duration // qemu start to power-off
}

// Record is one value the guest emitted.
type Record struct{ Key, Value string }

// Get returns the last value emitted under key, or "".
func (r *Result) Get(key string) string {
	for i := len(r.Records) - 1; i >= 0; i-- {
		if r.Records[i].Key == key {
			return r.Records[i].Value
		}
	}
	return ""
}

// All returns every value emitted under key, in order.
func (r *Result) All(key string) []string {
	var v []string
	for _, rec := range r.Records {
		if rec.Key == key {
			v = append(v, rec.Value)
		}
	}
	return v
}

// Failures are the messages of the script's fail calls.
func (r *Result) Failures() []string { return r.All("fail") }

// ParseRecords decodes the guest's result channel ("= KEY line", "+ KEY line").
func ParseRecords(b []byte) []Record {
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if len(line) < 2 || line[1] != ' ' {
			continue
		}
		rest := line[2:]
		key, val, _ := strings.Cut(rest, " ")
		switch line[0] {
		case '=':
			recs = append(recs, Record{Key: key, Value: val})
		case '+':
			if n := len(recs); n > 0 && recs[n-1].Key == key {
				recs[n-1].Value += "\n" + val
			}
		}
	}
	return recs
}

// ErrGuest is wrapped by Boot's error when the guest ran but the scenario failed.
var ErrGuest = errors.New("scenario failed in the guest")

var (
	workOnce sync.Once
	workDir  string
	workErr  error
	jobs     chan struct{}
)

func work() (string, error) {
	workOnce.Do(func() {
		workDir, workErr = os.MkdirTemp("", "mpathd-vm-")
		n := runtime.NumCPU()
		if v, err := strconv.Atoi(os.Getenv("MPATHD_VM_JOBS")); err == nil && v > 0 {
			n = v
		}
		jobs = make(chan struct{}, n)
	})
	return workDir, workErr
}

// WorkDir is this test process's scratch directory (removed by no one: it is under the system's
// temporary directory).
func WorkDir() (string, error) { return work() }

// BuildGo builds a main package ("./cmd/mpathd") or, with test=true, a package's test binary
// ("./pkg/dm" → dm.test), statically, once per process, and returns its path.
func BuildGo(ctx context.Context, pkg string, test bool) (string, error) {
	dir, err := work()
	if err != nil {
		return "", err
	}
	return buildGo(ctx, dir, pkg, test)
}

// Boot runs a scenario and returns what the guest reported. The error wraps ErrGuest when the guest
// ran and a check failed, and is otherwise about the harness (build, qemu, timeout).
func Boot(ctx context.Context, s Scenario) (*Result, error) {
	dir, err := work()
	if err != nil {
		return nil, err
	}
	k, err := findKernel()
	if err != nil {
		return nil, err
	}
	base, err := buildBase(dir, k, s.Udev || s.UdevLater)
	if err != nil {
		return nil, err
	}
	a := newArchive()
	var env strings.Builder
	fmt.Fprintf(&env, "MODULES=%q\n", strings.Join(base.modules, " "))
	if p := s.SAN.Params(); p != "" {
		fmt.Fprintf(&env, "SCSI_DEBUG=%q\nSCSI_DEBUG_KO=%q\nEXPECT_PATHS=%d\n", p, base.scsiDebug[len(base.scsiDebug)-1], s.SAN.Paths())
		fmt.Fprintf(&env, "MODULES=\"$MODULES %s\"\n", strings.Join(base.scsiDebug[:len(base.scsiDebug)-1], " "))
	}
	if s.Udev {
		env.WriteString("UDEV=1\n")
	}
	if s.ISCSI {
		s.Modules = append(slices.Clone(s.Modules), iscsiModules...)
		s.HostTools = append(slices.Clone(s.HostTools), iscsiTools...)
		a.addBytes("/lib/mpathd-vm/iscsi.sh", 0o644, iscsiLib)
		env.WriteString("ISCSI_LIB=/lib/mpathd-vm/iscsi.sh\n")
	}
	if len(s.Modules) > 0 {
		mods, err := moduleDeps(k, s.Modules...)
		if err != nil {
			return nil, err
		}
		var extra []string
		for _, m := range mods {
			if !slices.Contains(base.modules, m) && !slices.Contains(base.scsiDebug, m) {
				extra = append(extra, m)
				if err := a.addHostFile(m, m); err != nil {
					return nil, err
				}
			}
		}
		fmt.Fprintf(&env, "MODULES=\"$MODULES %s\"\n", strings.Join(extra, " "))
	}
	a.addBytes("/scenario/env", 0o644, []byte(env.String()))
	a.addBytes("/scenario/script.sh", 0o755, []byte(s.Script))
	for _, c := range s.Commands {
		p, err := buildGo(ctx, dir, c, false)
		if err != nil {
			return nil, err
		}
		if err := a.addHostFile("/bin/"+filepath.Base(p), p); err != nil {
			return nil, err
		}
	}
	for _, t := range s.GuestTests {
		p, err := buildGo(ctx, dir, t, true)
		if err != nil {
			return nil, err
		}
		if err := a.addHostFile("/bin/"+filepath.Base(p), p); err != nil {
			return nil, err
		}
	}
	for _, t := range s.HostTools {
		if err := addDynamic(a, t); err != nil {
			return nil, err
		}
	}
	for _, f := range s.HostFiles {
		if err := addHostTree(a, f); err != nil {
			return nil, err
		}
	}
	for p, b := range s.Files {
		a.addBytes(p, 0o755, b)
	}
	run, err := os.MkdirTemp(dir, "run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(run)
	initrd := filepath.Join(run, "initrd.cpio")
	if err := writeInitrd(initrd, base.path, a); err != nil {
		return nil, err
	}

	timeout := s.Timeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	res, err := launch(ctx, k, initrd, run, s, timeout)
	if err != nil {
		return res, err
	}
	f := res.Failures()
	if err := checkGuestTests(res, s.WantPass); err != nil {
		f = append(f, err.Error())
	}
	if len(f) > 0 || res.Get("exit") != "0" {
		if len(f) == 0 {
			f = []string{"the guest did not report completion"}
		}
		return res, fmt.Errorf("%w: %s", ErrGuest, strings.Join(f, "; "))
	}
	return res, nil
}

// checkGuestTests matches the verdicts run_gotest reported with the tests the scenario names: each
// named test passed, no test failed or skipped, and every binary that ran has a named test, so a
// scenario cannot pass on a test binary whose pattern matched nothing it meant.
func checkGuestTests(res *Result, want []string) error {
	verdict := map[string]string{} // "BIN TestName" → last verdict
	ran := map[string]bool{}       // binaries that reported a verdict
	var errs []string
	for _, r := range res.All("gotest.result") {
		f := strings.Fields(r)
		if len(f) != 3 {
			errs = append(errs, fmt.Sprintf("malformed guest test verdict %q", r))
			continue
		}
		verdict[f[0]+" "+f[1]] = f[2]
		ran[f[0]] = true
		if f[2] != "PASS" {
			errs = append(errs, fmt.Sprintf("guest test %s %s: %s", f[0], f[1], f[2]))
		}
	}
	for _, g := range res.All("gotest") {
		bin, _, _ := strings.Cut(g, " ")
		ran[filepath.Base(bin)] = true
	}
	named := map[string]bool{}
	for _, w := range want {
		bin, _, _ := strings.Cut(w, " ")
		named[bin] = true
		if v := verdict[w]; v != "PASS" {
			if v == "" {
				v = "did not run"
			}
			errs = append(errs, fmt.Sprintf("guest test %s: %s, want PASS", w, v))
		}
	}
	bins := make([]string, 0, len(ran))
	for b := range ran {
		bins = append(bins, b)
	}
	slices.Sort(bins)
	for _, b := range bins {
		if !named[b] {
			errs = append(errs, fmt.Sprintf("%s ran in the guest but the scenario's WantPass names none of its tests", b))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

// writeInitrd concatenates the shared base archive and the scenario's own archive; the kernel
// unpacks both into one rootfs.
func writeInitrd(dst, base string, a *archive) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	bf, err := os.Open(base)
	if err != nil {
		return err
	}
	defer bf.Close()
	if _, err := io.Copy(f, bf); err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := a.writeTo(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// Run boots a scenario from a test. It skips unless VM tests are enabled, and fails the test with the
// console log and the guest's dmesg tail when the scenario fails.
func Run(t testing.TB, s Scenario) *Result {
	t.Helper()
	if !Enabled() {
		t.Skip("VM test bed not enabled (go test -vm, or MPATHD_VM=1)")
	}
	if s.Console == nil && testing.Verbose() && os.Getenv("MPATHD_VM_CONSOLE") == "1" {
		s.Console = os.Stderr
	}
	res, err := Boot(context.Background(), s)
	if err != nil {
		if res != nil {
			t.Logf("guest console:\n%s", res.Console)
			if d := res.Get("dmesg"); d != "" {
				t.Logf("guest dmesg (tail):\n%s", d)
			}
		}
		t.Fatalf("vm: %v", err)
	}
	t.Logf("vm: %s boot and scenario took %v", res.Accel, res.Elapsed.Round(10*time.Millisecond))
	// The console carries the scenario's diagnostics (logs it prints rather than emits): show it when
	// one of the test's own assertions fails.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("guest console:\n%s", res.Console)
		}
	})
	return res
}
