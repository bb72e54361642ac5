package mpathcompat

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/config/mpconf"
)

// effectiveConfig reads the configuration in force back from the daemon's
// TOML rendering, which config.Dump makes parseable to the same settings.
func (s *Server) effectiveConfig() (*config.Config, string, error) {
	text, err := s.Service.EffectiveConfig()
	if err != nil {
		return nil, "", err
	}
	cfg, err := config.Parse([]byte(text), "effective configuration")
	if err != nil {
		return nil, "", api.Errorf(api.CodeInternal, "read back the effective configuration: %v", err)
	}
	return cfg, text, nil
}

// builtinRules lists the "# built-in: KIND VALUE" comments config.Dump
// writes in a filter section: rules that always apply.
func builtinRules(text, section string) map[string][]string {
	rules := map[string][]string{}
	in := false
	for l := range strings.Lines(text) {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			in = l == "["+section+"]"
			continue
		}
		rest, ok := strings.CutPrefix(l, "# built-in: ")
		if !in || !ok {
			continue
		}
		kind, val, _ := strings.Cut(rest, " ")
		if kind == "device" {
			// device vendor="V" product="P"
			v, p, _ := strings.Cut(val, " product=")
			val = unquote(strings.TrimPrefix(v, "vendor=")) + ":" + unquote(p)
		} else {
			val = unquote(val)
		}
		rules[kind] = append(rules[kind], val)
	}
	return rules
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return s
}

// showBlacklist renders the blacklist report: per criterion, the rules and
// exceptions with their origin.
func showBlacklist(s *Server, _ context.Context, _ Command) (string, error) {
	cfg, text, err := s.effectiveConfig()
	if err != nil {
		return "", err
	}
	bl, el := builtinRules(text, "blacklist"), builtinRules(text, "blacklist_exceptions")
	devs := func(ds []config.DeviceFilter) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Vendor+":"+d.Product)
		}
		return out
	}
	var b strings.Builder
	group := func(defaults, file []string) {
		if len(defaults)+len(file) == 0 {
			b.WriteString("        <empty>\n")
		}
		for _, r := range defaults {
			b.WriteString("        (default rule)     " + r + "\n")
		}
		for _, r := range file {
			b.WriteString("        (config file rule) " + r + "\n")
		}
	}
	for _, sec := range []struct {
		title, kind    string
		blFile, elFile []string
	}{
		{"device node rules", "devnode", cfg.Blacklist.Devnode, cfg.BlacklistExceptions.Devnode},
		{"udev property rules", "property", cfg.Blacklist.Property, cfg.BlacklistExceptions.Property},
		{"protocol rules", "protocol", cfg.Blacklist.Protocol, cfg.BlacklistExceptions.Protocol},
		{"wwid rules", "wwid", cfg.Blacklist.WWID, cfg.BlacklistExceptions.WWID},
		{"device rules", "device", devs(cfg.Blacklist.Device), devs(cfg.BlacklistExceptions.Device)},
	} {
		b.WriteString(sec.title + ":\n- blacklist:\n")
		group(bl[sec.kind], sec.blFile)
		b.WriteString("- exceptions:\n")
		group(el[sec.kind], sec.elFile)
	}
	return b.String(), nil
}

// showDevices lists the block devices with the devnode verdict and whether
// the daemon monitors them.
func showDevices(s *Server, _ context.Context, _ Command) (string, error) {
	cfg, _, err := s.effectiveConfig()
	if err != nil {
		return "", err
	}
	dir := s.sysBlock()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", api.Errorf(api.CodeInternal, "list block devices: %v", err)
	}
	monitored := map[string]bool{}
	for _, r := range pathRows(s.Service.Topology()) {
		monitored[r.p.Dev] = true
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("available block devices:\n")
	for _, n := range names {
		verdict := "whitelisted"
		if cfg.FilterDevnode(n).Blacklisted {
			verdict = "blacklisted"
		}
		mon := "unmonitored"
		if monitored[n] {
			mon = "monitored"
		}
		fmt.Fprintf(&b, "    %s devnode %s, %s\n", n, verdict, mon)
	}
	return b.String(), nil
}

// showConfig renders the configuration in force in multipath.conf syntax;
// with local, the multipaths section also names every local map, its alias
// in a comment, as multipathd does.
func showConfig(s *Server, _ context.Context, c Command) (string, error) {
	cfg, _, err := s.effectiveConfig()
	if err != nil {
		return "", err
	}
	out := mpconf.Render(cfg)
	if !c.has(kwLocal) {
		return out, nil
	}
	var b strings.Builder
	for _, m := range s.Service.Topology().Maps {
		if slices.ContainsFunc(cfg.Multipaths, func(mp config.Multipath) bool { return mp.WWID == m.WWID }) {
			continue
		}
		fmt.Fprintf(&b, "\tmultipath {\n\t\twwid %q\n", m.WWID)
		if m.Name != m.WWID {
			fmt.Fprintf(&b, "\t\t# alias %q\n", m.Name)
		}
		b.WriteString("\t}\n")
	}
	if b.Len() == 0 {
		return out, nil
	}
	if i := strings.Index(out, "multipaths {\n"); i >= 0 {
		// Append to the existing section, before its closing brace.
		end := i + strings.Index(out[i:], "\n}\n") + 1
		return out[:end] + b.String() + out[end:], nil
	}
	return out + "multipaths {\n" + b.String() + "}\n", nil
}

// sysBlock is where block devices are read: show devices, and %k.
func (s *Server) sysBlock() string { return orDefault(s.SysBlock, "/sys/block") }
