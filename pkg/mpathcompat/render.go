package mpathcompat

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mpathd/mpathd/pkg/api"
)

// The words multipathd prints for the daemon's states.

// CheckerWord is a checker state as multipathd prints it (%T, chk_st).
func CheckerWord(state string) string {
	switch state {
	case api.CheckerUp:
		return "ready"
	case api.CheckerDown, api.CheckerDisconnected:
		return "faulty"
	case api.CheckerGhost:
		return "ghost"
	case api.CheckerPending:
		return "i/o pending"
	case api.CheckerTimeout:
		return "i/o timeout"
	}
	return "undef"
}

// devStateWord is the sysfs device state as multipathd prints it (%o, dev_st):
// it tells only offline from running.
func devStateWord(state string) string {
	switch state {
	case "offline", "transport-offline":
		return "offline"
	case "":
		return "unknown"
	}
	return "running"
}

func dmStateWord(state string) string {
	switch state {
	case api.DMActive, api.DMFailed:
		return state
	}
	return "undef"
}

func groupStateWord(state string) string {
	switch state {
	case api.GroupActive, api.GroupEnabled, api.GroupDisabled:
		return state
	}
	return "undef"
}

func marginalWord(m bool) string {
	if m {
		return "marginal"
	}
	return "normal"
}

// sizeWord prints a size in 512-byte sectors the way multipathd does: binary
// units from K, one decimal below 10, computed in single precision.
func sizeWord(sectors uint64) string {
	s := float32(sectors >> 1)
	units := "KMGTP"
	u := 0
	for s >= 1024 && u < len(units)-1 {
		s /= 1024
		u++
	}
	prec := 0
	if s < 10 {
		prec = 1
	}
	return strconv.FormatFloat(float64(s), 'f', prec, 32) + units[u:u+1]
}

func orHash(s string) string {
	if s == "" {
		return "##"
	}
	return s
}

// activePaths counts the paths whose checker says up or ghost, multipathd's
// nr_active.
func activePaths(m *api.Map) int {
	n := 0
	for _, g := range m.Groups {
		for _, p := range g.Paths {
			if p.CheckerState == api.CheckerUp || p.CheckerState == api.CheckerGhost {
				n++
			}
		}
	}
	return n
}

// lunHex prints a LUN in SAM addressing as multipathd's %L does.
func lunHex(hcil string) string {
	i := strings.LastIndexByte(hcil, ':')
	lun, err := strconv.ParseUint(hcil[i+1:], 10, 64)
	if i < 0 || err != nil {
		return "[undef]"
	}
	var b [8]byte
	for j := 0; j < 8; j += 2 {
		b[j], b[j+1] = byte(lun>>8), byte(lun)
		lun >>= 16
	}
	return "0x" + hex.EncodeToString(b[:])
}

// Wildcards, with the column headers multipathd gives them.
var (
	mapWildcards = []wildcard{
		{'n', "name"}, {'w', "uuid"}, {'d', "sysfs"}, {'F', "failback"}, {'Q', "queueing"},
		{'N', "paths"}, {'r', "write_prot"}, {'t', "dm-st"}, {'S', "size"}, {'f', "features"},
		{'x', "failures"}, {'h', "hwhandler"}, {'A', "action"}, {'0', "path_faults"},
		{'1', "switch_grp"}, {'2', "map_loads"}, {'3', "total_q_time"}, {'4', "q_timeouts"},
		{'s', "vend/prod/rev"}, {'v', "vend"}, {'p', "prod"}, {'e', "rev"}, {'G', "foreign"},
		{'g', "vpd page data"}, {'k', "max_sectors_kb"},
	}
	pathWildcards = []wildcard{
		{'w', "uuid"}, {'i', "hcil"}, {'d', "dev"}, {'D', "dev_t"}, {'t', "dm_st"}, {'o', "dev_st"},
		{'T', "chk_st"}, {'s', "vend/prod/rev"}, {'c', "checker"}, {'C', "next_check"}, {'p', "pri"},
		{'S', "size"}, {'z', "serial"}, {'M', "marginal_st"}, {'m', "multipath"}, {'N', "host WWNN"},
		{'n', "target WWNN"}, {'R', "host WWPN"}, {'r', "target WWPN"}, {'a', "host adapter"},
		{'G', "foreign"}, {'g', "vpd page data"}, {'0', "failures"}, {'P', "protocol"},
		{'I', "init_st"}, {'L', "LUN hex"}, {'A', "TPG"}, {'k', "max_sectors_kb"},
	}
	groupWildcards = []wildcard{{'s', "selector"}, {'p', "pri"}, {'t', "dm_st"}, {'M', "marginal_st"}}
)

type wildcard struct {
	c      byte
	header string
}

func lookup(ws []wildcard, c byte) (string, bool) {
	for _, w := range ws {
		if w.c == c {
			return w.header, true
		}
	}
	return "", false
}

// Wildcards is the text of `show wildcards`.
func Wildcards() string {
	var b strings.Builder
	for i, sec := range []struct {
		name string
		ws   []wildcard
	}{{"multipath", mapWildcards}, {"path", pathWildcards}, {"pathgroup", groupWildcards}} {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s format wildcards:\n", sec.name)
		for _, w := range sec.ws {
			fmt.Fprintf(&b, "%%%c  %s\n", w.c, w.header)
		}
	}
	return b.String()
}

// mapField is the value of map wildcard c.
func mapField(m *api.Map, c byte) string {
	switch c {
	case 'n':
		return m.Name
	case 'w':
		return m.WWID
	case 'd':
		if m.DM == "" {
			return "undef"
		}
		return m.DM
	case 'F':
		switch m.Failback {
		case "immediate", "followover":
			return m.Failback
		}
		return "-"
	case 'Q':
		return queueingWord(m)
	case 'N':
		return strconv.Itoa(activePaths(m))
	case 'r':
		if m.ReadOnly {
			return "ro"
		}
		return "rw"
	case 't':
		if m.DMState == "suspended" {
			return "suspend"
		}
		return "active"
	case 'S':
		return sizeWord(m.SizeSectors)
	case 'f':
		return m.Features
	case 'h':
		return m.HWHandler
	case 'A':
		return m.LastAction
	case '0':
		return strconv.FormatUint(m.PathFaults, 10)
	case '1':
		return strconv.FormatUint(m.GroupSwitches, 10)
	case '2':
		return strconv.FormatUint(m.TableLoads, 10)
	case 'x', '3', '4':
		return "0" // map failures, time queued and queueing timeouts are not counted
	case 's':
		if m.Vendor == "" || m.Product == "" {
			return "##,##"
		}
		return m.Vendor + "," + m.Product
	case 'v':
		return orHash(m.Vendor)
	case 'p':
		return orHash(m.Product)
	case 'e':
		return orHash(m.Revision)
	case 'G':
		return "--"
	case 'k':
		return "n/a" // unless read from sysfs: see withSysfs
	}
	return "[undef]"
}

// queueingWord is %Q: off, on, "N chk" while paths are usable under
// no_path_retry N, the intervals left while counting down, off once expired.
func queueingWord(m *api.Map) string {
	q := m.Queueing
	switch q.Mode {
	case api.QueueingOff:
		return "off"
	case api.QueueingOn:
		return "on"
	case api.QueueingRetries:
		switch {
		case activePaths(m) > 0 && q.Configured != "":
			return q.Configured + " chk"
		case q.Active && q.RetriesLeft > 0:
			return strconv.Itoa(q.RetriesLeft) + " chk"
		}
		return "off"
	}
	return "-"
}

// pathRow is a path with its map and group; m is nil for a path in no map,
// and o is then what the daemon knows of it when it is one of its orphans.
type pathRow struct {
	p *api.Path
	m *api.Map
	g *api.Group
	o *api.Orphan
}

func pathField(r pathRow, c byte) string {
	p, m := r.p, r.m
	switch c {
	case 'w':
		if m == nil {
			if r.o != nil {
				return r.o.WWID
			}
			return ""
		}
		return m.WWID
	case 'i':
		if p.HCIL == "" {
			return "#:#:#:#"
		}
		return p.HCIL
	case 'd':
		if p.Dev == "" {
			return "-"
		}
		return p.Dev
	case 'D':
		if p.Dev == "" {
			return "#:#"
		}
		return p.DevT
	case 't':
		if m == nil {
			return "undef"
		}
		return dmStateWord(p.DMState)
	case 'o':
		if m == nil {
			return "unknown"
		}
		return devStateWord(p.DevState)
	case 'T':
		return CheckerWord(p.CheckerState) // an orphan's as far as known, else undef
	case 's':
		if m == nil {
			if r.o != nil {
				return orHash(r.o.Vendor) + "," + orHash(r.o.Product) + "," + orHash(r.o.Revision)
			}
			return "##,##,##"
		}
		return orHash(m.Vendor) + "," + orHash(m.Product) + "," + orHash(m.Revision)
	case 'c':
		return p.Checker
	case 'C':
		if m == nil {
			return "orphan"
		}
		return "undef" // the checker's schedule is not exported
	case 'p':
		return strconv.Itoa(p.Prio)
	case 'S':
		if m == nil {
			if r.o != nil {
				return sizeWord(r.o.SizeSectors)
			}
			return "0.0K"
		}
		return sizeWord(m.SizeSectors)
	case 'z':
		return ""
	case 'M':
		return marginalWord(p.Marginal)
	case 'm':
		if m == nil {
			return "[orphan]"
		}
		return m.Name
	case 'G':
		return "--"
	case '0':
		return strconv.FormatUint(p.FailCount, 10)
	case 'P':
		return "scsi:unspec"
	case 'I':
		return "ok"
	case 'L':
		return lunHex(p.HCIL)
	case 'A':
		if !p.HasTPG {
			return "[undef]"
		}
		return fmt.Sprintf("0x%04x", p.TPG)
	case 'k':
		return "n/a" // unless read from sysfs: see withSysfs
	}
	// %N %n %R %r %a %g: multipathd prints [undef] for a path that is not on Fibre Channel or
	// whose vendor VPD page it did not read; the daemon exports neither.
	return "[undef]"
}

func groupField(g *api.Group, c byte) string {
	switch c {
	case 's':
		return g.Selector
	case 'p':
		return strconv.Itoa(g.Prio)
	case 't':
		return groupStateWord(g.State)
	case 'M':
		return marginalWord(g.Marginal)
	}
	return ""
}

// item is one piece of a parsed format: literal text, or a wildcard.
type item struct {
	lit string
	c   byte
}

// parseFormat splits a format into literals and known wildcards. As in
// multipathd, an unknown wildcard prints nothing, and a % at the end too.
func parseFormat(format string, ws []wildcard) []item {
	var items []item
	lit := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		if i > lit {
			items = append(items, item{lit: format[lit:i]})
		}
		if i+1 < len(format) {
			if _, ok := lookup(ws, format[i+1]); ok {
				items = append(items, item{c: format[i+1]})
			}
			i++
		}
		lit = i + 1
	}
	if lit < len(format) {
		items = append(items, item{lit: format[lit:]})
	}
	return items
}

// table renders n rows of a format: with a header line and every wildcard
// padded to its column's width when pretty, bare when raw.
func table(b *strings.Builder, items []item, ws []wildcard, n int, val func(row int, c byte) string, pretty bool) {
	widths := map[byte]int{}
	if pretty {
		for _, it := range items {
			if it.c == 0 {
				continue
			}
			h, _ := lookup(ws, it.c)
			w := len(h)
			for r := range n {
				w = max(w, len(val(r, it.c)))
			}
			widths[it.c] = w
		}
		line(b, items, widths, func(c byte) string { h, _ := lookup(ws, c); return h })
	}
	for r := range n {
		line(b, items, widths, func(c byte) string { return val(r, c) })
	}
}

func line(b *strings.Builder, items []item, widths map[byte]int, val func(c byte) string) {
	for _, it := range items {
		if it.c == 0 {
			b.WriteString(it.lit)
			continue
		}
		v := val(it.c)
		b.WriteString(v)
		for range widths[it.c] - len(v) {
			b.WriteByte(' ')
		}
	}
	b.WriteByte('\n')
}

// pathRows are the paths of t's maps, then its orphans: multipathd's path
// list holds both.
func pathRows(t api.Topology) []pathRow {
	rows := mapPathRows(t)
	for i := range t.Orphans {
		o := &t.Orphans[i]
		rows = append(rows, pathRow{o: o, p: &api.Path{Dev: o.Dev, DevT: o.DevT, HCIL: o.HCIL, DevState: o.DevState,
			CheckerState: o.CheckerState, Checker: o.Checker, Prio: -1}})
	}
	return rows
}

// mapPathRows are the paths of t's maps.
func mapPathRows(t api.Topology) []pathRow {
	var rows []pathRow
	for i := range t.Maps {
		m := &t.Maps[i]
		for j := range m.Groups {
			g := &m.Groups[j]
			for k := range g.Paths {
				rows = append(rows, pathRow{p: &g.Paths[k], m: m, g: g})
			}
		}
	}
	return rows
}

// Default formats of multipathd's tables.
const (
	PathsFormat     = "%i %d %D %p %t %T %o %C"
	MapsFormat      = "%n %d %w"
	MapsStatusFmt   = "%n %F %Q %N %t %r"
	MapsStatsFormat = "%n %0 %1 %2 %3 %4"
	topoPathFormat  = "%i %d %D %t %T %o"
)

// Paths renders `show paths [raw] format F` over every path of t; %k is read
// under sysBlock ("" for n/a).
func Paths(t api.Topology, format string, pretty bool, sysBlock string) string {
	rows := pathRows(t)
	var b strings.Builder
	table(&b, parseFormat(format, pathWildcards), pathWildcards, len(rows),
		withSysfs(sysBlock, func(r int) string { return rows[r].p.Dev },
			func(r int, c byte) string { return pathField(rows[r], c) }), pretty)
	return b.String()
}

// Maps renders `show maps [raw] format F` over the maps of t; %k is read
// under sysBlock ("" for n/a).
func Maps(t api.Topology, format string, pretty bool, sysBlock string) string {
	var b strings.Builder
	table(&b, parseFormat(format, mapWildcards), mapWildcards, len(t.Maps),
		withSysfs(sysBlock, func(r int) string { return t.Maps[r].DM },
			func(r int, c byte) string { return mapField(&t.Maps[r], c) }), pretty)
	return b.String()
}

// withSysfs answers %k, max_sectors_kb, from the row's block device under sysBlock, as
// multipathd reads it at each request, and the other wildcards from field.
func withSysfs(sysBlock string, dev func(int) string, field func(int, byte) string) func(int, byte) string {
	return func(r int, c byte) string {
		if c != 'k' || sysBlock == "" {
			return field(r, c)
		}
		return maxSectorsKB(sysBlock, dev(r))
	}
}

// maxSectorsKB reads a block device's queue/max_sectors_kb: "n/a" when it cannot, as multipathd.
func maxSectorsKB(sysBlock, dev string) string {
	if dev == "" || strings.ContainsAny(dev, "/\x00") || dev == "." || dev == ".." {
		return "n/a"
	}
	b, err := os.ReadFile(filepath.Join(sysBlock, dev, "queue", "max_sectors_kb"))
	if err != nil {
		return "n/a"
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return "n/a"
	}
	return strconv.Itoa(n)
}

// RenderTopology writes the maps of t in the layout of `multipath -ll` and
// `multipathd show topology`:
//
//	mpatha (3600a0980…) dm-2 NETAPP,LUN C-Mode
//	size=100G features='1 queue_if_no_path' hwhandler='1 alua' wp=rw
//	|-+- policy='service-time 0' prio=50 status=active
//	| `- 1:0:0:1 sdb 8:16 active ready running
//	`-+- policy='service-time 0' prio=10 status=enabled
//	  `- 2:0:0:1 sdc 8:32 active ready running
//
// Path columns are as wide as their widest value among all map paths of t, as
// multipathd pads them. A map named by its WWID shows no "(wwid)". Checker
// states print as multipathd's words; a path whose CheckerState is ""
// (multipath -l, which runs no checker) prints "undef".
func RenderTopology(w io.Writer, t api.Topology) error {
	_, err := io.WriteString(w, topology(t, t))
	return err
}

// topology renders the maps of t with path columns sized over all of t.
func topology(maps, all api.Topology) string {
	rows := mapPathRows(all)
	items := parseFormat(topoPathFormat, pathWildcards)
	widths := map[byte]int{}
	for _, it := range items {
		for _, r := range rows {
			widths[it.c] = max(widths[it.c], len(pathField(r, it.c)))
		}
	}
	var b strings.Builder
	for i := range maps.Maps {
		m := &maps.Maps[i]
		b.WriteString(m.Name)
		if m.Name != m.WWID {
			b.WriteString(" (" + m.WWID + ")")
		}
		b.WriteString(" " + mapField(m, 'd') + " " + mapField(m, 's') + "\n")
		fmt.Fprintf(&b, "size=%s features='%s' hwhandler='%s' wp=%s\n",
			mapField(m, 'S'), m.Features, m.HWHandler, mapField(m, 'r'))
		for j := range m.Groups {
			g := &m.Groups[j]
			lastGroup := j == len(m.Groups)-1
			branch, stem := "|-+- ", "| "
			if lastGroup {
				branch, stem = "`-+- ", "  "
			}
			fmt.Fprintf(&b, "%spolicy='%s' prio=%d status=%s\n", branch, g.Selector, g.Prio, groupStateWord(g.State))
			for k := range g.Paths {
				b.WriteString(stem)
				if k == len(g.Paths)-1 {
					b.WriteString("`- ")
				} else {
					b.WriteString("|- ")
				}
				line(&b, items, widths, func(c byte) string { return pathField(pathRow{p: &g.Paths[k], m: m, g: g}, c) })
			}
		}
	}
	return b.String()
}

// Status renders `show status`: paths per checker state in multipathd's
// order and names, the number of monitored paths, and whether the daemon is
// busy (starting, configuring or reloading).
func Status(s api.Status) string {
	var b strings.Builder
	b.WriteString("path checker states:\n")
	for _, st := range []string{api.CheckerUnchecked, api.CheckerDown, api.CheckerUp, api.CheckerGhost,
		api.CheckerPending, api.CheckerTimeout, api.CheckerDisconnected} {
		if n := s.CheckerStates[st] + s.OrphanCheckerStates[st]; n > 0 {
			fmt.Fprintf(&b, "%-20s%d\n", st, n)
		}
	}
	busy := "False"
	if s.State != "running" {
		busy = "True"
	}
	// multipathd counts every path it knows, those in no map too.
	fmt.Fprintf(&b, "\npaths: %d\nbusy: %s\n", s.Paths+s.Orphans, busy)
	return b.String()
}

// Daemon renders `show daemon`: "pid N STATE".
func Daemon(s api.Status) string {
	state := s.State
	switch state {
	case "reloading":
		state = "configure"
	case "stopping":
		state = "shutdown"
	case "":
		state = "undef"
	}
	return fmt.Sprintf("pid %d %s\n", s.PID, state)
}
