package debian

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mpathd/mpathd/tests/vm"
)

// buildScript is the image's whole recipe: package list, mmdebstrap options, customisation.
//
//go:embed build.sh
var buildScript []byte

// Image is a built Debian guest in the cache.
type Image struct {
	Dir      string // cache entry
	Kernel   string // vmlinuz for -kernel
	Initrd   string // the image's initramfs-tools initramfs for -initrd
	Root     string // raw ext4 root file system (never written: each boot writes to an overlay)
	RootUUID string
	Release  string        // the guest kernel's release
	Build    time.Duration // how long mmdebstrap and mkfs took when the entry was made
}

// mmdebstrapVersion is a seam for tests: the version of the tool that runs the recipe.
var mmdebstrapVersion = func() ([]byte, error) {
	out, err := exec.Command("mmdebstrap", "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("debian image: mmdebstrap --version: %w (make deps installs mmdebstrap)", err)
	}
	return out, nil
}

// recipeKey hashes what decides the image's content: the build script (package list and
// customisation) and the mmdebstrap version that runs it.
func recipeKey(script []byte) (string, error) {
	v, err := mmdebstrapVersion()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(script)
	h.Write([]byte{0})
	h.Write(bytes.TrimSpace(v))
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

var (
	imageMu  sync.Mutex
	imageHit *Image
)

// EnsureImage returns the cached image for the current recipe, building it first when the cache has
// none. Concurrent builders (test processes, CI jobs on one machine) serialise on a lock file, and
// a build goes to a temporary directory renamed into place only when complete, so a killed build
// never leaves a half image under the real name. The build log goes to log.
func EnsureImage(ctx context.Context, log io.Writer) (*Image, error) {
	imageMu.Lock()
	defer imageMu.Unlock()
	if imageHit != nil {
		return imageHit, nil
	}
	img, err := ensure(ctx, vm.CacheDir(), buildScript, true, log)
	if err != nil {
		return nil, err
	}
	imageHit = img
	return img, nil
}

// ensure finds or builds the image of script in cache; the real recipe needs root to build.
func ensure(ctx context.Context, cache string, script []byte, needRoot bool, log io.Writer) (*Image, error) {
	key, err := recipeKey(script)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("debian image: %w", err)
	}
	dir := filepath.Join(cache, "debian12-"+key)
	if img, err := loadImage(dir); err == nil {
		return img, nil
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("debian image: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("debian image: lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if img, err := loadImage(dir); err == nil { // built by another process while we waited
		return img, nil
	}
	// The real recipe runs mmdebstrap --mode=root and chroot: as root, or through sudo without a
	// password (as make deps installs packages); the tree is then given back to the user.
	var sudo []string
	if needRoot && os.Geteuid() != 0 {
		if exec.CommandContext(ctx, "sudo", "-n", "true").Run() != nil {
			return nil, fmt.Errorf("debian image: building %s needs root (mmdebstrap --mode=root, chroot): run as root or with password-less sudo", dir)
		}
		sudo = []string{"sudo", "-n"}
	}
	tmp, err := os.MkdirTemp(cache, "debian12-"+key+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("debian image: %w", err)
	}
	defer os.RemoveAll(tmp)
	logf, err := os.Create(filepath.Join(tmp, "build.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	w := io.Writer(logf)
	if log != nil {
		w = io.MultiWriter(logf, log)
	}
	start := time.Now()
	argv := append(sudo, "env", "LC_ALL=C.UTF-8", "sh", "-c", string(script), "build.sh", tmp)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Run()
	if sudo != nil {
		own := append(sudo, "chown", "-R", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()), tmp)
		if out, cerr := exec.CommandContext(ctx, own[0], own[1:]...).CombinedOutput(); cerr != nil && err == nil {
			err = fmt.Errorf("chown: %v: %s", cerr, out)
		}
	}
	if err != nil {
		tail, _ := os.ReadFile(logf.Name())
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		return nil, fmt.Errorf("debian image: build.sh: %v\n%s", err, tail)
	}
	took := time.Since(start)
	if err := os.WriteFile(filepath.Join(tmp, "build-seconds"), []byte(fmt.Sprintf("%.0f\n", took.Seconds())), 0o644); err != nil {
		return nil, err
	}
	if _, err := loadImage(tmp); err != nil {
		return nil, fmt.Errorf("debian image: build.sh left no complete image: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("debian image: %w", err)
	}
	pruneOld(cache, dir)
	return loadImage(dir)
}

// loadImage reads a complete cache entry; a missing file means there is none.
func loadImage(dir string) (*Image, error) {
	img := &Image{Dir: dir, Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd.img"), Root: filepath.Join(dir, "root.img")}
	for _, p := range []string{img.Kernel, img.Initrd, img.Root} {
		if _, err := os.Stat(p); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"root-uuid", &img.RootUUID}, {"release", &img.Release}} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return nil, err
		}
		*f.v = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "build-seconds")); err == nil {
		var s int
		fmt.Sscan(string(b), &s)
		img.Build = time.Duration(s) * time.Second
	}
	return img, nil
}

// pruneOld removes the entries of earlier recipes (about 800 MB each), not their lock files or
// builds in progress.
func pruneOld(cache, keep string) {
	old, _ := filepath.Glob(filepath.Join(cache, "debian12-*"))
	for _, p := range old {
		if p == keep || strings.Contains(filepath.Base(p), ".") {
			continue
		}
		os.RemoveAll(p)
	}
}
