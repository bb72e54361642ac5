package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
)

// paint colours state words on a terminal. Every code has the same length,
// so tabwriter columns stay aligned when a whole column is painted.
type paint bool

const (
	green  = "\x1b[32m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	grey   = "\x1b[90m"
	plain  = "\x1b[39m"
	reset  = "\x1b[0m"
)

var stateColour = map[string]string{
	api.DMActive: green, api.DMFailed: red, // api.GroupActive is "active" too
	api.CheckerUp: green, api.CheckerDown: red, api.CheckerTimeout: red, api.CheckerDisconnected: red,
	api.CheckerGhost: yellow, api.CheckerPending: yellow, api.CheckerUnchecked: grey,
	api.GroupEnabled: plain, api.GroupDisabled: grey,
	"running": plain, "offline": red, "blocked": yellow, "transport-offline": red,
	api.MapOptimal: green, api.MapDegraded: yellow, api.MapQueueing: red, // api.MapFailed is "failed", as api.DMFailed
}

func (p paint) state(s string) string { return p.as(s, s) }

// as paints text in the colour of state key.
func (p paint) as(key, text string) string {
	if !p {
		return text
	}
	c, ok := stateColour[key]
	if !ok {
		c = plain
	}
	return c + text + reset
}

// size formats 512-byte sectors in binary units, as multipath -ll does.
func size(sectors uint64) string {
	b := float64(sectors) * 512
	units := []string{"", "K", "M", "G", "T", "P", "E"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	s := fmt.Sprintf("%.1f", b)
	s = strings.TrimSuffix(s, ".0")
	return s + units[i]
}

func queueing(q api.Queueing) string {
	var s string
	switch q.Mode {
	case api.QueueingRetries:
		s = "retry(" + q.Configured + ")"
		if q.RetriesLeft > 0 {
			s = fmt.Sprintf("retry(%d/%s left)", q.RetriesLeft, q.Configured)
		}
	case "":
		s = "?"
	default:
		s = q.Mode
	}
	if q.Active {
		s += ",queueing"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// renderMapTree writes one map the way multipath -ll does.
func renderMapTree(w io.Writer, m api.Map, p paint) {
	fmt.Fprint(w, m.Name)
	if m.WWID != "" && m.WWID != m.Name {
		fmt.Fprintf(w, " (%s)", m.WWID)
	}
	fmt.Fprintf(w, " %s %s,%s\n", orDash(m.DM), orDash(m.Vendor), orDash(m.Product))
	wp := "rw"
	if m.ReadOnly {
		wp = "ro"
	}
	fmt.Fprintf(w, "size=%s features='%s' hwhandler='%s' wp=%s queue=%s\n",
		size(m.SizeSectors), m.Features, m.HWHandler, wp, queueing(m.Queueing))
	for gi, g := range m.Groups {
		lastGroup := gi == len(m.Groups)-1
		branch, stem := "|-+-", "| "
		if lastGroup {
			branch, stem = "`-+-", "  "
		}
		fmt.Fprintf(w, "%s policy='%s' prio=%d status=%s\n", branch, g.Selector, g.Prio, p.state(g.State))
		for pi, path := range g.Paths {
			leaf := "|-"
			if pi == len(g.Paths)-1 {
				leaf = "`-"
			}
			held := ""
			if path.Held != "" {
				held = " held=" + path.Held
			}
			if path.Fallback != "" {
				held += fmt.Sprintf(" checker=%s prio=%s fallback=%q", path.Checker, orDash(path.Prioritizer), path.Fallback)
			}
			fmt.Fprintf(w, "%s%s %s %s %s %s %s %s%s\n", stem, leaf, orDash(path.HCIL), path.Dev, orDash(path.DevT),
				p.state(path.DMState), p.state(path.CheckerState), p.state(orDash(path.DevState)), held)
		}
	}
}

func renderTopology(w io.Writer, t api.Topology, p paint) {
	if len(t.Maps) == 0 {
		fmt.Fprintln(w, "no multipath maps")
		return
	}
	for _, m := range t.Maps {
		renderMapTree(w, m, p)
	}
}

func renderMap(w io.Writer, m api.Map, p paint) {
	renderMapTree(w, m, p)
	total, usable := m.PathCount()
	fmt.Fprintf(w, "health=%s paths=%d/%d failback=%s dm=%s path_faults=%d group_switches=%d table_loads=%d\n",
		p.state(m.Health()), usable, total, orDash(m.Failback), orDash(m.DMState), m.PathFaults, m.GroupSwitches, m.TableLoads)
	if r := m.Reservation; r != nil {
		fmt.Fprintf(w, "reservation: key=%s (%s) status=%s hold=%s\n", orDash(r.Key), r.KeySource, r.Status, r.Hold)
	}
}

func renderMaps(w io.Writer, t api.Topology, p paint) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tWWID\tDM\tSIZE\tPATHS\tHEALTH\tQUEUE\tVENDOR/PRODUCT")
	for _, m := range t.Maps {
		total, usable := m.PathCount()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s,%s\n", m.Name, m.WWID, orDash(m.DM), size(m.SizeSectors),
			usable, total, p.state(m.Health()), queueing(m.Queueing), orDash(m.Vendor), orDash(m.Product))
	}
	tw.Flush()
}

func renderPaths(w io.Writer, paths []api.PathInfo, p paint) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "HCIL\tDEV\tDEV_T\tMAP\tGROUP\tPRIO\tDM\tCHECKER\tDEVICE\tWEIGHT")
	for _, x := range paths {
		if x.Map == "" { // an orphan: in no map, so no group, priority, dm state or weight
			fmt.Fprintf(tw, "%s\t%s\t%s\t(orphan)\t-\t-\t-\t%s\t%s\t-\n", orDash(x.HCIL), x.Dev, orDash(x.DevT),
				p.state(orDash(x.CheckerState)), p.state(orDash(x.DevState)))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%d\n", orDash(x.HCIL), x.Dev, orDash(x.DevT), orDash(x.Map),
			x.Group, x.Prio, p.state(x.DMState), p.state(x.CheckerState), p.state(orDash(x.DevState)), x.Weight)
	}
	tw.Flush()
}

func renderStatus(w io.Writer, s api.Status, p paint) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "version\t%s\n", s.Version)
	fmt.Fprintf(tw, "pid\t%d\n", s.PID)
	fmt.Fprintf(tw, "state\t%s\n", s.State)
	fmt.Fprintf(tw, "uptime\t%s\n", (time.Duration(s.UptimeSec) * time.Second).String())
	fmt.Fprintf(tw, "config\t%s\n", orDash(s.ConfigFile))
	for _, f := range s.ConfigFiles {
		if f != s.ConfigFile {
			fmt.Fprintf(tw, "  drop-in\t%s\n", f)
		}
	}
	for _, w := range s.ConfigWarnings {
		fmt.Fprintf(tw, "  warning\t%s\n", w)
	}
	for _, e := range s.TransportErrors {
		fmt.Fprintf(tw, "  transport\t%s\n", e)
	}
	if !s.LastReconfigure.IsZero() {
		fmt.Fprintf(tw, "reconfigured\t%s\n", s.LastReconfigure.UTC().Format(time.RFC3339))
	}
	if s.DBus != "" {
		fmt.Fprintf(tw, "d-bus\t%s\n", s.DBus)
	}
	fmt.Fprintf(tw, "event streams\t%d\n", s.EventSubscribers)
	fmt.Fprintf(tw, "maps\t%d\n", s.Maps)
	for _, h := range []string{api.MapOptimal, api.MapDegraded, api.MapQueueing, api.MapFailed} {
		fmt.Fprintf(tw, "  %s\t%d\n", p.state(h), s.MapStates[h])
	}
	fmt.Fprintf(tw, "paths\t%d\n", s.Paths)
	states := slices.Clone(api.CheckerStates)
	for k := range s.CheckerStates { // states a newer daemon knows
		if !slices.Contains(states, k) {
			states = append(states, k)
		}
	}
	for _, c := range states {
		fmt.Fprintf(tw, "  %s\t%d\n", p.state(c), s.CheckerStates[c])
	}
	tw.Flush()
}

func renderExplain(w io.Writer, e api.Explanation) {
	fmt.Fprintf(w, "map %s (%s)", e.Map, e.WWID)
	if e.Path != "" {
		fmt.Fprintf(w, ", path %s", e.Path)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tFROM")
	for _, s := range e.Settings {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, orDash(s.Value), s.Origin)
	}
	tw.Flush()
	if len(e.Transport) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "PATH\tOBJECT\tATTRIBUTE\tWANT\tKERNEL\tERROR")
		for _, t := range e.Transport {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Path, t.Object, t.Attribute, t.Want, orDash(t.Value), orDash(t.Error))
		}
		tw.Flush()
	}
	for _, n := range e.TransportNotes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

const mb = 1e6 // MB/s columns are SI megabytes, as iostat prints them

func renderStats(w io.Writer, s api.Stats, p paint) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MAP\tIOPS\tREAD MB/s\tWRITE MB/s\tAVG KiB\tSVC ms\tIN-FLIGHT\tUTIL %\t")
	for _, m := range s.Maps {
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.1f\t%.1f\t%.2f\t%d\t%.0f\t\n", m.Name, m.IOPS, m.ReadBytesSec/mb,
			m.WriteBytesSec/mb, m.AvgReqBytes/1024, m.ServiceTimeMs, m.InFlight, m.Utilisation*100)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "PATH\tMAP\tGROUP\tDM\tCHECKER\tWEIGHT\tIOPS\tREAD MB/s\tWRITE MB/s\tSVC ms\tIN-FLIGHT\tUTIL %\t")
	for _, x := range s.Paths {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%.0f\t%.1f\t%.1f\t%.2f\t%d\t%.0f\t\n", x.Dev, x.Map, x.Group,
			p.state(x.DMState), p.state(x.CheckerState), x.Weight, x.IOPS, x.ReadBytesSec/mb, x.WriteBytesSec/mb,
			x.ServiceTimeMs, x.InFlight, x.Utilisation*100)
	}
	tw.Flush()
}

func renderEvent(w io.Writer, ev api.Event, p paint) {
	var b strings.Builder
	b.WriteString(ev.Time.Local().Format("2006-01-02 15:04:05.000"))
	fmt.Fprintf(&b, " %-13s", ev.Type)
	if ev.Map != "" {
		b.WriteString(" " + ev.Map)
	}
	if ev.Path != "" {
		b.WriteString(" " + ev.Path)
	}
	if ev.Old != "" || ev.New != "" {
		fmt.Fprintf(&b, " %s -> %s", p.state(orDash(ev.Old)), p.state(orDash(ev.New)))
	}
	if ev.Reason != "" {
		b.WriteString(": " + ev.Reason)
	}
	fmt.Fprintln(w, b.String())
}

// rate prints a number in at most width characters.
func rate(v float64, width int) string {
	s := fmt.Sprintf("%.0f", v)
	if len(s) > width {
		s = fmt.Sprintf("%.1fk", v/1000)
	}
	if len(s) > width {
		s = fmt.Sprintf("%.1fM", v/1e6)
	}
	return s
}

// renderTop draws one screen of `mpathctl top` in 80 columns.
func renderTop(w io.Writer, st api.Stats, t api.Topology, p paint) {
	var up, total int
	for _, x := range st.Paths {
		total++
		if x.DMState == api.DMActive && x.CheckerState == api.CheckerUp {
			up++
		}
	}
	fmt.Fprintf(w, "mpathd top  %s  maps %d  paths %d/%d up  window %.0fs\n\n",
		st.Time.Local().Format("2006-01-02 15:04:05"), len(st.Maps), up, total, st.WindowSec)
	const row = "%-14.14s %-11.11s %8s %8s %8s %7s %5s %4s %5s\n"
	fmt.Fprintf(w, row, "MAP/PATH", "STATE", "IOPS", "RD MB/s", "WR MB/s", "SVC ms", "INFL", "WGT", "UTIL%")
	health := map[string]string{}
	for _, m := range t.Maps {
		health[m.Name] = m.Health()
	}
	paths := map[string][]api.PathStats{}
	for _, x := range st.Paths {
		paths[x.Map] = append(paths[x.Map], x)
	}
	// The state column is padded before painting so colours keep alignment.
	pad := func(key, s string, n int) string { return p.as(key, s) + strings.Repeat(" ", max(0, n-len(s))) }
	for _, m := range st.Maps {
		fmt.Fprintf(w, "%-14.14s %s %8s %8.1f %8.1f %7.2f %5d %4s %5.0f\n", m.Name, pad(health[m.Name], orDash(health[m.Name]), 11),
			rate(m.IOPS, 8), m.ReadBytesSec/mb, m.WriteBytesSec/mb, m.ServiceTimeMs, m.InFlight, "", m.Utilisation*100)
		for _, x := range paths[m.Name] {
			name := fmt.Sprintf("  %s g%d", x.Dev, x.Group)
			state := x.CheckerState
			if x.DMState == api.DMFailed {
				state = x.CheckerState + "/failed"
			}
			fmt.Fprintf(w, "%-14.14s %s %8s %8.1f %8.1f %7.2f %5d %4d %5.0f\n", name, pad(x.CheckerState, state, 11),
				rate(x.IOPS, 8), x.ReadBytesSec/mb, x.WriteBytesSec/mb, x.ServiceTimeMs, x.InFlight, x.Weight, x.Utilisation*100)
		}
	}
}
