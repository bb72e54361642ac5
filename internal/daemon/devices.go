package daemon

import (
	"slices"
	"sync"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// A kernel name like sdb is reused: a LUN goes away and the next device the SCSI layer finds gets
// its name, possibly for another LUN whose map lives on another shard. Each claim of a name by a
// WWID therefore gets a generation, given out by the producer (the uevent reader, a resync) at the
// moment the event is seen, so the order of events per name survives the hop to the shards: a
// shard acts only on the generation it was given, and a late removal of the old generation
// neither drops the new owner nor stops its checks.

// devRef is the owner of a device name: the WWID whose map the device is a path of, and the
// generation of that claim.
type devRef struct {
	wwid string
	gen  uint64
}

// devOwners tracks device names. Writes hold mu; reads of owner do not, since the monitor may
// deliver a check result from inside Watch.
type devOwners struct {
	mu      sync.Mutex
	next    uint64
	owner   sync.Map          // name → devRef
	watched map[string]uint64 // name → the generation whose Watch is in the monitor
}

// owner returns the current owner of a device name.
func (d *Daemon) owner(name string) (devRef, bool) {
	v, ok := d.devs.owner.Load(name)
	if !ok {
		return devRef{}, false
	}
	return v.(devRef), true
}

// claim makes wwid the owner of name and returns the claim's generation; a name wwid owns already
// keeps its generation. A name owned by another WWID (its remove event was lost) is taken from it:
// the old owner's shard is told to drop its path.
func (d *Daemon) claim(name, wwid string) uint64 {
	d.devs.mu.Lock()
	defer d.devs.mu.Unlock()
	cur, ok := d.owner(name)
	if ok && cur.wwid == wwid {
		return cur.gen
	}
	d.devs.next++
	d.devs.owner.Store(name, devRef{wwid: wwid, gen: d.devs.next})
	if ok {
		d.postRemoval(map[string][]devGen{cur.wwid: {{name, cur.gen}}}, "device name reused for WWID "+wwid)
	}
	return d.devs.next
}

// disown ends the current claim on name (the device went away, or now has another WWID) and
// returns it.
func (d *Daemon) disown(name string) (devRef, bool) {
	d.devs.mu.Lock()
	defer d.devs.mu.Unlock()
	v, ok := d.devs.owner.LoadAndDelete(name)
	if !ok {
		return devRef{}, false
	}
	return v.(devRef), true
}

// watch starts checking a path for claim gen, unless a later event superseded the claim. A watch
// left by an earlier claim of the name is a different device: it is dropped first, so the new one
// gets its first check at once.
func (d *Daemon) watch(p sysfs.Path, spec CheckSpec, gen uint64) bool {
	d.devs.mu.Lock()
	defer d.devs.mu.Unlock()
	if cur, ok := d.owner(p.Name); !ok || cur.gen != gen {
		return false
	}
	if g, ok := d.devs.watched[p.Name]; ok && g != gen {
		d.monitor.Unwatch(p.Name)
	}
	if d.devs.watched == nil {
		d.devs.watched = map[string]uint64{}
	}
	d.devs.watched[p.Name] = gen
	d.monitor.Watch(p, spec)
	return true
}

// release ends what claim gen of name holds: its checks, and the claim itself unless a later one
// replaced it.
func (d *Daemon) release(name string, gen uint64) {
	d.devs.mu.Lock()
	defer d.devs.mu.Unlock()
	if g, ok := d.devs.watched[name]; ok && g == gen {
		d.monitor.Unwatch(name)
		delete(d.devs.watched, name)
	}
	if cur, ok := d.owner(name); ok && cur.gen == gen {
		d.devs.owner.Delete(name)
	}
	d.untune(name, gen)
}

// devGen names one claim of a device name.
type devGen struct {
	name string
	gen  uint64
}

// postRemoval sends each WWID's shard the claims it must drop.
func (d *Daemon) postRemoval(byWWID map[string][]devGen, why string) {
	for wwid, gone := range byWWID {
		s := d.shardOf(wwid)
		s.post(func() { s.dropPaths(wwid, gone, why) })
	}
}

// postPaths claims the paths of one WWID for it, now, and hands them to the WWID's shard, which
// creates or adopts the map and starts checking them.
func (d *Daemon) postPaths(wwid string, ps []sysfs.Path, adopt bool, dv dm.Device, name string) {
	gens := make([]uint64, len(ps))
	for i, p := range ps {
		gens[i] = d.claim(p.Name, wwid)
	}
	s := d.shardOf(wwid)
	s.post(func() { s.addPaths(wwid, ps, gens, adopt, dv, name) })
}

// dropPaths takes out of the WWID's map the paths whose claim went away; a path of a later claim
// of the same name stays.
func (s *shard) dropPaths(wwid string, gone []devGen, why string) {
	m := s.maps[wwid]
	if m == nil {
		return
	}
	changed := false
	for _, g := range gone {
		if p := m.path(g.name); p != nil && p.gen == g.gen {
			s.dropPath(m, p, why)
			changed = true
		}
	}
	if changed {
		s.sync(m)
	}
}

// dropPath takes one path out of its map (the caller syncs the map).
func (s *shard) dropPath(m *mpath, p *path, why string) {
	d := s.d
	i := slices.Index(m.paths, p)
	if i < 0 {
		return
	}
	m.paths = slices.Delete(m.paths, i, i+1)
	m.retryCreate()
	d.release(p.info.Name, p.gen)
	d.log.Info().Str("map", m.name).Str("path", p.info.Name).Str("why", why).Msg("path removed")
	s.emit(api.Event{Type: api.EventPathRemoved, Map: m.name, Path: p.info.Name, Reason: why})
}
