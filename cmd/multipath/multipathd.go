package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// multipathdSpec is multipathd's getopt string.
const multipathdSpec = ":dsv:k::Bniw"

// runMultipathd is `multipathd`: with a command (words, or -k'cmd') it is
// multipathd's client and sends the command to the daemon's socket; with -k
// alone it reads commands from stdin; without a command it would be the
// daemon, which here is mpathd.
func runMultipathd(ctx context.Context, e *env, args []string) int {
	opts, words, err := getopt(args, multipathdSpec)
	if err != nil {
		fmt.Fprintf(e.stderr, "multipathd: %v\n", err)
		return 1
	}
	var (
		foreground, interactive bool
		command                 string
		verbosity               = -1
	)
	for _, o := range opts {
		switch o.name {
		case 'd':
			foreground = true
		case 'v':
			n, ok := atoiDigits(o.arg)
			if !ok {
				fmt.Fprintf(e.stderr, "multipathd: -v %q: want a number\n", o.arg)
				return 1
			}
			verbosity = n
		case 'k':
			if o.hasArg {
				command = o.arg
			} else {
				interactive = true
			}
		}
	}
	switch {
	case command != "":
		return clientOnce(ctx, e, command)
	case len(words) > 0:
		return clientOnce(ctx, e, joinCommand(words))
	case interactive:
		return clientInteractive(ctx, e)
	}
	return execDaemon(e, foreground, verbosity)
}

// clientOnce sends one command and prints the reply. Like multipathd's
// client it exits 1 when the reply is exactly "fail\n" (a failure with a
// reason is printed and exits 0, as there), and on any transport error.
func clientOnce(ctx context.Context, e *env, command string) int {
	c, err := e.dial(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "multipathd: cannot connect to the daemon: %v\n", err)
		return 1
	}
	defer c.Close()
	reply, err := c.Do(ctx, command)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			fmt.Fprintln(e.stdout, "timeout receiving packet")
		} else {
			fmt.Fprintf(e.stdout, "error receiving packet: %v\n", err)
		}
		return 1
	}
	fmt.Fprint(e.stdout, reply)
	if reply == "fail\n" {
		return 1
	}
	return 0
}

// clientInteractive reads one command per line until EOF, "quit" or "exit",
// on one connection, as `multipathd -k` does. The prompt is shown only on a
// terminal so that piped sessions stay clean.
func clientInteractive(ctx context.Context, e *env) int {
	c, err := e.dial(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "multipathd: cannot connect to the daemon: %v\n", err)
		return 1
	}
	defer c.Close()
	sc := bufio.NewScanner(e.stdin)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for {
		if e.terminal {
			fmt.Fprint(e.stdout, "multipathd> ")
		}
		if !sc.Scan() {
			if e.terminal {
				fmt.Fprintln(e.stdout)
			}
			return 0
		}
		line := strings.TrimSpace(sc.Text())
		switch line {
		case "":
			continue
		case "quit", "exit":
			return 0
		}
		reply, err := c.Do(ctx, line)
		if err != nil {
			fmt.Fprintf(e.stderr, "multipathd: %v\n", err)
			return 1
		}
		if !e.terminal {
			reply = stripColor(reply)
		}
		fmt.Fprint(e.stdout, reply)
	}
}

// stripColor removes ANSI SGR sequences (ESC [ ... m), as multipathd's
// interactive client does when its output is not a terminal.
func stripColor(s string) string {
	if !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := strings.IndexByte(s[i:], 'm')
			if j < 0 {
				break
			}
			i += j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// daemonPaths are where mpathd is looked for, in order, before $PATH.
var daemonPaths = []string{"/usr/sbin/mpathd", "/sbin/mpathd"}

// execDaemon stands in for `multipathd` started as the daemon. mpathd is the
// daemon and always runs in the foreground, so `multipathd -d` becomes mpathd
// with multipathd's verbosity as a log level; without -d multipathd would
// fork into the background, which mpathd does not do: say so instead of
// pretending.
func execDaemon(e *env, foreground bool, verbosity int) int {
	if !foreground {
		fmt.Fprintln(e.stderr, "multipathd: the multipath daemon on this host is mpathd, which runs in the foreground under systemd:\n"+
			"  systemctl start mpathd      (or: multipathd -d, to run it here in the foreground)\n"+
			"To talk to the running daemon: multipathd COMMAND…, or multipathd -k for a session.")
		return 1
	}
	argv := []string{"mpathd"}
	switch {
	case verbosity < 0:
	case verbosity == 0:
		argv = append(argv, "--log-level", "error")
	case verbosity == 1:
		argv = append(argv, "--log-level", "warn")
	case verbosity == 2:
		argv = append(argv, "--log-level", "info")
	default:
		argv = append(argv, "--log-level", "debug")
	}
	var errs []error
	paths := daemonPaths
	if p, err := exec.LookPath("mpathd"); err == nil && !slices.Contains(paths, p) {
		paths = append(slices.Clone(paths), p)
	}
	for _, p := range paths {
		err := e.exec(p, argv, os.Environ())
		if err == nil {
			return 0 // only a fake exec returns
		}
		errs = append(errs, fmt.Errorf("%s: %w", p, err))
	}
	fmt.Fprintf(e.stderr, "multipathd: cannot start mpathd: %v\n", errors.Join(errs...))
	return 1
}

// atoiDigits parses a verbosity the way multipathd's getopt loop accepts it:
// it must start with a digit.
func atoiDigits(s string) (int, bool) {
	n := 0
	for i, c := range s {
		if c < '0' || c > '9' {
			return n, i > 0
		}
		if n > 1000 {
			return n, true
		}
		n = n*10 + int(c-'0')
	}
	return n, s != ""
}
