package mpconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/config"
)

func init() {
	config.RegisterMultipathConf(Load)
	config.RegisterValueCheck(valueWarning)
	config.RegisterForeignKeywords(foreignKeyword)
}

// foreignKeyword is why mpathd.toml refuses a keyword of multipath-tools
// mpathd does not implement, or one multipath-tools ignores itself (a
// multipath.conf carrying it is read with a warning).
func foreignKeyword(name string) string {
	switch sp, ok := keywords[name]; {
	case ok && sp.kind == kindIgnored:
		return "not implemented by mpathd (a keyword of multipath-tools: in multipath.conf it is ignored with a warning); remove it"
	case ok && sp.kind == kindDeprecated:
		return "deprecated: multipath-tools ignores it too; remove it"
	}
	return ""
}

// Load reads the multipath.conf at path and, when dir is not "", every
// *.conf file in dir in lexical order after it, as multipathd does. A
// missing dir is not an error.
func Load(path, dir string) (*config.Config, error) {
	files := []string{path}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config: %w", err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".conf") && !e.IsDir() {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	var srcs []Source
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		srcs = append(srcs, Source{Name: f, Data: data})
	}
	c, err := Build(srcs...)
	if err != nil {
		return nil, err
	}
	if dir != "" {
		c.Files = files
	}
	return c, nil
}

// Source is one file's name and content.
type Source struct {
	Name string
	Data []byte
}

// Build parses the files in order (the main file, then the drop-ins) and
// merges them as multipath-tools does: a keyword set again later wins,
// device, multipath and blacklist entries accumulate, and device entries
// with identical vendor, product and revision strings are merged into the
// later one. It fails only on a file whose structure cannot be read;
// everything else is a warning.
func Build(srcs ...Source) (*config.Config, error) {
	b := &builder{c: &config.Config{}}
	if len(srcs) > 0 {
		b.c.File = srcs[0].Name
	}
	var errs []error
	for _, s := range srcs {
		nodes, err := Parse(s.Data, s.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.file(nodes)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	b.finish()
	if err := b.c.Compile(); err != nil {
		return nil, err
	}
	b.warnPrioArgs()
	b.c.Warnings = b.warns
	return b.c, nil
}

type builder struct {
	c     *config.Config
	warns []*config.Error
	// devPos and mpPos are where each entry of c.Devices and c.Multipaths
	// starts, for warnings made when the files are merged.
	devPos, mpPos []*Node
	protoIndex    map[string]int
}

func (b *builder) warn(n *Node, key, format string, args ...any) {
	b.warns = append(b.warns, &config.Error{File: n.File, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (b *builder) file(nodes []*Node) {
	for _, n := range nodes {
		switch {
		case n.Key == "defaults" && n.Section:
			b.attrs(n, inDefaults, &b.c.Defaults, nil)
		case n.Key == "overrides" && n.Section:
			b.attrs(n, inOverrides, &b.c.Overrides, func(c *Node) bool {
				if c.Key != "protocol" || !c.Section {
					return false
				}
				b.protocol(c)
				return true
			})
		case n.Key == "devices" && n.Section:
			for _, c := range n.Children {
				if c.Key == "device" && c.Section {
					b.device(c)
				} else {
					b.unknown(c, "devices")
				}
			}
		case n.Key == "multipaths" && n.Section:
			for _, c := range n.Children {
				if c.Key == "multipath" && c.Section {
					b.multipath(c)
				} else {
					b.unknown(c, "multipaths")
				}
			}
		case n.Key == "blacklist" && n.Section:
			b.filter(n, &b.c.Blacklist)
		case n.Key == "blacklist_exceptions" && n.Section:
			b.filter(n, &b.c.BlacklistExceptions)
		default:
			b.unknown(n, "")
		}
	}
}

// unknown warns about a statement multipath-tools would log as an invalid
// keyword and skip (a whole section, for a section).
func (b *builder) unknown(n *Node, section string) {
	what := "keyword"
	if n.Section {
		what = "section"
	}
	where := "at the top level"
	if section != "" {
		where = "in " + section
	}
	b.warn(n, n.Key, "unknown %s %s: ignored (multipath-tools ignores it too)", what, where)
}

func (b *builder) value(n *Node, key string) (string, bool) {
	if !n.HasValue {
		b.warn(n, key, "missing value: ignored (multipath-tools ignores the line too)")
		return "", false
	}
	if n.Extra != "" {
		b.warn(n, key, "extra text %q after the value: ignored (as by multipath-tools)", n.Extra)
	}
	return n.Value, true
}

var sectionName = map[where]string{
	inDefaults: config.SectionDefaults, inOverrides: config.SectionOverrides,
	inDevice: config.SectionDevices, inMultipath: config.SectionMultipaths,
}

// attrs applies the keywords of one defaults, overrides, device or
// multipath section to a layer; extra handles section-specific statements
// and reports whether it did.
func (b *builder) attrs(sec *Node, w where, a *config.Attrs, extra func(*Node) bool) {
	seen := map[string]bool{}
	for _, n := range sec.Children {
		if extra != nil && extra(n) {
			continue
		}
		if n.Section {
			b.unknown(n, sec.Key)
			continue
		}
		b.keyword(n, w, a, seen)
	}
}

func (b *builder) keyword(n *Node, w where, a *config.Attrs, seen map[string]bool) {
	key := n.Key
	sp, known := keywords[key]
	if !known {
		// mpathd's own keywords (not in multipath-tools) are accepted as in
		// mpathd.toml; their values are typed by their look.
		if !config.Known(key) {
			b.unknown(n, w.String())
			return
		}
		sp = spec{where: inAll, kind: kindString}
	}
	if sp.where&w == 0 {
		b.warn(n, key, "not allowed in section %s: ignored (multipath-tools ignores it there too)", w)
		return
	}
	text, ok := b.value(n, key)
	if !ok {
		return
	}
	switch sp.kind {
	case kindIgnored:
		b.warn(n, key, "not implemented by mpathd: ignored")
		return
	case kindDeprecated:
		b.warn(n, key, "deprecated: ignored (multipath-tools ignores it too)")
		return
	}
	name := key
	if sp.name != "" {
		name = sp.name
	}
	if seen[name] {
		b.warn(n, key, "set again in the same section: the later value wins")
	}
	seen[name] = true
	var v any
	var err error
	if known {
		v, err = convert(sp.kind, name, text)
	} else {
		v = guess(text)
	}
	if err == nil {
		err = config.SetKeyword(a, sectionName[w], name, v)
		if errors.Is(err, config.ErrNotInSection) {
			b.warn(n, key, "not implemented by mpathd in section %s: ignored", w)
			return
		}
	}
	var unset errUnset
	switch {
	case errors.As(err, &unset):
		config.Unset(a, name)
		b.warn(n, key, "%v", err)
		return
	case err != nil:
		b.warn(n, key, "invalid value %q: %v; ignored (multipath-tools ignores invalid values too)", text, err)
		return
	}
	if a.Src == nil {
		a.Src = map[string]string{}
	}
	a.Src[name] = n.pos()
	b.warnValue(n, key, name, text)
	if msg := config.NotApplied(a, name); msg != "" {
		b.warn(n, key, "%s", msg)
	}
}

// warnValue names values mpathd accepts but does not implement, and what
// it does instead.
func (b *builder) warnValue(n *Node, key, name, text string) {
	if msg := valueWarning(name, text); msg != "" {
		b.warn(n, key, "%s", msg)
	}
	switch name {
	case "find_multipaths":
		if text == "smart" {
			b.warn(n, key, "smart is not implemented by mpathd: on is used (the same maps once find_multipaths_timeout has passed, without claiming single paths meanwhile)")
		}
	}
}

// warnPrioArgs names the sections whose prioritizer refuses their prio_args.
// multipathd would run such a prioritizer and get no priority from it; mpathd
// rates those paths const and says so, here, in the log and in the path's
// fallback.
func (b *builder) warnPrioArgs() {
	for _, e := range b.c.PrioArgsErrors() {
		w := &config.Error{Key: "prio_args", Msg: fmt.Sprintf("%s: %v: the paths get const", e.Layer, e.Err)}
		src := e.Attrs.Src["prio_args"]
		if src == "" {
			w.Key, src = "prio", e.Attrs.Src["prio"]
		}
		if i := strings.LastIndex(src, ":"); i > 0 {
			w.File = src[:i]
			w.Line, _ = strconv.Atoi(src[i+1:])
		}
		b.warns = append(b.warns, w)
	}
}

// multipathdDefaults are multipathd's defaults where mpathd's built-in ones
// differ; they apply when no file sets the keyword.
var multipathdDefaults = []struct {
	key   string
	value any
	why   string
}{
	// mpathd's own default is on.
	{"find_multipaths", "strict", "multipath-tools' default, not set in the files"},
	// detect_pgpolicy (multipath-tools 0.9.6) makes ALUA maps group_by_prio
	// whatever path_grouping_policy says; the multipathd of Debian 12, RHEL 9
	// and Ubuntu 24.04 (0.9.4 and older) has no such keyword, so a file
	// written for it expects its path_grouping_policy to hold.
	{"detect_pgpolicy", false, "multipath-tools before 0.9.6 has none: path_grouping_policy holds"},
}

type errUnset string

func (e errUnset) Error() string { return string(e) }

var errNotYesNo = errors.New("must be yes or no")

// convert reads a value as multipath-tools does and types it as the TOML
// loader would, so that config.SetKeyword applies mpathd's own checks.
func convert(k kind, name, s string) (any, error) {
	switch k {
	case kindInt:
		if (s == "no" || s == "off") && (strings.HasPrefix(name, "san_path_err_") || strings.HasPrefix(name, "marginal_path_")) {
			return int64(0), nil // "off" for the shaky-path counters, as multipath-tools writes them
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not a number")
		}
		return n, nil
	case kindYesNo:
		switch s {
		case "yes", "1":
			return true, nil
		case "no", "0":
			return false, nil
		}
		return nil, errNotYesNo
	case kindFailback:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if n == 0 {
				return nil, errUnset("failback 0 means not set, as in multipath-tools: the section's earlier value, if any, is dropped")
			}
			return n, nil
		}
		return s, nil
	case kindRetry:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if n == 0 {
				return "fail", nil // as in multipath-tools
			}
			return n, nil
		}
		return s, nil
	case kindTmo:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		return s, nil
	case kindFind:
		if s == "smart" {
			// smart claims a single path for find_multipaths_timeout, then
			// releases it: the maps it leaves are those of "on".
			return "on", nil
		}
		return s, nil
	case kindMarginal:
		switch s {
		case "yes":
			return "on", nil
		case "no":
			return "off", nil
		}
		return s, nil
	}
	return s, nil
}

// guess types a value of an mpathd-only keyword by its look.
func guess(s string) any {
	switch s {
	case "yes", "true":
		return true
	case "no", "false":
		return false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	return s
}

func (b *builder) device(sec *Node) {
	var d config.Device
	var vendor, product, bad bool
	b.attrs(sec, inDevice, &d.Attrs, func(n *Node) bool {
		if !listed("device", n.Key) {
			return false
		}
		var dst *string
		switch n.Key {
		case "vendor":
			dst = &d.Vendor
		case "product":
			dst = &d.Product
		case "revision":
			dst = &d.Revision
		case "product_blacklist":
			dst = &d.ProductBlacklist
		}
		if dst == nil || n.Section {
			return false
		}
		s, ok := b.value(n, n.Key)
		if !ok {
			return true
		}
		if _, err := regexp.Compile(s); err != nil {
			b.warn(n, n.Key, "invalid regular expression %q: %v; the device entry is ignored", s, err)
			bad = true
		}
		*dst = s
		vendor = vendor || n.Key == "vendor"
		product = product || n.Key == "product"
		return true
	})
	if bad {
		return
	}
	if !vendor || !product {
		b.warn(sec, "device", "a device entry needs both vendor and product: ignored (as by multipath-tools)")
		return
	}
	b.c.Devices = append(b.c.Devices, d)
	b.devPos = append(b.devPos, sec)
}

func (b *builder) multipath(sec *Node) {
	var m config.Multipath
	var wwidNode *Node
	var bad bool
	b.attrs(sec, inMultipath, &m.Attrs, func(n *Node) bool {
		if n.Section || !listed("multipath", n.Key) {
			return false
		}
		s, ok := b.value(n, n.Key)
		if !ok {
			return true
		}
		check := config.CheckAlias
		if n.Key == "wwid" {
			check = config.CheckWWID
		}
		if err := check(s); err != nil {
			b.warn(n, n.Key, "%v: ignored", err)
			if n.Key == "wwid" {
				bad = true
			}
			return true
		}
		if n.Key == "wwid" {
			m.WWID, wwidNode = s, n
		} else {
			m.Alias = s
		}
		return true
	})
	if bad {
		return
	}
	if wwidNode == nil {
		b.warn(sec, "multipath", "a multipath entry needs a wwid: ignored")
		return
	}
	b.c.Multipaths = append(b.c.Multipaths, m)
	b.mpPos = append(b.mpPos, sec)
}

func (b *builder) protocol(sec *Node) {
	var po config.ProtocolOverride
	var typeNode *Node
	for _, n := range sec.Children {
		if n.Section {
			b.unknown(n, "protocol")
			continue
		}
		switch {
		case !listed("protocol", n.Key):
			b.unknown(n, "protocol")
			continue
		case n.Key == "type", n.Key == "fast_io_fail_tmo", n.Key == "dev_loss_tmo", n.Key == "eh_deadline":
		default:
			b.unknown(n, "protocol")
			continue
		}
		s, ok := b.value(n, n.Key)
		if !ok {
			continue
		}
		if n.Key == "type" {
			if !slices.Contains(config.Protocols, s) {
				b.warn(n, "type", "unknown protocol %q (known: %s): the entry matches no path", s, strings.Join(config.Protocols, ", "))
			}
			po.Type, typeNode = s, n
			continue
		}
		// Validate through the keyword's own parser.
		var a config.Attrs
		v, _ := convert(kindTmo, n.Key, s)
		if err := config.SetKeyword(&a, config.SectionOverrides, n.Key, v); err != nil {
			b.warn(n, n.Key, "invalid value %q: %v; ignored", s, err)
			continue
		}
		switch n.Key {
		case "fast_io_fail_tmo":
			po.FastIOFailTmo = a.FastIOFailTmo
		case "dev_loss_tmo":
			po.DevLossTmo = a.DevLossTmo
		default:
			po.EhDeadline = a.EhDeadline
		}
	}
	if typeNode == nil {
		b.warn(sec, "protocol", "a protocol entry needs a type: ignored")
		return
	}
	if b.protoIndex == nil {
		b.protoIndex = map[string]int{}
	}
	if j, ok := b.protoIndex[po.Type]; ok {
		if po.FastIOFailTmo != nil {
			b.c.ProtocolOverrides[j].FastIOFailTmo = po.FastIOFailTmo
		}
		if po.DevLossTmo != nil {
			b.c.ProtocolOverrides[j].DevLossTmo = po.DevLossTmo
		}
		if po.EhDeadline != nil {
			b.c.ProtocolOverrides[j].EhDeadline = po.EhDeadline
		}
		return
	}
	b.protoIndex[po.Type] = len(b.c.ProtocolOverrides)
	b.c.ProtocolOverrides = append(b.c.ProtocolOverrides, po)
}

func (b *builder) filter(sec *Node, fl *config.FilterList) {
	for _, n := range sec.Children {
		if n.Key == "device" && n.Section {
			b.filterDevice(n, fl)
			continue
		}
		if n.Section {
			b.unknown(n, sec.Key)
			continue
		}
		var dst *[]string
		if !listed("blacklist", n.Key) {
			b.unknown(n, sec.Key)
			continue
		}
		switch n.Key {
		case "devnode":
			dst = &fl.Devnode
		case "wwid":
			dst = &fl.WWID
		case "property":
			dst = &fl.Property
		case "protocol":
			dst = &fl.Protocol
		default:
			b.unknown(n, sec.Key)
			continue
		}
		s, ok := b.value(n, n.Key)
		if !ok {
			continue
		}
		if err := config.CheckPattern(s); err != nil {
			b.warn(n, n.Key, "%v: ignored", err)
			continue
		}
		if !slices.Contains(*dst, s) { // duplicates are merged, as in multipath-tools
			*dst = append(*dst, s)
		}
		if dst == &fl.Property {
			b.warn(n, n.Key, "%s", config.PropertyNotApplied)
		}
	}
}

func (b *builder) filterDevice(sec *Node, fl *config.FilterList) {
	var d config.DeviceFilter
	for _, n := range sec.Children {
		var dst *string
		switch {
		case n.Section, !listed("blacklist device", n.Key):
		case n.Key == "vendor":
			dst = &d.Vendor
		case n.Key == "product":
			dst = &d.Product
		}
		if dst == nil {
			b.unknown(n, "device")
			continue
		}
		s, ok := b.value(n, n.Key)
		if !ok {
			continue
		}
		if err := config.CheckPattern(s); err != nil {
			b.warn(n, n.Key, "%v: ignored", err)
			continue
		}
		*dst = s
	}
	if d.Vendor == "" && d.Product == "" {
		b.warn(sec, "device", "a blacklist device entry needs vendor, product or both: ignored (as by multipath-tools)")
		return
	}
	if !slices.Contains(fl.Device, d) {
		fl.Device = append(fl.Device, d)
	}
}

// finish applies the rules multipath-tools applies once every file is read.
func (b *builder) finish() {
	// Device entries with identical vendor, product and revision strings are
	// merged into the later one, which keeps its place.
	for i := 0; i < len(b.c.Devices); i++ {
		d := b.c.Devices[i]
		for j := i + 1; j < len(b.c.Devices); j++ {
			e := &b.c.Devices[j]
			if e.Vendor != d.Vendor || e.Product != d.Product || e.Revision != d.Revision {
				continue
			}
			merged := d.Attrs
			config.MergeAttrs(&merged, &e.Attrs)
			e.Attrs = merged
			if e.ProductBlacklist == "" {
				e.ProductBlacklist = d.ProductBlacklist
			}
			b.warn(b.devPos[j], "device", "same vendor, product and revision as the entry at %s: merged, this one winning", b.devPos[i].pos())
			b.c.Devices = slices.Delete(b.c.Devices, i, i+1)
			b.devPos = slices.Delete(b.devPos, i, i+1)
			i--
			break
		}
	}
	// An alias given to two WWIDs can name only one map: the first keeps it.
	owner := map[string]string{}
	for i := range b.c.Multipaths {
		m := &b.c.Multipaths[i]
		if m.Alias == "" {
			continue
		}
		if w, ok := owner[m.Alias]; ok && w != m.WWID {
			b.warn(b.mpPos[i], "alias", "alias %q is already given to WWID %s: ignored for %s", m.Alias, w, m.WWID)
			m.Alias = ""
			continue
		}
		owner[m.Alias] = m.WWID
	}
	// A host configured by multipath.conf keeps multipathd's behaviour where
	// mpathd's built-in defaults differ from it.
	for _, d := range multipathdDefaults {
		if config.IsSet(&b.c.Defaults, d.key) {
			continue
		}
		if err := config.SetKeyword(&b.c.Defaults, config.SectionDefaults, d.key, d.value); err != nil {
			panic("mpconf: default " + d.key + ": " + err.Error()) // a programming error, caught by tests
		}
		if b.c.Defaults.Src == nil {
			b.c.Defaults.Src = map[string]string{}
		}
		b.c.Defaults.Src[d.key] = d.why
	}
	if d := b.c.Defaults; d.PollingInterval != nil && d.MaxPollingInterval != nil && *d.MaxPollingInterval < *d.PollingInterval {
		b.warns = append(b.warns, &config.Error{File: b.c.File, Key: "max_polling_interval",
			Msg: fmt.Sprintf("%d is below polling_interval %d: ignored", *d.MaxPollingInterval, *d.PollingInterval)})
		b.c.Defaults.MaxPollingInterval = nil
		delete(b.c.Defaults.Src, "max_polling_interval")
	}
}

// valueWarning names a checker or prioritizer mpathd accepts without
// implementing it, and what it uses instead; "" for any other value.
func valueWarning(name, text string) string {
	switch name {
	case "path_checker":
		if _, err := checker.New(text); err != nil {
			return fmt.Sprintf("the %s checker is not implemented by mpathd: paths are checked with tur", text)
		}
	case "prio":
		if !slices.Contains(checker.PrioritizerNames, text) {
			return fmt.Sprintf("the %s prioritizer is not implemented by mpathd: paths get the detected one (sysfs or alua on ALUA arrays), else const", text)
		}
	}
	return ""
}
