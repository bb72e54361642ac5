package mpconf

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mpathd/mpathd/pkg/config"
)

// Render writes the layers of a configuration (what its files set, not the
// built-in values) in multipath.conf syntax. Build(Render(c)) gives the same
// settings as c. Values are written the way multipath-tools 0.9 reads them:
// yes/no for booleans, flush_on_last_del and marginal_pathgroups as yes/no
// where those words exist. A value cannot span lines: a newline in a value
// (possible only from TOML) is written as a space.
func Render(c *config.Config) string {
	var b strings.Builder
	section := func(depth int, name string, body func(int)) {
		fmt.Fprintf(&b, "%s%s {\n", indent(depth), name)
		body(depth + 1)
		fmt.Fprintf(&b, "%s}\n", indent(depth))
	}
	line := func(depth int, key, value string) {
		fmt.Fprintf(&b, "%s%s %s\n", indent(depth), key, value)
	}
	attrs := func(depth int, a *config.Attrs) {
		for _, kv := range config.Values(a) {
			line(depth, kv.Key, renderValue(kv.Key, kv.Value))
		}
	}
	if len(config.Values(&c.Defaults)) > 0 {
		section(0, "defaults", func(d int) { attrs(d, &c.Defaults) })
	}
	filter := func(name string, fl config.FilterList) {
		if len(fl.Devnode)+len(fl.WWID)+len(fl.Property)+len(fl.Protocol)+len(fl.Device) == 0 {
			return
		}
		section(0, name, func(d int) {
			for _, x := range []struct {
				key  string
				list []string
			}{{"devnode", fl.Devnode}, {"wwid", fl.WWID}, {"property", fl.Property}, {"protocol", fl.Protocol}} {
				for _, s := range x.list {
					line(d, x.key, quote(s))
				}
			}
			for _, dev := range fl.Device {
				section(d, "device", func(d int) {
					if dev.Vendor != "" {
						line(d, "vendor", quote(dev.Vendor))
					}
					if dev.Product != "" {
						line(d, "product", quote(dev.Product))
					}
				})
			}
		})
	}
	filter("blacklist", c.Blacklist)
	filter("blacklist_exceptions", c.BlacklistExceptions)
	if len(c.Devices) > 0 {
		section(0, "devices", func(d int) {
			for _, dev := range c.Devices {
				section(d, "device", func(d int) {
					line(d, "vendor", quote(dev.Vendor))
					line(d, "product", quote(dev.Product))
					if dev.Revision != "" {
						line(d, "revision", quote(dev.Revision))
					}
					if dev.ProductBlacklist != "" {
						line(d, "product_blacklist", quote(dev.ProductBlacklist))
					}
					attrs(d, &dev.Attrs)
				})
			}
		})
	}
	if len(c.Multipaths) > 0 {
		section(0, "multipaths", func(d int) {
			for _, m := range c.Multipaths {
				section(d, "multipath", func(d int) {
					line(d, "wwid", quote(m.WWID))
					if m.Alias != "" {
						line(d, "alias", quote(m.Alias))
					}
					attrs(d, &m.Attrs)
				})
			}
		})
	}
	if len(config.Values(&c.Overrides)) > 0 || len(c.ProtocolOverrides) > 0 {
		section(0, "overrides", func(d int) {
			attrs(d, &c.Overrides)
			for _, po := range c.ProtocolOverrides {
				section(d, "protocol", func(d int) {
					line(d, "type", quote(po.Type))
					if po.FastIOFailTmo != nil {
						line(d, "fast_io_fail_tmo", tmo(*po.FastIOFailTmo))
					}
					if po.DevLossTmo != nil {
						line(d, "dev_loss_tmo", tmo(*po.DevLossTmo))
					}
					if po.EhDeadline != nil {
						line(d, "eh_deadline", tmo(*po.EhDeadline))
					}
				})
			}
		})
	}
	return b.String()
}

func indent(depth int) string { return strings.Repeat("\t", depth) }

func tmo(t config.Tmo) string {
	if t < 0 {
		return t.String()
	}
	return strconv.Itoa(int(t))
}

// quote writes s as a quoted value: a quote is doubled, and a newline,
// which no value can hold, becomes a space.
func quote(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func renderValue(key string, v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		switch {
		case key == "flush_on_last_del" && x == string(config.FlushAlways):
			return "yes"
		case key == "flush_on_last_del" && x == string(config.FlushUnused):
			return "no"
		case key == "marginal_pathgroups" && x == "on":
			return "yes"
		case key == "marginal_pathgroups" && x == "off":
			return "no"
		}
		return quote(x)
	}
	return quote(fmt.Sprint(v))
}
