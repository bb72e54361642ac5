package config

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// tomlQuote writes s as a TOML basic string.
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == utf8.RuneError:
			b.WriteString(`\uFFFD`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Dump writes the effective configuration as TOML that Parse accepts and
// that resolves to the same settings: [defaults] with every keyword's value,
// the built-in hardware table and the file's entries, the file's filters
// (built-in filter entries appear as comments, since they are always added).
func (c *Config) Dump(w io.Writer) error {
	var b bytes.Buffer
	src := c.File
	if src == "" {
		src = "built-in defaults"
	}
	fmt.Fprintf(&b, "# mpathd effective configuration (from %s)\n\n[defaults]\n", src)
	g := c.Global()
	for i := range keywords {
		k := &keywords[i]
		if v, ok := k.toml(&g.Settings); ok {
			fmt.Fprintf(&b, "%s = %s\n", k.name, v)
		}
	}

	var builtinBL []string
	builtinBL = append(builtinBL, "devnode "+tomlQuote(defaultDevnodeBlacklist))
	for _, d := range c.hwtable {
		if d.Builtin && d.ProductBlacklist != "" {
			builtinBL = append(builtinBL, fmt.Sprintf("device vendor=%s product=%s", tomlQuote(d.Vendor), tomlQuote(d.ProductBlacklist)))
		}
	}
	writeFilter(&b, "blacklist", c.Blacklist, builtinBL)
	writeFilter(&b, "blacklist_exceptions", c.BlacklistExceptions, []string{"property " + tomlQuote(defaultPropertyException)})
	c.writeOverrides(&b)
	for _, d := range c.hwtable {
		writeDevice(&b, d)
	}
	c.writeMultipaths(&b)
	_, err := w.Write(b.Bytes())
	return err
}

// Export writes the configuration's own layers as TOML, without the
// built-in values Dump adds: the mpathd.toml equivalent of a configuration
// read from another syntax. Parsing it gives the same settings.
func (c *Config) Export(w io.Writer) error {
	var b bytes.Buffer
	if hasAny(&c.Defaults) {
		b.WriteString("[defaults]\n")
		writeAttrs(&b, &c.Defaults)
	}
	if !c.Blacklist.empty() {
		writeFilter(&b, "blacklist", c.Blacklist, nil)
	}
	if !c.BlacklistExceptions.empty() {
		writeFilter(&b, "blacklist_exceptions", c.BlacklistExceptions, nil)
	}
	c.writeOverrides(&b)
	for _, d := range c.Devices {
		writeDevice(&b, d)
	}
	c.writeMultipaths(&b)
	_, err := w.Write(bytes.TrimPrefix(b.Bytes(), []byte("\n")))
	return err
}

func (fl *FilterList) empty() bool {
	return len(fl.Devnode)+len(fl.WWID)+len(fl.Property)+len(fl.Protocol)+len(fl.Device) == 0
}

func writeFilter(b *bytes.Buffer, name string, fl FilterList, builtin []string) {
	fmt.Fprintf(b, "\n[%s]\n", name)
	for _, s := range builtin {
		fmt.Fprintf(b, "# built-in: %s\n", s)
	}
	for _, x := range []struct {
		key  string
		list []string
	}{{"devnode", fl.Devnode}, {"wwid", fl.WWID}, {"property", fl.Property}, {"protocol", fl.Protocol}} {
		if len(x.list) == 0 {
			continue
		}
		q := make([]string, len(x.list))
		for i, s := range x.list {
			q[i] = tomlQuote(s)
		}
		fmt.Fprintf(b, "%s = [%s]\n", x.key, strings.Join(q, ", "))
	}
	for _, d := range fl.Device {
		fmt.Fprintf(b, "\n[[%s.device]]\n", name)
		if d.Vendor != "" {
			fmt.Fprintf(b, "vendor = %s\n", tomlQuote(d.Vendor))
		}
		if d.Product != "" {
			fmt.Fprintf(b, "product = %s\n", tomlQuote(d.Product))
		}
	}
}

func (c *Config) writeOverrides(b *bytes.Buffer) {
	if hasAny(&c.Overrides) || len(c.ProtocolOverrides) > 0 {
		b.WriteString("\n[overrides]\n")
		writeAttrs(b, &c.Overrides)
	}
	for _, po := range c.ProtocolOverrides {
		fmt.Fprintf(b, "\n[[overrides.protocol]]\ntype = %s\n", tomlQuote(po.Type))
		if po.FastIOFailTmo != nil {
			v, _ := tmoStr(*po.FastIOFailTmo)
			fmt.Fprintf(b, "fast_io_fail_tmo = %s\n", v)
		}
		if po.DevLossTmo != nil {
			v, _ := tmoStr(*po.DevLossTmo)
			fmt.Fprintf(b, "dev_loss_tmo = %s\n", v)
		}
		if po.EhDeadline != nil {
			v, _ := tmoStr(*po.EhDeadline)
			fmt.Fprintf(b, "eh_deadline = %s\n", v)
		}
	}
}

func writeDevice(b *bytes.Buffer, d Device) {
	b.WriteString("\n")
	if d.Builtin {
		b.WriteString("# built-in\n")
	}
	b.WriteString("[[devices]]\n")
	fmt.Fprintf(b, "vendor = %s\nproduct = %s\n", tomlQuote(d.Vendor), tomlQuote(d.Product))
	if d.Revision != "" {
		fmt.Fprintf(b, "revision = %s\n", tomlQuote(d.Revision))
	}
	if d.ProductBlacklist != "" && !d.Builtin {
		fmt.Fprintf(b, "product_blacklist = %s\n", tomlQuote(d.ProductBlacklist))
	}
	writeAttrs(b, &d.Attrs)
}

func (c *Config) writeMultipaths(b *bytes.Buffer) {
	for _, m := range c.Multipaths {
		fmt.Fprintf(b, "\n[[multipaths]]\nwwid = %s\n", tomlQuote(m.WWID))
		if m.Alias != "" {
			fmt.Fprintf(b, "alias = %s\n", tomlQuote(m.Alias))
		}
		writeAttrs(b, &m.Attrs)
	}
}

func hasAny(a *Attrs) bool {
	for i := range keywords {
		if keywords[i].isSet(a) {
			return true
		}
	}
	return false
}

func writeAttrs(b *bytes.Buffer, a *Attrs) {
	for i := range keywords {
		k := &keywords[i]
		if !k.isSet(a) {
			continue
		}
		var s Settings
		k.apply(a, &s)
		if v, ok := k.toml(&s); ok {
			fmt.Fprintf(b, "%s = %s\n", k.name, v)
		}
	}
}
