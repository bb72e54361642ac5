package vm

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

//go:embed init.sh
var initScript []byte

// GuestLib is the guest shell library both tiers source (emit, fail, check_eq, run_gotest, wait_for,
// san_paths, sd_of, alua_settled); the busybox guest has it at /lib/mpathd-vm/lib.sh.
//
//go:embed lib.sh
var GuestLib []byte

// guestModules are loaded at boot, in dependency order, before scsi_debug. The dm path selectors are
// loaded up front because the guest has no modprobe for the kernel's request_module; so is a second
// device handler (emc, which claims no scsi_debug device), so that a table naming it meets the
// kernel's real retain-the-attached-handler rule rather than a missing module.
var guestModules = []string{"sd_mod", "sg", "scsi_dh_alua", "scsi_dh_emc", "dm_multipath", "dm_round_robin",
	"dm_queue_length", "dm_service_time"}

// hostTools are the dynamically linked programs the guest gets besides busybox, as oracles.
var hostTools = []string{"/usr/sbin/dmsetup", "/usr/bin/fio"}

// kernel describes the host's Debian kernel the guest boots.
type kernel struct {
	release string // 6.1.0-56-amd64
	image   string // /boot/vmlinuz-…
}

func findKernel() (kernel, error) {
	if img := os.Getenv("MPATHD_VM_KERNEL"); img != "" {
		return kernel{release: strings.TrimPrefix(filepath.Base(img), "vmlinuz-"), image: img}, nil
	}
	imgs, _ := filepath.Glob("/boot/vmlinuz-*")
	sort.Strings(imgs)
	for i := len(imgs) - 1; i >= 0; i-- {
		rel := strings.TrimPrefix(filepath.Base(imgs[i]), "vmlinuz-")
		if _, err := os.Stat(filepath.Join("/lib/modules", rel, "modules.dep")); err == nil {
			return kernel{release: rel, image: imgs[i]}, nil
		}
	}
	return kernel{}, fmt.Errorf("no /boot/vmlinuz-* with modules under /lib/modules (install linux-image-amd64)")
}

// moduleDeps resolves modules into an ordered, de-duplicated list of .ko files, dependencies first,
// using the host's modprobe on the guest kernel's modules.dep.
func moduleDeps(k kernel, mods ...string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, m := range mods {
		cmd := exec.Command("modprobe", "-S", k.release, "--show-depends", m)
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("modprobe --show-depends %s for %s: %w", m, k.release, err)
		}
		ko, err := parseShowDepends(b)
		if err != nil {
			return nil, fmt.Errorf("modprobe --show-depends %s: %w", m, err)
		}
		for _, f := range ko {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// parseShowDepends reads "insmod /path/x.ko [args]" lines; "builtin x" lines need nothing.
func parseShowDepends(b []byte) ([]string, error) {
	var ko []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0:
		case f[0] == "builtin":
		case f[0] == "insmod" && len(f) >= 2:
			if strings.HasSuffix(f[1], ".xz") || strings.HasSuffix(f[1], ".zst") || strings.HasSuffix(f[1], ".gz") {
				return nil, fmt.Errorf("compressed module %s: busybox insmod needs plain .ko", f[1])
			}
			ko = append(ko, f[1])
		default:
			return nil, fmt.Errorf("unexpected line %q", sc.Text())
		}
	}
	return ko, nil
}

// sharedLibs lists the libraries a dynamic ELF needs, as ldd resolves them on the host.
func sharedLibs(bin string) ([]string, error) {
	b, err := exec.Command("ldd", bin).Output()
	if err != nil {
		// "not a dynamic executable" (static binaries) exits non-zero: nothing to add.
		return nil, nil
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for _, w := range f {
			if strings.HasPrefix(w, "/") {
				libs = append(libs, w)
				break
			}
		}
	}
	return libs, nil
}

func addDynamic(a *archive, bin string) error {
	if err := a.addHostFile(bin, bin); err != nil {
		return err
	}
	libs, err := sharedLibs(bin)
	if err != nil {
		return err
	}
	for _, l := range libs {
		if err := a.addHostFile(l, l); err != nil {
			return err
		}
	}
	return nil
}

// addHostTree copies a host file or directory to the same path in the guest. Inside a directory,
// symbolic links are kept as links; the named path itself is followed, so "/lib/x" works where /lib
// is a link on the host. ELF files bring the shared libraries ldd names for them.
func addHostTree(a *archive, root string) error {
	src, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("initramfs: add %s: %w", root, err)
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("initramfs: add %s: %w", root, err)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(root, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("initramfs: add %s: %w", p, err)
			}
			a.addLink(dst, t)
		case d.Type().IsRegular():
			if !isELF(p) {
				return a.addHostFile(dst, p)
			}
			if err := a.addHostFile(dst, p); err != nil {
				return err
			}
			libs, err := sharedLibs(p)
			if err != nil {
				return err
			}
			for _, l := range libs {
				if err := a.addHostFile(l, l); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// isELF reports whether the file at p starts with the ELF magic.
func isELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var m [4]byte
	_, err = io.ReadFull(f, m[:])
	return err == nil && string(m[:]) == "\x7fELF"
}

// baseImage holds what every guest shares: busybox, modules, oracle tools, and optionally udev.
type baseImage struct {
	path      string
	modules   []string // .ko paths loaded at boot, in order
	scsiDebug []string // scsi_debug and its dependencies, loaded last with the SAN's parameters
}

var (
	baseMu     sync.Mutex
	baseImages = map[bool]*baseImage{}
)

func buildBase(dir string, k kernel, udev bool) (*baseImage, error) {
	baseMu.Lock()
	defer baseMu.Unlock()
	if b := baseImages[udev]; b != nil {
		return b, nil
	}
	a := newArchive()
	if err := a.addHostFile("/bin/busybox", "/bin/busybox"); err != nil {
		return nil, fmt.Errorf("%w (install busybox-static)", err)
	}
	a.addLink("/bin/sh", "busybox")
	a.addBytes("/init", 0o755, initScript)
	a.addBytes("/lib/mpathd-vm/lib.sh", 0o644, GuestLib)
	a.addCharDev("/dev/console", 5, 1)
	a.addCharDev("/dev/null", 1, 3)
	a.addBytes("/etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"))
	a.addBytes("/etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\ndisk:x:6:\n"))
	for _, t := range hostTools {
		if _, err := os.Stat(t); err != nil {
			continue // optional oracle; scenarios that need it check for it
		}
		if err := addDynamic(a, t); err != nil {
			return nil, err
		}
	}
	mods, err := moduleDeps(k, guestModules...)
	if err != nil {
		return nil, err
	}
	sd, err := moduleDeps(k, "scsi_debug")
	if err != nil {
		return nil, err
	}
	loaded := map[string]bool{}
	for _, m := range mods {
		loaded[m] = true
	}
	var sdOnly []string
	for _, m := range sd {
		if !loaded[m] {
			sdOnly = append(sdOnly, m)
		}
	}
	for _, m := range append(append([]string{}, mods...), sdOnly...) {
		if err := a.addHostFile(m, m); err != nil {
			return nil, err
		}
	}
	if udev {
		if err := addUdev(a); err != nil {
			return nil, err
		}
	}
	name := "base.cpio"
	if udev {
		name = "base-udev.cpio"
	}
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := a.writeTo(w); err != nil {
		f.Close()
		return nil, err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	b := &baseImage{path: p, modules: mods, scsiDebug: sdOnly}
	baseImages[udev] = b
	return b, nil
}

// addUdev copies systemd-udevd, udevadm, the rules and helper programs, so scenarios can compare the
// project's results with what udev computes (ID_SERIAL) and exercise dm udev cookies.
func addUdev(a *archive) error {
	for _, bin := range []string{"/lib/systemd/systemd-udevd", "/bin/udevadm"} {
		if err := addDynamic(a, bin); err != nil {
			return fmt.Errorf("%w (install udev)", err)
		}
	}
	err := filepath.Walk("/lib/udev", func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			a.addLink(p, t)
		case info.Mode().IsRegular():
			if info.Mode()&0o111 != 0 {
				return addDynamic(a, p)
			}
			return a.addHostFile(p, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("initramfs: copy /lib/udev: %w", err)
	}
	a.addLink("/sbin/udevadm", "/bin/udevadm")
	a.addLink("/sbin/dmsetup", "/usr/sbin/dmsetup")
	a.addBytes("/etc/udev/udev.conf", 0o644, []byte("udev_log=err\n"))
	return nil
}

// goBuilds caches static builds of the project's commands and guest test binaries per process.
var goBuilds sync.Map // key string → *goBuild

type goBuild struct {
	once sync.Once
	path string
	err  error
}

// buildGo builds a main package ("./cmd/mpathd") or, with test=true, a package's test binary
// ("./pkg/dm" → dm.test), statically, into dir.
func buildGo(ctx context.Context, dir, pkg string, test bool) (string, error) {
	key := fmt.Sprintf("%v:%s", test, pkg)
	v, _ := goBuilds.LoadOrStore(key, &goBuild{})
	gb := v.(*goBuild)
	gb.once.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			gb.err = err
			return
		}
		name := filepath.Base(pkg)
		var args []string
		if test {
			name += ".test"
			args = []string{"test", "-c", "-o", filepath.Join(dir, name), pkg}
		} else {
			args = []string{"build", "-trimpath", "-o", filepath.Join(dir, name), pkg}
		}
		cmd := exec.CommandContext(ctx, goBin(), args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			gb.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		gb.path = filepath.Join(dir, name)
	})
	return gb.path, gb.err
}

func goBin() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// ModuleRoot finds the directory holding go.mod, so builds work from any test working directory.
func ModuleRoot() (string, error) {
	out, err := exec.Command(goBin(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the mpathd module")
	}
	return filepath.Dir(gomod), nil
}
