package daemon

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

var _ api.Service = (*Daemon)(nil)

// call runs fn on the shard of wwid and waits for it, or for ctx.
func (d *Daemon) call(ctx context.Context, wwid string, fn func(s *shard, m *mpath) error) error {
	s := d.shardOf(wwid)
	errc := make(chan error, 1)
	s.post(func() {
		m := s.maps[wwid]
		if m == nil {
			errc <- api.Errorf(api.CodeNotFound, "no map for WWID %s", wwid)
			return
		}
		errc <- fn(s, m)
	})
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return api.Errorf(api.CodeBusy, "%v (the request stays queued on the map)", ctx.Err())
	}
}

// lookupMap finds a map's WWID by name, WWID or dm-N.
func (d *Daemon) lookupMap(target string) (string, error) {
	if w, ok := d.mapIndex.Load(target); ok {
		return w.(string), nil
	}
	if m, ok := d.Topology().Find(target); ok {
		return m.WWID, nil
	}
	return "", api.Errorf(api.CodeNotFound, "no map %q", target)
}

func (d *Daemon) lookupPath(dev string) (string, error) {
	dev = strings.TrimPrefix(dev, "/dev/")
	if ref, ok := d.owner(dev); ok {
		return ref.wwid, nil
	}
	return "", api.Errorf(api.CodeNotFound, "no path %q in any map", dev)
}

// onPath runs fn on the shard that owns the map of path dev, with the path in a live map.
func (d *Daemon) onPath(ctx context.Context, dev string, fn func(s *shard, m *mpath, p *path) error) error {
	dev = strings.TrimPrefix(dev, "/dev/")
	wwid, err := d.lookupPath(dev)
	if err != nil {
		return err
	}
	return d.call(ctx, wwid, func(s *shard, m *mpath) error {
		p := m.path(dev)
		if p == nil || !m.exists {
			return api.Errorf(api.CodeNotFound, "path %s is not in a live map", dev)
		}
		err := fn(s, m, p)
		s.refresh(m)
		s.sync(m)
		return err
	})
}

// FailPath fails a path in its map. As in multipathd, it stays failed, whatever its checks say and
// across reloads, until ReinstatePath.
func (d *Daemon) FailPath(ctx context.Context, dev string) error {
	return d.onPath(ctx, dev, func(s *shard, m *mpath, p *path) error {
		if err := dm.FailPath(d.dm, m.name, p.info.Dev.String()); err != nil {
			return api.Errorf(api.CodeInternal, "fail_path %s on %s: %v", p.info.Name, m.name, err)
		}
		p.adminFailed, p.dmFailed = true, true
		d.log.Warn().Str("map", m.name).Str("path", p.info.Name).Msg("path failed by the administrator")
		s.emit(api.Event{Type: api.EventPathDown, Map: m.name, Path: p.info.Name, Old: api.DMActive, New: api.DMFailed, Reason: "failed by the administrator"})
		return nil
	})
}

// ReinstatePath undoes FailPath and any flap hold: the path is reinstated now and checked at once;
// a check that finds it down fails it again.
func (d *Daemon) ReinstatePath(ctx context.Context, dev string) error {
	return d.onPath(ctx, dev, func(s *shard, m *mpath, p *path) error {
		if err := dm.ReinstatePath(d.dm, m.name, p.info.Dev.String()); err != nil {
			return api.Errorf(api.CodeInternal, "reinstate_path %s on %s: %v", p.info.Name, m.name, err)
		}
		p.adminFailed, p.dmFailed = false, false
		p.recheck, p.holdUntil = false, time.Time{}
		d.monitor.CheckNow(p.info.Name)
		return nil
	})
}

// SwitchGroup makes a group the active one.
func (d *Daemon) SwitchGroup(ctx context.Context, mapName string, group int) error {
	wwid, err := d.lookupMap(mapName)
	if err != nil {
		return err
	}
	return d.call(ctx, wwid, func(s *shard, m *mpath) error {
		if group < 1 || group > len(m.live.Groups) {
			return api.Errorf(api.CodeInvalid, "map %s has groups 1–%d, not %d", m.name, len(m.live.Groups), group)
		}
		if !s.switchGroup(m, group, "requested by the administrator") {
			return api.Errorf(api.CodeInternal, "switch_group %d on %s: %s", group, m.name, m.err)
		}
		s.refresh(m)
		return nil
	})
}

// Reconfigure reloads the configuration file. An invalid file keeps the running configuration; a
// valid one is applied to every map, and only maps whose table changes are reloaded. Path states
// and counters survive.
func (d *Daemon) Reconfigure(ctx context.Context) error {
	// ConfigPath first: with mpathd.toml absent, it falls back to multipath.conf again.
	file := d.o.ConfigPath
	if file == "" {
		file = d.cfg().File
	}
	cfg, err := config.LoadOptional(file)
	if err != nil {
		d.log.Error().Err(err).Str("file", file).Msg("reconfigure: invalid configuration, keeping the running one")
		d.countReconfigure("invalid")
		return api.Errorf(api.CodeInvalid, "%v", err)
	}
	for _, w := range cfg.Warnings {
		d.log.Warn().Str("file", cfg.File).Msg(w.Error())
	}
	d.state.Store("reloading")
	defer d.state.Store("running")
	d.config.Store(cfg)
	d.lastConfig.Store(d.now())
	for _, s := range d.shards {
		s.post(func() {
			for _, m := range s.maps {
				if len(m.paths) == 0 {
					continue
				}
				f := m.paths[0].info
				m.res = cfg.Resolve(m.wwid, f.Vendor, f.Model, f.Rev)
				s.prLoad(m)
				m.retryCreate()
				m.relaid = true
				for _, p := range m.paths {
					d.tune(m, p.info, p.gen, false)
					if spec := d.checkSpec(m, p.info); spec != p.spec {
						p.spec = spec
						d.watch(p.info, spec, p.gen)
					}
				}
				s.sync(m)
			}
		})
	}
	if err := d.Resync(ctx); err != nil {
		d.countReconfigure("error")
		return api.Errorf(api.CodeInternal, "%v", err)
	}
	d.barrier(ctx)
	d.log.Info().Str("file", file).Msg("configuration reloaded")
	d.emit(api.Event{Type: api.EventReconfigured, Reason: file})
	return nil
}

// ResizeMap re-reads the sizes of a map's paths and reloads the map when they all agree on a new
// size.
func (d *Daemon) ResizeMap(ctx context.Context, mapName string) error {
	wwid, err := d.lookupMap(mapName)
	if err != nil {
		return err
	}
	return d.call(ctx, wwid, func(s *shard, m *mpath) error {
		for _, p := range m.paths {
			if pi, err := d.topo.Path(p.info.Name); err == nil {
				p.info = pi
			}
		}
		want := m.size()
		m.parts.wanted = true
		s.sync(m)
		if m.sectors != want {
			return api.Errorf(api.CodeBusy, "map %s stays at %d sectors: its paths do not agree on a new size", m.name, m.sectors)
		}
		return nil
	})
}

// FlushMap removes a map that nobody holds open, after switching its queueing off. Its partition
// maps (mpathd's or kpartx's) go first; an open partition keeps everything in place. Its paths are
// no longer managed until they are added again (add path, reconfigure).
func (d *Daemon) FlushMap(ctx context.Context, mapName string) error {
	wwid, err := d.lookupMap(mapName)
	if err != nil {
		return err
	}
	return d.call(ctx, wwid, func(s *shard, m *mpath) error {
		// Nothing is changed before the map is known to be unused: switching queueing off on an
		// open map would fail the I/O it holds, and the remove would be refused anyway.
		parts, err := s.partsInUse(m)
		var open *errPartOpen
		if errors.As(err, &open) {
			return api.Errorf(api.CodeBusy, "map %s: %v", m.name, err)
		}
		if err != nil {
			return api.Errorf(api.CodeInternal, "flush %s: %v", m.name, err)
		}
		info, err := d.dm.Info(m.name)
		if err != nil {
			return api.Errorf(api.CodeInternal, "flush %s: cannot tell whether it is open: %v", m.name, err)
		}
		// Each partition map's table holds the map open once.
		if n := info.OpenCount - int32(len(parts)); n > 0 {
			return api.Errorf(api.CodeBusy, "map %s is open (%d openers)", m.name, n)
		}
		if err := s.removeParts(m, parts, false); err != nil {
			return api.Errorf(api.CodeBusy, "flush %s: %v", m.name, err)
		}
		if m.live.Features.QueueIfNoPath {
			if err := dm.FailIfNoPath(d.dm, m.name); err != nil {
				return api.Errorf(api.CodeInternal, "fail_if_no_path on %s: %v", m.name, err)
			}
		}
		if _, err := d.dm.Remove(m.name, dm.RemoveOptions{}); err != nil {
			if dm.IsBusy(err) {
				return api.Errorf(api.CodeBusy, "remove %s: %v", m.name, err)
			}
			return api.Errorf(api.CodeInternal, "remove %s: %v", m.name, err)
		}
		for _, p := range m.paths {
			d.release(p.info.Name, p.gen)
		}
		d.unindexMap(m)
		delete(s.maps, wwid)
		s.trackStats(m)
		d.log.Info().Str("map", m.name).Msg("map flushed by the administrator")
		s.emit(api.Event{Type: api.EventMapRemoved, Map: m.name, Reason: "flushed by the administrator"})
		return nil
	})
}

// AddPath takes a path device into its map (or a new map).
func (d *Daemon) AddPath(ctx context.Context, dev string) error {
	dev = strings.TrimPrefix(dev, "/dev/")
	p, err := d.topo.Path(dev)
	if err != nil {
		return api.Errorf(api.CodeNotFound, "path %s: %v", dev, err)
	}
	if p.WWID == "" {
		return api.Errorf(api.CodeInvalid, "path %s has no WWID: %v", dev, p.WWIDErr)
	}
	if v := d.cfg().Filter(filterInfo(p)); v.Blacklisted {
		return api.Errorf(api.CodeInvalid, "path %s is blacklisted: %s", dev, v)
	}
	d.addDiscovered([]sysfs.Path{p})
	d.barrier(ctx)
	return nil
}

// DelPath takes a path out of its map (the device itself stays).
func (d *Daemon) DelPath(ctx context.Context, dev string) error {
	dev = strings.TrimPrefix(dev, "/dev/")
	wwid, err := d.lookupPath(dev)
	if err != nil {
		return err
	}
	return d.call(ctx, wwid, func(s *shard, m *mpath) error {
		s.removePaths(wwid, []string{dev}, "deleted by the administrator")
		return nil
	})
}

// Rescan asks SCSI host N, or every host (-1), to scan for new devices; new paths arrive as uevents.
func (d *Daemon) Rescan(ctx context.Context, host int) error {
	if host >= 0 {
		if err := d.topo.ScanHost(host, sysfs.ScanAll); err != nil {
			return api.Errorf(api.CodeNotFound, "scan host%d: %v", host, err)
		}
		return nil
	}
	hosts, err := d.topo.Hosts()
	if err != nil {
		return api.Errorf(api.CodeInternal, "list SCSI hosts: %v", err)
	}
	for _, h := range hosts {
		if err := d.topo.ScanHost(h.Number, sysfs.ScanAll); err != nil {
			return api.Errorf(api.CodeInternal, "scan host%d: %v", h.Number, err)
		}
	}
	return nil
}

// EffectiveConfig renders the configuration in force.
func (d *Daemon) EffectiveConfig() (string, error) {
	var b strings.Builder
	if err := d.cfg().Dump(&b); err != nil {
		return "", api.Errorf(api.CodeInternal, "render configuration: %v", err)
	}
	return b.String(), nil
}

// Explain lists every effective setting of a map, or of a path's map, with the layer it came from.
func (d *Daemon) Explain(target string) (api.Explanation, error) {
	ex := api.Explanation{Target: target}
	wwid, err := d.lookupMap(target)
	if err != nil {
		w, perr := d.lookupPath(target)
		if perr != nil {
			return ex, api.Errorf(api.CodeNotFound, "no map or path %q", target)
		}
		wwid, ex.Path = w, strings.TrimPrefix(target, "/dev/")
	}
	tm, _ := d.Topology().Find(wwid)
	ex.Map, ex.WWID = tm.Name, wwid
	r := d.cfg().Resolve(wwid, tm.Vendor, tm.Product, tm.Revision)
	for _, s := range r.Explain() {
		ex.Settings = append(ex.Settings, api.Setting{Key: s.Key, Value: s.Value, Origin: s.Origin})
	}
	d.explainTransport(&ex, tm)
	return ex, nil
}

// CheckConfig validates a configuration file without applying it.
func (d *Daemon) CheckConfig(path string) error {
	if err := config.Validate(path); err != nil {
		return api.Errorf(api.CodeInvalid, "%v", err)
	}
	return nil
}

// Stats reports the polling core's estimates per map and path, with each path's live weight.
func (d *Daemon) Stats() api.Stats { return d.statsSnapshot() }
