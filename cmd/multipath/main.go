// Command multipath is multipath-tools' command names, so that a host can
// drop multipath-tools and keep every script, udev rule and management stack
// that calls them. It is one binary, installed as /usr/sbin/multipath,
// /usr/sbin/multipathd and /usr/sbin/mpathpersist, and acts on the name it
// is called by:
//
//   - multipathd COMMAND… / multipathd -k'COMMAND' / multipathd -k: the
//     client of multipathd's socket (served by mpathd), with multipathd's
//     framing, output and exit status. Without a command, `multipathd -d`
//     runs mpathd in the foreground.
//   - multipath -ll|-l [DEV]: the topology read from the kernel and sysfs
//     (works while the daemon is down); -f/-F flush maps (through the daemon,
//     or directly when it is down); -a/-w/-W edit the wwids file; -C/-U check
//     a map's usable paths; -c/-u answer udev's "is this a multipath path?";
//     -t/-T print the configuration; -r asks the daemon to reconfigure.
//   - mpathpersist --in|--out ...: SCSI-3 persistent reservations on a map,
//     sent down its paths, with mpathpersist's options, output and exit
//     statuses (fence_mpath and cluster stacks call it).
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mpathd/mpathd/internal/linux"
	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/bindings"
	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/mpathcompat"
	"github.com/mpathd/mpathd/pkg/sysfs"
	"golang.org/x/sys/unix"
)

// conn is a connection to multipathd's socket (mpathcompat.Client).
type conn interface {
	Do(ctx context.Context, cmd string) (string, error)
	Close() error
}

// env is everything a command touches, so that tests run it against fakes.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	terminal       bool // stdout is a terminal
	euid           int
	getenv         func(string) string

	// dial connects to the daemon's multipathd socket.
	dial func(ctx context.Context) (conn, error)
	// exec replaces the process (syscall.Exec); it returns only on failure.
	exec func(path string, argv, envv []string) error
	// openDM opens device-mapper; close releases it.
	openDM func() (c dm.Control, close func(), err error)
	sys    sysfs.FS
	wwids  string // the wwids file
	// loadConfig loads the daemon's configuration (built-in defaults when
	// there is no file).
	loadConfig func() (*config.Config, error)
	// prober runs path checkers for -ll; nil leaves paths unchecked.
	prober func(cfg *config.Config) prober
	// render prints a topology in multipath -ll's layout.
	render func(w io.Writer, t api.Topology) error
	// dumpConfig prints the effective configuration for -t/-T.
	dumpConfig func(w io.Writer, cfg *config.Config) error
	// daemonEnabled reports whether the daemon is set to start at boot.
	daemonEnabled func() bool
	// statDevice checks that a device argument exists and can be opened.
	statDevice func(path string) error
	// openSG opens a path (kernel name, "sdb") for SCSI commands.
	openSG func(dev string) (sgio.Device, func(), error)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, realEnv(), os.Args)
	stop()
	os.Exit(code)
}

// run dispatches on the name the binary was called by. Called by another
// name (a build output, `go run`), the first argument may name the tool.
func run(ctx context.Context, e *env, argv []string) int {
	name := "multipath"
	if len(argv) > 0 {
		name = filepath.Base(argv[0])
		argv = argv[1:]
	}
	tools := map[string]bool{"multipath": true, "multipathd": true, "mpathpersist": true}
	if !tools[name] && len(argv) > 0 && tools[argv[0]] {
		name, argv = argv[0], argv[1:]
	}
	switch name {
	case "multipathd":
		return runMultipathd(ctx, e, argv)
	case "mpathpersist":
		return runMpathpersist(ctx, e, argv)
	}
	return runMultipath(ctx, e, argv)
}

func realEnv() *env {
	return &env{
		stdin:    os.Stdin,
		stdout:   os.Stdout,
		stderr:   os.Stderr,
		terminal: isTerminal(os.Stdout),
		euid:     os.Geteuid(),
		getenv:   os.Getenv,
		dial: func(ctx context.Context) (conn, error) {
			c, err := mpathcompat.Dial(ctx, "")
			if err != nil {
				return nil, err
			}
			// multipathd's client waits uxsock_timeout plus 100 ms.
			c.Timeout = mpathcompat.DefaultTimeout + 100*time.Millisecond
			return c, nil
		},
		exec: syscall.Exec,
		openDM: func() (dm.Control, func(), error) {
			c, err := dm.Open(dm.Options{ManageNodes: true, UdevWait: true, UdevTimeout: 10 * time.Second})
			if err != nil {
				return nil, nil, err
			}
			return c, func() { c.Close() }, nil
		},
		sys:           sysfs.New("/").WithInquirer(linux.Inquirer{}),
		wwids:         bindings.DefaultWWIDsPath,
		loadConfig:    func() (*config.Config, error) { return config.LoadOptional(config.DefaultPath) },
		prober:        newKernelProber,
		render:        mpathcompat.RenderTopology,
		dumpConfig:    dumpConfig,
		daemonEnabled: daemonEnabled,
		statDevice: func(path string) error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			return f.Close()
		},
		openSG: func(dev string) (sgio.Device, func(), error) {
			f, err := sgio.Open(filepath.Join("/dev", dev))
			if err != nil {
				return nil, nil, err
			}
			return f, func() { f.Close() }, nil
		},
	}
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// daemonEnabled reports whether systemd will start the daemon: its unit is
// wanted by some target.
func daemonEnabled() bool {
	for _, dir := range []string{"/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"} {
		m, _ := filepath.Glob(filepath.Join(dir, "*.wants", "mpathd.service"))
		if len(m) > 0 {
			return true
		}
	}
	return false
}
