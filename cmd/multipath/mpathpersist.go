package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpathd/mpathd/internal/version"
	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/kerneltopo"
	"github.com/mpathd/mpathd/pkg/prkeys"
	"github.com/mpathd/mpathd/pkg/scsipr"
)

// mpathpersist's exit statuses: libmpathpersist's MPATH_PR_* codes.
const (
	prSuccess        = 0
	prSyntaxError    = 1
	prNotReady       = 2
	prMediumError    = 3
	prHardwareError  = 4
	prIllegalRequest = 5
	prUnitAttention  = 6
	prAborted        = 8
	prNoSense        = 9
	prMalformed      = 10
	prConflict       = 11
	prFileError      = 12
	prDMMPError      = 13
	prOther          = 15
)

// prTimeout is the per-command timeout multipath-tools gives PR commands.
const prTimeout = 2 * time.Second

// persistArgs is a parsed mpathpersist command line.
type persistArgs struct {
	in, out     bool
	inSA        scsipr.InAction
	nIn         int
	outSA       scsipr.ServiceAction
	nOut        int
	rk, sark    uint64
	typ         scsipr.Type
	typeGiven   bool
	allTgPt     bool
	aptpl       bool
	hex         bool
	verbosity   int
	device      string
	help        bool
	unsupported string
}

// persistLong maps mpathpersist's long options to their letters.
var persistLong = map[string]byte{
	"verbose": 'v', "clear": 'C', "device": 'd', "help": 'h', "hex": 'H', "in": 'i', "out": 'o',
	"param-alltgpt": 'Y', "param-aptpl": 'Z', "param-rk": 'K', "param-sark": 'S', "preempt": 'P',
	"preempt-abort": 'A', "prout-type": 'T', "read-full-status": 's', "read-keys": 'k',
	"read-reservation": 'r', "register": 'G', "register-ignore": 'I', "release": 'L',
	"report-capabilities": 'c', "reserve": 'R', "transport-id": 'X', "alloc-length": 'l', "batch-file": 'f',
}

const persistSpec = "v:Cd:hHioYZK:S:PAT:skrGILcRX:l:f:"

// shortArgs rewrites --long[=arg] options into their letters for getopt.
func shortArgs(args []string) ([]string, error) {
	var out []string
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		name, ok := strings.CutPrefix(a, "--")
		if !ok {
			out = append(out, a)
			continue
		}
		name, val, hasVal := strings.Cut(name, "=")
		c, ok := persistLong[name]
		if !ok {
			return nil, fmt.Errorf("unrecognized option '%s'", a)
		}
		if hasVal {
			out = append(out, "-"+string(c)+val)
		} else {
			out = append(out, "-"+string(c))
		}
	}
	return out, nil
}

// parseHex reads a number as sscanf's %x does: an optional 0x, hex digits.
func parseHex(s string) (uint64, bool) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	end := 0
	for end < len(t) && strings.IndexByte("0123456789abcdefABCDEF", t[end]) >= 0 {
		end++
	}
	if end == 0 || end > 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(t[:end], 16, 64)
	return v, err == nil
}

func parsePersist(args []string) (persistArgs, error) {
	var a persistArgs
	args, err := shortArgs(args)
	if err != nil {
		return a, err
	}
	opts, operands, err := getopt(args, persistSpec)
	if err != nil {
		return a, err
	}
	for _, o := range opts {
		switch o.name {
		case 'v':
			n, err := strconv.Atoi(o.arg)
			if err != nil {
				return a, errors.New("bad argument to '--verbose'")
			}
			a.verbosity = n
		case 'd':
			a.device = o.arg
		case 'h':
			a.help = true
		case 'H':
			a.hex = true
		case 'i':
			a.in = true
		case 'o':
			a.out = true
		case 'Y':
			a.allTgPt = true
		case 'Z':
			a.aptpl = true
		case 'K', 'S':
			v, ok := parseHex(o.arg)
			if !ok {
				name := map[byte]string{'K': "param-rk", 'S': "param-sark"}[o.name]
				return a, fmt.Errorf("bad argument to '--%s'", name)
			}
			if o.name == 'K' {
				a.rk = v
			} else {
				a.sark = v
			}
		case 'T':
			v, ok := parseHex(o.arg)
			if !ok || v > 0xff {
				return a, errors.New("bad argument to '--prout-type'")
			}
			a.typ, a.typeGiven = scsipr.Type(v), true
		case 'k', 'r', 'c', 's':
			a.inSA = map[byte]scsipr.InAction{'k': scsipr.InReadKeys, 'r': scsipr.InReadReservation,
				'c': scsipr.InReportCapabilities, 's': scsipr.InReadFullStatus}[o.name]
			a.nIn++
		case 'G', 'R', 'L', 'C', 'P', 'A', 'I':
			a.outSA = map[byte]scsipr.ServiceAction{'G': scsipr.Register, 'R': scsipr.Reserve, 'L': scsipr.Release,
				'C': scsipr.Clear, 'P': scsipr.Preempt, 'A': scsipr.PreemptAbort, 'I': scsipr.RegisterIgnore}[o.name]
			a.nOut++
		case 'l':
			if n, err := strconv.ParseUint(o.arg, 10, 32); err != nil || n > 8192 {
				return a, errors.New("bad argument to '--alloc-length'")
			}
		case 'X', 'f':
			a.unsupported = "-" + string(o.name)
		}
	}
	if len(operands) > 0 && a.device == "" {
		a.device, operands = operands[0], operands[1:]
	}
	if len(operands) > 0 {
		return a, fmt.Errorf("Unexpected extra argument: %s", operands[0])
	}
	return a, nil
}

// checkPersist applies mpathpersist's rules on option combinations.
func checkPersist(a persistArgs) error {
	switch {
	case a.unsupported != "":
		return fmt.Errorf("option %s is not supported", a.unsupported)
	case a.in == a.out:
		return errors.New("choose either '--in' or '--out' ")
	case a.out && (a.nOut != 1 || a.nIn != 0):
		return errors.New(" For Persistent Reserve Out only one appropriate\n service action must be chosen ")
	case a.in && a.nOut > 0:
		return errors.New(" When a service action for Persistent Reserve Out is chosen the\n '--out' option must be given ")
	case a.in && a.nIn == 0:
		return errors.New(" No service action given for Persistent Reserve IN")
	case a.in && a.nIn > 1:
		return errors.New(" Too many service actions given; choose one only")
	case a.device == "":
		return errors.New("No device name given ")
	}
	return nil
}

func persistUsage(w io.Writer) {
	fmt.Fprintf(w, `mpathpersist (mpathd %s)
Usage: mpathpersist [OPTIONS] [DEVICE]
 Options:
    --verbose|-v level         verbosity level
    --clear|-C                 PR Out: Clear
    --device=DEVICE|-d DEVICE  query or change DEVICE
    --help|-h                  output this usage message
    --hex|-H                   output response in hex
    --in|-i                    request PR In command 
    --out|-o                   request PR Out command
    --param-alltgpt|-Y         PR Out parameter 'ALL_TG_PT
    --param-aptpl|-Z           PR Out parameter 'APTPL'
    --read-keys|-k             PR In: Read Keys
    --param-rk=RK|-K RK        PR Out parameter reservation key
    --param-sark=SARK|-S SARK  PR Out parameter service action
                               reservation key (SARK is in hex)
    --preempt|-P               PR Out: Preempt
    --preempt-abort|-A         PR Out: Preempt and Abort
    --prout-type=TYPE|-T TYPE  PR Out command type
    --read-full-status|-s      PR In: Read Full Status
    --read-reservation|-r      PR In: Read Reservation
    --register|-G              PR Out: Register
    --register-ignore|-I       PR Out: Register and Ignore
    --release|-L               PR Out: Release
    --report-capabilities|-c   PR In: Report Capabilities
    --reserve|-R               PR Out: Reserve
    --alloc-length=LEN|-l LEN  PR In: maximum allocation length
`, version.String())
}

// runMpathpersist is mpathpersist: persistent reservations on a multipath
// map, sent down its paths (PR IN through one usable path, REGISTER on
// every path, the others through one), with mpathpersist's options, output
// and exit statuses.
func runMpathpersist(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "No parameter used")
		persistUsage(e.stderr)
		return prSyntaxError
	}
	if e.euid != 0 {
		fmt.Fprintln(e.stderr, "need to be root")
		return prSyntaxError
	}
	a, err := parsePersist(args)
	if err == nil && a.help {
		persistUsage(e.stderr)
		return prSuccess
	}
	if err == nil {
		err = checkPersist(a)
	}
	if err != nil {
		fmt.Fprintln(e.stderr, err)
		persistUsage(e.stderr)
		return prSyntaxError
	}
	if a.out && a.typ == 0 && (a.outSA == scsipr.Reserve || a.outSA == scsipr.Release ||
		a.outSA == scsipr.Preempt || a.outSA == scsipr.PreemptAbort) {
		fmt.Fprintln(e.stderr, "Warning: --prout-type probably needs to be given")
	}
	var code int
	rc := withKernel(e, func(r kerneltopo.Reader) int {
		m, paths, conf, c := persistMap(ctx, e, r, a)
		if c != prSuccess {
			code = c
			return prSuccess
		}
		pr := &mapPR{e: e, m: m, paths: paths, a: a, conf: conf}
		if a.in {
			code = pr.in(ctx)
		} else {
			code = pr.out(ctx)
		}
		return prSuccess
	})
	if rc != prSuccess {
		return prDMMPError
	}
	return code
}

// prPath is one path of the map and whether commands may be sent down it.
type prPath struct {
	dev    string
	host   string // SCSI host number, for ALL_TG_PT
	usable bool
}

// persistMap resolves the device argument to a map and lists its paths,
// checked as multipath -ll checks them.
func persistMap(ctx context.Context, e *env, r kerneltopo.Reader, a persistArgs) (api.Map, []prPath, *config.Resolved, int) {
	if e.statDevice != nil {
		if err := e.statDevice(a.device); err != nil {
			fmt.Fprintf(e.stderr, "%s: error opening file (rw) fd=-1\n", a.device)
			return api.Map{}, nil, nil, prFileError
		}
	}
	t, err := r.Resolve(a.device)
	if err != nil || t.Map == nil || t.Path != nil {
		fmt.Fprintf(e.stderr, "%s: not a multipath device.\n", a.device)
		return api.Map{}, nil, nil, prDMMPError
	}
	cfg, err := e.loadConfig()
	if err != nil {
		fmt.Fprintf(e.stderr, "mpathpersist: configuration: %v\n", err)
		return api.Map{}, nil, nil, prSyntaxError
	}
	if e.prober != nil {
		r.Prober = e.prober(cfg)
	}
	top, err := r.Topology(ctx, func(d kerneltopo.MapDevice) bool { return d.Name == t.Map.Name })
	if err != nil || len(top.Maps) != 1 {
		fmt.Fprintf(e.stderr, "%s: devmap not registered.\n", t.Map.Name)
		return api.Map{}, nil, nil, prDMMPError
	}
	m := top.Maps[0]
	var paths []prPath
	for _, g := range m.Groups {
		for _, p := range g.Paths {
			if p.Dev == "" {
				continue
			}
			usable := p.DMState == api.DMActive && p.DevState == "running"
			if e.prober != nil {
				usable = p.CheckerState == api.CheckerUp || p.CheckerState == api.CheckerGhost
			}
			host, _, _ := strings.Cut(p.HCIL, ":")
			paths = append(paths, prPath{dev: p.Dev, host: host, usable: usable})
		}
	}
	return m, paths, cfg.Resolve(m.WWID, m.Vendor, m.Product, ""), prSuccess
}

// mapPR sends persistent reservation commands down the paths of one map.
type mapPR struct {
	e     *env
	m     api.Map
	paths []prPath
	a     persistArgs
	conf  *config.Resolved // the map's settings: reservation_key, all_tg_pt, prkeys_file
}

func (pr *mapPR) logf(level int, format string, args ...any) {
	if pr.a.verbosity >= level {
		fmt.Fprintf(pr.e.stderr, format+"\n", args...)
	}
}

// onPath opens dev and runs f on it.
func (pr *mapPR) onPath(dev string, f func(sgio.Device) error) error {
	d, closeDev, err := pr.e.openSG(dev)
	if err != nil {
		return err
	}
	defer closeDev()
	return f(d)
}

// prStatus maps a command's error to mpathpersist's exit status.
func prStatus(err error) int {
	if err == nil {
		return prSuccess
	}
	if errors.Is(err, scsipr.ErrReservationConflict) {
		return prConflict
	}
	s, ok := scsipr.Sense(err)
	if !ok {
		return prOther
	}
	switch s.Key {
	case sgio.NoSense:
		return prNoSense
	case sgio.RecoveredError:
		return prSuccess
	case sgio.NotReady:
		return prNotReady
	case sgio.MediumError:
		return prMediumError
	case sgio.HardwareError:
		return prHardwareError
	case sgio.IllegalRequest:
		return prIllegalRequest
	case sgio.UnitAttention:
		return prUnitAttention
	case sgio.AbortedCommand:
		return prAborted
	}
	return prOther
}

// in sends the PR IN command down the first usable path that answers it.
func (pr *mapPR) in(context.Context) int {
	code := prDMMPError
	for _, p := range pr.paths {
		if !p.usable {
			pr.logf(2, "%s: %s not available. Skip.", pr.m.WWID, p.dev)
			continue
		}
		var data []byte
		err := pr.onPath(p.dev, func(d sgio.Device) error {
			var err error
			data, err = scsipr.In(d, pr.a.inSA, prTimeout)
			return err
		})
		if err != nil {
			pr.logf(1, "%s: %s: %v", pr.m.Name, p.dev, err)
			code = prStatus(err)
			if code == prIllegalRequest {
				break // the LU does not support it; another path will not either
			}
			continue
		}
		if pr.a.hex {
			dumpHex(pr.e.stderr, data)
		}
		if err := printIn(pr.e.stdout, pr.a.inSA, data); err != nil {
			fmt.Fprintf(pr.e.stderr, "%s: %v\n", pr.m.Name, err)
			fmt.Fprintln(pr.e.stderr, "Persistent Reserve IN command failed")
			return prMalformed
		}
		return prSuccess
	}
	fmt.Fprintln(pr.e.stderr, "Persistent Reserve IN command failed")
	return code
}

// printIn prints PR IN data as mpathpersist does.
func printIn(w io.Writer, sa scsipr.InAction, data []byte) error {
	switch sa {
	case scsipr.InReadKeys:
		k, err := scsipr.ParseKeys(data)
		if err != nil {
			return err
		}
		printKeys(w, k)
	case scsipr.InReadReservation:
		r, err := scsipr.ParseReservation(data)
		if err != nil {
			return err
		}
		printReservation(w, r)
	case scsipr.InReportCapabilities:
		if len(data) < 8 || int(data[0])<<8|int(data[1]) <= 2 {
			return errors.New("Unexpected response for PRIN Report Capabilities")
		}
		printCapabilities(w, data)
	case scsipr.InReadFullStatus:
		fs, err := scsipr.ParseFullStatus(data)
		if err != nil {
			return err
		}
		printFullStatus(w, fs)
	}
	return nil
}

func printKeys(w io.Writer, k scsipr.Keys) {
	fmt.Fprintf(w, "  PR generation=0x%x, ", k.Generation)
	switch len(k.Keys) {
	case 0:
		fmt.Fprint(w, "\t0 registered reservation key.\n")
		return
	case 1:
		fmt.Fprint(w, "\t1 registered reservation key follows:\n")
	default:
		fmt.Fprintf(w, "\t%d registered reservation keys follow:\n", len(k.Keys))
	}
	for _, key := range k.Keys {
		fmt.Fprintf(w, "    0x%x\n", key)
	}
}

func printScope(w io.Writer, format string, scope uint8) {
	if scope == 0 {
		fmt.Fprintf(w, format, "LU_SCOPE")
	} else {
		fmt.Fprintf(w, format, strconv.Itoa(int(scope)))
	}
}

func printReservation(w io.Writer, r scsipr.Reservation) {
	if !r.Held {
		fmt.Fprintf(w, "  PR generation=0x%x, there is NO reservation held \n", r.Generation)
		return
	}
	fmt.Fprintf(w, "  PR generation=0x%x, Reservation follows:\n", r.Generation)
	fmt.Fprintf(w, "   Key = 0x%x\n", r.Key)
	printScope(w, "  scope = %s, ", r.Scope)
	fmt.Fprintf(w, "type = %s\n", r.Type)
}

// printCapabilities prints REPORT CAPABILITIES as mpathpersist does,
// including its reading of the type mask as one host-order number.
func printCapabilities(w io.Writer, b []byte) {
	flag := func(v uint8) int {
		if v != 0 {
			return 1
		}
		return 0
	}
	fmt.Fprintln(w, "Report capabilities response:")
	fmt.Fprintf(w, "  Compatible Reservation Handling(CRH): %d\n", flag(b[2]&0x10))
	fmt.Fprintf(w, "  Specify Initiator Ports Capable(SIP_C): %d\n", flag(b[2]&0x08))
	fmt.Fprintf(w, "  All Target Ports Capable(ATP_C): %d\n", flag(b[2]&0x04))
	fmt.Fprintf(w, "  Persist Through Power Loss Capable(PTPL_C): %d\n", flag(b[2]&0x01))
	fmt.Fprintf(w, "  Type Mask Valid(TMV): %d\n", flag(b[3]&0x80))
	fmt.Fprintf(w, "  Allow Commands: %d\n", flag((b[3]>>4)&0x07))
	fmt.Fprintf(w, "  Persist Through Power Loss Active(PTPL_A): %d\n", flag(b[3]&0x01))
	if b[3]&0x80 == 0 {
		return
	}
	mask := int(b[4])<<8 | int(b[5])
	fmt.Fprintln(w, "    Support indicated in Type mask:")
	for _, tm := range []struct {
		t    scsipr.Type
		mask int
	}{{7, 0x80}, {6, 0x40}, {5, 0x20}, {3, 0x8}, {1, 0x2}, {8, 0x100}} {
		fmt.Fprintf(w, "      %s: %d\n", tm.t, mask&tm.mask)
	}
}

func printFullStatus(w io.Writer, fs scsipr.FullStatus) {
	fmt.Fprintf(w, "  PR generation=0x%x \n", fs.Generation)
	for _, r := range fs.Registrants {
		fmt.Fprintf(w, "   Key = 0x%x\n", r.Key)
		if r.AllTgPt {
			fmt.Fprintln(w, "      All target ports bit set")
		} else {
			fmt.Fprintln(w, "      All target ports bit clear")
			fmt.Fprintf(w, "      Relative port address: 0x%x\n", r.RelTgtPortID)
		}
		if r.Holder {
			fmt.Fprintln(w, "      << Reservation holder >>")
			printScope(w, "      scope: %s, ", r.Scope)
			fmt.Fprintf(w, " type: %s\n", r.Type)
		} else {
			fmt.Fprintln(w, "      not reservation holder")
		}
		printTransportID(w, r.TransportID)
	}
}

func printTransportID(w io.Writer, b []byte) {
	t, err := scsipr.ParseTransportID(b)
	if err != nil {
		return
	}
	switch t.Protocol {
	case scsipr.ProtocolFC, scsipr.ProtocolSAS:
		name := map[uint8]string{scsipr.ProtocolFC: "FCP-2", scsipr.ProtocolSAS: "SAS"}[t.Protocol]
		fmt.Fprintf(w, "   %s ", name)
		if t.Format != 0 {
			fmt.Fprintf(w, " [Unexpected format code: %d]\n", t.Format)
		}
		dumpHexTo(w, t.Port, false)
	case scsipr.ProtocolISCSI:
		fmt.Fprint(w, "   iSCSI ")
		switch t.Format {
		case scsipr.ISCSIDeviceName:
			fmt.Fprintf(w, "name: %s\n", t.Name)
		case scsipr.ISCSIPortID:
			fmt.Fprintf(w, "world wide unique port id: %s\n", t.Name)
		default:
			fmt.Fprintf(w, "  [Unexpected format code: %d]\n", t.Format)
			dumpHexTo(w, b[4:], false)
		}
	}
}

// dumpHex writes b in libmpathpersist's hex layout, as its log lines.
func dumpHex(w io.Writer, b []byte) { dumpHexTo(w, b, true) }

// dumpHexTo lays out 16 bytes a line, the ninth set off by one more space,
// full lines padded to 76 columns, as libmpathpersist does; as there, a full
// line printed to the output (not logged) gets no newline.
func dumpHexTo(w io.Writer, b []byte, log bool) {
	const start = 5
	line := []byte(strings.Repeat(" ", 80))
	pos := start
	for k, c := range b {
		pos += 3
		if pos == start+9*3 {
			pos++
		}
		copy(line[pos:], fmt.Sprintf("%02x ", c))
		if k > 0 && (k+1)%16 == 0 {
			if log {
				fmt.Fprintf(w, "%s\n", line[:76])
			} else {
				fmt.Fprintf(w, "%s", line[:76])
			}
			pos = start
			line = []byte(strings.Repeat(" ", 80))
		}
	}
	if pos > start {
		fmt.Fprintf(w, "%s\n", line[:pos+2])
	}
}

// out sends the PR OUT command down the paths the service action needs,
// after checking the keys against the map's reservation_key as
// multipath-tools does: with reservation_key "file", a registration records
// its new key in the daemon (which writes the prkeys file) before it is
// sent; then the command must use the map's key, as the key it holds or
// the key it registers.
func (pr *mapPR) out(ctx context.Context) int {
	a := pr.a
	p := scsipr.OutParams{Key: a.rk, SAKey: a.sark, AllTgPt: a.allTgPt || pr.conf.AllTgPt, APTPL: a.aptpl}
	registering := a.outSA == scsipr.Register || a.outSA == scsipr.RegisterIgnore
	mapKey, fromFile := pr.mapKey()
	if fromFile && a.sark != 0 && (a.outSA == scsipr.RegisterIgnore || a.outSA == scsipr.Register && (mapKey == 0 || a.rk == mapKey)) {
		mapKey = a.sark
		key := fmt.Sprintf("0x%x", a.sark)
		if a.aptpl {
			key += ":aptpl"
		}
		if !pr.tellDaemon(ctx, "setprkey map "+pr.m.Name+" key "+key) {
			fmt.Fprintf(pr.e.stderr, "%s: failed to set prkey for multipathd.\n", pr.m.Name)
			return prDMMPError
		}
	}
	if a.rk != mapKey && a.sark != mapKey && (a.sark != 0 || a.outSA != scsipr.RegisterIgnore) {
		fmt.Fprintf(pr.e.stderr, "%s: configured reservation key doesn't match: 0x%x\n", pr.m.Name, mapKey)
		return prSyntaxError
	}
	var err error
	switch a.outSA {
	case scsipr.Register, scsipr.RegisterIgnore:
		err = pr.register(a.outSA, p)
	case scsipr.Release:
		err = pr.release(p)
	default:
		err = pr.onePath(a.outSA, a.typ, p)
	}
	code := prStatus(err)
	if err != nil {
		pr.logf(1, "%s: %v", pr.m.Name, err)
		switch code {
		case prUnitAttention:
			fmt.Fprintln(pr.e.stdout, "persistent reserve out: scsi status: Unit Attention")
		case prConflict:
			fmt.Fprintln(pr.e.stdout, "persistent reserve out: scsi status: Reservation Conflict")
		}
		fmt.Fprintln(pr.e.stdout, "PR out: command failed")
		return code
	}
	switch {
	case registering && a.sark == 0, a.outSA == scsipr.Clear:
		pr.tellDaemon(ctx, "unsetprstatus map "+pr.m.Name)
		pr.tellDaemon(ctx, "unsetprkey map "+pr.m.Name)
	case registering:
		pr.tellDaemon(ctx, "setprstatus map "+pr.m.Name)
	}
	return prSuccess
}

// mapKey returns the map's configured reservation key (0: none) and
// whether it comes from the prkeys file.
func (pr *mapPR) mapKey() (uint64, bool) {
	switch pr.conf.ReservationKey.Source {
	case config.PRKeyConfig:
		return pr.conf.ReservationKey.Key, false
	case config.PRKeyFile:
		k, ok, _, err := prkeys.New(pr.conf.PRKeysFile).Get(pr.m.WWID)
		if err != nil {
			pr.logf(1, "%s: %v", pr.m.Name, err)
		}
		if ok {
			return k.Key, true
		}
		return 0, true
	}
	return 0, false
}

// errNoPath is returned when the map has no usable path.
var errNoPath = errors.New("no path available")

// tellDaemon sends one of multipathd's persistent reservation commands
// (setprkey, setprstatus, unsetprstatus, unsetprkey), so that the daemon
// registers the key on paths that come up later, and reports whether the
// daemon answered ok. Only setprkey's failure stops mpathpersist, as in
// multipath-tools: without the daemon the registrations made here stand.
func (pr *mapPR) tellDaemon(ctx context.Context, cmd string) bool {
	c, err := pr.e.dial(ctx)
	if err != nil {
		pr.logf(2, "%s: %s: %v", pr.m.Name, cmd, err)
		return false
	}
	defer c.Close()
	reply, err := c.Do(ctx, cmd)
	if err != nil || reply != "ok\n" {
		pr.logf(2, "%s: %s: %q %v", pr.m.Name, cmd, reply, err)
		return false
	}
	return true
}

// onePath sends the command down the first usable path, as
// multipath-tools does for RESERVE, PREEMPT and CLEAR: the reservation
// belongs to the key, which every path of the map carries.
func (pr *mapPR) onePath(sa scsipr.ServiceAction, t scsipr.Type, p scsipr.OutParams) error {
	for _, path := range pr.paths {
		if !path.usable {
			pr.logf(1, "%s: %s path not up. Skip", pr.m.WWID, path.dev)
			continue
		}
		return pr.onPath(path.dev, func(d sgio.Device) error { return scsipr.Out(d, sa, t, p, prTimeout) })
	}
	return errNoPath
}

// register sends REGISTER (or REGISTER AND IGNORE EXISTING KEY) down every
// usable path at once: each path is its own I_T nexus. With ALL_TG_PT one
// path per SCSI host suffices. When a REGISTER of a new key meets a
// reservation conflict on some path, the paths that took the key are
// unregistered again, so the map is left as it was.
func (pr *mapPR) register(sa scsipr.ServiceAction, p scsipr.OutParams) error {
	var targets []string
	hosts := map[string]bool{}
	for _, path := range pr.paths {
		if !path.usable {
			pr.logf(1, "%s: %s path not up. Skip.", pr.m.WWID, path.dev)
			continue
		}
		if p.AllTgPt && path.host != "" {
			if hosts[path.host] {
				continue
			}
			hosts[path.host] = true
		}
		targets = append(targets, path.dev)
	}
	if len(targets) == 0 {
		return errNoPath
	}
	errs := pr.parallel(targets, sa, p)
	var first, conflict error
	for _, err := range errs {
		if errors.Is(err, scsipr.ErrReservationConflict) && conflict == nil {
			conflict = err
		}
		if err != nil && first == nil {
			first = err
		}
	}
	if conflict == nil {
		return first
	}
	if sa == scsipr.Register && p.SAKey != 0 {
		pr.logf(3, "%s: ERROR: initiating pr out rollback", pr.m.WWID)
		var done []string
		for i, err := range errs {
			if err == nil {
				done = append(done, targets[i])
			}
		}
		for i, err := range pr.parallel(done, sa, scsipr.OutParams{Key: p.SAKey, AllTgPt: p.AllTgPt, APTPL: p.APTPL}) {
			if err != nil {
				pr.logf(1, "%s: %s: rollback: %v", pr.m.Name, done[i], err)
			}
		}
	}
	return conflict
}

// parallel sends one PR OUT down each of devs concurrently.
func (pr *mapPR) parallel(devs []string, sa scsipr.ServiceAction, p scsipr.OutParams) []error {
	errs := make([]error, len(devs))
	var wg sync.WaitGroup
	for i, dev := range devs {
		wg.Go(func() {
			errs[i] = pr.onPath(dev, func(d sgio.Device) error { return scsipr.Out(d, sa, pr.a.typ, p, prTimeout) })
		})
	}
	wg.Wait()
	return errs
}

// release sends RELEASE down every usable path (only the holding nexus
// releases; on the others it is a no-op), then reads the reservation back.
// When the map's key still holds it, the holding path is gone: the key
// preempts itself through a usable path, which moves the reservation there
// and drops the key's other registrations, then releases and registers the
// key again on the other paths. Another node's reservation is left alone.
func (pr *mapPR) release(p scsipr.OutParams) error {
	var targets []string
	for _, path := range pr.paths {
		if path.usable {
			targets = append(targets, path.dev)
		} else {
			pr.logf(1, "%s: %s path not up.", pr.m.WWID, path.dev)
		}
	}
	if len(targets) == 0 {
		return errNoPath
	}
	var conflict error
	for _, err := range pr.parallel(targets, scsipr.Release, p) {
		if err != nil && conflict == nil {
			conflict = err
		}
	}
	var res scsipr.Reservation
	err := pr.onPath(targets[0], func(d sgio.Device) error {
		var err error
		res, err = scsipr.ReadReservation(d, prTimeout)
		return err
	})
	switch {
	case err != nil:
		return fmt.Errorf("read reservation after release: %w", err)
	case !res.Held:
		pr.logf(2, "%s: Path holding reservation is released.", pr.m.WWID)
		return nil
	case res.Key != p.Key || res.Type.AllRegistrants():
		return conflict // not ours to release
	}
	pr.logf(2, "%s: Path holding reservation is not available.", pr.m.WWID)
	via := targets[0]
	err = pr.onPath(via, func(d sgio.Device) error {
		if err := scsipr.Out(d, scsipr.Preempt, res.Type, scsipr.OutParams{Key: p.Key, SAKey: p.Key}, prTimeout); err != nil {
			return err
		}
		return scsipr.Out(d, scsipr.Release, res.Type, scsipr.OutParams{Key: p.Key}, prTimeout)
	})
	if err != nil {
		return fmt.Errorf("release through %s: %w", via, err)
	}
	for i, err := range pr.parallel(targets[1:], scsipr.RegisterIgnore, scsipr.OutParams{SAKey: p.Key}) {
		if err != nil {
			pr.logf(1, "%s: %s: register again: %v", pr.m.Name, targets[1+i], err)
		}
	}
	return nil
}
