// Command mpathctl inspects and controls a running mpathd through its control
// socket: show the topology, paths, maps, status, configuration and I/O load,
// follow events, and run administrative actions (root only).
//
// Exit status: 0 success, 1 failure (reported by the daemon or on the way to
// it), 2 usage error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mpathd/mpathd/internal/version"
	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/control"
	"golang.org/x/sys/unix"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, isTerminal(os.Stdout))
	stop()
	os.Exit(code)
}

// env is what a command runs with.
type env struct {
	out, errOut io.Writer
	opts        options
	color       bool // paint states
	terminal    bool // stdout is a terminal: top redraws in place
	load        func(path string) (*config.Config, error)

	client *control.Client
}

// call sends one request, connecting on first use.
func (e *env) call(ctx context.Context, op string, args api.Args, out any) error {
	if e.client == nil {
		c, err := control.Dial(ctx, e.opts.socket)
		if err != nil {
			return err
		}
		e.client = c
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.timeout)
	defer cancel()
	return e.client.Call(ctx, op, args, out)
}

// printJSON writes v indented, for --json.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, terminal bool) int {
	if len(args) > 0 && args[0] == "__complete" {
		return complete(ctx, args[1:], stdout)
	}
	inv, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "mpathctl: %v\n", err)
		fmt.Fprintln(stderr, "Run 'mpathctl --help' for usage.")
		return 2
	}
	if inv.opts.version && inv.cmd == nil {
		fmt.Fprintln(stdout, "mpathctl", version.String())
		return 0
	}
	if inv.opts.help {
		printHelp(stdout, inv)
		return 0
	}
	if inv.opts.socket == "" {
		inv.opts.socket = os.Getenv("MPATHD_SOCKET")
		if inv.opts.socket == "" {
			inv.opts.socket = control.DefaultSocket
		}
	}
	e := &env{out: stdout, errOut: stderr, opts: inv.opts, terminal: terminal, load: config.Load}
	switch inv.opts.color {
	case "always":
		e.color = true
	case "auto":
		e.color = terminal && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	}
	defer func() {
		if e.client != nil {
			e.client.Close()
		}
	}()
	err = inv.cmd.run(ctx, e, inv.params)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "mpathctl: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "mpathctl: %s: %v\n", inv.cmd.name(), err)
		return 1
	}
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
