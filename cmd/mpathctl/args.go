package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// options are the flags mpathctl accepts anywhere on the command line.
type options struct {
	json     bool
	socket   string
	color    string // auto | always | never
	timeout  time.Duration
	interval time.Duration // top
	count    int           // top, events: stop after this many frames/events (0: run until interrupted)
	help     bool
	version  bool
}

// invocation is a parsed command line.
type invocation struct {
	opts   options
	cmd    *command          // nil for --help without a command, --version, or a help topic
	topic  []string          // words given with --help that are a prefix of commands
	params map[string]string // values of the <PARAM> slots
}

// usageError is a command line mpathctl cannot run; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// flagSpec describes one option: whether it takes a value and which commands
// it applies to (nil: all).
type flagSpec struct {
	value bool
	set   func(o *options, v string) error
}

var flags = map[string]flagSpec{
	"json": {set: func(o *options, _ string) error { o.json = true; return nil }},
	"socket": {value: true, set: func(o *options, v string) error {
		if v == "" {
			return errors.New("needs a path")
		}
		o.socket = v
		return nil
	}},
	"color": {value: true, set: func(o *options, v string) error {
		switch v {
		case "auto", "always", "never":
			o.color = v
			return nil
		}
		return errors.New("must be auto, always or never")
	}},
	"timeout": {value: true, set: func(o *options, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errors.New("must be a positive duration such as 5s")
		}
		o.timeout = d
		return nil
	}},
	"interval": {value: true, set: func(o *options, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 100*time.Millisecond {
			return errors.New("must be a duration of at least 100ms, such as 2s")
		}
		o.interval = d
		return nil
	}},
	"count": {value: true, set: func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errors.New("must be a positive number")
		}
		o.count = n
		return nil
	}},
	"help":    {set: func(o *options, _ string) error { o.help = true; return nil }},
	"h":       {set: func(o *options, _ string) error { o.help = true; return nil }},
	"version": {set: func(o *options, _ string) error { o.version = true; return nil }},
}

// parseArgs splits args into options and command words and finds the one
// command the words name. Options may appear anywhere; "--" ends them.
func parseArgs(args []string) (*invocation, error) {
	inv := &invocation{opts: options{color: "auto", timeout: 30 * time.Second, interval: time.Second}}
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			words = append(words, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			words = append(words, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		spec, ok := flags[name]
		if !ok || name == "" {
			return nil, usagef("unknown option %s", a)
		}
		if spec.value && !hasVal {
			if i+1 >= len(args) {
				return nil, usagef("option --%s needs a value", name)
			}
			i++
			val = args[i]
		} else if !spec.value && hasVal {
			return nil, usagef("option --%s takes no value", name)
		}
		if err := spec.set(&inv.opts, val); err != nil {
			return nil, usagef("option --%s: %v", name, err)
		}
	}
	if words != nil && words[0] == "help" { // "mpathctl help show topology"
		inv.opts.help = true
		words = words[1:]
	}
	if inv.opts.version && len(words) == 0 {
		return inv, nil
	}
	if len(words) == 0 {
		if inv.opts.help {
			return inv, nil
		}
		return nil, usagef("no command given")
	}
	var matches []*command
	for _, c := range commands {
		if params, ok := c.match(words); ok {
			matches = append(matches, c)
			inv.params = params
		}
	}
	switch {
	case len(matches) == 1:
		inv.cmd = matches[0]
	case len(matches) > 1:
		return nil, usagef("ambiguous command %q", strings.Join(words, " ")) // a table bug; tested
	case inv.opts.help && len(commandsUnder(words)) == 1:
		inv.cmd = commandsUnder(words)[0]
		return inv, nil
	case inv.opts.help && len(commandsUnder(words)) > 0:
		inv.topic = words
		return inv, nil
	default:
		return nil, unknownCommand(words)
	}
	if inv.opts.json && !inv.cmd.json {
		return nil, usagef("%s has no JSON output", inv.cmd.name())
	}
	if inv.opts.count > 0 && !inv.cmd.counted {
		return nil, usagef("--count applies to events and top only")
	}
	return inv, nil
}

// unknownCommand explains a command line that names no command, pointing at
// the commands that start the same way.
func unknownCommand(words []string) error {
	// The right words with a bad parameter: say which.
	for _, c := range commands {
		if len(c.pattern) != len(words) {
			continue
		}
		var bad error
		literal := true
		for i, t := range c.pattern {
			if t.param == "" && t.word != words[i] {
				literal = false
				break
			}
			if t.param != "" && bad == nil {
				if err := checkParam(t.param, words[i]); err != nil {
					bad = fmt.Errorf("%s: %w", t.param, err)
				}
			}
		}
		if literal && bad != nil {
			return usagef("%s: %v (usage: mpathctl %s)", c.name(), bad, c.usage)
		}
	}
	for n := len(words); n > 0; n-- {
		near := commandsUnder(words[:n])
		if len(near) == 0 {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%q is not a command; did you mean:", strings.Join(words, " "))
		for _, c := range near {
			fmt.Fprintf(&b, "\n  mpathctl %s", c.usage)
		}
		return usagef("%s", b.String())
	}
	return usagef("unknown command %q; see mpathctl --help", words[0])
}

// commandsUnder lists the commands whose pattern starts with prefix (a
// <PARAM> slot accepts any word).
func commandsUnder(prefix []string) []*command {
	var out []*command
	for _, c := range commands {
		if len(c.pattern) < len(prefix) {
			continue
		}
		ok := true
		for i, w := range prefix {
			if p := c.pattern[i]; p.param == "" && p.word != w {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	return out
}
