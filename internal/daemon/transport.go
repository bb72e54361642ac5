package daemon

import (
	"errors"
	"slices"
	"strings"
	"syscall"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/sysfs"
	"github.com/mpathd/mpathd/pkg/transport"
)

// tuning is what became of one path's transport settings, for explain and status.
type tuning struct {
	gen      uint64 // the claim of the device name (see devGen)
	outcomes []transport.Outcome
	notes    []string
}

// tune gives a path the transport settings its map's configuration asks for: when it is added
// (added: max_sectors_kb too, before the path enters a table) and on every reconfigure. A value
// the kernel refuses is logged and kept for explain and status; the path is used all the same, as
// multipath-tools does.
func (d *Daemon) tune(m *mpath, p sysfs.Path, gen uint64, added bool) {
	if d.o.Transport == nil {
		return
	}
	r := d.cfg().Resolve(m.wwid, p.Vendor, p.Model, p.Rev)
	s := transport.FromResolved(r, filterInfo(p).Protocol, d.cfg().Global().PollingInterval)
	plan := transport.Decide(s, p)
	t := tuning{gen: gen, outcomes: transport.Apply(d.o.Transport, plan, added), notes: plan.Notes}
	for _, n := range plan.Notes {
		d.log.Info().Str("map", m.name).Str("path", p.Name).Msg(n)
	}
	for _, o := range t.outcomes {
		switch {
		case o.Err != nil:
			d.log.Warn().Str("map", m.name).Str("path", p.Name).Str("object", o.Object).Str("attribute", o.Attr).
				Str("value", o.Value).Str("kernel", o.After).Err(o.Err).Msg("transport setting refused")
		case o.Changed:
			d.log.Info().Str("map", m.name).Str("path", p.Name).Str("object", o.Object).Str("attribute", o.Attr).
				Str("value", o.After).Str("was", o.Before).Msg("transport setting applied")
		}
	}
	if prev, ok := d.tuned.Load(p.Name); ok && !added && prev.(*tuning).gen == gen {
		// A reconfigure does not touch max_sectors_kb: keep what the path got when it was added.
		for _, o := range prev.(*tuning).outcomes {
			if o.OnAdd {
				t.outcomes = append(t.outcomes, o)
			}
		}
	}
	d.tuned.Store(p.Name, &t)
}

// retune gives a path whose transport settings the kernel refused another try when its check
// passes: an FC remote port refuses its timeouts with EBUSY while it is Blocked or Not Present, so a
// path added (or a reconfigure applied) then would otherwise keep the kernel's defaults, fast_io_fail
// off among them, after the port is back. EBUSY is tried again at every passing check until it is
// gone; another refusal only when the path comes back up (cameUp), so a value the kernel never takes
// is not written at every check.
func (d *Daemon) retune(m *mpath, p *path, cameUp bool) {
	v, ok := d.tuned.Load(p.info.Name)
	if !ok || v.(*tuning).gen != p.gen {
		return
	}
	for _, o := range v.(*tuning).outcomes {
		if o.Err != nil && (cameUp || errors.Is(o.Err, syscall.EBUSY)) {
			d.log.Info().Str("map", m.name).Str("path", p.info.Name).Msg("applying the transport settings the kernel refused again")
			d.tune(m, p.info, p.gen, false)
			return
		}
	}
}

// untune forgets the settings of claim gen of a device name; a later claim's stay.
func (d *Daemon) untune(name string, gen uint64) {
	if v, ok := d.tuned.Load(name); ok && v.(*tuning).gen == gen {
		d.tuned.CompareAndDelete(name, v)
	}
}

// transportSettings lists the settings of the named paths for explain.
func (d *Daemon) transportSettings(devs []string) ([]api.TransportSetting, []string) {
	var out []api.TransportSetting
	var notes []string
	for _, dev := range devs {
		v, ok := d.tuned.Load(dev)
		if !ok {
			continue
		}
		t := v.(*tuning)
		for _, o := range t.outcomes {
			ts := api.TransportSetting{Path: dev, Object: o.Object, Attribute: o.Attr, Want: o.Value, Value: o.After}
			if o.Err != nil {
				ts.Error = o.Err.Error()
			}
			out = append(out, ts)
		}
		for _, n := range t.notes {
			notes = append(notes, dev+": "+n)
		}
	}
	return out, notes
}

// transportErrors lists every refused transport setting for show status.
func (d *Daemon) transportErrors() []string {
	var errs []string
	d.tuned.Range(func(k, v any) bool {
		for _, o := range v.(*tuning).outcomes {
			if o.Err != nil {
				errs = append(errs, k.(string)+": "+o.String())
			}
		}
		return true
	})
	slices.Sort(errs)
	return errs
}

// explainTransport adds the transport settings of a map's paths (or the one path asked for).
func (d *Daemon) explainTransport(ex *api.Explanation, tm api.Map) {
	devs := []string{ex.Path}
	if ex.Path == "" {
		devs = devs[:0]
		for _, g := range tm.Groups {
			for _, p := range g.Paths {
				devs = append(devs, p.Dev)
			}
		}
		slices.SortFunc(devs, strings.Compare)
		devs = slices.Compact(devs)
	}
	ex.Transport, ex.TransportNotes = d.transportSettings(devs)
}
