// Package debian is the second tier of the VM test bed: a real Debian 12 system (systemd, udev, LVM,
// kpartx, initramfs-tools and dracut, multipath-tools for comparison) built from Debian packages
// with mmdebstrap, booted under qemu with its own kernel and initramfs, its root disk reached over
// two SCSI paths that a test can pull and replug with QMP while the system runs. The project's
// binaries, systemd unit and the scenario come on a small payload disk at each boot, so the image is
// built once per recipe and machine (see EnsureImage). The scenario runs as a systemd unit after
// multi-user.target and reports on the serial result port in the records of package vm.
package debian

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpathd/mpathd/tests/vm"
)

//go:embed run.sh
var runScript []byte

//go:embed boot.sh
var bootScript []byte

// The root disk's two paths: one qemu block node behind two virtio-scsi controllers at fixed PCI
// slots (so the guest can tell root0 from root1), one scsi-hd on each, with the same WWN and serial.
const (
	rootWWN    = 0x5000c50015ea71ac
	rootWWID   = "naa.5000c50015ea71ac" // what the guest's SCSI layer reads from VPD page 0x83
	rootSerial = "MPATHDROOT0001"
	root0Slot  = 4
	root1Slot  = 5
)

// RootPath is the qdev description of root path i (0 or 1), for -device and QMP device_add.
func RootPath(i int) map[string]any {
	return map[string]any{
		"driver": "scsi-hd", "id": fmt.Sprintf("root%d", i), "bus": fmt.Sprintf("scsi%d.0", i),
		"drive": "root", "wwn": uint64(rootWWN), "serial": rootSerial, "share-rw": true,
		"channel": 0, "scsi-id": 0, "lun": 0,
	}
}

func deviceArg(p map[string]any) string {
	s := fmt.Sprint(p["driver"])
	for _, k := range []string{"id", "bus", "drive", "wwn", "serial", "share-rw", "channel", "scsi-id", "lun"} {
		v := p[k]
		switch v := v.(type) {
		case uint64:
			s += fmt.Sprintf(",%s=0x%x", k, v)
		case bool:
			if v {
				s += "," + k + "=on"
			} else {
				s += "," + k + "=off"
			}
		default:
			s += fmt.Sprintf(",%s=%v", k, v)
		}
	}
	return s
}

// Scenario is one boot of the Debian guest.
type Scenario struct {
	// SAN is loaded as scsi_debug data LUNs by the runner before the script (SAN.None: none).
	SAN vm.SAN
	// Script is the sh run by mpathd-vm-scenario.service after multi-user.target. Helpers: those of
	// package vm (emit, fail, check_eq, wait_for, alua_settled, ...), root_paths ("sdX root0|root1"),
	// root_mounted, root_path_del ID / root_path_add ID (QMP unplug / plug, waiting for the guest
	// to see it), data_paths ("sdX H:C:T:L" of scsi_debug).
	Script string
	// Commands are main packages built statically into the guest (default: mpathd into /usr/sbin,
	// mpathctl into /usr/bin, multipath into /usr/local/sbin with multipathd linked to it, ahead of
	// multipath-tools' own in PATH).
	Commands []string
	// NoMpathd leaves mpathd.service out of the boot (it is still installed, not enabled).
	NoMpathd bool
	// Files are further guest files by absolute path (mode 0644, or 0755 under a bin or sbin
	// directory).
	Files map[string][]byte
	// Timeout bounds the whole boot (default 8 minutes: a loaded 2-core host makes TCG slow).
	Timeout time.Duration
	// Memory in MiB (default 1024).
	Memory int
	// KernelArgs are added to the guest kernel's command line.
	KernelArgs string
	// Console, if set, receives the image build's log (when the cache has no image) and the guest
	// console as it is printed.
	Console io.Writer
}

// Result is what came back: the guest's records and console, and the host's QMP actions.
type Result struct {
	*vm.Result
	// QMP are the host's actions on the guest's requests, in order, as "device_del root1 ok".
	QMP []string
}

// install is where a command's binary goes in the guest, and the names linked to it.
func install(cmd string) (path string, links []string) {
	switch b := filepath.Base(cmd); b {
	case "mpathd":
		return "/usr/sbin/mpathd", nil
	case "multipath":
		return "/usr/local/sbin/multipath", []string{"/usr/local/sbin/multipathd"}
	default:
		return "/usr/bin/" + b, nil
	}
}

// payload builds the small ext4 disk the image's init copies into the system before systemd starts.
func payload(ctx context.Context, dir string, s Scenario) (string, error) {
	tree := filepath.Join(dir, "payload")
	root := filepath.Join(tree, "root")
	put := func(p string, mode os.FileMode, b []byte) error {
		dst := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, mode)
	}
	link := func(p, target string) error {
		dst := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tree, "boot.sh"), bootScript, 0o755); err != nil {
		return "", err
	}
	cmds := s.Commands
	if cmds == nil {
		cmds = []string{"./cmd/mpathd", "./cmd/mpathctl", "./cmd/multipath"}
	}
	for _, c := range cmds {
		bin, err := vm.BuildGo(ctx, c, false)
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(bin)
		if err != nil {
			return "", err
		}
		p, links := install(c)
		if err := put(p, 0o755, b); err != nil {
			return "", err
		}
		for _, l := range links {
			if err := link(l, filepath.Base(p)); err != nil {
				return "", err
			}
		}
	}
	mod, err := vm.ModuleRoot()
	if err != nil {
		return "", err
	}
	unit, err := os.ReadFile(filepath.Join(mod, "configs", "mpathd.service"))
	if err != nil {
		return "", err
	}
	// /usr/lib, not /lib: the image has merged /usr, and cp -a cannot copy a directory over /lib's link.
	if err := put("/usr/lib/systemd/system/mpathd.service", 0o644, unit); err != nil {
		return "", err
	}
	if !s.NoMpathd {
		// What systemctl enable does for the unit's WantedBy=sysinit.target.
		if err := link("/etc/systemd/system/sysinit.target.wants/mpathd.service", "/usr/lib/systemd/system/mpathd.service"); err != nil {
			return "", err
		}
	}
	scenarioUnit := `[Unit]
Description=mpathd VM test bed scenario
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/bin/sh /usr/lib/mpathd-vm/run.sh
StandardOutput=journal+console
StandardError=inherit
TimeoutStartSec=infinity
# A shell's pipelines need the default SIGPIPE (systemd ignores it in services).
IgnoreSIGPIPE=no
`
	if err := put("/etc/systemd/system/mpathd-vm-scenario.service", 0o644, []byte(scenarioUnit)); err != nil {
		return "", err
	}
	if err := link("/etc/systemd/system/multi-user.target.wants/mpathd-vm-scenario.service", "../mpathd-vm-scenario.service"); err != nil {
		return "", err
	}
	var env strings.Builder
	fmt.Fprintf(&env, "ROOT_WWID=%s\nROOT0_SLOT=%d\nROOT1_SLOT=%d\n", rootWWID, root0Slot, root1Slot)
	if p := s.SAN.Params(); p != "" {
		fmt.Fprintf(&env, "SCSI_DEBUG=%q\nEXPECT_PATHS=%d\n", p, s.SAN.Paths())
	}
	for p, b := range map[string][]byte{"lib.sh": vm.GuestLib, "env": []byte(env.String()), "scenario.sh": []byte(s.Script)} {
		if err := put("/usr/lib/mpathd-vm/"+p, 0o644, b); err != nil {
			return "", err
		}
	}
	if err := put("/usr/lib/mpathd-vm/run.sh", 0o755, runScript); err != nil {
		return "", err
	}
	for p, b := range s.Files {
		mode := os.FileMode(0o644)
		if strings.Contains(p, "bin/") {
			mode = 0o755
		}
		if err := put(p, mode, b); err != nil {
			return "", err
		}
	}
	img := filepath.Join(dir, "payload.img")
	// Sized for the static binaries with room to spare; sparse, so the size costs nothing.
	cmd := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-L", "mpathd-vm", "-d", tree, img, "256M")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("debian: payload: mkfs.ext4 -d: %v\n%s (install e2fsprogs)", err, out)
	}
	return img, nil
}

// Boot builds the image if the cache has none, boots it with the scenario's payload and returns
// what the guest reported. The error wraps vm.ErrGuest when the guest ran and a check failed.
func Boot(ctx context.Context, s Scenario) (*Result, error) {
	img, err := EnsureImage(ctx, s.Console)
	if err != nil {
		return nil, err
	}
	work, err := vm.WorkDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(work, "debian-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	pl, err := payload(ctx, dir, s)
	if err != nil {
		return nil, err
	}
	overlay := filepath.Join(dir, "root.qcow2")
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-b", img.Root, "-F", "raw", overlay).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("debian: qemu-img create overlay: %v\n%s (install qemu-utils)", err, out)
	}
	mem := s.Memory
	if mem == 0 {
		mem = 1024
	}
	qmpSock := filepath.Join(dir, "qmp.sock")
	args := []string{
		"-m", fmt.Sprint(mem),
		"-kernel", img.Kernel,
		"-initrd", img.Initrd,
		"-append", strings.TrimSpace(fmt.Sprintf("console=ttyS0 root=UUID=%s rw init=/usr/local/sbin/mpathd-vm-init loglevel=4 panic=-1 mitigations=off no_timer_check systemd.show_status=auto %s", img.RootUUID, s.KernelArgs)),
		"-qmp", "unix:" + qmpSock + ",server=on,wait=off",
		// One block node, two devices: locking off and share-rw so that both may write it.
		"-blockdev", "driver=file,node-name=rootfile,filename=" + overlay + ",locking=off",
		"-blockdev", "driver=qcow2,node-name=root,file=rootfile",
		"-device", fmt.Sprintf("virtio-scsi-pci,id=scsi0,addr=0x%x", root0Slot),
		"-device", fmt.Sprintf("virtio-scsi-pci,id=scsi1,addr=0x%x", root1Slot),
		"-device", deviceArg(RootPath(0)),
		"-device", deviceArg(RootPath(1)),
		"-drive", "if=none,id=payload,file=" + pl + ",format=raw,readonly=on",
		"-device", "virtio-blk-pci,drive=payload,addr=0x6",
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 8 * time.Minute
	}
	h := &requests{sock: qmpSock}
	vres, err := vm.Launch(ctx, vm.Machine{Args: args, Dir: dir, Console: s.Console, Timeout: timeout, While: h.serve})
	res := &Result{Result: vres, QMP: h.done}
	if err != nil {
		return res, err
	}
	f := res.Failures()
	f = append(f, h.errs...)
	if len(f) > 0 || res.Get("exit") != "0" {
		if len(f) == 0 {
			f = []string{"the guest did not report completion"}
		}
		return res, fmt.Errorf("%w: %s", vm.ErrGuest, strings.Join(f, "; "))
	}
	return res, nil
}

// requests acts on the guest's "qmp" records ("device_del root1", "device_add root1") as the
// guest writes them to the result port.
type requests struct {
	sock string
	mu   sync.Mutex
	done []string
	errs []string
}

func (h *requests) serve(ctx context.Context, results string) {
	var q *QMP
	defer func() {
		if q != nil {
			q.Close()
		}
	}()
	var off int64
	var partial []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		f, err := os.Open(results)
		if err != nil {
			continue
		}
		f.Seek(off, 0)
		b, _ := io.ReadAll(f)
		f.Close()
		off += int64(len(b))
		partial = append(partial, b...)
		i := bytes.LastIndexByte(partial, '\n')
		if i < 0 {
			continue
		}
		lines := partial[:i+1]
		partial = append([]byte(nil), partial[i+1:]...)
		for _, r := range vm.ParseRecords(lines) {
			if r.Key != "qmp" {
				continue
			}
			if q == nil {
				dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				q, err = DialQMP(dctx, h.sock)
				cancel()
				if err != nil {
					h.fail(r.Value, err)
					continue
				}
			}
			h.act(ctx, q, r.Value)
		}
	}
}

func (h *requests) fail(req string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs = append(h.errs, fmt.Sprintf("host: qmp %s: %v", req, err))
	h.done = append(h.done, req+" failed")
}

func (h *requests) act(ctx context.Context, q *QMP, req string) {
	verb, id, _ := strings.Cut(req, " ")
	var path int
	switch id {
	case "root0":
		path = 0
	case "root1":
		path = 1
	default:
		h.fail(req, fmt.Errorf("unknown device %q", id))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var err error
	switch verb {
	case "device_del":
		err = q.DeviceDel(ctx, id)
	case "device_add":
		err = q.DeviceAdd(ctx, RootPath(path))
	default:
		err = fmt.Errorf("unknown request %q", verb)
	}
	if err != nil {
		h.fail(req, err)
		return
	}
	h.mu.Lock()
	h.done = append(h.done, fmt.Sprintf("%s ok", req))
	h.mu.Unlock()
}

// Run boots a scenario from a test: it skips unless the VM bed is enabled (MPATHD_VM=1, as vm.Run),
// and fails the test with the console when the scenario fails.
func Run(t testing.TB, s Scenario) *Result {
	t.Helper()
	if !vm.Enabled() {
		t.Skip("VM test bed not enabled (go test -vm, or MPATHD_VM=1)")
	}
	if s.Console == nil && testing.Verbose() && os.Getenv("MPATHD_VM_CONSOLE") == "1" {
		s.Console = os.Stderr
	}
	res, err := Boot(context.Background(), s)
	if err != nil {
		if res != nil && res.Result != nil {
			t.Logf("guest console:\n%s", res.Console)
			if d := res.Get("dmesg"); d != "" {
				t.Logf("guest dmesg (tail):\n%s", d)
			}
		}
		t.Fatalf("vm: %v", err)
	}
	t.Logf("vm: Debian guest under %s: boot and scenario took %v", res.Accel, res.Elapsed.Round(10*time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("guest console:\n%s", res.Console)
		}
	})
	return res
}
