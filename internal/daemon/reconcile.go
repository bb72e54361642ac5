package daemon

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
)

// sync brings the kernel's map in line with what the daemon knows. It runs on the shard goroutine
// after every change to the map. Messages are preferred to reloads; a reload happens only when the
// layout (paths, groups, order, selector arguments) or the size must change, and never before every
// path has had its first check, so the layout is computed from known priorities.
func (s *shard) sync(m *mpath) {
	s.progress()
	d := s.d
	now := d.now()
	m.dirty, m.seen = true, now
	defer s.trackStats(m)
	if len(m.paths) == 0 {
		// A map kept without paths still follows no_path_retry: its queued I/O must not wait
		// for a path that may never come.
		if s.lastPathGone(m) && s.syncQueueing(m, now) {
			s.refresh(m)
		}
		return
	}
	s.cancelDeferredRemove(m)
	ready := m.ready()
	switch {
	case !m.exists && !ready:
		return
	case !m.exists:
		if !s.create(m) {
			return
		}
	case ready:
		gs, desired, err := m.layout(d.weights(m), now)
		sectors := m.size()
		if err != nil {
			s.fail(m, "build table", err)
			break
		}
		if sectors == m.sectors && (sameLayout(desired, m.live) || m.keepsLiveLayout(desired)) {
			break
		}
		if k := m.keptGroup(gs); k > 0 {
			desired.InitialPG = k
		}
		why := "layout changed"
		if sectors != m.sectors {
			why = fmt.Sprintf("size %d → %d sectors", m.sectors, sectors)
		}
		if err := dm.Reload(d.dm, m.name, sectors, desired, d.mapUdevFlags(m)); err != nil {
			s.fail(m, "reload", err)
			break
		}
		m.tableLoads++
		m.lastAction = "reload"
		m.relaid, m.err = true, ""
		d.log.Info().Str("map", m.name).Str("why", why).Int("groups", len(gs)).Msg("table reloaded")
		s.emit(api.Event{Type: api.EventMapReloaded, Map: m.name, Reason: why})
		if sectors != m.sectors {
			s.emit(api.Event{Type: api.EventMapResized, Map: m.name, Old: strconv.FormatUint(m.sectors, 10), New: strconv.FormatUint(sectors, 10)})
			m.parts.wanted = true // a grown map may hold a grown table
		}
		s.refresh(m)
	}
	changed := s.syncPathStates(m, now)
	changed = s.syncQueueing(m, now) || changed
	changed = s.syncGroups(m, now) || changed
	if changed {
		s.refresh(m)
	}
	s.scanParts(m)
}

// cancelDeferredRemove takes back a pending deferred remove when paths come to the map, as
// multipath-tools does: otherwise the kernel deletes the live map at its next close. A deferred
// remove asked for while the map has paths (dmsetup remove --deferred) is left alone.
func (s *shard) cancelDeferredRemove(m *mpath) {
	d := s.d
	came := m.pathsCame
	m.pathsCame = false
	if !came || !m.exists || !m.info.DeferredRemove {
		return
	}
	if _, err := d.dm.Message(m.name, "@cancel_deferred_remove"); err != nil {
		s.fail(m, "cancel deferred remove", err)
		m.pathsCame = true // try again at the next pass
		return
	}
	m.info.DeferredRemove = false
	d.log.Info().Str("map", m.name).Int("paths", len(m.paths)).Msg("paths returned: deferred remove cancelled")
}

// keepsLiveLayout reports whether the live table stands although the layout computed now differs
// from it. That holds only for a table made before mpathd saw the map (an adoption at start-up,
// under the same configuration), in two cases: the paths differ only in their order inside their
// groups (multipathd orders them as it discovered them; the order only says where I/O starts, no
// reason for a reload on the day mpathd takes over), or a path's priority was never read (down since
// mpathd started), which is no reason to regroup it: the grouping waits for that path's first good
// check.
func (m *mpath) keepsLiveLayout(desired dm.Table) bool {
	if m.relaid || m.tableLoads > 0 {
		return false
	}
	if sameLayout(sortedPaths(desired), sortedPaths(m.live)) {
		return true
	}
	for _, p := range m.paths {
		if p.checked && p.prio == prioUndef {
			return sameRegrouped(desired, m.live)
		}
	}
	return false
}

// sortedPaths returns t with the paths of each group in device order.
func sortedPaths(t dm.Table) dm.Table {
	t.Groups = slices.Clone(t.Groups)
	for i := range t.Groups {
		t.Groups[i].Paths = slices.SortedFunc(slices.Values(t.Groups[i].Paths), func(a, b dm.Path) int {
			return strings.Compare(a.Dev, b.Dev)
		})
	}
	return t
}

// keptGroup is the group of gs to load as the table's initial one so that a reload does not move
// I/O by itself: the group holding a working (not ghost) path of the group the kernel uses now. A
// new table otherwise starts on its best group, which under failback manual, followover or deferred
// is a failback those modes forbid or have not yet allowed; syncGroups applies them after the
// reload as without it. 0 under failback immediate, or when the group in use has no such path
// left (leaving it is no failback).
func (m *mpath) keptGroup(gs [][]member) int {
	if !m.exists || m.res.Failback.Mode == config.FailbackImmediate {
		return 0
	}
	cur := m.currentGroup()
	if cur == 0 || cur > len(m.live.Groups) {
		return 0
	}
	inUse := map[string]bool{}
	for _, p := range m.live.Groups[cur-1].Paths {
		inUse[p.Dev] = true
	}
	for i, g := range gs {
		for _, mem := range g {
			if mem.usable && !mem.ghost && inUse[mem.devt.String()] {
				return i + 1
			}
		}
	}
	return 0
}

// sameRegrouped reports whether desired and live hold the same paths with the same arguments,
// differing at most in how the paths are grouped and ordered.
func sameRegrouped(desired, live dm.Table) bool {
	type placed struct {
		g dm.Group
		p dm.Path
	}
	byDev := map[string]placed{}
	for _, g := range desired.Groups {
		for _, p := range g.Paths {
			byDev[p.Dev] = placed{g, p}
		}
	}
	regrouped := desired
	regrouped.Groups = nil
	n := 0
	for _, lg := range live.Groups {
		var g dm.Group
		for i, lp := range lg.Paths {
			dp, ok := byDev[lp.Dev]
			if !ok {
				return false
			}
			if i == 0 {
				g.Selector, g.SelectorArgs = dp.g.Selector, dp.g.SelectorArgs
			}
			g.Paths = append(g.Paths, dp.p)
			n++
		}
		regrouped.Groups = append(regrouped.Groups, g)
	}
	return n == len(byDev) && sameLayout(regrouped, live)
}

// create makes the map in the kernel, or adopts one that appeared meanwhile.
func (s *shard) create(m *mpath) bool {
	d := s.d
	if d.now().Before(m.createRetry) {
		return false
	}
	if m.name == "" {
		m.name = d.mapName(m)
	}
	now := d.now()
	_, desired, err := m.layout(d.weights(m), now)
	if err != nil {
		s.fail(m, "build table", err)
		return false
	}
	flags := d.mapUdevFlags(m)
	if !slices.ContainsFunc(m.paths, func(p *path) bool { return p.wanted(now) }) {
		flags |= dm.MpathNoPaths
	}
	// At start-up the wait for udev's confirmation of the new map runs beside the shard's next
	// creates (READY waits for it); afterwards a create returns once udev has made the links.
	info, wait, err := dm.CreateMapDeferred(d.dm, m.name, m.uuid(), m.size(), desired, flags)
	if err == nil && d.deferUdev.Load() {
		d.udev.add(wait)
	} else {
		wait()
	}
	if err != nil {
		if s.adoptExisting(m, err) {
			return true
		}
		s.fail(m, "create", err)
		s.createFailed(m)
		return false
	}
	m.exists, m.info, m.err = true, info, ""
	m.createFails, m.createRetry = 0, time.Time{}
	m.tableLoads++
	m.lastAction = "create"
	m.relaid = true
	d.indexMap(m)
	d.log.Info().Str("map", m.name).Str("wwid", m.wwid).Int("paths", len(m.paths)).Msg("map created")
	s.emit(api.Event{Type: api.EventMapAdded, Map: m.name, Reason: fmt.Sprintf("%d paths", len(m.paths))})
	s.remember(m)
	s.refresh(m)
	m.parts.wanted = true
	return true
}

// refresh re-reads the live table and status, which are the truth about the map.
func (s *shard) refresh(m *mpath) {
	d := s.d
	m.dirty = true
	if info, err := d.dm.Info(m.name); err == nil {
		m.info = info
	}
	t, sectors, err := d.dm.Table(m.name)
	if err != nil {
		s.fail(m, "read table", err)
		return
	}
	st, err := d.dm.Status(m.name)
	if err != nil {
		s.fail(m, "read status", err)
		return
	}
	m.live, m.sectors, m.status = t, sectors, st
	m.groups = m.liveGroups(d.now())
	s.absorbStatus(m)
}

// absorbStatus takes the kernel's per-path A/F into the paths. A path the kernel failed while the
// checker still called it usable is marked for a fresh check and re-checked at once, with its
// siblings: the kernel saw an I/O error the checker has not seen yet. Whether it was a flap is
// judged by that fresh check (see pathChecked).
func (s *shard) absorbStatus(m *mpath) {
	d := s.d
	kick := false
	for _, p := range m.paths {
		ps, _, ok := m.status.Path(p.info.Dev.String())
		if !ok {
			p.dmFailed = false
			continue
		}
		if ps.Failed && !p.dmFailed && p.checked && p.state.Usable() {
			p.recheck = true
			p.prLeft()
			kick = true
			m.pathFaults++
			d.log.Warn().Str("map", m.name).Str("path", p.info.Name).Msg("path failed by the kernel")
			s.emit(api.Event{Type: api.EventPathDown, Map: m.name, Path: p.info.Name, Old: api.DMActive, New: api.DMFailed, Reason: "failed by the kernel (I/O error)"})
		}
		p.dmFailed = ps.Failed
		p.failCount = ps.FailCount
	}
	if kick {
		for _, p := range m.paths {
			d.monitor.CheckNow(p.info.Name)
		}
	}
}

// liveGroups describes the live table's groups with the paths' current facts, so that group
// numbers always match the kernel's.
func (m *mpath) liveGroups(now time.Time) [][]member {
	byDevT := map[string]member{}
	for _, mem := range m.members(now) {
		byDevT[mem.devt.String()] = mem
	}
	gs := make([][]member, 0, len(m.live.Groups))
	for _, g := range m.live.Groups {
		var mg []member
		for _, p := range g.Paths {
			mem, ok := byDevT[p.Dev]
			if !ok {
				mem = member{dev: p.Dev, prio: prioUndef, tpg: -1}
				if dv, err := dm.ParseDev(p.Dev); err == nil {
					mem.devt = dv
				}
			}
			mg = append(mg, mem)
		}
		gs = append(gs, mg)
	}
	return gs
}

// syncPathStates fails and reinstates paths in the kernel to match what mpathd wants of each: a
// path is failed while its checker finds it down, the kernel failed it and no check has confirmed it
// since, or it is held out; it is reinstated when it is wanted again. A reload starts every path
// of the new table active, so this also puts back the failures a reload undid.
func (s *shard) syncPathStates(m *mpath, now time.Time) bool {
	d := s.d
	s.releaseHold(m, now)
	changed := false
	active := m.wantedUp(now)
	for _, p := range m.paths {
		if !p.checked {
			continue
		}
		ps, _, ok := m.status.Path(p.info.Dev.String())
		if !ok {
			continue
		}
		devt := p.info.Dev.String()
		switch {
		case !ps.Failed && (failing(p.state) || p.recheck || p.heldOut(now)):
			if err := dm.FailPath(d.dm, m.name, devt); err != nil {
				s.fail(m, "fail_path "+p.info.Name, err)
				continue
			}
			p.dmFailed = true
			changed = true
			if failing(p.state) {
				m.pathFaults++
				d.log.Warn().Str("map", m.name).Str("path", p.info.Name).Str("reason", p.reason).Msg("path failed")
			} else {
				d.log.Info().Str("map", m.name).Str("path", p.info.Name).Str("why", keptOutWhy(p, now)).Msg("path kept failed")
			}
		case ps.Failed && p.wanted(now):
			// A standby path of a map with no active path stays failed: the kernel would send I/O
			// to it, the I/O would fail and the path would flap.
			if p.state == checker.Ghost && !active {
				continue
			}
			if err := dm.ReinstatePath(d.dm, m.name, devt); err != nil {
				s.fail(m, "reinstate_path "+p.info.Name, err)
				continue
			}
			p.dmFailed = false
			changed = true
			p.reinstated = now
			d.log.Info().Str("map", m.name).Str("path", p.info.Name).Str("state", p.state.String()).Msg("path reinstated")
		}
	}
	return changed
}

// wantedUp reports whether an up (not standby) path of the live table is wanted in use.
func (m *mpath) wantedUp(now time.Time) bool {
	for _, p := range m.paths {
		if _, _, ok := m.status.Path(p.info.Dev.String()); ok && p.state == checker.Up && p.wanted(now) {
			return true
		}
	}
	return false
}

func keptOutWhy(p *path, now time.Time) string {
	switch {
	case p.adminFailed:
		return "failed by the administrator"
	case p.recheck:
		return "failed by the kernel, not checked since"
	case now.Before(p.holdUntil):
		return "held out after flapping"
	}
	return p.state.String()
}

// releaseHold keeps flap damping from costing the map its last path: when no path of the live
// table would carry I/O, the held path that passes its check with the best priority is released
// at once. An administrator's fail stands. Marginal paths need no release: they stay in the table,
// in a group of their own that the kernel uses when no other group can.
func (s *shard) releaseHold(m *mpath, now time.Time) {
	d := s.d
	anyUp := m.wantedUp(now)
	var best *path
	for _, p := range m.paths {
		ps, _, ok := m.status.Path(p.info.Dev.String())
		if !ok {
			continue
		}
		if p.wanted(now) && (anyUp || !ps.Failed) {
			return // a path carries I/O
		}
		if !p.checked || !p.state.Usable() || p.recheck || p.adminFailed || !now.Before(p.holdUntil) {
			continue
		}
		if best == nil || better(p, best) {
			best = p
		}
	}
	if best == nil {
		return
	}
	best.holdUntil = time.Time{}
	d.log.Warn().Str("map", m.name).Str("path", best.info.Name).Int("flaps", best.flaps).
		Msg("no other path in use: flapping path released from its hold")
	s.emit(api.Event{Type: api.EventPathState, Map: m.name, Path: best.info.Name, Old: "held", New: best.state.String(),
		Reason: "released from its hold: the map has no other path in use"})
}

// better ranks held paths for release: up before standby, then the higher priority.
func better(a, b *path) bool {
	if (a.state == checker.Up) != (b.state == checker.Up) {
		return a.state == checker.Up
	}
	return a.prio > b.prio
}

// flapWindow is how soon after its reinstatement a kernel failure counts as a flap; maxHold caps
// how long a flapping path is kept out.
const (
	flapWindow = 30 * time.Second
	maxHold    = 5 * time.Minute
)

// damp records a kernel failure of a usable path: a failure within flapWindow of the path's last
// reinstatement doubles the time it is held out before the next one; a path that stayed in use
// longer starts afresh.
func (s *shard) damp(m *mpath, p *path) {
	d := s.d
	now := d.now()
	if p.reinstated.IsZero() || now.Sub(p.reinstated) > flapWindow {
		p.flaps = 0
		return
	}
	p.flaps++
	hold := time.Duration(d.cfg().Global().PollingInterval) * time.Second << min(p.flaps, 10)
	hold = min(hold, maxHold)
	p.holdUntil = now.Add(hold)
	d.log.Warn().Str("map", m.name).Str("path", p.info.Name).Int("flaps", p.flaps).Dur("hold", hold).
		Msg("path fails again after reinstatement: holding it out")
	s.emit(api.Event{Type: api.EventPathState, Map: m.name, Path: p.info.Name, Old: "flapping", New: "held",
		Reason: fmt.Sprintf("failed by the kernel %d times soon after reinstatement; held out for %v", p.flaps, hold)})
}

// failing reports the checker states that take a path out of use.
func failing(st checker.State) bool {
	switch st {
	case checker.Down, checker.Timeout, checker.Disconnected:
		return true
	}
	return false
}

// syncQueueing applies no_path_retry: queue forever, fail at once, or queue for N polling
// intervals after the last path went (counted down by tick) and queue again when a path returns.
func (s *shard) syncQueueing(m *mpath, now time.Time) bool {
	d := s.d
	if m.res.NoPathRetry.Mode == config.RetryCount {
		if m.usablePaths(now) > 0 {
			if m.retriesLeft >= 0 || m.retryExpired {
				d.log.Info().Str("map", m.name).Msg("path available again: leaving recovery mode")
			}
			m.retriesLeft, m.retryExpired = -1, false
		} else if m.retriesLeft < 0 && !m.retryExpired && (m.ready() || len(m.paths) == 0) {
			// Paths not checked yet (an adopted map at start-up) are unknown, not gone.
			m.retriesLeft = m.res.NoPathRetry.Count
			m.recoverySince = now
			d.log.Warn().Str("map", m.name).Int("no_path_retry", m.retriesLeft).
				Int("polling_interval", d.cfg().Global().PollingInterval).
				Msg("no usable path: entering recovery mode, I/O queued")
		}
	}
	want := m.wantQueueing(now)
	if want == m.live.Features.QueueIfNoPath {
		return false
	}
	var err error
	if want {
		err = dm.QueueIfNoPath(d.dm, m.name)
	} else {
		err = dm.FailIfNoPath(d.dm, m.name)
	}
	if err != nil {
		s.fail(m, "set queueing", err)
		return false
	}
	m.live.Features.QueueIfNoPath = want
	ev := api.Event{Type: api.EventQueueingOff, Map: m.name, Old: "on", New: "off"}
	if want {
		ev = api.Event{Type: api.EventQueueingOn, Map: m.name, Old: "off", New: "on"}
	}
	switch {
	case want && !m.policyQueues():
		ev.Reason = "a flapping path is held out: I/O queues rather than fails until it is released"
	case want:
		ev.Reason = "no_path_retry " + m.res.NoPathRetry.String()
	case m.retryExpired:
		ev.Reason = fmt.Sprintf("no_path_retry %d exhausted: queued I/O fails", m.res.NoPathRetry.Count)
	default:
		ev.Reason = "no_path_retry " + m.res.NoPathRetry.String()
	}
	d.log.Warn().Str("map", m.name).Bool("queue_if_no_path", want).Str("why", ev.Reason).Msg("queueing changed")
	s.emit(ev)
	return true
}

// syncGroups re-enables groups that have usable paths again and applies failback.
func (s *shard) syncGroups(m *mpath, now time.Time) bool {
	d := s.d
	changed := false
	m.groups = m.liveGroups(now) // path states may have changed since the last refresh
	for i, g := range m.groups {
		if i < len(m.status.Groups) && m.status.Groups[i].State == dm.GroupDisabled && usableCount(g) > 0 {
			if err := dm.EnableGroup(d.dm, m.name, i+1); err != nil {
				s.fail(m, "enable_group", err)
			} else {
				changed = true
			}
		}
	}
	best := bestGroup(m.groups)
	cur := m.currentGroup()
	// Failback moves I/O back to a better group; leaving a dead group for a worse one is the
	// kernel's job, done on the next I/O.
	if best == 0 || cur == 0 || cur > len(m.groups) || best == cur ||
		groupPrio(m.groups[best-1]) <= groupPrio(m.groups[cur-1]) {
		m.failbackLeft = -1
		m.followover = ""
		return changed
	}
	fb := m.res.Failback
	switch fb.Mode {
	case config.FailbackImmediate:
	case config.FailbackFollowover:
		// Only the return of the first path of the best group fails back.
		if !slices.ContainsFunc(m.groups[best-1], func(mem member) bool { return mem.dev == m.followover }) {
			return changed
		}
	case config.FailbackDeferred:
		if m.failbackLeft < 0 {
			m.failbackLeft = fb.Ticks
			d.log.Info().Str("map", m.name).Int("ticks", fb.Ticks).Msg("better group usable: deferred failback started")
		}
		if m.failbackLeft > 0 {
			return changed
		}
	default:
		return changed
	}
	return s.switchGroup(m, best, "failback "+fb.String()) || changed
}

func (s *shard) switchGroup(m *mpath, to int, why string) bool {
	d := s.d
	from := m.currentGroup()
	if err := dm.SwitchGroup(d.dm, m.name, to); err != nil {
		s.fail(m, "switch_group", err)
		return false
	}
	m.groupSwitches++
	m.lastAction = "switchpg"
	m.failbackLeft, m.followover = -1, ""
	d.log.Info().Str("map", m.name).Int("from", from).Int("to", to).Str("why", why).Msg("group switched")
	s.emit(api.Event{Type: api.EventGroupSwitch, Map: m.name, Old: strconv.Itoa(from), New: strconv.Itoa(to), Reason: why})
	return true
}

// currentGroup is the 1-based group the kernel uses: the active one, or, when none is active (no
// I/O since a load or a switch_group, or every path failed), the one it will use next.
func (m *mpath) currentGroup() int {
	for i, g := range m.status.Groups {
		if g.State == dm.GroupActive {
			return i + 1
		}
	}
	if m.status.CurrentPG <= len(m.status.Groups) {
		return m.status.CurrentPG
	}
	return 0
}

// lastPathGone applies flush_on_last_del when a map has lost its last path, and reports whether the
// map is kept.
func (s *shard) lastPathGone(m *mpath) bool {
	d := s.d
	if !m.exists {
		delete(s.maps, m.wwid)
		return false
	}
	// A partition map in use is a user of the map; one that is not holds the map open once.
	parts, perr := s.partsOf(m)
	_, inUse := s.partsInUse(m)
	opens := m.info.OpenCount
	if info, err := d.dm.Info(m.name); err == nil {
		opens = info.OpenCount
	}
	open := perr != nil || inUse != nil || opens-int32(len(parts)) > 0
	queueing := m.live.Features.QueueIfNoPath
	mode := m.res.FlushOnLastDel
	// An open map that queues is left alone, as multipath-tools leaves it: removing it, even
	// deferred, would first fail the I/O it holds. An open map that does not queue goes at its
	// last close when deferred_remove is set.
	if mode == config.FlushNever || mode == config.FlushUnused && open && (queueing || !m.res.DeferredRemove) {
		if !m.keptEmpty { // every tick comes back here: say it once
			d.log.Warn().Str("map", m.name).Bool("open", open).Bool("queueing", queueing).
				Str("flush_on_last_del", string(mode)).Msg("last path removed: keeping the map")
			m.keptEmpty = true
		}
		return true
	}
	if queueing {
		// Queued I/O must not hang for ever on a map that is going away.
		if err := dm.FailIfNoPath(d.dm, m.name); err != nil {
			s.fail(m, "fail_if_no_path before remove", err)
			if open {
				// A deferred remove would leave the opener's queued I/O held with no daemon to
				// fail it: keep the map and try again at the next pass. An unused map holds no
				// I/O, and the kernel's remove stops its queueing.
				return false
			}
		}
	}
	deferred := m.res.DeferredRemove || mode == config.FlushAlways && open
	if err := s.removeParts(m, parts, deferred); err != nil {
		s.fail(m, "remove partitions", err)
		return false
	}
	pending, err := d.dm.Remove(m.name, dm.RemoveOptions{Deferred: deferred})
	if err != nil {
		s.fail(m, "remove", err)
		return false
	}
	d.log.Info().Str("map", m.name).Bool("deferred", pending).Msg("last path removed: map removed")
	s.emit(api.Event{Type: api.EventMapRemoved, Map: m.name, Reason: "last path removed"})
	d.unindexMap(m)
	delete(s.maps, m.wwid)
	return false
}

// fail records and logs an error acting on a map; the daemon carries on. The reconcile pass retries
// every polling interval, so the same error again is logged at debug level only.
func (s *shard) fail(m *mpath, op string, err error) {
	msg := fmt.Sprintf("%s: %v", op, err)
	ev := s.d.log.Error()
	if msg == m.err {
		ev = s.d.log.Debug()
	}
	m.err = msg
	ev.Str("map", m.name).Str("wwid", m.wwid).Str("op", op).Err(err).Msg("map operation failed")
}
