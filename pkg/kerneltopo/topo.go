// Package kerneltopo reads the multipath topology straight from the kernel:
// every device-mapper map whose uuid is "mpath-<WWID>" and whose table is a
// multipath target, its table and status through pkg/dm, and the paths under
// it through sysfs. It needs no daemon, so `multipath -l` and `-ll` answer
// while mpathd is stopped, and the answer is the kernel's, not a daemon's
// memory of it.
//
// The result is an api.Topology, the same document the daemon serves, so one
// renderer prints both. What only a checker knows (the path state, the
// priority) is filled in by an optional Prober, as `multipath -ll` runs the
// checkers itself and `-l` does not.
package kerneltopo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// UUIDPrefix marks the maps multipath-tools and mpathd create.
const UUIDPrefix = "mpath-"

// Probe is what a Prober found out about one path.
type Probe struct {
	State   string // an api.Checker* state
	Prio    int
	Checker string // the checker's name, "tur"
}

// Prober checks and rates one path of a map, as `multipath -ll` does.
type Prober interface {
	Probe(ctx context.Context, m api.Map, p sysfs.Path) Probe
}

// Reader reads maps from DM and paths from Sys. With a nil Prober every path
// is left unchecked with priority 0, which is what `multipath -l` shows.
type Reader struct {
	DM     dm.Control
	Sys    sysfs.FS
	Prober Prober
}

// MapDevice is a multipath map as listed by the kernel.
type MapDevice struct {
	dm.Device
	WWID string
}

// Maps lists the multipath maps, sorted by name (the order the kernel lists
// them in since it keeps names in a tree, and the order multipath prints).
func (r Reader) Maps() ([]MapDevice, error) {
	devs, err := r.DM.List()
	if err != nil {
		return nil, fmt.Errorf("kerneltopo: list maps: %w", err)
	}
	var out []MapDevice
	for _, d := range devs {
		if wwid, ok := strings.CutPrefix(d.UUID, UUIDPrefix); ok && wwid != "" {
			out = append(out, MapDevice{Device: d, WWID: wwid})
		}
	}
	slices.SortFunc(out, func(a, b MapDevice) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Topology reads every multipath map for which keep returns true (nil keeps
// all). A map that vanishes while it is read is left out; a map whose table
// cannot be read is an error naming it, after the others are read.
func (r Reader) Topology(ctx context.Context, keep func(MapDevice) bool) (api.Topology, error) {
	devs, err := r.Maps()
	if err != nil {
		return api.Topology{}, err
	}
	paths := &pathIndex{sys: r.Sys}
	top := api.Topology{Maps: []api.Map{}}
	var errs []error
	for _, d := range devs {
		if keep != nil && !keep(d) {
			continue
		}
		m, err := r.read(ctx, d, paths)
		switch {
		case dm.IsNotExist(err), errors.Is(err, dm.ErrNotMultipath), errors.Is(err, dm.ErrNoTable):
			continue // removed meanwhile, or a mpath- uuid on another target: not a multipath map
		case err != nil:
			errs = append(errs, err)
			continue
		}
		top.Maps = append(top.Maps, m)
	}
	if len(top.Maps) == 0 && paths.err != nil {
		errs = append(errs, paths.err)
	}
	return top, errors.Join(errs...)
}

// pathIndex finds the SCSI path behind a device number of a table. It follows
// /sys/dev/block/MAJ:MIN, so only the paths of the maps asked for are read
// (multipath -U runs on every dm uevent, on hosts with thousands of paths);
// without that directory it reads every path once. A path that cannot be
// read is not found: its map shows it by number only.
type pathIndex struct {
	sys     sysfs.FS
	byDev   map[string]sysfs.Path
	scanned bool
	err     error // from the full scan, for the caller's report
}

func (ix *pathIndex) lookup(devt string) (sysfs.Path, bool) {
	if p, ok := ix.byDev[devt]; ok || ix.scanned {
		return p, ok
	}
	if ix.byDev == nil {
		ix.byDev = map[string]sysfs.Path{}
	}
	link, err := os.Readlink(filepath.Join(ix.sys.Root(), "sys", "dev", "block", devt))
	if err == nil {
		p, err := ix.sys.Path(filepath.Base(link))
		if err != nil {
			return sysfs.Path{}, false
		}
		ix.byDev[devt] = p
		return p, true
	}
	ps, err := ix.sys.Paths()
	ix.scanned, ix.err = true, err
	for _, p := range ps {
		ix.byDev[p.Dev.String()] = p
	}
	p, ok := ix.byDev[devt]
	return p, ok
}

func (r Reader) read(ctx context.Context, d MapDevice, paths *pathIndex) (api.Map, error) {
	info, err := r.DM.Info(d.Name)
	if err != nil {
		return api.Map{}, err
	}
	table, sectors, err := r.DM.Table(d.Name)
	if err != nil {
		return api.Map{}, err
	}
	status, err := r.DM.Status(d.Name)
	if err != nil {
		return api.Map{}, err
	}
	m := api.Map{
		Name:        d.Name,
		UUID:        d.UUID,
		WWID:        d.WWID,
		DM:          "dm-" + strconv.FormatUint(uint64(info.Dev.Minor), 10),
		DevT:        info.Dev.String(),
		SizeSectors: sectors,
		ReadOnly:    info.ReadOnly,
		DMState:     "active",
		Queueing:    api.Queueing{Active: table.Features.QueueIfNoPath},
	}
	if info.Suspended {
		m.DMState = "suspended"
	}
	m.Features, m.HWHandler = FeatureWords(table)
	for _, g := range table.Groups {
		for _, tp := range g.Paths {
			if sp, ok := paths.lookup(tp.Dev); ok {
				m.Vendor, m.Product, m.Revision = sp.Vendor, sp.Model, sp.Rev
				break
			}
		}
		if m.Vendor != "" {
			break
		}
	}
	for gi, g := range table.Groups {
		ag := api.Group{Index: gi + 1, State: api.GroupEnabled, Selector: selectorWords(g), Paths: []api.Path{}}
		var gs dm.GroupStatus
		if gi < len(status.Groups) {
			gs = status.Groups[gi]
		}
		switch gs.State {
		case dm.GroupActive:
			ag.State = api.GroupActive
		case dm.GroupDisabled:
			ag.State = api.GroupDisabled
		}
		var prioSum, counted int
		for pi, tp := range g.Paths {
			ap := api.Path{DevT: tp.Dev, DMState: api.DMActive, CheckerState: api.CheckerUnchecked}
			if pi < len(gs.Paths) && gs.Paths[pi].Dev == tp.Dev {
				ap.FailCount = uint64(gs.Paths[pi].FailCount)
				if gs.Paths[pi].Failed {
					ap.DMState = api.DMFailed
				}
			} else if ps, _, ok := status.Path(tp.Dev); ok {
				ap.FailCount = uint64(ps.FailCount)
				if ps.Failed {
					ap.DMState = api.DMFailed
				}
			}
			sp, known := paths.lookup(tp.Dev)
			if known {
				ap.Dev, ap.HCIL, ap.DevState = sp.Name, sp.HCTL.String(), sp.State
			} else {
				// Gone from sysfs while still in the table: the kernel will fail it.
				ap.CheckerState = api.CheckerDown
			}
			switch {
			case known && r.Prober != nil:
				pr := r.Prober.Probe(ctx, m, sp)
				ap.CheckerState, ap.Prio, ap.Checker = pr.State, pr.Prio, pr.Checker
			case known:
				ap.CheckerState = DeviceState(sp.State)
			}
			// A group's priority is the mean over its usable paths, as multipath computes it.
			if ap.CheckerState == api.CheckerUp || ap.CheckerState == api.CheckerGhost {
				prioSum += ap.Prio
				counted++
			}
			ag.Paths = append(ag.Paths, ap)
		}
		if counted > 0 {
			ag.Prio = prioSum / counted
		}
		m.Groups = append(m.Groups, ag)
	}
	return m, nil
}

// DeviceState is what a path's SCSI device state alone says about it,
// without I/O: offline devices are down, blocked or quiescing ones pending,
// and a running one is unchecked until a checker has run. multipath -l shows
// paths this way.
func DeviceState(devState string) string {
	switch devState {
	case "offline", "transport-offline":
		return api.CheckerDown
	case "blocked", "quiesce", "created-blocked":
		return api.CheckerPending
	}
	return api.CheckerUnchecked
}

// FeatureWords renders a table's feature and hardware handler fields as the
// kernel prints them: "1 queue_if_no_path" and "1 alua", "0" when empty.
func FeatureWords(t dm.Table) (features, handler string) {
	w := strings.Fields(t.String())
	if len(w) == 0 {
		return "0", "0"
	}
	n, err := strconv.Atoi(w[0])
	if err != nil || len(w) < n+2 {
		return "0", "0"
	}
	features = strings.Join(w[:n+1], " ")
	h, err := strconv.Atoi(w[n+1])
	if err != nil || len(w) < n+2+h {
		return features, "0"
	}
	return features, strings.Join(w[n+1:n+2+h], " ")
}

// selectorWords is the group's selector as the table has it: "service-time 0".
func selectorWords(g dm.Group) string {
	s := g.Selector + " " + strconv.Itoa(len(g.SelectorArgs))
	if len(g.SelectorArgs) > 0 {
		s += " " + strings.Join(g.SelectorArgs, " ")
	}
	return s
}
