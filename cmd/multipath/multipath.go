package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mpathd/mpathd/internal/version"
	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/bindings"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/kerneltopo"
	"github.com/mpathd/mpathd/pkg/mpathvalid"
)

// multipathSpec is multipath's getopt string (0.9.x).
const multipathSpec = ":adDcChl::eFfM:v:p:b:BrR:itTquUwW"

type mpCmd int

const (
	cmdCreate mpCmd = iota
	cmdDryRun
	cmdListShort
	cmdListLong
	cmdFlushOne
	cmdFlushAll
	cmdAddWWID
	cmdRemoveWWID
	cmdResetWWIDs
	cmdValidPath   // -c
	cmdValidUevent // -u
	cmdUsable      // -C
	cmdUsableEvent // -U
	cmdDumpConfig  // -t
	cmdDumpUsed    // -T
	cmdHelp
)

// mpArgs is a parsed multipath command line.
type mpArgs struct {
	cmd          mpCmd
	verbosity    int
	forceReload  bool
	skipDelegate bool
	dev          string
}

func parseMultipath(args []string) (mpArgs, error) {
	a := mpArgs{verbosity: 2}
	opts, operands, err := getopt(args, multipathSpec)
	if err != nil {
		return a, err
	}
	for _, o := range opts {
		switch o.name {
		case 'v':
			n, ok := atoiDigits(o.arg)
			if !ok {
				return a, fmt.Errorf("-v %q: want a number", o.arg)
			}
			a.verbosity = n
		case 'c':
			a.cmd = cmdValidPath
		case 'C':
			a.cmd = cmdUsable
		case 'd':
			if a.cmd == cmdCreate {
				a.cmd = cmdDryRun
			}
		case 'D':
			a.skipDelegate = true
		case 'f':
			a.cmd = cmdFlushOne
		case 'F':
			a.cmd = cmdFlushAll
		case 'l':
			a.cmd = cmdListShort
			if strings.HasPrefix(o.arg, "l") {
				a.cmd = cmdListLong
			}
		case 'r':
			a.forceReload = true
		case 't':
			a.cmd = cmdDumpConfig
		case 'T':
			a.cmd = cmdDumpUsed
		case 'h':
			a.cmd = cmdHelp
		case 'u':
			a.cmd = cmdValidUevent
		case 'U':
			a.cmd = cmdUsableEvent
		case 'w':
			a.cmd = cmdRemoveWWID
		case 'W':
			a.cmd = cmdResetWWIDs
		case 'a':
			a.cmd = cmdAddWWID
		case 'R':
			if _, err := strconv.Atoi(o.arg); err != nil {
				return a, fmt.Errorf("-R %q: want a number", o.arg)
			}
		case 'p':
			switch o.arg {
			case "failover", "multibus", "group_by_serial", "group_by_prio", "group_by_node_name", "group_by_tpg":
			default:
				return a, fmt.Errorf("'%s' is not a valid policy", o.arg)
			}
		}
		// -b (ignored upstream too), -B, -q, -i, -e, -M change how multipath itself
		// builds maps; mpathd builds them, so they have nothing to act on here.
	}
	if len(operands) > 0 {
		a.dev = operands[0]
	}
	return a, nil
}

func runMultipath(ctx context.Context, e *env, args []string) int {
	a, err := parseMultipath(args)
	if err != nil {
		fmt.Fprintf(e.stderr, "multipath: %v\n", err)
		printUsage(e)
		return 1
	}
	switch a.cmd {
	case cmdHelp:
		printUsage(e)
		return 0
	case cmdDumpConfig:
		return doDumpConfig(e)
	}
	if e.euid != 0 {
		fmt.Fprintln(e.stderr, "need to be root")
		return 1
	}
	switch a.cmd {
	case cmdValidPath, cmdValidUevent:
		return doValid(ctx, e, a)
	case cmdUsable, cmdUsableEvent:
		return withKernel(e, func(r kerneltopo.Reader) int { return doUsable(e, r, a) })
	case cmdDumpUsed:
		return doDumpConfig(e)
	}
	if a.cmd == cmdRemoveWWID && a.dev == "" {
		fmt.Fprintln(e.stderr, "the -w option requires a device")
		return 1
	}
	if a.cmd == cmdAddWWID && a.dev == "" {
		fmt.Fprintln(e.stderr, "the -a option requires a device")
		return 1
	}
	return withKernel(e, func(r kerneltopo.Reader) int {
		var t kerneltopo.Target
		if a.dev != "" {
			var err error
			if t, err = r.Resolve(a.dev); err != nil {
				fmt.Fprintf(e.stderr, "'%s' is not a valid argument: %v\n", a.dev, err)
				return 1
			}
		}
		switch a.cmd {
		case cmdListShort, cmdListLong:
			return doList(ctx, e, r, a, t)
		case cmdFlushOne:
			return doFlushOne(ctx, e, r, a, t)
		case cmdFlushAll:
			return doFlushAll(ctx, e, r, a)
		case cmdAddWWID:
			return doAddWWID(e, t)
		case cmdRemoveWWID:
			return doRemoveWWID(e, t)
		case cmdResetWWIDs:
			return doResetWWIDs(e, r)
		}
		return doCreate(ctx, e, a, t)
	})
}

func printUsage(e *env) {
	fmt.Fprintf(e.stderr, `multipath (mpathd %s)
Usage:
  multipath [-v level] [-r] [device]
  multipath -l|-ll [-v level] [device]
  multipath -f device | -F [-D]
  multipath -a|-w device | -W
  multipath -c|-u device | -C|-U device
  multipath -t|-T | -h

  -l      show the multipath topology from sysfs and device-mapper
  -ll     show it with every path checked (checker state and priority)
  -f      flush a multipath map (through the daemon when it runs)
  -F      flush every unused multipath map
  -a      add a device's WWID to the wwids file
  -w      remove a device's WWID from the wwids file
  -W      reset the wwids file to the WWIDs of the current maps
  -c      check whether a device is a multipath path (exit status)
  -u      the same for a udev rule (prints DM_MULTIPATH_DEVICE_PATH, exits 0)
  -C      check whether a map has usable paths (exit status); -U for udev
  -t, -T  print the daemon's configuration
  -r      make the daemon reconfigure every map
  -D      with -f/-F: act on the kernel directly, not through the daemon
  -v lvl  verbosity: 0 nothing, 1 map names, 2 default, 3 more
  device  /dev/sdX, sdX, MAJ:MIN, /dev/dm-N, /dev/mapper/NAME, a map name or a WWID

Maps are built by mpathd; the options of multipath-tools that build maps
(-d, -p, -i, -B, -b, -q) are accepted and have nothing to act on.
`, version.String())
}

// withKernel opens device-mapper for f.
func withKernel(e *env, f func(kerneltopo.Reader) int) int {
	c, closeDM, err := e.openDM()
	if err != nil {
		fmt.Fprintf(e.stderr, "multipath: %v\n", err)
		return 1
	}
	defer closeDM()
	return f(kerneltopo.Reader{DM: c, Sys: e.sys})
}

// doList is -l and -ll: the kernel's maps, filtered to the device argument.
func doList(ctx context.Context, e *env, r kerneltopo.Reader, a mpArgs, t kerneltopo.Target) int {
	if a.cmd == cmdListLong && e.prober != nil {
		cfg, err := e.loadConfig()
		if err != nil {
			fmt.Fprintf(e.stderr, "multipath: configuration: %v\n", err)
			return 1
		}
		r.Prober = e.prober(cfg)
	}
	var keep func(kerneltopo.MapDevice) bool
	if a.dev != "" {
		keep = func(d kerneltopo.MapDevice) bool { return d.WWID == t.WWID }
	}
	top, err := r.Topology(ctx, keep)
	if err != nil {
		fmt.Fprintf(e.stderr, "multipath: %v\n", err)
	}
	switch {
	case a.verbosity == 0:
	case a.verbosity == 1:
		for _, m := range top.Maps {
			fmt.Fprintln(e.stdout, m.Name)
		}
	default:
		if rerr := e.render(e.stdout, top); rerr != nil {
			fmt.Fprintf(e.stderr, "multipath: %v\n", rerr)
			return 1
		}
	}
	if len(top.Maps) > 0 && a.verbosity >= 2 && !daemonAnswers(ctx, e) {
		fmt.Fprintln(e.stderr, "Warning: multipath devices exist, but mpathd is not running")
	}
	if err != nil {
		return 1
	}
	return 0
}

func daemonAnswers(ctx context.Context, e *env) bool {
	c, err := e.dial(ctx)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// delegation is the outcome of handing a command to the daemon.
type delegation int

const (
	notDelegated delegation = iota // the daemon is down (or timed out): act here
	delegatedOK
	delegatedFail
)

// delegate sends cmd to the daemon as multipath does for -f, -F and -r: a
// reply other than "fail…" succeeded; "timeout\n" (mpathd's and multipathd's
// reply to an action past its deadline) or "fail\ntimeout\n" means the daemon
// did not finish it and the caller acts itself; any other text is printed
// (without its "fail" line).
func delegate(ctx context.Context, e *env, cmd string) delegation {
	c, err := e.dial(ctx)
	if err != nil {
		return notDelegated
	}
	defer c.Close()
	reply, err := c.Do(ctx, cmd)
	if err != nil {
		fmt.Fprintf(e.stderr, "multipath: %s: %v\n", cmd, err)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			return notDelegated
		}
		return delegatedFail
	}
	if reply == "timeout\n" || reply == "fail\ntimeout\n" {
		return notDelegated
	}
	result := delegatedOK
	if strings.HasPrefix(reply, "fail\n") {
		result = delegatedFail
		reply = strings.TrimPrefix(reply, "fail\n")
	}
	if reply != "ok\n" {
		fmt.Fprint(e.stdout, reply)
	}
	return result
}

func delegated(d delegation) int {
	if d == delegatedOK {
		return 0
	}
	return 1
}

// doCreate is multipath without a list, flush or wwids option: multipath-tools
// would build or reload maps itself; here the daemon does it.
func doCreate(ctx context.Context, e *env, a mpArgs, t kerneltopo.Target) int {
	cmd := "reconfigure"
	switch {
	case a.cmd == cmdDryRun:
		fmt.Fprintln(e.stderr, "multipath: -d: nothing to do, maps are built by mpathd (multipath -ll shows them)")
		return 0
	case a.forceReload:
		cmd = "reconfigure all"
	case t.Path != nil:
		cmd = "add path " + t.Path.Name
	case t.Map != nil:
		cmd = "reload map " + t.Map.Name
	case a.dev != "":
		cmd = "add map " + t.WWID
	}
	if d := delegate(ctx, e, cmd); d != notDelegated {
		return delegated(d)
	}
	fmt.Fprintln(e.stderr, "multipath: mpathd is not running; it builds the maps: systemctl start mpathd")
	return 1
}

// doFlushOne is -f MAP.
func doFlushOne(ctx context.Context, e *env, r kerneltopo.Reader, a mpArgs, t kerneltopo.Target) int {
	if t.Map == nil || t.Path != nil {
		fmt.Fprintln(e.stderr, "the -f option requires a map name to remove")
		return 1
	}
	if !a.skipDelegate {
		if d := delegate(ctx, e, "del map "+t.Map.Name); d != notDelegated {
			return delegated(d)
		}
	}
	if err := flushMap(r, *t.Map); err != nil {
		fmt.Fprintf(e.stderr, "%v\n", err)
		return 1
	}
	return 0
}

// doFlushAll is -F.
func doFlushAll(ctx context.Context, e *env, r kerneltopo.Reader, a mpArgs) int {
	if !a.skipDelegate {
		if d := delegate(ctx, e, "del maps"); d != notDelegated {
			return delegated(d)
		}
	}
	maps, err := r.Maps()
	if err != nil {
		fmt.Fprintf(e.stderr, "multipath: %v\n", err)
		return 1
	}
	code := 0
	for _, m := range maps {
		if err := flushMap(r, m); err != nil {
			fmt.Fprintf(e.stderr, "%v\n", err)
			code = 1
		}
	}
	return code
}

// flushMap removes a map that nothing holds open, with the daemon down:
// first its unused partition maps (kpartx's, which hold it open), then
// queueing is switched off so that nothing can hang on the map as it goes,
// then the map. A map in use is left alone.
func flushMap(r kerneltopo.Reader, m kerneltopo.MapDevice) error {
	parts, err := partitionMaps(r, m)
	if err != nil {
		return err
	}
	for _, p := range parts {
		info, err := r.DM.Info(p)
		if err != nil {
			return fmt.Errorf("%s: partition %s: %w", m.Name, p, err)
		}
		if info.OpenCount > 0 {
			return fmt.Errorf("%s: map in use (partition %s is open)", m.Name, p)
		}
	}
	for _, p := range parts {
		if _, err := r.DM.Remove(p, dm.RemoveOptions{}); err != nil && !dm.IsNotExist(err) {
			return fmt.Errorf("%s: remove partition %s: %w", m.Name, p, err)
		}
	}
	info, err := r.DM.Info(m.Name)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	if info.OpenCount > 0 {
		return fmt.Errorf("%s: map in use", m.Name)
	}
	if err := dm.FailIfNoPath(r.DM, m.Name); err != nil && !dm.IsNotExist(err) {
		return fmt.Errorf("%s: disable queueing: %w", m.Name, err)
	}
	if _, err := r.DM.Remove(m.Name, dm.RemoveOptions{}); err != nil {
		if dm.IsBusy(err) {
			return fmt.Errorf("%s: map in use", m.Name)
		}
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	return nil
}

// partitionMaps lists the dm maps kpartx made on m: their uuid is
// "partN-mpath-<WWID>".
func partitionMaps(r kerneltopo.Reader, m kerneltopo.MapDevice) ([]string, error) {
	devs, err := r.DM.List()
	if err != nil {
		return nil, fmt.Errorf("%s: list maps: %w", m.Name, err)
	}
	var parts []string
	for _, d := range devs {
		pre, rest, ok := strings.Cut(d.UUID, "-")
		if ok && strings.HasPrefix(pre, "part") && rest == m.UUID {
			parts = append(parts, d.Name)
		}
	}
	return parts, nil
}

func wwidsFile(e *env) *bindings.WWIDs { return bindings.NewWWIDs(e.wwids) }

// doAddWWID is -a.
func doAddWWID(e *env, t kerneltopo.Target) int {
	if _, err := wwidsFile(e).Add(t.WWID); err != nil {
		fmt.Fprintf(e.stdout, "failed adding '%s' to wwids file\n", t.WWID)
		fmt.Fprintf(e.stderr, "multipath: %v\n", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "wwid '%s' added\n", t.WWID)
	return 0
}

// doRemoveWWID is -w.
func doRemoveWWID(e *env, t kerneltopo.Target) int {
	changed, err := wwidsFile(e).Remove(t.WWID)
	switch {
	case err != nil:
		fmt.Fprintf(e.stderr, "multipath: %v\n", err)
		return 1
	case changed:
		fmt.Fprintf(e.stdout, "wwid '%s' removed\n", t.WWID)
	default:
		fmt.Fprintf(e.stdout, "wwid '%s' not in wwids file\n", t.WWID)
	}
	return 0
}

// doResetWWIDs is -W: the wwids file lists exactly the current maps.
func doResetWWIDs(e *env, r kerneltopo.Reader) int {
	maps, err := r.Maps()
	if err != nil {
		fmt.Fprintf(e.stderr, "multipath: %v\n", err)
		return 1
	}
	f := wwidsFile(e)
	listed, _, err := f.List()
	if err != nil {
		fmt.Fprintf(e.stderr, "multipath: %v\n", err)
		return 1
	}
	var keep []string
	for _, m := range maps {
		keep = append(keep, m.WWID)
	}
	for _, w := range listed {
		if !slices.Contains(keep, w) {
			if _, err := f.Remove(w); err != nil {
				fmt.Fprintf(e.stderr, "multipath: %v\n", err)
				return 1
			}
		}
	}
	for _, w := range keep {
		if _, err := f.Add(w); err != nil {
			fmt.Fprintf(e.stderr, "multipath: %v\n", err)
			return 1
		}
	}
	fmt.Fprintln(e.stdout, "successfully reset wwids")
	return 0
}

// doUsable is -C and -U: does the map holding DEV have a usable path? A path
// counts when the kernel has it active and its SCSI device is running, the
// check multipath makes without I/O.
func doUsable(e *env, r kerneltopo.Reader, a mpArgs) int {
	if a.dev == "" {
		fmt.Fprintln(e.stderr, "multipath: -C/-U need a map device")
		return 1
	}
	t, err := r.Resolve(a.dev)
	if err != nil || t.Map == nil || t.Path != nil {
		fmt.Fprintf(e.stderr, "%s is not a multipath map\n", a.dev)
		return 1
	}
	top, err := r.Topology(context.Background(), func(d kerneltopo.MapDevice) bool { return d.Name == t.Map.Name })
	if err != nil || len(top.Maps) != 1 {
		fmt.Fprintf(e.stderr, "multipath: %s: %v\n", a.dev, err)
		return 1
	}
	for _, g := range top.Maps[0].Groups {
		for _, p := range g.Paths {
			if p.DMState == api.DMActive && p.DevState == "running" {
				if a.verbosity >= 3 {
					fmt.Fprintf(e.stderr, "%s: usable paths found\n", a.dev)
				}
				return 0
			}
		}
	}
	if a.verbosity >= 2 {
		fmt.Fprintf(e.stderr, "%s: no usable paths found\n", a.dev)
	}
	return 1
}

// doValid is -c and -u.
func doValid(ctx context.Context, e *env, a mpArgs) int {
	uevent := a.cmd == cmdValidUevent
	// udev runs -u on any block device (a dm-N answers "0"); -c wants a path.
	name := strings.TrimPrefix(a.dev, "/dev/")
	if name == "" || !uevent && (strings.HasPrefix(name, "dm-") || strings.HasPrefix(name, "mapper/")) {
		fmt.Fprintln(e.stderr, "the -c option requires a path to check")
		return 1
	}
	cfg, err := e.loadConfig()
	if err != nil {
		fmt.Fprintf(e.stderr, "multipath: configuration: %v\n", err)
		return 1
	}
	c, closeDM, err := e.openDM()
	if err != nil {
		fmt.Fprintf(e.stderr, "multipath: %v\n", err)
		return 1
	}
	defer closeDM()
	v, err := mpathvalid.Checker{Config: cfg, Sys: e.sys.WithUIDAttribute(cfg.UIDAttribute), DM: c, WWIDs: wwidsFile(e)}.Check(name)
	if err != nil {
		fmt.Fprintf(e.stderr, "multipath: %v\n", err)
		return 1
	}
	if uevent {
		v = mpathvalid.ForUevent(v, daemonAnswers(ctx, e) || e.daemonEnabled(), e.getenv("DM_MULTIPATH_DEVICE_PATH"))
	}
	if a.verbosity >= 3 {
		fmt.Fprintf(e.stderr, "%s: %s\n", name, v.Reason)
	}
	fmt.Fprintf(e.stdout, "DM_MULTIPATH_DEVICE_PATH=\"%s\"\n", v.Result.Property())
	// udev imports the output of -u only when it exits 0.
	if !uevent && v.Result == mpathvalid.NotValid {
		return 1
	}
	return 0
}

func doDumpConfig(e *env) int {
	cfg, err := e.loadConfig()
	if err != nil {
		fmt.Fprintf(e.stderr, "multipath: configuration: %v\n", err)
		return 1
	}
	if err := e.dumpConfig(e.stdout, cfg); err != nil {
		fmt.Fprintf(e.stderr, "multipath: %v\n", err)
		return 1
	}
	return 0
}
