package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/prkeys"
	"github.com/mpathd/mpathd/pkg/sysfs"
	"github.com/mpathd/mpathd/pkg/transport"
)

// Options wires a Daemon to its kernel.
type Options struct {
	Config   *config.Config
	Topology Topology
	DM       dm.Control
	Monitor  Monitor
	Names    Names // nil: user_friendly_names falls back to WWID names
	WWIDs    WWIDs // nil: no wwids file
	Log      zerolog.Logger
	// Shards is the number of map owners (default 16).
	Shards int
	// Version is reported by show status.
	Version string
	// ConfigPath is the file Reconfigure reads when the running config came from built-in defaults.
	ConfigPath string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Stats is the polling core; nil: no statistics, weights or marginal paths.
	Stats StatsSource
	// Transport sets paths' transport attributes (sysfs.FS); nil: they are left alone.
	Transport transport.Attrs
	// PR sends persistent reservation commands down paths; nil: no key is ever registered.
	PR PRDevices
	// PRKeys is the prkeys file; nil: the one prkeys_file names.
	PRKeys *prkeys.File
	// Disks reads maps' partition tables (linux.Disks); nil: mpathd makes no partition maps (and
	// leaves them to kpartx's udev rules).
	Disks Disks
}

// Daemon is the multipath daemon core. Its input methods (PathChecked, PathsAdded, PathsRemoved,
// PathChanged, MapChanged, Resync, Tick) may be called from any goroutine and never block on map
// work; its read methods return snapshots.
type Daemon struct {
	o       Options
	log     zerolog.Logger
	dm      dm.Control
	topo    Topology
	monitor Monitor
	names   Names
	wwids   WWIDs
	now     func() time.Time

	config   atomic.Pointer[config.Config]
	uidCache atomic.Pointer[uidCache]
	shards   []*shard
	topoGen  atomic.Uint64 // counts the shards' publications: see TopologyGeneration
	seed     maphash.Seed
	hub      *api.Hub

	devs     devOwners // path kernel name → WWID, with the order of events per name
	waiting  heldPaths // paths held back by find_multipaths until a sibling comes: the orphans
	mapIndex sync.Map  // map name → WWID
	tuned    sync.Map  // path kernel name → tuning: its transport settings

	started    time.Time    // set by New and never written again: Status reads it from any goroutine
	state      atomic.Value // string: startup, configure, running, reloading, stopping
	lastConfig atomic.Value // time.Time
	dbusState  atomic.Pointer[func() string]
	done       chan struct{}
	runOnce    sync.Once

	stats    statsCore
	counters counters // for the metrics exposition (metrics.go)

	// During start-up a created map's wait for udev is handed to udev instead of holding its shard
	// (see create), and READY waits for them all.
	deferUdev atomic.Bool
	udev      udevWaits

	// Persistent reservation jobs (reservation.go) run off the shards: prJobs counts those in
	// flight, prSem bounds them.
	prJobs atomic.Int64
	prSem  chan struct{}
	// partReads counts partition-table reads whose result has not reached its shard yet.
	partReads atomic.Int64
}

// udevSlots bounds the udev waits in progress at once: each holds a thread in semtimedop.
const udevSlots = 32

// udevWaits runs the waits for udev that creates handed over, a bounded number at a time.
type udevWaits struct {
	mu    sync.Mutex
	done  []chan struct{}
	slots chan struct{}
}

func (u *udevWaits) add(wait func()) {
	ch := make(chan struct{})
	u.mu.Lock()
	if u.slots == nil {
		u.slots = make(chan struct{}, udevSlots)
	}
	slots := u.slots
	u.done = append(u.done, ch)
	u.mu.Unlock()
	go func() {
		defer close(ch)
		slots <- struct{}{}
		defer func() { <-slots }()
		wait()
	}()
}

// drain waits for every wait added so far, or until ctx ends.
func (u *udevWaits) drain(ctx context.Context) {
	u.mu.Lock()
	chs := u.done
	u.done = nil
	u.mu.Unlock()
	for _, ch := range chs {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// New makes a Daemon; Run starts it.
func New(o Options) *Daemon {
	if o.Shards <= 0 {
		o.Shards = 16
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Config == nil {
		o.Config = config.Builtin()
	}
	d := &Daemon{
		o: o, log: o.Log, dm: o.DM, topo: o.Topology, monitor: o.Monitor, names: o.Names, wwids: o.WWIDs,
		now: o.Now, seed: maphash.MakeSeed(), hub: api.NewHub(api.DefaultQueue), done: make(chan struct{}),
		started: o.Now(), prSem: make(chan struct{}, prSlots),
	}
	d.config.Store(o.Config)
	d.state.Store("startup")
	d.lastConfig.Store(o.Now())
	for range o.Shards {
		d.shards = append(d.shards, newShard(d))
	}
	return d
}

// SetDBusState lets show status report the D-Bus connection ("connected", "disconnected").
func (d *Daemon) SetDBusState(f func() string) { d.dbusState.Store(&f) }

// SetMonitor attaches the monitor after construction: the monitor's result callback needs the
// Daemon, and the Daemon needs the monitor.
func (d *Daemon) SetMonitor(m Monitor) { d.monitor = m }

func (d *Daemon) cfg() *config.Config { return d.config.Load() }

// UIDAttribute is the running configuration's uid_attribute for a path with this INQUIRY vendor,
// product and revision, for the topology reader (sysfs.FS.WithUIDAttribute): after a reconfigure
// the next read of a path takes its WWID from the new property. Answers are cached per
// configuration: a path read resolves the hardware table only once per device type.
func (d *Daemon) UIDAttribute(vendor, product, revision string) string {
	cfg := d.cfg()
	c := d.uidCache.Load()
	if c == nil || c.cfg != cfg {
		c = &uidCache{cfg: cfg}
		d.uidCache.Store(c)
	}
	key := [3]string{vendor, product, revision}
	if v, ok := c.m.Load(key); ok {
		return v.(string)
	}
	v := cfg.UIDAttribute(vendor, product, revision)
	c.m.Store(key, v)
	return v
}

// uidCache holds the uid_attribute of each device type under one configuration.
type uidCache struct {
	cfg *config.Config
	m   sync.Map // [3]string{vendor, product, revision} → string
}

func (d *Daemon) shardOf(wwid string) *shard {
	return d.shards[maphash.String(d.seed, wwid)%uint64(len(d.shards))]
}

func (d *Daemon) emit(ev api.Event) {
	if ev.Time.IsZero() {
		ev.Time = d.now()
	}
	d.countEvent(ev)
	d.hub.Publish(ev)
}

func (d *Daemon) indexMap(m *mpath)   { d.mapIndex.Store(m.name, m.wwid) }
func (d *Daemon) unindexMap(m *mpath) { d.mapIndex.Delete(m.name) }

// weights are the service-time relative_throughput values a map's next table carries: the live
// table's until the polling core's planner changes them (see desiredWeights).
func (d *Daemon) weights(m *mpath) map[string]int { return m.desiredWeights() }

// ErrStop is the cause (context.Cause) of a clean stop: cancelling Run's context with it, as on
// SIGTERM, applies queue_without_daemon before Run returns.
var ErrStop = errors.New("daemon: stop requested")

// Run starts the shards, assembles the maps from what the kernel has, and serves until ctx ends.
// ready is called once when the first assembly has been applied (sd_notify READY=1). Maps stay in
// the kernel when Run returns. Only a clean stop (ctx cancelled with cause ErrStop) switches their
// queueing off as queue_without_daemon says; a stop for any other cause, an internal error, leaves
// every map's queueing as it is, so I/O queued while no path works is not failed because mpathd
// failed.
func (d *Daemon) Run(ctx context.Context, ready func()) error {
	for _, s := range d.shards {
		go s.run(d.done)
	}
	defer d.runOnce.Do(func() { close(d.done) })
	d.state.Store("configure")
	d.deferUdev.Store(true)
	// READY=1 waits for the maps, but not beyond the cap: local file systems and LVM wait for it,
	// and systemd fails a unit that takes too long to start. A scan or creations that run late
	// go on after it.
	capped, cancel := context.WithTimeout(ctx, d.readyCap())
	defer cancel()
	assembled := make(chan error, 1)
	go func() {
		err := d.assemble(ctx)
		if err == nil {
			d.waitAssembled(capped)
		}
		assembled <- err
	}()
	select {
	case err := <-assembled:
		if err != nil {
			return err
		}
		assembled = nil
	case <-capped.Done():
		if ctx.Err() == nil {
			d.log.Warn().Dur("after", d.readyCap()).Msg("startup: ready before every map is assembled; assembly goes on")
		}
	}
	d.deferUdev.Store(false)
	d.state.Store("running")
	if ready != nil && ctx.Err() == nil {
		ready()
	}
	tick := time.NewTicker(time.Duration(d.cfg().Global().PollingInterval) * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-assembled: // only when ready went out before assembly ended
			if err != nil {
				return err
			}
			assembled = nil
			d.log.Info().Msg("startup: assembly finished")
		case <-ctx.Done():
			d.state.Store("stopping")
			if cause := context.Cause(ctx); !errors.Is(cause, ErrStop) {
				d.log.Warn().AnErr("cause", cause).Msg("stopping without a stop request: queueing left as it is on every map")
				return nil
			}
			d.shutdown()
			return nil
		case <-tick.C:
			d.Tick()
		}
	}
}

// readyCap is the longest start-up holds READY=1 back: 35 s, less when checker_timeout bounds
// the first checks sooner (each first check ends by its deadline).
func (d *Daemon) readyCap() time.Duration {
	limit := 30 * time.Second
	if t := d.cfg().Global().CheckerTimeout; t > 0 {
		limit = time.Duration(t) * time.Second
	}
	return min(limit+5*time.Second, 35*time.Second)
}

// waitAssembled waits until every discovered map has been created or adopted with its paths'
// first check results, and udev has confirmed the new ones, so that READY=1 means the maps and
// their /dev/mapper links are there, or until ctx ends (the cap).
func (d *Daemon) waitAssembled(ctx context.Context) {
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for d.unassembled(ctx) > 0 {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
	}
	// Every create of the assembly has returned (each ran before its shard counted the map), so
	// every wait it handed over is in the list.
	d.deferUdev.Store(false)
	d.udev.drain(ctx)
}

// unassembled counts maps still waiting for a first check of some path, or for their first
// create.
func (d *Daemon) unassembled(ctx context.Context) int {
	var n atomic.Int64
	var wg sync.WaitGroup
	for _, s := range d.shards {
		wg.Add(1)
		s.post(func() {
			defer wg.Done()
			for _, m := range s.maps {
				// A map the kernel refused is backing off with its error logged; waiting for it
				// would hold READY=1 to the cap while nothing can change it.
				if !m.ready() || (!m.exists && m.createFails == 0) {
					n.Add(1)
				}
			}
		})
	}
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-ctx.Done():
	}
	return int(n.Load())
}

// barrier waits until every shard has drained the work queued before it.
func (d *Daemon) barrier(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range d.shards {
		wg.Add(1)
		s.post(func() {
			s.publish() // readers after the barrier see everything queued before it
			s.flushEvents()
			wg.Done()
		})
	}
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// assemble discovers paths and live maps and hands each wanted WWID to its shard.
func (d *Daemon) assemble(ctx context.Context) error {
	paths, err := d.discover()
	if err != nil {
		return err
	}
	live, err := d.liveMaps()
	if err != nil {
		return err
	}
	byWWID := d.wanted(paths, live, nil)
	// Names are handed out in SCSI address order, as multipath-tools does at boot, so the first
	// LUN becomes mpatha whatever order the shards run in.
	wwids := slices.Collect(maps.Keys(byWWID))
	slices.SortFunc(wwids, func(a, b string) int { return compareHCTL(firstHCTL(byWWID[a]), firstHCTL(byWWID[b])) })
	for _, wwid := range wwids {
		ps := byWWID[wwid]
		dv, adopt := live[wwid]
		name := dv.Name
		if !adopt {
			name = d.newMapName(wwid, ps[0])
		}
		d.postPaths(wwid, ps, adopt, dv, name)
	}
	return nil
}

func firstHCTL(ps []sysfs.Path) sysfs.HCTL {
	h := ps[0].HCTL
	for _, p := range ps[1:] {
		if compareHCTL(p.HCTL, h) < 0 {
			h = p.HCTL
		}
	}
	return h
}

func compareHCTL(a, b sysfs.HCTL) int {
	if c := cmp.Compare(a.Host, b.Host); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Channel, b.Channel); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Target, b.Target); c != 0 {
		return c
	}
	return cmp.Compare(a.LUN, b.LUN)
}

// newMapName chooses the name of a map that does not exist yet.
func (d *Daemon) newMapName(wwid string, p sysfs.Path) string {
	return d.mapName(&mpath{wwid: wwid, res: d.cfg().Resolve(wwid, p.Vendor, p.Model, p.Rev)})
}

// discover reads every path. A device deleted during the scan, or a torn tree, costs only that
// path: the readable ones are still good.
func (d *Daemon) discover() ([]sysfs.Path, error) {
	paths, err := d.topo.Paths()
	if err != nil && len(paths) == 0 {
		return nil, fmt.Errorf("discover paths: %w", err)
	}
	if err != nil {
		d.log.Warn().Err(err).Msg("some paths could not be read; carrying on with the others")
	}
	return paths, nil
}

// liveMaps lists the multipath maps in the kernel by WWID (uuid mpath-<WWID>).
func (d *Daemon) liveMaps() (map[string]dm.Device, error) {
	live := map[string]dm.Device{}
	devs, err := d.dm.List()
	if err != nil {
		return live, fmt.Errorf("list device-mapper maps: %w", err)
	}
	for _, dv := range devs {
		if wwid, ok := strings.CutPrefix(dv.UUID, "mpath-"); ok {
			live[wwid] = dv
		}
	}
	return live, nil
}

// wanted filters paths through the blacklist and find_multipaths and groups them by WWID. managed
// WWIDs already have paths in a map of this daemon: find_multipaths decided for them.
func (d *Daemon) wanted(paths []sysfs.Path, live map[string]dm.Device, managed map[string]bool) map[string][]sysfs.Path {
	cfg := d.cfg()
	byWWID := map[string][]sysfs.Path{}
	for _, p := range paths {
		if p.WWID == "" {
			d.log.Debug().Str("path", p.Name).AnErr("error", p.WWIDErr).Msg("path has no WWID: ignored")
			continue
		}
		v := cfg.Filter(filterInfo(p))
		if v.Blacklisted {
			d.log.Debug().Str("path", p.Name).Str("why", v.String()).Msg("path blacklisted")
			d.waiting.Delete(p.Name)
			continue
		}
		byWWID[p.WWID] = append(byWWID[p.WWID], p)
	}
	mode := cfg.Global().FindMultipaths
	for wwid, ps := range byWWID {
		_, exists := live[wwid]
		exists = exists || managed[wwid]
		known := d.wwids != nil && d.wwids.Known(wwid)
		dec := config.ShouldMultipath(mode, config.Candidate{Paths: len(ps), InWWIDsFile: known, MapExists: exists})
		if dec.Multipath {
			for _, p := range ps {
				d.waiting.Delete(p.Name)
			}
			continue
		}
		d.holdBack(ps, wwid, dec.Reason)
		d.log.Debug().Str("wwid", wwid).Str("why", dec.Reason).Msg("not multipathed")
		delete(byWWID, wwid)
	}
	return byWWID
}

// waitingPaths returns the paths held back by find_multipaths that belong to one of wwids and are
// not in skip, re-read: a name may have gone or changed LUN since.
func (d *Daemon) waitingPaths(wwids map[string][]sysfs.Path, skip []sysfs.Path) []sysfs.Path {
	var ps []sysfs.Path
	d.waiting.Range(func(name, wwid string) bool {
		if _, ok := wwids[wwid]; !ok || slices.ContainsFunc(skip, func(p sysfs.Path) bool { return p.Name == name }) {
			return true
		}
		p, err := d.topo.Path(name)
		switch {
		case err != nil:
			d.waiting.Delete(name)
		case p.WWID == wwid:
			ps = append(ps, p)
		}
		return true
	})
	return ps
}

func filterInfo(p sysfs.Path) config.PathInfo {
	proto := ""
	switch p.Transport.Kind {
	case "fc":
		proto = "scsi:fcp"
	case "iscsi":
		proto = "scsi:iscsi"
	case "sas":
		proto = "scsi:sas"
	}
	return config.PathInfo{Devnode: p.Name, Vendor: p.Vendor, Product: p.Model, Protocol: proto, WWID: p.WWID}
}

// addPaths runs on the WWID's shard: it creates or adopts the map and starts checking new paths.
// gens are the paths' claims (see postPaths); a path whose claim a later event ended is skipped.
func (s *shard) addPaths(wwid string, ps []sysfs.Path, gens []uint64, adopt bool, dv dm.Device, name string) {
	d := s.d
	var keep []sysfs.Path
	var keepGens []uint64
	for i, pi := range ps {
		if cur, ok := d.owner(pi.Name); ok && cur.gen == gens[i] {
			keep, keepGens = append(keep, pi), append(keepGens, gens[i])
		}
	}
	m := s.maps[wwid]
	if len(keep) == 0 && m == nil {
		return
	}
	if m == nil {
		m = &mpath{wwid: wwid, name: name, retriesLeft: -1, failbackLeft: -1, dirty: true}
		first := keep[0]
		m.res = d.cfg().Resolve(wwid, first.Vendor, first.Model, first.Rev)
		s.prLoad(m)
		if adopt {
			m.name, m.exists = dv.Name, true
			d.indexMap(m)
			s.refresh(m)
			d.log.Info().Str("map", m.name).Str("wwid", wwid).Msg("adopted live map")
			m.parts.wanted = true
		}
		s.maps[wwid] = m
	}
	for i, pi := range keep {
		if p := m.path(pi.Name); p != nil {
			p.info = pi
			if p.gen != keepGens[i] {
				p.gen = keepGens[i]
				d.watch(pi, p.spec, p.gen)
			}
			continue
		}
		m.keptEmpty, m.pathsCame = false, true
		m.retryCreate()
		p := &path{info: pi, gen: keepGens[i], prio: prioUndef, since: d.now()}
		p.spec = d.checkSpec(m, pi)
		d.tune(m, pi, keepGens[i], true)
		m.paths = append(m.paths, p)
		d.watch(pi, p.spec, p.gen)
		if m.exists {
			s.emit(api.Event{Type: api.EventPathAdded, Map: m.name, Path: pi.Name})
		}
	}
	s.absorbStatus(m)
	s.sync(m)
}

func (d *Daemon) checkSpec(m *mpath, p sysfs.Path) CheckSpec {
	r := d.cfg().Resolve(m.wwid, p.Vendor, p.Model, p.Rev)
	spec := CheckSpec{Spec: r.CheckerSpec()}
	if t := d.cfg().Global().CheckerTimeout; t > 0 {
		spec.Timeout = time.Duration(t) * time.Second
	} else if p.Timeout > 0 {
		spec.Timeout = time.Duration(p.Timeout) * time.Second
	}
	return spec
}

// mapName chooses the name of a new map: [[multipaths]] alias, else the bindings file when
// user_friendly_names is on, else the WWID. A name held by a live map of another WWID (one made by
// an initramfs or multipathd and never written to the bindings file, or one whose binding went
// stale) is never handed out. When the bindings file cannot give a name the map is named by its
// WWID, as multipath-tools does: a map under an unfriendly name beats no map.
func (d *Daemon) mapName(m *mpath) string {
	if m.res.Alias != "" {
		return m.res.Alias
	}
	if !m.res.UserFriendlyNames || d.names == nil {
		return m.wwid
	}
	name, err := d.names.Alias(m.wwid, m.res.AliasPrefix, func(alias string) bool { return d.nameTaken(alias, m.wwid) })
	if err != nil || name == "" {
		d.log.Warn().AnErr("error", err).Str("wwid", m.wwid).Msg("no user-friendly name: the map is named by its WWID")
		return m.wwid
	}
	return name
}

// nameTaken reports whether alias names a map of another WWID: one this daemon manages, one a
// [[multipaths]] entry gives another WWID, or any device the kernel has under that name (the
// kernel is asked, since a map not adopted yet is in no index).
func (d *Daemon) nameTaken(alias, wwid string) bool {
	if w, ok := d.mapIndex.Load(alias); ok {
		return w.(string) != wwid
	}
	for _, mp := range d.cfg().Multipaths {
		if mp.Alias == alias && mp.WWID != wwid {
			return true
		}
	}
	info, err := d.dm.Info(alias)
	if err != nil {
		// Only a kernel that says "no such device" frees the name: handing out one it could not
		// be asked about may save a binding to another map's name.
		return !dm.IsNotExist(err)
	}
	return info.UUID != "mpath-"+wwid
}

// adoptExisting handles a create that found the map already there: another program made a map
// with this WWID's uuid between discovery and creation, under our name or another. It is taken
// over as at start-up, under its own name, and indexed so its dm events reach it.
func (s *shard) adoptExisting(m *mpath, createErr error) bool {
	d := s.d
	var de *dm.Error
	if !errors.As(createErr, &de) || de.Op != "DM_DEV_CREATE" || !dm.IsBusy(createErr) {
		return false
	}
	live, err := d.liveMaps()
	if err != nil {
		return false
	}
	dv, ok := live[m.wwid]
	if !ok {
		// The name is held by a map of another WWID. A chosen name is chosen again at the next
		// try (the one the admin configured stays, with its error).
		if m.res.Alias == "" {
			m.name = ""
		}
		return false
	}
	m.name, m.exists, m.err = dv.Name, true, ""
	m.parts.wanted = true
	d.indexMap(m)
	s.refresh(m)
	d.log.Info().Str("map", m.name).Str("wwid", m.wwid).Msg("map appeared before mpathd created it: adopted")
	s.emit(api.Event{Type: api.EventMapAdded, Map: m.name, Reason: "adopted: created by another program"})
	s.remember(m)
	// The other program's table may differ from ours: reconcile it as soon as this sync is done,
	// as an adoption at start-up does.
	s.post(func() {
		if s.maps[m.wwid] == m {
			s.sync(m)
		}
	})
	return true
}

// remember records a multipathed WWID in the wwids file, for find_multipaths.
func (s *shard) remember(m *mpath) {
	d := s.d
	if d.wwids != nil && !d.wwids.Known(m.wwid) {
		if err := d.wwids.Remember(m.wwid); err != nil {
			d.log.Warn().Err(err).Str("map", m.name).Msg("cannot record WWID in the wwids file")
		}
	}
}

// PathChecked takes a check result. It is the Monitor's callback and never blocks.
func (d *Daemon) PathChecked(dev string, r CheckResult) {
	d.countCheck(r)
	ref, ok := d.owner(dev)
	if !ok {
		return
	}
	wwid := ref.wwid
	s := d.shardOf(wwid)
	s.post(func() { s.pathChecked(wwid, dev, r) })
}

func (s *shard) pathChecked(wwid, dev string, r CheckResult) {
	m := s.maps[wwid]
	if m == nil {
		return
	}
	p := m.path(dev)
	if p == nil {
		return
	}
	if r.State == checker.Pending && p.checked {
		// A check still in flight or a device in transition says nothing new: the path keeps its
		// state, and a path the kernel failed still waits for a real result.
		return
	}
	if s.prGate(m, p, r) {
		return // applied once the path carries the map's reservation key
	}
	s.applyCheck(m, p, r)
}

// applyCheck takes a check result into the path and reconciles the map.
func (s *shard) applyCheck(m *mpath, p *path, r CheckResult) {
	d := s.d
	dev := p.info.Name
	if r.State == checker.Pending && p.checked {
		return
	}
	if !r.State.Usable() {
		p.prLeft()
	}
	old, first, confirm := p.state, !p.checked, p.recheck
	if r.State.Usable() {
		d.retune(m, p, !first && !old.Usable())
	}
	if !first && !confirm && r.State == old && r.State.Usable() && (r.Prio == checker.PrioUndefined || r.Prio == p.prio) &&
		(r.PrioName == "" || r.PrioName == p.prioName) && r.Checker == p.checkerName && r.Fallback == p.fallback &&
		r.CheckerSource == p.checkerSource && r.PrioSource == p.prioSource && m.exists && m.inUse(p, d.now()) {
		// The same verdict on a path that carries I/O as it should: nothing to reconcile. Most
		// results of a healthy SAN are this; what runs on time (holds, failback, no_path_retry)
		// follows at the tick.
		if p.reason != r.Reason {
			p.reason, m.dirty = r.Reason, true
		}
		return
	}
	p.checked, p.recheck = true, false
	p.state, p.reason = r.State, r.Reason
	if confirm && r.State.Usable() {
		s.damp(m, p) // it passes its check, yet the kernel failed its I/O
	}
	if r.Prio != checker.PrioUndefined {
		p.prio = r.Prio
	}
	if r.PrioName != "" {
		p.prioName = r.PrioName
	}
	if r.Fallback != p.fallback {
		if r.Fallback != "" {
			d.log.Warn().Str("map", m.name).Str("path", dev).Str("reason", r.Fallback).Msg("path checker or prioritizer fell back")
		}
		m.dirty = true
	}
	p.checkerName, p.fallback, p.checkerSource, p.prioSource = r.Checker, r.Fallback, r.CheckerSource, r.PrioSource
	if old != r.State || first {
		p.since = d.now()
		ev := api.Event{Type: api.EventPathState, Map: m.name, Path: dev, Old: old.String(), New: r.State.String(), Reason: r.Reason}
		switch {
		case r.State.Usable() && !old.Usable():
			ev.Type = api.EventPathUp
		case failing(r.State) && !failing(old):
			ev.Type = api.EventPathDown
		}
		if !first || !r.State.Usable() {
			d.log.Info().Str("map", m.name).Str("path", dev).Str("old", old.String()).Str("new", r.State.String()).
				Str("reason", r.Reason).Msg("path state changed")
			s.emit(ev)
		}
		if !r.State.Usable() {
			m.failbackLeft = -1 // a path going down cancels a deferred failback
		}
	}
	// A path back from a failure (the checker's or the kernel's) is the followover trigger when
	// it is the first path of its group to return.
	if r.State.Usable() && !first && (!old.Usable() || confirm) && m.firstOfGroup(p, d.now()) {
		m.followover = dev
	}
	s.sync(m)
}

// firstOfGroup reports whether no other path of p's live group is in use.
func (m *mpath) firstOfGroup(p *path, now time.Time) bool {
	for _, g := range m.groups {
		if !slices.ContainsFunc(g, func(mem member) bool { return mem.dev == p.info.Name }) {
			continue
		}
		for _, mem := range g {
			if q := m.path(mem.dev); q != nil && q != p && m.inUse(q, now) {
				return false
			}
		}
		return true
	}
	return false
}

// PathsAdded handles new path devices (a coalesced uevent batch): read each from sysfs, filter,
// and give each WWID's paths to its shard in one piece, so a map is reloaded once per batch.
func (d *Daemon) PathsAdded(names []string) {
	var ps []sysfs.Path
	for _, n := range names {
		p, err := d.topo.Path(n)
		if err != nil {
			d.log.Warn().Str("path", n).Err(err).Msg("new path cannot be read")
			continue
		}
		ps = append(ps, p)
	}
	d.addDiscovered(ps)
}

func (d *Daemon) addDiscovered(ps []sysfs.Path) {
	if len(ps) == 0 {
		return
	}
	// A device of the batch that some map still has under another WWID is a reused name whose
	// remove event was lost: that map lets go of it.
	stale := map[string][]devGen{}
	for _, p := range ps {
		if cur, ok := d.owner(p.Name); ok && p.WWID != "" && cur.wwid != p.WWID {
			if cur, ok := d.disown(p.Name); ok {
				stale[cur.wwid] = append(stale[cur.wwid], devGen{p.Name, cur.gen})
			}
		}
	}
	d.postRemoval(stale, "device now has another WWID")
	// find_multipaths counts every path of the WWID, new or seen earlier and held back (a LUN whose
	// second path arrives in a later batch: hosts rescanned one by one, FC ports logging in apart).
	// A WWID with paths in a map already is multipathed whatever their number: its known paths are
	// not read again, so a host scan costs the paths it brings, not their siblings.
	batch := groupByWWID(ps)
	ps = append(ps, d.waitingPaths(batch, ps)...)
	managed := map[string]bool{}
	d.devs.owner.Range(func(_, v any) bool {
		if wwid := v.(devRef).wwid; batch[wwid] != nil {
			managed[wwid] = true
		}
		return true
	})
	var live map[string]dm.Device
	if len(managed) < len(batch) {
		var err error
		if live, err = d.liveMaps(); err != nil {
			d.log.Warn().Err(err).Msg("new paths: cannot list the live maps; a map found at creation is adopted")
		}
	}
	for wwid, group := range d.wanted(ps, live, managed) {
		dv, adopt := live[wwid]
		d.postPaths(wwid, group, adopt, dv, dv.Name)
	}
}

func groupByWWID(ps []sysfs.Path) map[string][]sysfs.Path {
	m := map[string][]sysfs.Path{}
	for _, p := range ps {
		if p.WWID != "" {
			m[p.WWID] = append(m[p.WWID], p)
		}
	}
	return m
}

// PathsRemoved handles path devices that went away (a coalesced uevent batch). The names are
// released at once, so a device that comes back under the same name, for this LUN or another, is
// a new claim that the late removal on the old map's shard cannot touch.
func (d *Daemon) PathsRemoved(names []string) {
	byWWID := map[string][]devGen{}
	for _, n := range names {
		d.waiting.Delete(n)
		if ref, ok := d.disown(n); ok {
			byWWID[ref.wwid] = append(byWWID[ref.wwid], devGen{n, ref.gen})
		}
	}
	d.postRemoval(byWWID, "device removed")
}

// removePaths takes the named paths out of the WWID's map, whatever their claim (an
// administrator's request).
func (s *shard) removePaths(wwid string, devs []string, why string) {
	m := s.maps[wwid]
	if m == nil {
		return
	}
	for _, dev := range devs {
		if p := m.path(dev); p != nil {
			s.dropPath(m, p, why)
		}
	}
	s.sync(m)
}

// PathChanged re-reads a path whose attributes changed (a change uevent: resize, ALUA state, state).
func (d *Daemon) PathChanged(name string) {
	p, err := d.topo.Path(name)
	if err != nil {
		d.log.Warn().Str("path", name).Err(err).Msg("changed path cannot be read")
		return
	}
	ref, ok := d.owner(name)
	if !ok && !d.mayBeWanted(p) {
		return // a device mpathd leaves alone, or one still waiting for a sibling: nothing to ask the kernel
	}
	if !ok || p.WWID != "" && p.WWID != ref.wwid {
		// A new device, or the LUN behind the device changed: addDiscovered takes the path from
		// its old map and adds it as new.
		d.addDiscovered([]sysfs.Path{p})
		return
	}
	wwid := ref.wwid
	s := d.shardOf(wwid)
	s.post(func() {
		m := s.maps[wwid]
		if m == nil {
			return
		}
		if mp := m.path(name); mp != nil {
			mp.info = p
			d.monitor.CheckNow(name)
		}
		s.sync(m)
	})
}

// mayBeWanted reports whether a change of a device no map holds can make it a path: not when it
// has no WWID or is blacklisted, nor when find_multipaths holds it back under the same WWID (a
// change brings no sibling). Events of such devices (any disk's change uevents) then cost no
// device-mapper call.
func (d *Daemon) mayBeWanted(p sysfs.Path) bool {
	if p.WWID == "" || d.cfg().Filter(filterInfo(p)).Blacklisted {
		d.waiting.Delete(p.Name)
		return false
	}
	w, held := d.waiting.Load(p.Name)
	return !held || w != p.WWID
}

// MapChanged handles a device-mapper event on a map (its event counter moved): the kernel may have
// failed a path. The status is re-read; nothing is trusted from the event itself.
func (d *Daemon) MapChanged(name string) {
	w, ok := d.mapIndex.Load(name)
	if !ok {
		return
	}
	wwid := w.(string)
	s := d.shardOf(wwid)
	s.post(func() {
		m := s.maps[wwid]
		if m == nil || !m.exists {
			return
		}
		if _, err := d.dm.Info(m.name); dm.IsNotExist(err) {
			d.log.Warn().Str("map", m.name).Msg("map removed outside mpathd")
			s.emit(api.Event{Type: api.EventMapRemoved, Map: m.name, Reason: "removed outside mpathd"})
			d.unindexMap(m)
			for _, p := range m.paths {
				d.release(p.info.Name, p.gen)
			}
			delete(s.maps, wwid)
			s.trackStats(m)
			return
		}
		s.refresh(m)
		s.sync(m)
	})
}

// Resync re-reads everything after events may have been lost (a netlink overflow).
func (d *Daemon) Resync(ctx context.Context) error {
	paths, err := d.discover()
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	present := map[string]bool{}
	for _, p := range paths {
		present[p.Name] = true
	}
	var gone []string
	d.devs.owner.Range(func(k, _ any) bool {
		if !present[k.(string)] && d.pathGone(k.(string)) {
			gone = append(gone, k.(string))
		}
		return true
	})
	d.PathsRemoved(gone)
	d.addDiscovered(paths)
	d.mapIndex.Range(func(k, _ any) bool {
		d.MapChanged(k.(string))
		return true
	})
	return nil
}

// pathGone reports whether a path missing from a scan is really gone. A path that is only unreadable
// (an attribute read failing, a tree torn by a concurrent change) is kept as it is: taking it out
// would reload its map, and taking out the last one could flush the map.
func (d *Daemon) pathGone(dev string) bool {
	_, err := d.topo.Path(dev)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.log.Warn().Str("path", dev).Err(err).Msg("resync: path unreadable, kept as it is")
	}
	return errors.Is(err, fs.ErrNotExist)
}

// Tick advances the countdowns that run in polling intervals: no_path_retry and deferred failback.
func (d *Daemon) Tick() {
	for _, s := range d.shards {
		s.post(func() {
			for _, m := range s.maps {
				s.tick(m)
			}
		})
	}
}

// maxCreateBackoff caps the wait between two attempts to create a map the kernel refused.
const maxCreateBackoff = 5 * time.Minute

// createFailed schedules the next attempt to create a map the kernel refused (a path held open by a
// mount or LVM makes the table load fail with EBUSY): one polling interval, doubling with each
// failure up to maxCreateBackoff, instead of a create and remove on every check result. A real
// change (a path added or removed, a reconfigure) retries at once.
func (s *shard) createFailed(m *mpath) {
	d := s.d
	wait := time.Duration(d.cfg().Global().PollingInterval) * time.Second << min(m.createFails, 16)
	wait = min(wait, maxCreateBackoff)
	m.createFails++
	m.createRetry = d.now().Add(wait)
	d.log.Debug().Str("map", m.name).Int("failures", m.createFails).Dur("retry_in", wait).Msg("map creation backs off")
}

// retryCreate lets a map the kernel refused be created at the next sync.
func (m *mpath) retryCreate() { m.createFails, m.createRetry = 0, time.Time{} }

func (s *shard) tick(m *mpath) {
	if !m.exists && !m.createRetry.IsZero() && !s.d.now().Before(m.createRetry) {
		s.sync(m) // the backoff ended; check results may come rarely (max_polling_interval)
	}
	// Re-read the kernel's view once per interval: not every change raises a dm event (the first
	// I/O activating a group does not), and a reconcile pass heals anything that drifted.
	if m.exists {
		s.refresh(m)
		s.sync(m)
	}
	if m.retriesLeft > 0 {
		// no_path_retry N promises at least N polling intervals of queueing, counted in time from
		// the moment the last path went, not in tick boundaries.
		interval := time.Duration(s.d.cfg().Global().PollingInterval) * time.Second
		left := time.Duration(m.res.NoPathRetry.Count)*interval - s.d.now().Sub(m.recoverySince)
		m.retriesLeft = int((left + interval - 1) / interval)
		m.dirty = true
		if left <= 0 {
			m.retriesLeft, m.retryExpired = -1, true
			s.d.log.Warn().Str("map", m.name).Int("no_path_retry", m.res.NoPathRetry.Count).
				Msg("no path came back within no_path_retry: failing queued I/O")
			s.sync(m)
		}
	}
	if m.failbackLeft > 0 {
		m.failbackLeft--
		if m.failbackLeft == 0 {
			s.sync(m)
		}
	}
	s.statsTick(m)
}

// shutdown runs on SIGTERM: maps stay in the kernel; queueing is switched off first unless
// queue_without_daemon says otherwise, so nothing hangs for ever without a daemon to bring paths
// back.
func (d *Daemon) shutdown() {
	if d.cfg().Global().QueueWithoutDaemon {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range d.shards {
		wg.Add(1)
		s.post(func() {
			defer wg.Done()
			for _, m := range s.maps {
				if m.exists && m.live.Features.QueueIfNoPath {
					if err := dm.FailIfNoPath(d.dm, m.name); err != nil {
						s.fail(m, "disable queueing at shutdown", err)
						continue
					}
					d.log.Info().Str("map", m.name).Msg("queueing disabled at shutdown (queue_without_daemon no)")
				}
			}
		})
	}
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-ctx.Done():
		d.log.Error().Msg("shutdown: shards did not finish disabling queueing in 10 s")
	}
}

// Topology returns the merged snapshot of every shard.
func (d *Daemon) Topology() api.Topology {
	snaps := make([][]api.Map, 0, len(d.shards))
	n := 0
	for _, s := range d.shards {
		ms := s.snap.Load().maps
		snaps = append(snaps, ms)
		n += len(ms)
	}
	return api.Topology{Maps: mergeByName(snaps, n), Orphans: d.waiting.orphans()}
}

// mergeByName merges the shards' snapshots, each sorted by name, into one sorted slice: maps are
// large, so a merge that copies each once is much cheaper than appending them and sorting.
func mergeByName(snaps [][]api.Map, n int) []api.Map {
	maps := make([]api.Map, 0, n)
	for len(maps) < n {
		best := -1
		for i, ms := range snaps {
			if len(ms) > 0 && (best < 0 || ms[0].Name < snaps[best][0].Name) {
				best = i
			}
		}
		maps = append(maps, snaps[best][0])
		snaps[best] = snaps[best][1:]
	}
	return maps
}

// TopologyGeneration changes whenever Topology's answer may have: a shard published its maps or
// the held paths changed. Readers that render the topology cache their text under it.
func (d *Daemon) TopologyGeneration() uint64 { return d.topoGen.Load() + d.waiting.gen.Load() }

// Status reports the daemon's state with counts per checker and map state, from the counts each
// shard keeps with its snapshot: a status request never copies the topology.
func (d *Daemon) Status() api.Status {
	st := api.Status{
		Version:         d.o.Version,
		PID:             os.Getpid(),
		Started:         d.started,
		UptimeSec:       d.now().Sub(d.started).Seconds(),
		ConfigFile:      d.cfg().File,
		State:           d.state.Load().(string),
		LastReconfigure: d.lastConfig.Load().(time.Time),
	}
	st.ConfigFiles = d.cfg().Files
	for _, w := range d.cfg().Warnings {
		st.ConfigWarnings = append(st.ConfigWarnings, w.Error())
	}
	st.TransportErrors = d.transportErrors()
	st.EventSubscribers = d.hub.Subscribers()
	if f := d.dbusState.Load(); f != nil {
		st.DBus = (*f)()
	}
	st.CheckerStates = make(map[string]int, len(api.CheckerStates))
	for _, c := range api.CheckerStates {
		st.CheckerStates[c] = 0
	}
	st.MapStates = map[string]int{api.MapOptimal: 0, api.MapDegraded: 0, api.MapQueueing: 0, api.MapFailed: 0}
	st.CountOrphans(d.waiting.orphans())
	for _, s := range d.shards {
		snap := s.snap.Load()
		st.Maps += len(snap.maps)
		st.Paths += snap.counts.paths
		for k, v := range snap.counts.checker {
			st.CheckerStates[k] += v
		}
		for k, v := range snap.counts.health {
			st.MapStates[k] += v
		}
	}
	return st
}

// Subscribe streams state changes.
func (d *Daemon) Subscribe(ctx context.Context) <-chan api.Event { return d.hub.Subscribe(ctx) }

// PathWWID tells which WWID a path device belongs to, if the daemon manages it.
func (d *Daemon) PathWWID(dev string) (string, bool) {
	ref, ok := d.owner(dev)
	return ref.wwid, ok
}

// Alive proves the daemon's shards make progress: it fails when a shard with work has not moved
// on to its next piece of work or its next map for longer than stall. Busy is fine (a reconfigure of
// a thousand maps, each waiting for udev) as long as it moves; stall must exceed the longest single
// step, a create or reload with its udev waits. It never blocks, so it backs the systemd watchdog.
func (d *Daemon) Alive(stall time.Duration) error {
	now := d.now()
	var stuck []string
	for i, s := range d.shards {
		if t := s.stalled(now); t > stall {
			stuck = append(stuck, fmt.Sprintf("shard %d for %v", i, t.Round(time.Second)))
		}
	}
	if len(stuck) > 0 {
		return fmt.Errorf("map shards stuck in one step: %s", strings.Join(stuck, ", "))
	}
	return nil
}
