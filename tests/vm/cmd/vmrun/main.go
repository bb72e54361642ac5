// Command vmrun boots the test-bed guest with a simulated SAN and runs one scenario script in it,
// streaming the guest console. It is what `make demo` runs; it is also handy for trying a scenario
// by hand before writing it as a Go test.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/mpathd/mpathd/tests/vm"
)

func main() {
	hosts := flag.Int("hosts", 2, "scsi_debug hosts (paths per LUN)")
	luns := flag.Int("luns", 4, "LUNs per host")
	script := flag.String("script", "", "scenario script file run in the guest (busybox sh)")
	udev := flag.Bool("udev", false, "run systemd-udevd in the guest")
	kmsg := flag.Bool("kmsg", false, "show kernel messages on the console too")
	var cmds multi
	flag.Var(&cmds, "cmd", "main package built statically into the guest's /bin (repeatable)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: vmrun [flags] -script FILE\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *script == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	body, err := os.ReadFile(*script)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vmrun: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	res, err := vm.Boot(ctx, vm.Scenario{
		SAN:      vm.SAN{Hosts: *hosts, LUNs: *luns},
		Udev:     *udev,
		Commands: cmds,
		Script:   string(body),
		Console:  consoleWriter{w: os.Stdout, kmsg: *kmsg},
	})
	if err != nil {
		if res != nil && !errors.Is(err, vm.ErrGuest) {
			fmt.Fprintf(os.Stderr, "--- guest console ---\n%s", res.Console)
		}
		fmt.Fprintf(os.Stderr, "vmrun: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("vmrun: guest (%s) booted, ran the scenario and powered off in %v\n",
		res.Accel, time.Since(start).Round(100*time.Millisecond))
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// consoleWriter shows the guest's own output and, unless asked, hides the kernel's timestamped lines.
type consoleWriter struct {
	w    io.Writer
	kmsg bool
}

func (c consoleWriter) Write(p []byte) (int, error) {
	line := string(p)
	if !c.kmsg && strings.HasPrefix(line, "[") {
		return len(p), nil
	}
	line = strings.Replace(line, "@@mpathd-vm: ", "== ", 1)
	_, err := io.WriteString(c.w, line)
	return len(p), err
}
