package daemon

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// The operations multipathd's command set has beyond mpathctl's: adding a map by WWID,
// suspend/resume/reload, queueing overrides and counter resets.

// AddMap builds or takes over the map of a WWID, map name or dm device. It is an explicit request,
// so find_multipaths does not apply; the blacklist does.
func (d *Daemon) AddMap(ctx context.Context, target string) error {
	target = strings.TrimPrefix(target, "/dev/")
	if _, ok := d.Topology().Find(target); ok {
		return nil
	}
	live, err := d.liveMaps()
	if err != nil {
		return api.Errorf(api.CodeInternal, "add map %s: %v", target, err)
	}
	wwid := target
	for w, dv := range live {
		if dv.Name == target || dmName(dv) == target {
			wwid = w
		}
	}
	paths, err := d.discover()
	if err != nil {
		return api.Errorf(api.CodeInternal, "add map %s: %v", target, err)
	}
	cfg := d.cfg()
	var ps []sysfs.Path
	for _, p := range paths {
		if p.WWID == wwid && !cfg.Filter(filterInfo(p)).Blacklisted {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return api.Errorf(api.CodeNotFound, "add map %s: no usable path with WWID %s", target, wwid)
	}
	if d.wwids != nil && !d.wwids.Known(wwid) {
		if err := d.wwids.Remember(wwid); err != nil {
			d.log.Warn().Err(err).Str("wwid", wwid).Msg("add map: cannot record WWID in the wwids file")
		}
	}
	// The map appears once its paths have had their first check: wait for it, event by event.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := d.hub.Subscribe(wctx)
	dv, adopt := live[wwid]
	d.postPaths(wwid, ps, adopt, dv, dv.Name)
	for {
		if _, ok := d.Topology().Find(wwid); ok {
			break
		}
		select {
		case <-events:
		case <-ctx.Done():
			return api.Errorf(api.CodeBusy, "add map %s: WWID %s has %d paths but no map yet: %v", target, wwid, len(ps), ctx.Err())
		}
	}
	d.log.Info().Str("wwid", wwid).Msg("map added by the administrator")
	return nil
}

// dmName is the kernel name of a dm device, "dm-N".
func dmName(dv dm.Device) string { return "dm-" + strconv.FormatUint(uint64(dv.Dev.Minor), 10) }

// onMap runs fn on the shard of a live map given by name, WWID or dm-N.
func (d *Daemon) onMap(ctx context.Context, target string, fn func(s *shard, m *mpath) error) error {
	wwid, err := d.lookupMap(strings.TrimPrefix(target, "/dev/"))
	if err != nil {
		return err
	}
	return d.call(ctx, wwid, func(s *shard, m *mpath) error {
		if !m.exists {
			return api.Errorf(api.CodeNotFound, "map %s is not in the kernel", m.name)
		}
		return fn(s, m)
	})
}

// SuspendMap suspends a map without flushing, so its I/O queues.
func (d *Daemon) SuspendMap(ctx context.Context, mapName string) error {
	return d.onMap(ctx, mapName, func(s *shard, m *mpath) error {
		if err := d.dm.Suspend(m.name); err != nil {
			return api.Errorf(api.CodeInternal, "suspend %s: %v", m.name, err)
		}
		d.log.Warn().Str("map", m.name).Msg("map suspended by the administrator")
		s.refresh(m)
		return nil
	})
}

// ResumeMap resumes a suspended map.
func (d *Daemon) ResumeMap(ctx context.Context, mapName string) error {
	return d.onMap(ctx, mapName, func(s *shard, m *mpath) error {
		if _, err := d.dm.Resume(m.name, d.mapUdevFlags(m)); err != nil {
			return api.Errorf(api.CodeInternal, "resume %s: %v", m.name, err)
		}
		d.log.Info().Str("map", m.name).Msg("map resumed by the administrator")
		s.refresh(m)
		return nil
	})
}

// ReloadMap loads the map's desired table again, changed or not.
func (d *Daemon) ReloadMap(ctx context.Context, mapName string) error {
	return d.onMap(ctx, mapName, func(s *shard, m *mpath) error {
		if !m.ready() {
			return api.Errorf(api.CodeBusy, "map %s: paths not checked yet", m.name)
		}
		_, desired, err := m.layout(d.weights(m), d.now())
		if err != nil {
			return api.Errorf(api.CodeInternal, "reload %s: build table: %v", m.name, err)
		}
		if err := dm.Reload(d.dm, m.name, m.size(), desired, d.mapUdevFlags(m)); err != nil {
			return api.Errorf(api.CodeInternal, "reload %s: %v", m.name, err)
		}
		m.tableLoads++
		m.lastAction = "reload"
		d.log.Info().Str("map", m.name).Msg("table reloaded by the administrator")
		s.emit(api.Event{Type: api.EventMapReloaded, Map: m.name, Reason: "requested by the administrator"})
		s.refresh(m)
		m.parts.wanted = true // reload map is also how an administrator has the partition table read again
		s.sync(m)
		return nil
	})
}

// eachMap runs fn on one map (mapName) or on every live map ("").
func (d *Daemon) eachMap(ctx context.Context, mapName string, fn func(s *shard, m *mpath) error) error {
	if mapName != "" {
		return d.onMap(ctx, mapName, fn)
	}
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	for _, s := range d.shards {
		wg.Add(1)
		s.post(func() {
			defer wg.Done()
			for _, m := range s.maps {
				if !m.exists {
					continue
				}
				if err := fn(s, m); err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
				}
			}
		})
	}
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-ctx.Done():
		return api.Errorf(api.CodeBusy, "%v (the request stays queued on the maps)", ctx.Err())
	}
	d.barrier(ctx)
	if len(errs) > 0 {
		return api.Errorf(api.CodeInternal, "%s", strings.Join(errs, "; "))
	}
	return nil
}

// SetQueueing switches queueing off on a map until it is restored or the configuration reloaded
// (multipathd's disablequeueing), or restores the configured no_path_retry. The override is kept
// in the map's resolved settings, so reconcile keeps it rather than undoing it.
func (d *Daemon) SetQueueing(ctx context.Context, mapName string, on bool) error {
	return d.eachMap(ctx, mapName, func(s *shard, m *mpath) error {
		if on {
			if len(m.paths) > 0 {
				f := m.paths[0].info
				m.res = d.cfg().Resolve(m.wwid, f.Vendor, f.Model, f.Rev)
			}
			m.retriesLeft, m.retryExpired = -1, false
			d.log.Info().Str("map", m.name).Msg("queueing restored by the administrator")
		} else {
			res := *m.res
			res.NoPathRetry = config.NoPathRetry{Mode: config.RetryFail}
			m.res = &res
			d.log.Warn().Str("map", m.name).Msg("queueing disabled by the administrator")
		}
		s.sync(m)
		return nil
	})
}

// forcedQueueing remembers, per daemon, the configuration in force before
// ForceQueueWithoutDaemon(true), to restore it.
var forcedQueueing sync.Map // *Daemon → [2]*config.Config{before, forced}

// ForceQueueWithoutDaemon overrides queue_without_daemon until restored or reconfigured, as
// multipathd's forcequeueing daemon does.
func (d *Daemon) ForceQueueWithoutDaemon(ctx context.Context, force bool) error {
	cur := d.cfg()
	if !force {
		if v, ok := forcedQueueing.LoadAndDelete(d); ok {
			pair := v.([2]*config.Config)
			if d.config.CompareAndSwap(pair[1], pair[0]) {
				d.log.Info().Msg("queue_without_daemon restored by the administrator")
			}
		}
		return nil
	}
	forced := *cur
	yes := true
	forced.Defaults.QueueWithoutDaemon = &yes
	if d.config.CompareAndSwap(cur, &forced) {
		forcedQueueing.Store(d, [2]*config.Config{cur, &forced})
		d.log.Warn().Msg("queueing forced on for when the daemon stops (forcequeueing daemon)")
		return nil
	}
	return api.Errorf(api.CodeBusy, "the configuration changed meanwhile; try again")
}

// ResetStats zeroes the counters of a map or of every map.
func (d *Daemon) ResetStats(ctx context.Context, mapName string) error {
	return d.eachMap(ctx, mapName, func(s *shard, m *mpath) error {
		m.pathFaults, m.groupSwitches, m.tableLoads = 0, 0, 0
		m.dirty = true
		return nil
	})
}

// SetMarginal marks a path marginal or takes the mark off (multipathd's setmarginal and
// unsetmarginal path): a marked path is grouped apart, after the normal groups, as one the
// marginal detector finds. Taking the mark off leaves the detector's judgement alone.
func (d *Daemon) SetMarginal(ctx context.Context, dev string, on bool) error {
	return d.onPath(ctx, dev, func(s *shard, m *mpath, p *path) error {
		if p.adminMarginal != on {
			p.adminMarginal = on
			d.log.Info().Str("map", m.name).Str("path", p.info.Name).Bool("marginal", on).Msg("path marginal mark set by the administrator")
		}
		return nil
	})
}

// UnsetMarginalMap takes the administrator's marginal mark off every path of a map.
func (d *Daemon) UnsetMarginalMap(ctx context.Context, mapName string) error {
	return d.onMap(ctx, mapName, func(s *shard, m *mpath) error {
		for _, p := range m.paths {
			p.adminMarginal = false
		}
		s.refresh(m)
		s.sync(m)
		return nil
	})
}
