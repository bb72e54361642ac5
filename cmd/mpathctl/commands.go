package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/mpathd/mpathd/pkg/api"
)

// token is one element of a command pattern: a literal word or a <PARAM>.
type token struct {
	word  string
	param string // NAME, DEV, N, FILE, TARGET, SHELL
}

// command is one row of the command table.
type command struct {
	usage   string // "switch map NAME group N"
	pattern []token
	summary string
	help    string // longer text for --help
	json    bool   // has --json output
	counted bool   // accepts --count
	run     func(ctx context.Context, e *env, p map[string]string) error
}

func (c *command) name() string {
	var w []string
	for _, t := range c.pattern {
		if t.param == "" {
			w = append(w, t.word)
		}
	}
	return strings.Join(w, " ")
}

// match reports whether words fit the pattern and returns the parameters.
func (c *command) match(words []string) (map[string]string, bool) {
	if len(words) != len(c.pattern) {
		return nil, false
	}
	params := map[string]string{}
	for i, t := range c.pattern {
		switch {
		case t.param != "":
			if err := checkParam(t.param, words[i]); err != nil {
				return nil, false
			}
			params[t.param] = words[i]
		case t.word != words[i]:
			return nil, false
		}
	}
	return params, true
}

// checkParam rejects values a parameter can never take, so that a typo such
// as "switch map a group x" is a usage error, not a daemon round trip.
func checkParam(param, v string) error {
	if v == "" {
		return fmt.Errorf("empty %s", param)
	}
	switch param {
	case "N":
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			return fmt.Errorf("%s is not a number", v)
		}
	case "SHELL":
		if v != "bash" && v != "zsh" {
			return fmt.Errorf("no completion for %s", v)
		}
	}
	return nil
}

// cmd builds a table row from its usage line.
func cmd(usage, summary, help string, run func(context.Context, *env, map[string]string) error) *command {
	c := &command{usage: usage, summary: summary, help: help, run: run}
	for _, w := range strings.Fields(usage) {
		if strings.ToUpper(w) == w {
			c.pattern = append(c.pattern, token{param: w})
		} else {
			c.pattern = append(c.pattern, token{word: w})
		}
	}
	return c
}

func withJSON(c *command) *command  { c.json = true; return c }
func withCount(c *command) *command { c.counted = true; return c }

// commands is the whole CLI. Order is the order of `mpathctl --help`.
var commands []*command

func init() {
	commands = []*command{
		withJSON(cmd("show topology", "maps, groups and paths as a tree (like multipath -ll)",
			"Every map with its WWID, dm device, vendor/product, size, features and hardware handler;\n"+
				"each priority group with its selector, priority and state; each path with its H:C:T:L,\n"+
				"device, dev_t, kernel (dm) state, checker state and SCSI device state.", runTopology)),
		withJSON(cmd("show maps", "one line per map: size, paths, health, queueing", "", runMaps)),
		withJSON(cmd("show map NAME", "one map (by name, WWID or dm-N) as a tree, with its counters", "", runMap)),
		withJSON(cmd("show paths", "one line per path: map, group, states, priority, weight", "", runPaths)),
		withJSON(cmd("show status", "daemon version, uptime, config file, counts per state", "", runStatus)),
		withJSON(cmd("show config", "the effective configuration, as TOML",
			"The configuration in force, every key with its value, as a TOML file that\n"+
				"`mpathctl config check` accepts.", runConfig)),
		withJSON(cmd("show stats", "I/O load per map and per path (one sample; see top)", "", runStats)),
		cmd("show metrics", "the Prometheus exposition, for node_exporter's textfile collector",
			"Prints what the daemon's metrics_listen endpoint serves, in Prometheus' text format. For\nnode_exporter's textfile collector, write it to a temporary file and rename it into the\ncollector's directory, so that node_exporter never reads a partial file:\n\n  mpathctl show metrics > /var/lib/node_exporter/mpathd.prom.$$ &&\n    mv /var/lib/node_exporter/mpathd.prom.$$ /var/lib/node_exporter/mpathd.prom", runMetrics),
		withJSON(cmd("config explain TARGET", "every effective setting of a map or path and where it came from",
			"TARGET is a map (name, WWID or dm-N) or a path (sdX). Each setting is shown with the\n"+
				"level it came from: multipaths[wwid=…], overrides, devices[…], defaults or built-in.", runExplain)),
		cmd("config check FILE", "validate a configuration file (no daemon needed)",
			"Checks FILE as mpathd would load it: every unknown key, wrong type or invalid value is\n"+
				"reported with file:line. Exit status 0 if the file is valid, 1 if not. A file named\n"+
				"*.conf is read in multipath.conf syntax; keywords mpathd does not implement are\n"+
				"listed as warnings.", runCheck),
		cmd("config import", "print /etc/multipath.conf (with conf.d) as the equivalent mpathd.toml", "", runImport),
		cmd("config import FILE", "print a multipath.conf file as the equivalent mpathd.toml",
			"What mpathd does not implement is listed as comments at the top.", runImport),
		withJSON(cmd("show reservation NAME", "a map's persistent reservation: its key, whether it is registered, held",
			"status set: the map's key is registered on the device, and every path that comes up is\n"+
				"registered with it before it is used; unset: it is not (never registered, unregistered,\n"+
				"or preempted by another host), and mpathd registers nothing. hold: whether this host\n"+
				"holds the reservation. key: 0x… (:aptpl when registered with APTPL), from the\n"+
				"configuration (conf) or the prkeys file (file). mpathpersist keeps these up to date.", runReservation)),
		cmd("set prstatus NAME", "record that the map's key is registered (as mpathpersist does; root)", "", prAction(api.OpSetPRStatus, true)),
		cmd("unset prstatus NAME", "record that the map's key is not registered: stop registering paths (root)", "", prAction(api.OpSetPRStatus, false)),
		cmd("set prkey NAME KEY", "record the map's key (0x…[:aptpl]) in the prkeys file (reservation_key \"file\"; root)", "", prAction(api.OpSetPRKey, true)),
		cmd("unset prkey NAME", "remove the map's key from the prkeys file (root)", "", prAction(api.OpSetPRKey, false)),
		cmd("set prhold NAME", "record that this host holds the map's reservation (root)", "", prAction(api.OpSetPRHold, true)),
		cmd("unset prhold NAME", "record that this host does not hold the map's reservation (root)", "", prAction(api.OpSetPRHold, false)),
		cmd("fail path DEV", "mark a path failed in its map (root)", "", action(api.OpFailPath, "DEV")),
		cmd("reinstate path DEV", "put a failed path back in use (root)", "", action(api.OpReinstatePath, "DEV")),
		cmd("switch map NAME group N", "make group N (from 1) the active group of a map (root)", "", runSwitch),
		cmd("reconfigure", "reread the configuration and apply it (root; like systemctl reload)", "", action(api.OpReconfigure)),
		cmd("resize map NAME", "grow or shrink a map to its paths' new size (root)", "", action(api.OpResizeMap, "NAME")),
		cmd("flush map NAME", "remove a map that is not in use (root)", "", action(api.OpFlushMap, "NAME")),
		cmd("add path DEV", "start monitoring a path and add it to its map (root)", "", action(api.OpAddPath, "DEV")),
		cmd("del path DEV", "stop monitoring a path and remove it from its map (root)", "", action(api.OpDelPath, "DEV")),
		cmd("rescan", "scan every SCSI host for new LUNs (root)", "", runRescan),
		cmd("rescan host N", "scan SCSI host N for new LUNs (root)", "", runRescan),
		withCount(withJSON(cmd("events", "follow state changes live (path down/up, group switch, queueing, maps)",
			"Prints one line per event until interrupted (or --count N events). With --json, one JSON\n"+
				"object per line. A reader too slow to keep up is told how many events it lost.", runEvents))),
		withCount(cmd("top", "live I/O view per map and path, refreshed every second",
			"IOPS, MB/s read and written, service time, requests in flight, selector weight and state\n"+
				"of every map and its paths, in 80 columns. --interval changes the refresh period,\n"+
				"--count N stops after N screens.", runTop)),
		cmd("completion SHELL", "print a completion script for bash or zsh",
			"bash: source <(mpathctl completion bash)\n"+
				"zsh:  mpathctl completion zsh > \"${fpath[1]}/_mpathctl\"", runCompletion),
	}
	// The shell scripts' helper, `__complete WORDS…`, is handled before parsing.
}

// action runs a mutating operation whose parameters map to request args.
func action(op string, params ...string) func(context.Context, *env, map[string]string) error {
	return func(ctx context.Context, e *env, p map[string]string) error {
		var a api.Args
		for _, name := range params {
			switch name {
			case "DEV":
				a.Path = p["DEV"]
			case "NAME":
				a.Map = p["NAME"]
			}
		}
		if err := e.call(ctx, op, a, nil); err != nil {
			return err
		}
		fmt.Fprintln(e.out, "ok")
		return nil
	}
}

func runSwitch(ctx context.Context, e *env, p map[string]string) error {
	n, _ := strconv.Atoi(p["N"]) // checked by the parser
	if n < 1 {
		return usagef("groups are numbered from 1")
	}
	if err := e.call(ctx, api.OpSwitchGroup, api.Args{Map: p["NAME"], Group: n}, nil); err != nil {
		return err
	}
	fmt.Fprintln(e.out, "ok")
	return nil
}

func runRescan(ctx context.Context, e *env, p map[string]string) error {
	var a api.Args
	if h, ok := p["N"]; ok {
		n, _ := strconv.Atoi(h)
		a.Host = &n
	}
	if err := e.call(ctx, api.OpRescan, a, nil); err != nil {
		return err
	}
	fmt.Fprintln(e.out, "ok")
	return nil
}

// prAction sends one of the persistent reservation settings: on is the value
// of set_prstatus and set_prhold; set_prkey sends KEY, or "" to remove it.
func prAction(op string, on bool) func(context.Context, *env, map[string]string) error {
	return func(ctx context.Context, e *env, p map[string]string) error {
		a := api.Args{Map: p["NAME"]}
		if op == api.OpSetPRKey {
			a.Key = p["KEY"]
		} else {
			a.On = &on
		}
		if err := e.call(ctx, op, a, nil); err != nil {
			return err
		}
		fmt.Fprintln(e.out, "ok")
		return nil
	}
}
