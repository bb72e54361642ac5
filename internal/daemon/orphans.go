package daemon

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// heldPaths are the paths find_multipaths holds back until a sibling comes: kernel name → the
// path as last read. They are the daemon's orphans, published as an immutable snapshot like the
// shards' maps, so a reader never waits for the uevent handling that changes them.
type heldPaths struct {
	mu    sync.Mutex
	paths map[string]heldPath
	snap  atomic.Pointer[[]api.Orphan] // nil after a change: the next reader rebuilds it
	gen   atomic.Uint64                // counts the changes
}

type heldPath struct {
	wwid   string
	orphan api.Orphan
}

// Store holds p back for the reason given; checker is the checker it would get in a map.
func (h *heldPaths) Store(p sysfs.Path, checker, reason string) {
	o := api.Orphan{
		Dev: p.Name, DevT: p.Dev.String(), HCIL: p.HCTL.String(), WWID: p.WWID, DevState: p.State,
		Vendor: p.Vendor, Product: p.Model, Revision: p.Rev, SizeSectors: p.Size, Checker: checker, Reason: reason,
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.paths == nil {
		h.paths = map[string]heldPath{}
	}
	if old, ok := h.paths[p.Name]; ok && old.orphan == o {
		return
	}
	h.paths[p.Name] = heldPath{wwid: p.WWID, orphan: o}
	h.snap.Store(nil)
	h.gen.Add(1)
}

// Delete releases a path: it went away, was blacklisted, or joins a map.
func (h *heldPaths) Delete(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.paths[name]; !ok {
		return
	}
	delete(h.paths, name)
	h.snap.Store(nil)
	h.gen.Add(1)
}

// Load returns the WWID a path is held under.
func (h *heldPaths) Load(name string) (wwid string, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hp, ok := h.paths[name]
	return hp.wwid, ok
}

// Range calls f for each held path and its WWID until f returns false. f runs without the lock
// (it may read sysfs, or Delete), on the paths held when Range began.
func (h *heldPaths) Range(f func(name, wwid string) bool) {
	h.mu.Lock()
	held := make([][2]string, 0, len(h.paths))
	for name, hp := range h.paths {
		held = append(held, [2]string{name, hp.wwid})
	}
	h.mu.Unlock()
	for _, nw := range held {
		if !f(nw[0], nw[1]) {
			return
		}
	}
}

// orphans is the snapshot of the held paths, by device name. The caller must not modify it.
func (h *heldPaths) orphans() []api.Orphan {
	if s := h.snap.Load(); s != nil {
		return *s
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.snap.Load(); s != nil {
		return *s
	}
	out := make([]api.Orphan, 0, len(h.paths))
	for _, hp := range h.paths {
		out = append(out, hp.orphan)
	}
	slices.SortFunc(out, func(a, b api.Orphan) int { return compareDevNames(a.Dev, b.Dev) })
	h.snap.Store(&out)
	return out
}

// compareDevNames orders kernel names as ls -v would for sd names: sdz before sdaa.
func compareDevNames(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// holdBack records paths find_multipaths keeps out of a map.
func (d *Daemon) holdBack(ps []sysfs.Path, wwid, reason string) {
	for _, p := range ps {
		d.waiting.Store(p, d.cfg().Resolve(wwid, p.Vendor, p.Model, p.Rev).PathChecker, reason)
	}
}
