package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Config is a validated configuration: the file's layers plus the built-in
// hardware table. It is immutable after Load; share it freely.
type Config struct {
	// File is the path the configuration was read from; "" for built-in.
	File string
	// Files lists every file read, in reading order, when there are several
	// (multipath.conf and its conf.d drop-ins); nil otherwise.
	Files []string
	// Warnings are problems that did not stop loading: in a multipath.conf,
	// keywords mpathd does not implement and values multipath-tools would
	// also ignore. Each names file, line and keyword.
	Warnings []*Error

	Defaults  Attrs
	Overrides Attrs
	// ProtocolOverrides are the [[overrides.protocol]] entries, merged by
	// type (later keys win).
	ProtocolOverrides []ProtocolOverride
	Devices           []Device    // the file's [[devices]], in file order
	Multipaths        []Multipath // the file's [[multipaths]], in file order

	Blacklist           FilterList // the file's entries; defaults are added by Filter
	BlacklistExceptions FilterList

	hwtable []Device // built-in entries, then the file's, compiled
	blist   compiledFilter
	elist   compiledFilter
	byWWID  map[string]*Multipath // merged entries, later ones win
}

// Device is one [[devices]] entry: regexes for the INQUIRY vendor, product
// and (optionally) revision, and the settings for matching devices.
type Device struct {
	Vendor           string
	Product          string
	Revision         string
	ProductBlacklist string // blacklists Vendor + this product regex
	Attrs            Attrs
	Builtin          bool

	vendor, product, revision *regexp.Regexp
}

func (d *Device) matches(vendor, product, revision string) bool {
	return d.vendor.MatchString(vendor) && d.product.MatchString(product) &&
		(d.revision == nil || d.revision.MatchString(revision))
}

// Multipath is one [[multipaths]] entry.
type Multipath struct {
	WWID  string
	Alias string
	Attrs Attrs
}

// FilterList is the content of [blacklist] or [blacklist_exceptions].
type FilterList struct {
	Devnode  []string
	WWID     []string
	Property []string
	Protocol []string
	Device   []DeviceFilter
}

// DeviceFilter matches INQUIRY vendor and product; an empty field matches all.
type DeviceFilter struct {
	Vendor  string
	Product string
}

// Error is one problem in a configuration file.
type Error struct {
	File string
	Line int    // 0 when unknown
	Key  string // dotted path such as "devices[1].prio"; "" for syntax errors
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	return b.String()
}

// Builtin returns the configuration used when no file exists.
func Builtin() *Config {
	c := &Config{}
	if err := c.finish(); err != nil {
		panic("config: built-in table invalid: " + err.Error()) // a programming error, caught by tests
	}
	return c
}

// LoadOptional is Load, except that a missing file yields Builtin(); when
// the missing file is DefaultPath, multipath-tools' /etc/multipath.conf (with
// /etc/multipath/conf.d) is read instead if it exists.
func LoadOptional(path string) (*Config, error) { return LoadOptionalAt("/", path) }

// LoadOptionalAt is LoadOptional with the fixed locations (DefaultPath,
// MultipathConfPath, MultipathConfDir) taken under root.
func LoadOptionalAt(root, path string) (*Config, error) {
	c, err := loadAt(root, path)
	if !errors.Is(err, fs.ErrNotExist) {
		return c, err
	}
	if path == filepath.Join(root, DefaultPath) {
		c, err = loadAt(root, filepath.Join(root, MultipathConfPath))
		if !errors.Is(err, fs.ErrNotExist) {
			return c, err
		}
	}
	return Builtin(), nil
}

// Load reads and validates the file at path: TOML, or multipath.conf syntax
// when the name ends in ".conf" (see RegisterMultipathConf). Every problem
// found is reported, each as an *Error naming file, line and key (use
// errors.As or iterate the joined errors).
func Load(path string) (*Config, error) { return loadAt("/", path) }

func loadAt(root, path string) (*Config, error) {
	if !strings.HasSuffix(path, ".conf") {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		return Parse(data, path)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if readMultipathConf == nil {
		return nil, &Error{File: path, Msg: "multipath.conf syntax is not supported by this program"}
	}
	dir := ""
	if path == filepath.Join(root, MultipathConfPath) {
		dir = filepath.Join(root, MultipathConfDir)
	}
	return readMultipathConf(path, dir)
}

// readMultipathConf reads a multipath.conf file and, when dir is not "",
// the *.conf files in dir in lexical order.
var readMultipathConf func(path, dir string) (*Config, error)

// RegisterMultipathConf installs the reader of multipath-tools' syntax
// (package mpconf registers itself; package config cannot import it, as it
// builds on this package).
func RegisterMultipathConf(read func(path, dir string) (*Config, error)) { readMultipathConf = read }

// Validate checks the file at path without keeping the result; it is the
// entry point of `mpathctl config check FILE` and `mpathd --check`.
func Validate(path string) error {
	_, err := Load(path)
	return err
}

// Parse validates TOML text; name is used in error messages.
func Parse(data []byte, name string) (*Config, error) {
	text := string(data)
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
		}
		return nil, &Error{File: name, Msg: err.Error()}
	}
	p := &parser{file: name, lines: indexLines(text)}
	c := &Config{File: name}
	for k, v := range raw {
		switch k {
		case "defaults":
			p.attrs(v, k, secDefaults, &c.Defaults, nil)
		case "overrides":
			p.attrs(v, k, secOverrides, &c.Overrides, map[string]func(any) error{
				"protocol": func(v any) error {
					c.ProtocolOverrides = p.protocols(v, "overrides.protocol")
					return nil
				},
			})
		case "devices":
			c.Devices = p.devices(v)
		case "multipaths":
			c.Multipaths = p.multipaths(v)
		case "blacklist":
			c.Blacklist = p.filterList(v, k)
		case "blacklist_exceptions":
			c.BlacklistExceptions = p.filterList(v, k)
		default:
			p.errorf(k, "unknown section (known: defaults, blacklist, blacklist_exceptions, devices, multipaths, overrides)")
		}
	}
	if d := c.Defaults; d.PollingInterval != nil && d.MaxPollingInterval != nil &&
		*d.MaxPollingInterval < *d.PollingInterval {
		p.errorf("defaults.max_polling_interval", "%d is below polling_interval %d", *d.MaxPollingInterval, *d.PollingInterval)
	}
	for _, e := range c.PrioArgsErrors() {
		key := e.Layer + ".prio_args"
		if e.Attrs.PrioArgs == nil {
			key = e.Layer + ".prio" // the line to fix is the prio's
		}
		p.errorf(key, "%v", e.Err)
	}
	seen := map[string]string{}
	for i, m := range c.Multipaths {
		if m.Alias == "" {
			continue
		}
		if w, ok := seen[m.Alias]; ok && w != m.WWID {
			p.errorf(fmt.Sprintf("multipaths[%d].alias", i), "alias %q is already given to WWID %s", m.Alias, w)
		}
		seen[m.Alias] = m.WWID
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Key, b.Key))
		})
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	if err := c.finish(); err != nil {
		return nil, &Error{File: name, Msg: err.Error()}
	}
	slices.SortStableFunc(p.warns, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Key, b.Key))
	})
	c.Warnings = p.warns
	return c, nil
}

// Compile readies a Config built field by field by a reader of another
// syntax: it compiles the hardware table, the filters and the multipaths
// index. Every regex must already have been checked (see CheckPattern).
func (c *Config) Compile() error {
	if err := c.finish(); err != nil {
		return &Error{File: c.File, Msg: err.Error()}
	}
	return nil
}

// finish compiles the hardware table, the filters and the multipaths index.
// The parser has already checked every user regex.
func (c *Config) finish() error {
	c.hwtable = c.hwtable[:0]
	for _, d := range builtinDevices() {
		d.Builtin = true
		c.hwtable = append(c.hwtable, d)
	}
	c.hwtable = append(c.hwtable, c.Devices...)
	for i := range c.hwtable {
		d := &c.hwtable[i]
		var err error
		if d.vendor, err = regexp.Compile(d.Vendor); err != nil {
			return err
		}
		if d.product, err = regexp.Compile(d.Product); err != nil {
			return err
		}
		if d.Revision != "" {
			if d.revision, err = regexp.Compile(d.Revision); err != nil {
				return err
			}
		}
	}
	bl := c.Blacklist
	bl.Devnode = append([]string{defaultDevnodeBlacklist}, bl.Devnode...)
	for _, d := range c.hwtable {
		if d.ProductBlacklist != "" {
			bl.Device = append(bl.Device, DeviceFilter{Vendor: d.Vendor, Product: d.ProductBlacklist})
		}
	}
	el := c.BlacklistExceptions
	el.Property = append([]string{defaultPropertyException}, el.Property...)
	var err error
	if c.blist, err = compileFilter(bl); err != nil {
		return err
	}
	if c.elist, err = compileFilter(el); err != nil {
		return err
	}
	c.byWWID = map[string]*Multipath{}
	for _, m := range c.Multipaths {
		prev, ok := c.byWWID[m.WWID]
		if !ok {
			m := m
			c.byWWID[m.WWID] = &m
			continue
		}
		merged := *prev
		if m.Alias != "" {
			merged.Alias = m.Alias
		}
		mergeAttrs(&merged.Attrs, &m.Attrs)
		c.byWWID[m.WWID] = &merged
	}
	return nil
}

// mergeAttrs copies every keyword set in src over dst.
func mergeAttrs(dst, src *Attrs) {
	for i := range keywords {
		keywords[i].merge(dst, src)
	}
	if len(src.Src) > 0 {
		dst.Src = maps.Clone(dst.Src)
		if dst.Src == nil {
			dst.Src = map[string]string{}
		}
		maps.Copy(dst.Src, src.Src)
	}
}

// MergeAttrs copies every keyword set in src over dst, with its source.
func MergeAttrs(dst, src *Attrs) { mergeAttrs(dst, src) }

type parser struct {
	file  string
	lines lineIndex
	errs  []*Error
	warns []*Error
}

func (p *parser) errorf(path, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: p.lines.line(path), Key: path, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(path, format string, args ...any) {
	p.warns = append(p.warns, &Error{File: p.file, Line: p.lines.line(path), Key: path, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) table(v any, path string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		p.errorf(path, "must be a table, not %s", tomlType(v))
	}
	return m, ok
}

func (p *parser) tables(v any, path string) []map[string]any {
	switch x := v.(type) {
	case []map[string]any:
		return x
	case []any:
		out := make([]map[string]any, 0, len(x))
		for i, e := range x {
			if m, ok := p.table(e, fmt.Sprintf("%s[%d]", path, i)); ok {
				out = append(out, m)
			}
		}
		return out
	}
	p.errorf(path, "must be an array of tables ([[%s]]), not %s", path, tomlType(v))
	return nil
}

var sectionNames = map[section]string{
	secDefaults: "[defaults]", secOverrides: "[overrides]", secDevices: "[[devices]]", secMultipaths: "[[multipaths]]",
}

// attrs decodes the keywords of one layer; extra handles section-specific keys.
func (p *parser) attrs(v any, path string, sec section, a *Attrs, extra map[string]func(any) error) {
	m, ok := p.table(v, path)
	if !ok {
		return
	}
	for _, k := range sortedKeys(m) {
		kp := path + "." + k
		if f, ok := extra[k]; ok {
			if err := f(m[k]); err != nil {
				p.errorf(kp, "%v", err)
			}
			continue
		}
		kwd := keywordByName[k]
		if kwd == nil {
			msg := "unknown key"
			if foreignKeyword != nil {
				if why := foreignKeyword(k); why != "" {
					p.errorf(kp, "%s", why)
					continue
				}
			}
			if s := suggest(k, sec, extra); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			p.errorf(kp, "%s", msg)
			continue
		}
		if !kwd.scope.allows(sec) {
			where := "[defaults]"
			if kwd.scope == scopeDevice {
				where = "[defaults], [overrides] and [[devices]]"
			}
			p.errorf(kp, "not allowed in %s; only in %s", sectionNames[sec], where)
			continue
		}
		if err := kwd.set(a, m[k]); err != nil {
			p.errorf(kp, "%v", err)
			continue
		}
		if msg := NotApplied(a, k); msg != "" {
			p.warnf(kp, "%s", msg)
		}
		if str, ok := m[k].(string); ok && valueCheck != nil {
			if msg := valueCheck(k, str); msg != "" {
				p.warnf(kp, "%s", msg)
			}
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func regexString(dst *string) func(any) error {
	return func(v any) error {
		s, err := wantString(v)
		if err != nil {
			return err
		}
		if _, err := regexp.Compile(s); err != nil {
			return errf("bad regular expression %q: %v", s, err)
		}
		*dst = s
		return nil
	}
}

func (p *parser) devices(v any) []Device {
	var out []Device
	for i, m := range p.tables(v, "devices") {
		path := fmt.Sprintf("devices[%d]", i)
		var d Device
		p.attrs(m, path, secDevices, &d.Attrs, listed("devices", map[string]func(any) error{
			"vendor":            regexString(&d.Vendor),
			"product":           regexString(&d.Product),
			"revision":          regexString(&d.Revision),
			"product_blacklist": regexString(&d.ProductBlacklist),
		}))
		if _, ok := m["vendor"]; !ok {
			p.errorf(path, "vendor is required")
		}
		if _, ok := m["product"]; !ok {
			p.errorf(path, "product is required")
		}
		out = append(out, d)
	}
	return out
}

// ProtocolOverride is one [[overrides.protocol]] entry: transport timeouts
// for every path using that protocol, above all other layers.
type ProtocolOverride struct {
	Type          string // e.g. "scsi:fcp"; see Protocols
	FastIOFailTmo *Tmo
	DevLossTmo    *Tmo
	EhDeadline    *Tmo
}

// Protocols are the path protocol names multipath-tools reports, usable in
// [[overrides.protocol]] type and in the protocol blacklist.
var Protocols = []string{
	"scsi:fcp", "scsi:spi", "scsi:ssa", "scsi:sbp", "scsi:srp", "scsi:iscsi", "scsi:sas",
	"scsi:adt", "scsi:ata", "scsi:usb", "scsi:pcie", "scsi:unspec",
	"ccw", "cciss",
	"nvme:pcie", "nvme:rdma", "nvme:fc", "nvme:tcp", "nvme:loop", "nvme:apple-nvme", "nvme:unspec",
	"undef",
}

func (p *parser) protocols(v any, path string) []ProtocolOverride {
	var out []ProtocolOverride
	index := map[string]int{}
	for i, m := range p.tables(v, path) {
		ep := fmt.Sprintf("%s[%d]", path, i)
		var po ProtocolOverride
		for _, k := range sortedKeys(m) {
			var err error
			switch known("overrides.protocol", k) {
			case "type":
				po.Type, err = nameIn("protocol", Protocols)(m[k])
			case "fast_io_fail_tmo":
				var t Tmo
				t, err = parseTmo(TmoOff)(m[k])
				po.FastIOFailTmo = &t
			case "dev_loss_tmo":
				var t Tmo
				t, err = parseTmo(TmoInfinity)(m[k])
				po.DevLossTmo = &t
			case "eh_deadline":
				var t Tmo
				t, err = parseTmo(TmoOff)(m[k])
				po.EhDeadline = &t
			default:
				err = errf("unknown key (known: %s)", strings.Join(sectionKeys["overrides.protocol"], ", "))
			}
			if err != nil {
				p.errorf(ep+"."+k, "%v", err)
			}
		}
		if _, ok := m["type"]; !ok {
			p.errorf(ep, "type is required")
			continue
		}
		if j, ok := index[po.Type]; ok {
			if po.FastIOFailTmo != nil {
				out[j].FastIOFailTmo = po.FastIOFailTmo
			}
			if po.DevLossTmo != nil {
				out[j].DevLossTmo = po.DevLossTmo
			}
			if po.EhDeadline != nil {
				out[j].EhDeadline = po.EhDeadline
			}
			continue
		}
		index[po.Type] = len(out)
		out = append(out, po)
	}
	return out
}

func (p *parser) multipaths(v any) []Multipath {
	var out []Multipath
	for i, m := range p.tables(v, "multipaths") {
		path := fmt.Sprintf("multipaths[%d]", i)
		var mp Multipath
		p.attrs(m, path, secMultipaths, &mp.Attrs, listed("multipaths", map[string]func(any) error{
			"wwid": func(v any) error {
				s, err := wantString(v)
				if err != nil {
					return err
				}
				if err := CheckWWID(s); err != nil {
					return err
				}
				mp.WWID = s
				return nil
			},
			"alias": func(v any) error {
				s, err := wantString(v)
				if err != nil {
					return err
				}
				if err := CheckAlias(s); err != nil {
					return err
				}
				mp.Alias = s
				return nil
			},
		}))
		if _, ok := m["wwid"]; !ok {
			p.errorf(path, "wwid is required")
		}
		out = append(out, mp)
	}
	return out
}

// CheckWWID reports whether s can be a [[multipaths]] wwid.
func CheckWWID(s string) error {
	if s == "" || strings.ContainsAny(s, " \t\n/#") {
		return errf("%q is not a WWID (non-empty, without whitespace, '/' or '#')", s)
	}
	return nil
}

// CheckAlias reports whether s can be a map name.
func CheckAlias(s string) error {
	if s == "" || s == "." || s == ".." || len(s) > 127 || strings.ContainsAny(s, " \t\n/#") {
		return errf("%q is not a usable map name (1-127 characters, without whitespace, '/' or '#')", s)
	}
	return nil
}

func (p *parser) filterList(v any, path string) FilterList {
	var fl FilterList
	m, ok := p.table(v, path)
	if !ok {
		return fl
	}
	for _, k := range sortedKeys(m) {
		kp := path + "." + k
		var dst *[]string
		switch known(path, k) {
		case "devnode":
			dst = &fl.Devnode
		case "wwid":
			dst = &fl.WWID
		case "property":
			dst = &fl.Property
		case "protocol":
			dst = &fl.Protocol
		case "device":
			fl.Device = p.deviceFilters(m[k], kp)
			continue
		default:
			p.errorf(kp, "unknown key (known: %s)", strings.Join(filterKeys, ", "))
			continue
		}
		*dst = p.patterns(m[k], kp)
		if dst == &fl.Property && len(*dst) > 0 {
			p.warnf(kp, "%s", PropertyNotApplied)
		}
	}
	return fl
}

// patterns accepts one regex string or an array of them.
func (p *parser) patterns(v any, path string) []string {
	var list []any
	switch x := v.(type) {
	case string:
		list = []any{x}
	case []any:
		list = x
	default:
		p.errorf(path, "must be a string or an array of strings, not %s", tomlType(v))
		return nil
	}
	var out []string
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			p.errorf(fmt.Sprintf("%s[%d]", path, i), "must be a string, not %s", tomlType(e))
			continue
		}
		if _, err := compilePattern(s); err != nil {
			p.errorf(path, "%v", err)
			continue
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) deviceFilters(v any, path string) []DeviceFilter {
	var out []DeviceFilter
	for i, m := range p.tables(v, path) {
		ep := fmt.Sprintf("%s[%d]", path, i)
		var d DeviceFilter
		for _, k := range sortedKeys(m) {
			var dst *string
			switch known("blacklist.device", k) {
			case "vendor":
				dst = &d.Vendor
			case "product":
				dst = &d.Product
			default:
				p.errorf(ep+"."+k, "unknown key (known: %s)", strings.Join(sectionKeys["blacklist.device"], ", "))
				continue
			}
			s, err := wantString(m[k])
			if err == nil {
				_, err = compilePattern(s)
			}
			if err != nil {
				p.errorf(ep+"."+k, "%v", err)
				continue
			}
			*dst = s
		}
		if d.Vendor == "" && d.Product == "" {
			p.errorf(ep, "needs vendor, product or both")
			continue
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// suggest returns the known key closest to an unknown one, if close enough.
func suggest(k string, sec section, extra map[string]func(any) error) string {
	best, bestD := "", 3
	try := func(name string) {
		if d := editDistance(k, name); d < bestD {
			best, bestD = name, d
		}
	}
	for i := range keywords {
		if keywords[i].scope.allows(sec) {
			try(keywords[i].name)
		}
	}
	for name := range extra {
		try(name)
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// known returns k when sectionKeys lists it for section, "" otherwise: the
// parser takes no key the list (and so the keyword-effect test) lacks.
func known(section, k string) string {
	if slices.Contains(sectionKeys[section], k) {
		return k
	}
	return ""
}

// listed keeps the section-specific keys that sectionKeys lists.
func listed(section string, extra map[string]func(any) error) map[string]func(any) error {
	for k := range extra {
		if known(section, k) == "" {
			delete(extra, k)
		}
	}
	return extra
}
