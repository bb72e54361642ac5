package daemon

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
)

// member is what the layout needs to know about one path of a map.
type member struct {
	dev      string // kernel name
	devt     dm.Dev
	prio     int  // last known priority; prioUndef if never known
	usable   bool // checker up or ghost, and dm has not failed it
	ghost    bool // checker ghost: usable only after activation
	marginal bool
	serial   string
	nodeName string
	tpg      int // ALUA target port group; -1 when unknown
}

const prioUndef = -1

// groupMembers splits a map's paths into priority groups by the grouping policy. Paths keep their
// order; each path not yet placed opens a group that every later matching path joins. Marginal
// paths are grouped by the same policy among themselves, never with normal ones.
func groupMembers(policy config.GroupingPolicy, ms []member) [][]member {
	if len(ms) == 0 {
		return nil
	}
	if slices.ContainsFunc(ms, func(m member) bool { return m.marginal }) && slices.ContainsFunc(ms, func(m member) bool { return !m.marginal }) {
		var normal, marginal []member
		for _, m := range ms {
			if m.marginal {
				marginal = append(marginal, m)
			} else {
				normal = append(normal, m)
			}
		}
		return append(groupMembers(policy, normal), groupMembers(policy, marginal)...)
	}
	if policy == config.Multibus {
		return [][]member{slices.Clone(ms)}
	}
	same := func(a, b member) bool {
		switch policy {
		case config.GroupByPrio:
			return a.prio == b.prio
		case config.GroupBySerial:
			return a.serial == b.serial
		case config.GroupByNodeName:
			return a.nodeName == b.nodeName
		case config.GroupByTPG:
			return a.tpg == b.tpg
		}
		return false // failover: one path per group
	}
	var groups [][]member
	placed := make([]bool, len(ms))
	for i, m := range ms {
		if placed[i] {
			continue
		}
		g := []member{m}
		for j := i + 1; j < len(ms); j++ {
			if !placed[j] && same(m, ms[j]) {
				g = append(g, ms[j])
				placed[j] = true
			}
		}
		groups = append(groups, g)
	}
	return groups
}

// groupPrio is the order key of a group: the average of the known priorities of its paths, or
// prioUndef when none is known. Path state does not count (see the package doc).
func groupPrio(g []member) int {
	sum, n := 0, 0
	for _, m := range g {
		if m.prio >= 0 {
			sum += m.prio
			n++
		}
	}
	if n == 0 {
		return prioUndef
	}
	return sum / n
}

func usableCount(g []member) int {
	n := 0
	for _, m := range g {
		if m.usable {
			n++
		}
	}
	return n
}

func allMarginal(g []member) bool {
	for _, m := range g {
		if !m.marginal {
			return false
		}
	}
	return true
}

// sortGroups orders groups as multipath-tools users expect: non-marginal before marginal, then higher
// priority first, then more paths; otherwise the earlier group keeps its place.
func sortGroups(gs [][]member) {
	slices.SortStableFunc(gs, func(a, b []member) int {
		if ma, mb := allMarginal(a), allMarginal(b); ma != mb {
			if ma {
				return 1
			}
			return -1
		}
		if pa, pb := groupPrio(a), groupPrio(b); pa != pb {
			return pb - pa
		}
		return len(b) - len(a)
	})
}

// bestGroup is the 1-based group I/O should use: the first group in order with a usable path,
// preferring groups whose usable paths are not all ghosts; 0 when no group has a usable path.
func bestGroup(gs [][]member) int {
	ghostOnly := 0
	for i, g := range gs {
		active := 0
		for _, m := range g {
			if m.usable && !m.ghost {
				active++
			}
		}
		if active > 0 {
			return i + 1
		}
		if ghostOnly == 0 && usableCount(g) > 0 {
			ghostOnly = i + 1
		}
	}
	return ghostOnly
}

// tableParams are the per-map settings that shape the table.
type tableParams struct {
	selector  string // "service-time 0"
	features  string // "2 pg_init_retries 50"
	queueMode string
	hwHandler string // "" none
	rrMinIORq int
	rrWeight  string // "priorities" multiplies the repeat count by the path prio
	queueing  bool
	// weights are service-time relative_throughput values by kernel name, from the polling core.
	weights map[string]int
}

// buildTable renders the desired multipath table for ordered groups.
func buildTable(gs [][]member, p tableParams) (dm.Table, error) {
	base, err := dm.ParseTable(strings.TrimSpace(p.features) + " 0 0 0")
	if err != nil {
		return dm.Table{}, fmt.Errorf("features %q: %w", p.features, err)
	}
	t := dm.Table{Features: base.Features, HWHandler: p.hwHandler}
	t.Features.QueueIfNoPath = p.queueing
	if p.queueMode != "" {
		t.Features.QueueMode = p.queueMode
	}
	selWords := strings.Fields(p.selector)
	if len(selWords) == 0 {
		return dm.Table{}, fmt.Errorf("empty path_selector")
	}
	n, err := strconv.Atoi(orDefault(selWords, 1, "0"))
	if err != nil || n != len(selWords)-2 && !(len(selWords) == 1 && n == 0) {
		return dm.Table{}, fmt.Errorf("path_selector %q: argument count does not match", p.selector)
	}
	var selArgs []string
	if len(selWords) > 2 {
		selArgs = selWords[2:]
	}
	repeat := p.rrMinIORq
	if repeat <= 0 {
		repeat = 1
	}
	for _, g := range gs {
		grp := dm.Group{Selector: selWords[0], SelectorArgs: selArgs}
		for _, m := range g {
			r := repeat
			if p.rrWeight == "priorities" && m.prio > 0 {
				r *= m.prio
			}
			args := []string{strconv.Itoa(r)}
			if selWords[0] == "service-time" {
				if w, ok := p.weights[m.dev]; ok {
					args = append(args, strconv.Itoa(w))
				}
			}
			grp.Paths = append(grp.Paths, dm.Path{Dev: m.devt.String(), Args: args})
		}
		t.Groups = append(t.Groups, grp)
	}
	t.InitialPG = bestGroup(gs)
	if t.InitialPG == 0 && len(gs) > 0 {
		t.InitialPG = 1
	}
	if err := t.Validate(); err != nil {
		return dm.Table{}, err
	}
	return t, nil
}

func orDefault(ws []string, i int, def string) string {
	if i < len(ws) {
		return ws[i]
	}
	return def
}

// sameLayout reports whether two tables place the same paths in the same groups in the same order
// with the same arguments, ignoring queueing and the initial group: the differences that messages,
// not reloads, take care of.
func sameLayout(desired, live dm.Table) bool {
	desired.Features.QueueIfNoPath, live.Features.QueueIfNoPath = false, false
	return dm.Equivalent(desired, live)
}
