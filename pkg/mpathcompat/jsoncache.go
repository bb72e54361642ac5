package mpathcompat

import (
	"sync"

	"github.com/mpathd/mpathd/pkg/api"
)

// jsonCache keeps each map's rendered JSON between requests. On a large SAN
// most maps are the same from one `show maps json` to the next, even when the
// daemon has published them again; comparing a map with the one rendered last
// time costs a tenth of rendering it.
//
// When the service tells its topology's generation, the whole reply is kept too, and answered
// again as long as the generation holds.
type jsonCache struct {
	mu      sync.Mutex
	entries map[string]jsonEntry // by WWID
	seen    uint64               // request count, to find entries of maps gone

	gen   uint64 // the generation reply was rendered at
	reply string // "" when none
}

// cached returns the reply rendered at generation gen, if any.
func (c *jsonCache) cached(gen uint64) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reply, c.reply != "" && c.gen == gen
}

// keep records the reply rendered at generation gen.
func (c *jsonCache) keep(gen uint64, reply string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen, c.reply = gen, reply
}

type jsonEntry struct {
	m    api.Map // as rendered; snapshots are immutable, so it may share their slices
	text []byte
	seen uint64 // the last request that had the map
}

// sameMap reports whether a and b render the same: every field equal.
func sameMap(a, b *api.Map) bool {
	if !sameScalars(a, b) || len(a.Groups) != len(b.Groups) {
		return false
	}
	if len(a.Groups) == 0 || &a.Groups[0] == &b.Groups[0] {
		// The same groups of an immutable snapshot: a map the daemon did not change is published
		// again with the groups it had.
		return true
	}
	for i := range a.Groups {
		ga, gb := &a.Groups[i], &b.Groups[i]
		if ga.Index != gb.Index || ga.State != gb.State || ga.Prio != gb.Prio || ga.Selector != gb.Selector ||
			ga.Marginal != gb.Marginal || len(ga.Paths) != len(gb.Paths) {
			return false
		}
		for j := range ga.Paths {
			if ga.Paths[j] != gb.Paths[j] {
				return false
			}
		}
	}
	return true
}

func sameScalars(a, b *api.Map) bool {
	return a.Name == b.Name && a.UUID == b.UUID && a.WWID == b.WWID && a.DM == b.DM && a.DevT == b.DevT &&
		a.SizeSectors == b.SizeSectors && a.Features == b.Features && a.HWHandler == b.HWHandler &&
		a.Vendor == b.Vendor && a.Product == b.Product && a.Revision == b.Revision && a.DMState == b.DMState &&
		a.ReadOnly == b.ReadOnly && a.Queueing == b.Queueing && a.Failback == b.Failback &&
		a.PathFaults == b.PathFaults && a.LastAction == b.LastAction && a.GroupSwitches == b.GroupSwitches && a.TableLoads == b.TableLoads
}

// mapsJSON renders like MapsJSON, reusing the text of unchanged maps. Entries
// of maps no longer in t are dropped.
func (c *jsonCache) mapsJSON(t api.Topology) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]jsonEntry, len(t.Maps))
	}
	c.seen++
	frags := make([][]byte, len(t.Maps))
	n := 64
	for i := range t.Maps {
		m := &t.Maps[i]
		e, hit := c.entries[m.WWID]
		if !hit || !sameMap(&e.m, m) {
			e = jsonEntry{m: *m, text: appendMapJSON(nil, m, true)}
		}
		e.seen = c.seen
		c.entries[m.WWID] = e
		frags[i] = e.text
		n += len(e.text) + 1
	}
	if len(c.entries) > len(t.Maps) {
		for w, e := range c.entries {
			if e.seen != c.seen {
				delete(c.entries, w)
			}
		}
	}
	b := make([]byte, 0, n)
	b = jsonHeader(b)
	b = append(b, `   "maps": [`...)
	for i, f := range frags {
		b = append(b, f...)
		if i < len(frags)-1 {
			b = append(b, ',')
		}
	}
	b = append(b, "]\n}\n"...)
	return bytesString(b)
}
