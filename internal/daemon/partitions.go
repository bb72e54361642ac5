package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/parttable"
)

// Partition maps: mpathd makes the maps kpartx makes (see pkg/parttable for the numbering), so udev's
// dm rules, blkid and LVM see the same devices whether or not kpartx is installed:
//
//   - name <map><partition_delimiter><N> (mpatha-part1 with the built-in delimiter, the name kpartx's
//     udev rules give), dm uuid part<N>-mpath-<wwid>, one linear target over the map from the
//     partition's first sector; read-only when the map is;
//   - made when the map is created or adopted, and again (created, reloaded, renamed or removed to
//     match the table) after the map is resized or reloaded by an administrator, and on a "change"
//     uevent of the map that no dm operation raised (udev's watch after a partitioning tool closed
//     the map, or `udevadm trigger`);
//   - removed before the map is removed; a map whose partition is open is open.
//
// kpartx's udev rules are told to keep away (every uevent of the map carries the skip_kpartx flag),
// so the two never race; partition maps kpartx made earlier carry the same uuid and are adopted as
// they are. skip_kpartx makes mpathd leave a map's partitions alone as well.
//
// The table is read from the map's device by a goroutine of its own, never on the shard: a map that
// queues without paths, or is suspended, would hold the read. Such a map is not read at all until
// it has a usable path and runs again; a read that hangs anyway is abandoned after partReadTimeout
// (Disks keeps at most one per device) and tried again at a later sync.

// Disks reads the partition tables of maps (linux.Disks reads /dev/dm-N).
type Disks interface {
	// PartitionTable reads the partition table of block device dev, returning
	// parttable.ErrNoTable (wrapped) when there is none. It returns when ctx ends even if the
	// read does not.
	PartitionTable(ctx context.Context, dev dm.Dev) (*parttable.Table, error)
}

// partReadTimeout bounds the wait for a partition table.
const partReadTimeout = 10 * time.Second

// partState is what the shard knows of a map's partition maps.
type partState struct {
	wanted   bool     // the table may have changed: read it at the next chance
	scanning bool     // a read is in flight
	names    []string // the partition maps made or found by the last scan
}

// partitionsManaged reports whether mpathd makes partition maps at all (it has a disk reader and a
// dm that loads linear tables).
func (d *Daemon) partitionsManaged() bool {
	_, ok := d.dm.(dm.TargetControl)
	return d.o.Disks != nil && ok
}

// mapUdevFlags are the flags on every uevent of a map: skip_kpartx keeps kpartx's udev rules away
// from maps whose partitions mpathd makes, and from maps that must have none.
func (d *Daemon) mapUdevFlags(m *mpath) dm.UdevFlags {
	if d.partitionsManaged() || m.res.SkipKpartx {
		return dm.MpathNoKpartx
	}
	return 0
}

// rescanParts asks for the map's partition table to be read again.
func (s *shard) rescanParts(m *mpath) {
	m.parts.wanted = true
	s.scanParts(m)
}

// scanParts starts a read of the map's partition table when one is wanted and the map can serve it.
func (s *shard) scanParts(m *mpath) {
	d := s.d
	if !m.parts.wanted || m.parts.scanning || !m.exists || !d.partitionsManaged() {
		return
	}
	if m.res.SkipKpartx {
		m.parts.wanted = false
		return
	}
	if m.info.Suspended || m.usablePaths(d.now()) == 0 {
		return // stays wanted: a later sync reads it
	}
	m.parts.wanted, m.parts.scanning = false, true
	dev, wwid := m.info.Dev, m.wwid
	d.partReads.Add(1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), partReadTimeout)
		t, err := d.o.Disks.PartitionTable(ctx, dev)
		cancel()
		s.post(func() {
			defer d.partReads.Add(-1)
			if s.maps[wwid] != m {
				return
			}
			m.parts.scanning = false
			if !m.exists || m.info.Dev != dev {
				return
			}
			if err != nil && !errors.Is(err, parttable.ErrNoTable) {
				m.parts.wanted = true // read again at a later sync
				s.fail(m, "read partition table", err)
				return
			}
			s.applyParts(m, t)
			s.scanParts(m) // asked again meanwhile
		})
	}()
}

// partMap is a partition map of a map, as found in the kernel.
type partMap struct {
	n    int
	name string
}

// partsOf lists the partition maps of m: the dm devices whose uuid is part<N>-<m's uuid>.
func (s *shard) partsOf(m *mpath) ([]partMap, error) {
	devs, err := s.d.dm.List()
	if err != nil {
		return nil, err
	}
	var out []partMap
	suffix := "-" + m.uuid()
	for _, dv := range devs {
		num, ok := strings.CutSuffix(dv.UUID, suffix)
		if !ok || !strings.HasPrefix(num, "part") {
			continue
		}
		if n, err := strconv.Atoi(num[len("part"):]); err == nil && n > 0 {
			out = append(out, partMap{n: n, name: dv.Name})
		}
	}
	slices.SortFunc(out, func(a, b partMap) int { return a.n - b.n })
	return out, nil
}

func (d *Daemon) partName(m *mpath, n int) string {
	return m.name + d.cfg().Global().PartitionDelimiter + strconv.Itoa(n)
}

// applyParts makes the partition maps match table t (nil: no table): as `kpartx -u` does, it creates
// the missing ones, reloads those whose place changed, renames those with another name and removes
// those no longer in the table, unless they are open.
func (s *shard) applyParts(m *mpath, t *parttable.Table) {
	d := s.d
	tc := d.dm.(dm.TargetControl)
	have, err := s.partsOf(m)
	if err != nil {
		s.fail(m, "list partition maps", err)
		return
	}
	byN := map[int]partMap{}
	for _, p := range have {
		byN[p.n] = p
	}
	var flags uint32
	if m.info.ReadOnly {
		flags = dm.ReadOnly
	}
	var names []string
	wanted := map[int]bool{}
	if t != nil {
		for _, p := range t.Partitions {
			name := d.partName(m, p.Number)
			wanted[p.Number] = true
			if p.End() > m.sectors {
				// The kernel would refuse it; a partition map made earlier stays as it is until the
				// map is resized (a table grown before its LUN).
				d.log.Warn().Str("map", m.name).Int("partition", p.Number).Uint64("end", p.End()).Uint64("sectors", m.sectors).
					Msg("partition ends past the end of the map: left as it is")
				if _, ok := byN[p.Number]; ok {
					names = append(names, byN[p.Number].name)
				}
				continue
			}
			targets := dm.Linear(p.Sectors, m.info.Dev, p.Start)
			if err := s.ensurePart(m, tc, byN, p.Number, name, targets, flags); err != nil {
				s.fail(m, "partition "+name, err)
				continue
			}
			names = append(names, name)
		}
	}
	for _, p := range have {
		if wanted[p.n] {
			continue
		}
		if info, err := d.dm.Info(p.name); err == nil && info.OpenCount > 0 {
			d.log.Warn().Str("map", m.name).Str("partition", p.name).Msg("partition no longer in the table but open: kept")
			names = append(names, p.name)
			continue
		}
		if _, err := d.dm.Remove(p.name, dm.RemoveOptions{}); err != nil && !dm.IsNotExist(err) {
			s.fail(m, "remove partition "+p.name, err)
			continue
		}
		d.log.Info().Str("map", m.name).Str("partition", p.name).Msg("partition map removed: no longer in the table")
	}
	if !slices.Equal(names, m.parts.names) {
		d.log.Info().Str("map", m.name).Strs("partitions", names).Msg("partition maps")
		m.parts.names, m.dirty = names, true
	}
}

// ensurePart makes partition map n of m exist under name with targets.
func (s *shard) ensurePart(m *mpath, tc dm.TargetControl, byN map[int]partMap, n int, name string, targets []dm.Target, flags uint32) error {
	d := s.d
	if cur, ok := byN[n]; ok {
		if cur.name != name {
			if err := d.dm.Rename(cur.name, name, 0); err != nil {
				return fmt.Errorf("rename from %s: %w", cur.name, err)
			}
			d.log.Info().Str("map", m.name).Str("from", cur.name).Str("to", name).Msg("partition map renamed")
		}
		live, err := tc.TableTargets(name)
		if err != nil {
			return err
		}
		info, err := d.dm.Info(name)
		if err != nil {
			return err
		}
		if slices.Equal(live, targets) && info.ReadOnly == (flags&dm.ReadOnly != 0) {
			return nil
		}
		if err := tc.LoadTargets(name, targets, flags); err != nil {
			return err
		}
		if _, err := d.dm.Resume(name, dm.MpathReload); err != nil {
			return err
		}
		d.log.Info().Str("map", m.name).Str("partition", name).Str("table", targets[0].Params).Uint64("sectors", targets[0].Length).Msg("partition map reloaded")
		return nil
	}
	if _, err := d.dm.Create(name, fmt.Sprintf("part%d-%s", n, m.uuid())); err != nil {
		return err
	}
	err := tc.LoadTargets(name, targets, flags)
	if err == nil {
		_, err = d.dm.Resume(name, 0)
	}
	if err != nil {
		if _, rerr := d.dm.Remove(name, dm.RemoveOptions{}); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return err
	}
	d.log.Info().Str("map", m.name).Str("partition", name).Str("table", targets[0].Params).Uint64("sectors", targets[0].Length).Msg("partition map created")
	return nil
}

// errPartOpen is a partition map in use: its map cannot go.
type errPartOpen struct {
	name    string
	openers int32
}

func (e *errPartOpen) Error() string {
	return fmt.Sprintf("partition %s is open (%d openers)", e.name, e.openers)
}

// partsInUse lists m's partition maps and fails, naming it, when one is open.
func (s *shard) partsInUse(m *mpath) ([]partMap, error) {
	parts, err := s.partsOf(m)
	if err != nil {
		return nil, fmt.Errorf("list partition maps: %w", err)
	}
	for _, p := range parts {
		info, err := s.d.dm.Info(p.name)
		if dm.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("partition %s: %w", p.name, err)
		}
		if info.OpenCount > 0 {
			return nil, &errPartOpen{p.name, info.OpenCount}
		}
	}
	return parts, nil
}

// removeParts removes partition maps before their map goes; deferred marks open ones for removal at
// their last close instead of failing.
func (s *shard) removeParts(m *mpath, parts []partMap, deferred bool) error {
	for _, p := range parts {
		if _, err := s.d.dm.Remove(p.name, dm.RemoveOptions{Deferred: deferred}); err != nil && !dm.IsNotExist(err) {
			return fmt.Errorf("remove partition %s: %w", p.name, err)
		}
		s.d.log.Info().Str("map", m.name).Str("partition", p.name).Bool("deferred", deferred).Msg("partition map removed with its map")
	}
	m.parts.names = nil
	return nil
}

// PartitionsChanged handles a "change" uevent of a map that no dm operation raised: the partition
// table may have been rewritten. name is the map's name or dm-N.
func (d *Daemon) PartitionsChanged(name string) {
	wwid, err := d.lookupMap(name)
	if err != nil {
		return
	}
	s := d.shardOf(wwid)
	s.post(func() {
		if m := s.maps[wwid]; m != nil && m.exists {
			s.rescanParts(m)
		}
	})
}
