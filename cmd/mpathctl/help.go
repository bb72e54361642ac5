package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

const globalHelp = `Options (anywhere on the command line):
  --json            machine-readable output (read commands and events)
  --socket PATH     the daemon's control socket (default /run/mpathd/mpathd.sock,
                    or $MPATHD_SOCKET)
  --color WHEN      colour states: auto (on a terminal), always, never
  --timeout DUR     give up on the daemon after DUR (default 30s)
  --interval DUR    top: refresh period (default 1s)
  --count N         events, top: stop after N events or screens
  -h, --help        help for mpathctl or for a command
  --version         print the version

Reading works for every user; actions need root.
Exit status: 0 success, 1 failure, 2 usage error.
`

func printHelp(w io.Writer, inv *invocation) {
	switch {
	case inv.cmd != nil:
		fmt.Fprintf(w, "Usage: mpathctl %s", inv.cmd.usage)
		if inv.cmd.json {
			fmt.Fprint(w, " [--json]")
		}
		fmt.Fprintf(w, "\n\n%s.\n", upperFirst(inv.cmd.summary))
		if inv.cmd.help != "" {
			fmt.Fprintf(w, "\n%s\n", inv.cmd.help)
		}
		fmt.Fprintf(w, "\n%s", globalHelp)
	case inv.topic != nil:
		fmt.Fprintf(w, "Commands starting with %q:\n", strings.Join(inv.topic, " "))
		listCommands(w, commandsUnder(inv.topic))
	default:
		fmt.Fprint(w, "Usage: mpathctl COMMAND [ARGS] [OPTIONS]\n\nInspect and control mpathd, the multipath daemon.\n\nCommands:\n")
		listCommands(w, commandsUnder(nil))
		fmt.Fprintf(w, "\n%s\nRun 'mpathctl COMMAND --help' for more about a command.\n", globalHelp)
	}
}

func listCommands(w io.Writer, cmds []*command) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, c := range cmds {
		fmt.Fprintf(tw, "  %s\t%s\n", c.usage, c.summary)
	}
	tw.Flush()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
