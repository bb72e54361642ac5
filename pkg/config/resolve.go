package config

import (
	"fmt"
	"strings"

	"github.com/mpathd/mpathd/pkg/checker"
)

// Origins of a resolved value, as printed by `mpathctl config explain`.
const (
	OriginOverrides = "overrides"
	OriginDefaults  = "defaults"
	OriginBuiltin   = "built-in"
)

// Resolved is the effective configuration of one map: every keyword's value
// and the layer it came from.
type Resolved struct {
	Settings
	// Alias is the [[multipaths]] alias for the WWID, "" if none. It wins
	// over user_friendly_names and the WWID.
	Alias string

	origins   map[string]string
	protocols []ProtocolOverride
}

// Origin reports where keyword's value came from: "multipaths[wwid=W]",
// "overrides", "devices[vendor=V,product=P] (built-in)" or "(config)",
// "defaults" or "built-in". It returns "" for an unknown keyword.
func (r *Resolved) Origin(keyword string) string { return r.origins[keyword] }

// Setting is one line of an explanation.
type Setting struct {
	Key    string
	Value  string // as it would be written in the file; "" when unset
	Origin string
}

// Explain lists every keyword with its value and origin, in reference order.
func (r *Resolved) Explain() []Setting {
	out := make([]Setting, 0, len(keywords))
	for i := range keywords {
		k := &keywords[i]
		v, ok := k.toml(&r.Settings)
		if !ok {
			v = ""
		}
		out = append(out, Setting{Key: k.name, Value: v, Origin: r.origins[k.name]})
	}
	return out
}

type layer struct {
	attrs  *Attrs
	origin string
}

// Resolve computes the settings for a map with this WWID whose paths report
// this INQUIRY vendor, product and revision. Precedence, highest first:
// [[multipaths]] for the WWID, [overrides], every matching [[devices]] entry
// (the file's, last first, then the built-in table, last first),
// [defaults], built-in defaults.
func (c *Config) Resolve(wwid, vendor, product, revision string) *Resolved {
	var layers []layer
	r := &Resolved{origins: make(map[string]string, len(keywords)), protocols: c.ProtocolOverrides}
	if m := c.byWWID[wwid]; wwid != "" && m != nil {
		layers = append(layers, layer{&m.Attrs, fmt.Sprintf("multipaths[wwid=%s]", wwid)})
		r.Alias = m.Alias
	}
	layers = append(layers, layer{&c.Overrides, OriginOverrides})
	if vendor != "" || product != "" {
		for i := len(c.hwtable) - 1; i >= 0; i-- {
			d := &c.hwtable[i]
			if d.matches(vendor, product, revision) {
				layers = append(layers, layer{&d.Attrs, d.origin()})
			}
		}
	}
	layers = append(layers, layer{&c.Defaults, OriginDefaults})
	builtin := builtinSettings()
	r.Settings = builtin
	for i := range keywords {
		k := &keywords[i]
		r.origins[k.name] = OriginBuiltin
		for _, l := range layers {
			if k.isSet(l.attrs) {
				k.apply(l.attrs, &r.Settings)
				r.origins[k.name] = l.origin
				if src := l.attrs.Src[k.name]; src != "" {
					r.origins[k.name] = strings.TrimSuffix(l.origin, " (config)") + " (" + src + ")"
				}
				break
			}
		}
	}
	r.reconcileFeatures()
	if r.MaxPollingInterval == 0 {
		r.MaxPollingInterval = 4 * r.PollingInterval
		r.origins["max_polling_interval"] = OriginBuiltin + " (4 × polling_interval)"
	}
	return r
}

// CheckerSpec is what the settings say about a path's checker and
// prioritizer, for checker.Choose. TableChecker is the checker when a
// devices entry sets it: detection probes for an RDAC array only when that
// entry names rdac or none.
func (r *Resolved) CheckerSpec() checker.Spec {
	s := checker.Spec{Checker: r.PathChecker, Prio: r.Prio, PrioArgs: r.PrioArgs, DetectChecker: r.DetectChecker, DetectPrio: r.DetectPrio}
	if strings.HasPrefix(r.origins["path_checker"], "devices[") {
		s.TableChecker = r.PathChecker
	}
	return s
}

// Timeouts are the transport timeouts for one path.
type Timeouts struct {
	FastIOFail       Tmo
	DevLoss          Tmo
	EhDeadline       Tmo
	FastIOFailOrigin string
	DevLossOrigin    string
	EhDeadlineOrigin string
}

// Timeouts returns fast_io_fail_tmo, dev_loss_tmo and eh_deadline for a path of this map
// whose transport is protocol (e.g. "scsi:fcp"). As in multipath-tools, an
// [[overrides.protocol]] entry for the protocol beats every other layer.
func (r *Resolved) Timeouts(protocol string) Timeouts {
	t := Timeouts{
		FastIOFail: r.FastIOFailTmo, FastIOFailOrigin: r.origins["fast_io_fail_tmo"],
		DevLoss: r.DevLossTmo, DevLossOrigin: r.origins["dev_loss_tmo"],
		EhDeadline: r.EhDeadline, EhDeadlineOrigin: r.origins["eh_deadline"],
	}
	for _, po := range r.protocols {
		if po.Type != protocol {
			continue
		}
		origin := "overrides.protocol[type=" + po.Type + "]"
		if po.FastIOFailTmo != nil {
			t.FastIOFail, t.FastIOFailOrigin = *po.FastIOFailTmo, origin
		}
		if po.DevLossTmo != nil {
			t.DevLoss, t.DevLossOrigin = *po.DevLossTmo, origin
		}
		if po.EhDeadline != nil {
			t.EhDeadline, t.EhDeadlineOrigin = *po.EhDeadline, origin
		}
	}
	return t
}

// reconcileFeatures applies the deprecated feature words the way
// multipath-tools does: "queue_if_no_path" means no_path_retry "queue" and
// "queue_mode X" means queue_mode X, unless those keywords are set in some
// layer. Features itself is left as written; the table builder controls
// queue_if_no_path and queue_mode from NoPathRetry and QueueMode.
func (r *Resolved) reconcileFeatures() {
	words := strings.Fields(r.Features)
	from := "features (" + r.origins["features"] + ")"
	for i := 1; i < len(words); i++ {
		switch words[i] {
		case "queue_if_no_path":
			if r.origins["no_path_retry"] == OriginBuiltin {
				r.NoPathRetry = NoPathRetry{Mode: RetryQueue}
				r.origins["no_path_retry"] = from
			}
		case "queue_mode":
			if i+1 < len(words) && r.origins["queue_mode"] == OriginBuiltin {
				r.QueueMode = words[i+1]
				r.origins["queue_mode"] = from
			}
		}
	}
}

// Global resolves the daemon-wide settings: [defaults] over built-in.
func (c *Config) Global() *Resolved { return c.Resolve("", "", "", "") }

// UIDAttribute is the uid_attribute of a path with this INQUIRY vendor,
// product and revision: the udev property its WWID is read from, "" for
// none (see sysfs.FS.WithUIDAttribute).
func (c *Config) UIDAttribute(vendor, product, revision string) string {
	return c.Resolve("", vendor, product, revision).UIDAttribute
}

func (d *Device) origin() string {
	src := "config"
	if d.Builtin {
		src = "built-in"
	}
	rev := ""
	if d.Revision != "" {
		rev = ",revision=" + d.Revision
	}
	return fmt.Sprintf("devices[vendor=%s,product=%s%s] (%s)", d.Vendor, d.Product, rev, src)
}

// Grouping facts about a map's paths that the grouping decision needs.
type Grouping struct {
	// Prios are the prioritizer names chosen for the map's paths.
	Prios []string
	// AllHaveTPG is true when every path reported an ALUA target port group.
	AllHaveTPG bool
}

// SelectGrouping returns the grouping policy for a map and why. Like
// multipath-tools, detect_pgpolicy (on by default) overrides the configured
// policy with group_by_prio when every path uses the alua or sysfs
// prioritizer (group_by_tpg with detect_pgpolicy_use_tpg and known TPGs);
// otherwise the configured path_grouping_policy (built-in: failover) holds.
func (r *Resolved) SelectGrouping(g Grouping) (GroupingPolicy, string) {
	if r.DetectPgpolicy && len(g.Prios) > 0 {
		all := true
		for _, p := range g.Prios {
			if p != "alua" && p != "sysfs" {
				all = false
				break
			}
		}
		if all {
			if r.DetectPgpolicyUseTPG && g.AllHaveTPG {
				return GroupByTPG, "detected (detect_pgpolicy_use_tpg)"
			}
			return GroupByPrio, "detected (detect_pgpolicy)"
		}
	}
	pol := r.PathGroupingPolicy
	if pol == GroupByTPG && !g.AllHaveTPG {
		return Failover, "group_by_tpg without target port groups on every path: fallback"
	}
	return pol, r.Origin("path_grouping_policy")
}
