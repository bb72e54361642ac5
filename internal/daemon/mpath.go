package daemon

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// path is the daemon's state of one path device.
type path struct {
	info     sysfs.Path
	gen      uint64 // the claim of the device name this path came with (see devOwners)
	spec     CheckSpec
	checked  bool // a first check result arrived; until then the path stays out of the table
	state    checker.State
	reason   string
	prio     int
	prioName string
	// checkerName is the checker the monitor used (detection may replace the configured one);
	// fallback says why a configured checker or prioritizer is not in use.
	checkerName, fallback string
	// checkerSource and prioSource: configured, default, fallback or detected (and how).
	checkerSource, prioSource string
	// dmFailed mirrors the path's A/F in the kernel's status line.
	dmFailed  bool
	failCount int
	// recheck is set when the kernel failed the path behind the checker's back: it is not
	// reinstated on the strength of an older "up" until a fresh check result arrives.
	recheck bool
	since   time.Time // last checker state change
	// Flap damping: a path the kernel fails again soon after each reinstatement (one that answers
	// TEST UNIT READY but fails I/O) is held out for an interval that doubles with each flap.
	reinstated time.Time
	flaps      int
	holdUntil  time.Time
	// marginal is set while the polling core's detector finds the path marginal: it is grouped
	// apart, after the normal groups, and still carries I/O when no normal group can.
	marginal bool
	// adminMarginal is set by "setmarginal path" until "unsetmarginal": the path is grouped as a
	// marginal one whatever the detector finds.
	adminMarginal bool
	// adminFailed is set by "fail path": the path stays failed, whatever its checks say, until
	// "reinstate path".
	adminFailed bool
	// Persistent reservation (reservation.go): prBusy while a registration job runs, with the
	// check result it holds back in prStash; prDone once the path was registered (or found not
	// to need it) for its current period of use.
	prBusy  bool
	prDone  bool
	prStash CheckResult
}

// heldOut reports whether mpathd keeps the path out of use although its check may pass: failed by
// the administrator, or held after flapping.
func (p *path) heldOut(now time.Time) bool { return p.adminFailed || now.Before(p.holdUntil) }

// wanted reports whether the path should carry I/O: it passes its check, has been checked again
// since the kernel last failed it, and is not held out.
func (p *path) wanted(now time.Time) bool {
	return p.checked && p.state.Usable() && !p.recheck && !p.heldOut(now)
}

// inUse reports whether the path carries I/O now: wanted, in the live table, and not failed in the
// kernel. Only such paths keep a map out of no_path_retry's recovery mode.
func (m *mpath) inUse(p *path, now time.Time) bool {
	if _, _, ok := m.status.Path(p.info.Dev.String()); !ok {
		return false
	}
	return !p.dmFailed && p.wanted(now)
}

// mpath is one multipath map, owned by exactly one shard.
type mpath struct {
	wwid string
	name string
	res  *config.Resolved

	paths []*path // in discovery order; the table keeps this order inside groups

	exists  bool
	info    dm.Info
	live    dm.Table
	sectors uint64
	status  dm.Status

	policy config.GroupingPolicy
	groups [][]member // the layout of the last table we computed

	// retryExpired is set when no_path_retry N ran out; queueing stays off until a path is usable.
	retryExpired  bool
	retriesLeft   int       // polling intervals left before queueing stops; -1 when not counting
	recoverySince time.Time // when the last usable path went (no_path_retry N)
	failbackLeft  int       // deferred failback ticks left; -1 when not counting
	// followover is the path whose return, as the first usable path of its group, calls for a
	// failback under failback followover; "" when none.
	followover string
	keptEmpty  bool // lost its last path and was kept (flush_on_last_del); said once
	// pathsCame is set when paths are added, until sync has seen it: paths returning to a map
	// cancel its pending deferred remove.
	pathsCame bool
	// createFails counts creations the kernel refused in a row; none is tried before createRetry.
	createFails int
	createRetry time.Time
	// relaid is set once mpathd loads a table into the map or the configuration is reloaded: from
	// then on the live order no longer stands for paths whose priority is unknown (keepsLiveLayout).
	relaid bool

	// dirty is set whenever the map may have changed; publish re-renders only dirty maps. seen is
	// when the shard last looked at the map: the moment its snapshot describes.
	dirty  bool
	seen   time.Time
	cached api.Map

	pathFaults, groupSwitches, tableLoads uint64
	lastAction                            string // api.Map.LastAction
	err                                   string // the last error acting on this map, for show

	st mapStats // polling core: sampled devices, planned weights

	pr    prState   // persistent reservation (reservation.go)
	parts partState // its partition maps
}

func (m *mpath) uuid() string { return "mpath-" + m.wwid }

func (m *mpath) path(dev string) *path {
	for _, p := range m.paths {
		if p.info.Name == dev {
			return p
		}
	}
	return nil
}

// pathByDevT finds a path by the MAJ:MIN the kernel prints.
func (m *mpath) pathByDevT(devt string) *path {
	for _, p := range m.paths {
		if p.info.Dev.String() == devt {
			return p
		}
	}
	return nil
}

// usablePaths counts the paths in use (see inUse).
func (m *mpath) usablePaths(now time.Time) int {
	n := 0
	for _, p := range m.paths {
		if m.inUse(p, now) {
			n++
		}
	}
	return n
}

// wantQueueing is whether queue_if_no_path should be set now: as no_path_retry says, and also while
// a path that passes its check is held out after flapping. The hold is mpathd's own decision, so
// should the paths in use fail meanwhile, I/O queues for the moment it takes to release the held
// path (see releaseHold) rather than fail.
func (m *mpath) wantQueueing(now time.Time) bool { return m.policyQueues() || m.holding(now) }

// policyQueues is whether no_path_retry wants queueing now.
func (m *mpath) policyQueues() bool {
	switch m.res.NoPathRetry.Mode {
	case config.RetryQueue:
		return true
	case config.RetryCount:
		return !m.retryExpired
	}
	return false
}

// holding reports whether a path of the live table that passes its check is held out after
// flapping.
func (m *mpath) holding(now time.Time) bool {
	for _, p := range m.paths {
		if _, _, ok := m.status.Path(p.info.Dev.String()); ok && p.checked && p.state.Usable() && !p.recheck &&
			!p.adminFailed && now.Before(p.holdUntil) {
			return true
		}
	}
	return false
}

// members describes the map's table-ready paths for the layout.
func (m *mpath) members(now time.Time) []member {
	var ms []member
	for _, p := range m.paths {
		if !p.checked {
			continue
		}
		tpg := -1
		if p.info.HasTPG {
			tpg = int(p.info.TPG)
		}
		ms = append(ms, member{
			dev:      p.info.Name,
			devt:     dm.Dev{Major: p.info.Dev.Major, Minor: p.info.Dev.Minor},
			prio:     p.prio,
			usable:   p.wanted(now),
			ghost:    p.state == checker.Ghost,
			serial:   p.info.WWID, // VPD 0x80 serial is per LU on most arrays; WWID stands in
			nodeName: p.info.Transport.NodeName,
			tpg:      tpg,
			marginal: p.marginal || p.adminMarginal,
		})
	}
	return ms
}

// layout computes the groups and the desired table.
func (m *mpath) layout(weights map[string]int, now time.Time) ([][]member, dm.Table, error) {
	ms := m.members(now)
	var prios []string
	allTPG := len(ms) > 0
	for _, p := range m.paths {
		if p.checked {
			prios = append(prios, p.prioName)
			allTPG = allTPG && p.info.HasTPG
		}
	}
	m.policy, _ = m.res.SelectGrouping(config.Grouping{Prios: prios, AllHaveTPG: allTPG})
	gs := groupMembers(m.policy, ms)
	sortGroups(gs)
	t, err := buildTable(gs, tableParams{
		selector:  m.res.PathSelector,
		features:  m.res.Features,
		queueMode: m.res.QueueMode,
		hwHandler: m.hwHandler(gs),
		rrMinIORq: m.res.RRMinIORq,
		rrWeight:  m.res.RRWeight,
		queueing:  m.wantQueueing(now),
		weights:   weights,
	})
	return gs, t, err
}

// hwHandler is the handler the kernel will run the map with, and so print back. The kernel
// (retain_attached_hw_handler, in force for every request-based map since Linux 4.3) parses the
// paths in table order: a path with a handler attached makes that handler the map's, a path
// without one gets the map's handler as it stands. So the last path in table order with a handler
// attached decides, and the configured handler applies only when no path has one. Asking for
// anything else would never match the readback and would reload the map at every reconcile.
// As in multipath-tools, a configured alua handler is dropped when a path reports no target port
// group: the kernel fails the whole table when it cannot attach the handler to a path, which is
// what an array without ALUA (a 3PAR host persona without it, say) would make of the hardware
// table's "1 alua".
func (m *mpath) hwHandler(gs [][]member) string {
	handler := ""
	if h := strings.Fields(m.res.HardwareHandler); len(h) >= 2 {
		handler = h[1]
	}
	if handler == "alua" {
		for _, p := range m.paths {
			if !p.info.HasTPG {
				handler = ""
				break
			}
		}
	}
	for _, g := range gs {
		for _, mem := range g {
			if p := m.path(mem.dev); p != nil && p.info.DHState != "" && p.info.DHState != "detached" {
				handler = p.info.DHState
			}
		}
	}
	return handler
}

// size is the size the map should have: the size every path reports; while paths disagree (a
// resize in progress) the live size stays.
func (m *mpath) size() uint64 {
	var s uint64
	for _, p := range m.paths {
		if !p.checked || p.info.Size == 0 {
			continue
		}
		if s != 0 && p.info.Size != s {
			if m.sectors != 0 {
				return m.sectors
			}
			return min(s, p.info.Size)
		}
		s = p.info.Size
	}
	return s
}

// ready is true when every path has had its first check, so the layout is known.
func (m *mpath) ready() bool {
	for _, p := range m.paths {
		if !p.checked {
			return false
		}
	}
	return len(m.paths) > 0
}

// snapshot renders the map for readers, as of the last time the shard looked at it.
func (m *mpath) snapshot() api.Map {
	now := m.seen
	am := api.Map{
		Name:          m.name,
		UUID:          m.uuid(),
		WWID:          m.wwid,
		SizeSectors:   m.sectors,
		Failback:      m.res.Failback.String(),
		PathFaults:    m.pathFaults,
		GroupSwitches: m.groupSwitches,
		Partitions:    slices.Clone(m.parts.names),
		TableLoads:    m.tableLoads,
		LastAction:    m.lastAction,
		Queueing:      m.queueingSnapshot(),
		ReadOnly:      m.info.ReadOnly,
		DMState:       "active",
	}
	if m.pr.src != config.PRKeyNone {
		r := m.prInfo()
		am.Reservation = &r
	}
	if m.exists {
		am.DM = fmt.Sprintf("dm-%d", m.info.Dev.Minor)
		am.DevT = m.info.Dev.String()
	}
	if m.info.Suspended {
		am.DMState = "suspended"
	}
	if len(m.paths) > 0 {
		am.Vendor, am.Product, am.Revision = m.paths[0].info.Vendor, m.paths[0].info.Model, m.paths[0].info.Rev
	}
	am.Features, am.HWHandler = featureWords(m.live)
	sel := strings.TrimSpace(m.res.PathSelector)
	placed := map[string]bool{}
	for gi, g := range m.groups {
		ag := api.Group{Index: gi + 1, State: api.GroupEnabled, Prio: groupPrio(g), Selector: sel, Marginal: allMarginal(g)}
		if gi < len(m.status.Groups) {
			switch m.status.Groups[gi].State {
			case dm.GroupActive:
				ag.State = api.GroupActive
			case dm.GroupDisabled:
				ag.State = api.GroupDisabled
			}
		}
		for _, mem := range g {
			p := m.path(mem.dev)
			if p == nil {
				continue
			}
			placed[p.info.Name] = true
			ap := pathSnapshot(p, now)
			ap.Marginal, ap.Weight = p.marginal || p.adminMarginal, liveWeight(m.live, gi, p.info.Dev.String())
			ag.Paths = append(ag.Paths, ap)
		}
		am.Groups = append(am.Groups, ag)
	}
	// Paths not in the table yet (first check pending) are shown in a group 0 of their own.
	var waiting []api.Path
	for _, p := range m.paths {
		if !placed[p.info.Name] {
			waiting = append(waiting, pathSnapshot(p, now))
		}
	}
	if len(waiting) > 0 {
		am.Groups = append(am.Groups, api.Group{Index: 0, State: api.GroupDisabled, Prio: prioUndef, Selector: sel, Paths: waiting})
	}
	return am
}

func pathSnapshot(p *path, now time.Time) api.Path {
	dmState := api.DMActive
	if p.dmFailed {
		dmState = api.DMFailed
	}
	held := ""
	switch {
	case p.adminFailed:
		held = api.HeldAdmin
	case now.Before(p.holdUntil):
		held = api.HeldFlapping
	}
	return api.Path{
		Held:         held,
		Dev:          p.info.Name,
		DevT:         p.info.Dev.String(),
		HCIL:         p.info.HCTL.String(),
		DMState:      dmState,
		CheckerState: p.state.String(),
		DevState:     p.info.State,
		Prio:         p.prio,
		Checker:      cmp.Or(p.checkerName, p.spec.Checker),
		Prioritizer:  p.prioName,
		Fallback:     p.fallback,
		CheckerFrom:  p.checkerSource,
		PrioFrom:     p.prioSource,
		FailCount:    uint64(p.failCount),
		TPG:          p.info.TPG,
		HasTPG:       p.info.HasTPG,
	}
}

func (m *mpath) queueingSnapshot() api.Queueing {
	q := api.Queueing{Configured: m.res.NoPathRetry.String(), Active: m.live.Features.QueueIfNoPath}
	switch m.res.NoPathRetry.Mode {
	case config.RetryQueue:
		q.Mode = api.QueueingOn
	case config.RetryCount:
		q.Mode = api.QueueingRetries
		if m.retriesLeft > 0 {
			q.RetriesLeft = m.retriesLeft
		}
	default:
		q.Mode = api.QueueingOff
	}
	return q
}

// featureWords renders the table's feature and handler fields as the kernel prints them.
func featureWords(t dm.Table) (features, handler string) {
	s := t.String()
	w := strings.Fields(s)
	if len(w) == 0 {
		return "0", "0"
	}
	n, err := strconv.Atoi(w[0])
	if err != nil || len(w) < n+2 {
		return "0", "0"
	}
	features = strings.Join(w[:n+1], " ")
	h, err := strconv.Atoi(w[n+1])
	if err != nil || len(w) < n+2+h+1 {
		return features, "0"
	}
	return features, strings.Join(w[n+1:n+2+h], " ")
}

var errNoPaths = errors.New("no usable path")
