package dm

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// TargetType is the dm target type of a multipath map.
const TargetType = "multipath"

// Table is the constructor of a dm-multipath target: the params string of
// "0 <sectors> multipath <params>" (KI §2.1). MarshalText renders the exact
// string the kernel parses; UnmarshalText parses it back, including the
// canonical form the kernel prints on table readback.
type Table struct {
	Features  Features
	HWHandler string   // "" = none; e.g. "alua"
	HWArgs    []string // handler arguments; the kernel never prints them back
	// InitialPG is the 1-based group used first (0 only when there are no
	// groups). On readback the kernel prints the current group here.
	InitialPG int
	Groups    []Group
}

// Features are the feature words of a multipath table.
type Features struct {
	QueueIfNoPath           bool
	PGInitRetries           int // 0 = unset; 1–50
	HasPGInitDelay          bool
	PGInitDelayMsecs        int    // 0–60000, only with HasPGInitDelay
	RetainAttachedHWHandler bool   // implied for bio maps
	QueueMode               string // "" (request-based default), "rq", "mq" or "bio"
}

// Group is one priority group.
type Group struct {
	Selector     string   // e.g. "service-time", "round-robin"
	SelectorArgs []string // per-group selector args (hst: base_weight, threshold)
	Paths        []Path
}

// Path is one path of a group: its device ("MAJ:MIN", or a /dev path which
// the kernel reads back as MAJ:MIN) and its per-path selector args.
type Path struct {
	Dev  string
	Args []string // e.g. service-time: repeat_count, relative_throughput
}

// Validate checks the limits the kernel's constructor enforces, so that a
// bad table fails here with a message instead of as EINVAL from TABLE_LOAD.
func (t Table) Validate() error {
	f := t.Features
	if f.PGInitRetries < 0 || f.PGInitRetries > 50 {
		return fmt.Errorf("pg_init_retries %d outside 0–50", f.PGInitRetries)
	}
	if f.HasPGInitDelay && (f.PGInitDelayMsecs < 0 || f.PGInitDelayMsecs > 60000) {
		return fmt.Errorf("pg_init_delay_msecs %d outside 0–60000", f.PGInitDelayMsecs)
	}
	switch f.QueueMode {
	case "", "rq", "mq", "bio":
	default:
		return fmt.Errorf("queue_mode %q is not bio, rq or mq", f.QueueMode)
	}
	if t.HWHandler == "" && len(t.HWArgs) > 0 {
		return errors.New("hardware handler args without a handler")
	}
	if err := validWord("hardware handler", t.HWHandler, true); err != nil {
		return err
	}
	if err := validWords("hardware handler arg", t.HWArgs); err != nil {
		return err
	}
	if len(t.Groups) > 1024 {
		return fmt.Errorf("%d priority groups, at most 1024", len(t.Groups))
	}
	if (len(t.Groups) == 0) != (t.InitialPG == 0) || t.InitialPG < 0 || t.InitialPG > len(t.Groups) {
		return fmt.Errorf("initial_pg %d invalid for %d groups", t.InitialPG, len(t.Groups))
	}
	for i, g := range t.Groups {
		if err := validWord("selector", g.Selector, false); err != nil {
			return fmt.Errorf("group %d: %w", i+1, err)
		}
		if err := validWords("selector arg", g.SelectorArgs); err != nil {
			return fmt.Errorf("group %d: %w", i+1, err)
		}
		if len(g.Paths) == 0 || len(g.Paths) > 1024 {
			return fmt.Errorf("group %d: %d paths, want 1–1024", i+1, len(g.Paths))
		}
		for _, p := range g.Paths {
			if err := validWord("path device", p.Dev, false); err != nil {
				return fmt.Errorf("group %d: %w", i+1, err)
			}
			if err := validWords("path arg", p.Args); err != nil {
				return fmt.Errorf("group %d: path %s: %w", i+1, p.Dev, err)
			}
			if len(p.Args) != len(g.Paths[0].Args) {
				return fmt.Errorf("group %d: path %s has %d args, path %s has %d; the kernel takes one count per group",
					i+1, p.Dev, len(p.Args), g.Paths[0].Dev, len(g.Paths[0].Args))
			}
		}
	}
	return nil
}

func validWords(what string, ws []string) error {
	for _, w := range ws {
		if err := validWord(what, w, false); err != nil {
			return err
		}
	}
	return nil
}

func validWord(what, w string, emptyOK bool) error {
	if w == "" {
		if emptyOK {
			return nil
		}
		return fmt.Errorf("empty %s", what)
	}
	if strings.ContainsAny(w, " \t\n\v\f\r\x00") {
		return fmt.Errorf("%s %q contains whitespace or NUL", what, w)
	}
	return nil
}

// AppendText appends the params string to b. It implements
// encoding.TextAppender.
func (t Table) AppendText(b []byte) ([]byte, error) {
	if err := t.Validate(); err != nil {
		return b, fmt.Errorf("dm: invalid multipath table: %w", err)
	}
	f := t.Features
	n := 0
	if f.QueueIfNoPath {
		n++
	}
	if f.PGInitRetries > 0 {
		n += 2
	}
	if f.HasPGInitDelay {
		n += 2
	}
	if f.RetainAttachedHWHandler {
		n++
	}
	if f.QueueMode != "" {
		n += 2
	}
	b = strconv.AppendInt(b, int64(n), 10)
	if f.QueueIfNoPath {
		b = append(b, " queue_if_no_path"...)
	}
	if f.PGInitRetries > 0 {
		b = append(b, " pg_init_retries "...)
		b = strconv.AppendInt(b, int64(f.PGInitRetries), 10)
	}
	if f.HasPGInitDelay {
		b = append(b, " pg_init_delay_msecs "...)
		b = strconv.AppendInt(b, int64(f.PGInitDelayMsecs), 10)
	}
	if f.RetainAttachedHWHandler {
		b = append(b, " retain_attached_hw_handler"...)
	}
	if f.QueueMode != "" {
		b = append(b, " queue_mode "...)
		b = append(b, f.QueueMode...)
	}
	if t.HWHandler == "" {
		b = append(b, " 0"...)
	} else {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(1+len(t.HWArgs)), 10)
		b = append(b, ' ')
		b = append(b, t.HWHandler...)
		b = appendWords(b, t.HWArgs)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(t.Groups)), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(t.InitialPG), 10)
	for _, g := range t.Groups {
		b = append(b, ' ')
		b = append(b, g.Selector...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(g.SelectorArgs)), 10)
		b = appendWords(b, g.SelectorArgs)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(g.Paths)), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(g.Paths[0].Args)), 10)
		for _, p := range g.Paths {
			b = append(b, ' ')
			b = append(b, p.Dev...)
			b = appendWords(b, p.Args)
		}
	}
	return b, nil
}

func appendWords(b []byte, ws []string) []byte {
	for _, w := range ws {
		b = append(b, ' ')
		b = append(b, w...)
	}
	return b
}

// MarshalText renders the params string the kernel's constructor takes.
func (t Table) MarshalText() ([]byte, error) { return t.AppendText(make([]byte, 0, 128)) }

// String renders the table for logs; an invalid table renders its error.
func (t Table) String() string {
	b, err := t.MarshalText()
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// UnmarshalText parses a multipath params string (a constructor string or
// the kernel's table readback; surrounding and repeated spaces are fine).
func (t *Table) UnmarshalText(text []byte) error {
	p, err := ParseTable(string(text))
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// ParseTable parses a multipath params string, without the leading
// "<start> <length> multipath".
func ParseTable(s string) (Table, error) {
	t, err := parseTable(&wordScanner{s: s})
	if err != nil {
		return Table{}, fmt.Errorf("dm: parse multipath table %q: %w", s, err)
	}
	return t, nil
}

func parseTable(tk *wordScanner) (Table, error) {
	var t Table
	nf, err := tk.count("feature count", 8)
	if err != nil {
		return t, err
	}
	feats, err := tk.words(nf, "features")
	if err != nil {
		return t, err
	}
	if t.Features, err = parseFeatures(feats); err != nil {
		return t, err
	}
	nh, err := tk.count("hardware handler word count", 1<<10)
	if err != nil {
		return t, err
	}
	hw, err := tk.words(nh, "hardware handler")
	if err != nil {
		return t, err
	}
	if nh > 0 {
		t.HWHandler, t.HWArgs = hw[0], nilIfEmpty(hw[1:])
	}
	ng, err := tk.count("priority group count", 1024)
	if err != nil {
		return t, err
	}
	if t.InitialPG, err = tk.count("initial priority group", 1024); err != nil {
		return t, err
	}
	for i := range ng {
		var g Group
		if g.Selector, err = tk.word("selector of group " + strconv.Itoa(i+1)); err != nil {
			return t, err
		}
		na, err := tk.count("selector arg count", 1024)
		if err != nil {
			return t, err
		}
		if g.SelectorArgs, err = tk.words(na, "selector args"); err != nil {
			return t, err
		}
		np, err := tk.count("path count", 1024)
		if err != nil {
			return t, err
		}
		npa, err := tk.count("per-path arg count", 1024)
		if err != nil {
			return t, err
		}
		if np == 0 {
			return t, fmt.Errorf("group %d has no paths", i+1)
		}
		g.Paths = make([]Path, np)
		for j := range g.Paths {
			pw, err := tk.words(1+npa, "path")
			if err != nil {
				return t, err
			}
			g.Paths[j] = Path{Dev: pw[0], Args: nilIfEmpty(pw[1:])}
		}
		t.Groups = append(t.Groups, g)
	}
	if rest := strings.TrimSpace(tk.s); rest != "" {
		return t, fmt.Errorf("trailing words %q", rest)
	}
	if err := t.Validate(); err != nil {
		return t, err
	}
	return t, nil
}

func parseFeatures(ws []string) (Features, error) {
	var f Features
	for i := 0; i < len(ws); i++ {
		arg := func() (string, error) {
			if i+1 >= len(ws) {
				return "", fmt.Errorf("feature %s needs an argument", ws[i])
			}
			i++
			return ws[i], nil
		}
		switch w := strings.ToLower(ws[i]); w {
		case "queue_if_no_path":
			f.QueueIfNoPath = true
		case "retain_attached_hw_handler":
			f.RetainAttachedHWHandler = true
		case "pg_init_retries", "pg_init_delay_msecs":
			a, err := arg()
			if err != nil {
				return f, err
			}
			n, err := strconv.Atoi(a)
			if err != nil {
				return f, fmt.Errorf("feature %s: %q is not a number", w, a)
			}
			if w == "pg_init_retries" {
				f.PGInitRetries = n
			} else {
				f.HasPGInitDelay, f.PGInitDelayMsecs = true, n
			}
		case "queue_mode":
			a, err := arg()
			if err != nil {
				return f, err
			}
			f.QueueMode = strings.ToLower(a)
		default:
			return f, fmt.Errorf("unknown feature %q", ws[i])
		}
	}
	return f, nil
}

// nilIfEmpty keeps "no arguments" as nil, the form tables are built with.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func cloneOrNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// Normalize returns the table as the kernel would print it back after
// loading it (KI §2.5): request-based queue modes vanish, bio implies
// retain_attached_hw_handler, handler args are dropped, and per-path and
// per-group selector args are filled in or clamped the way the built-in
// selectors do. InitialPG is left alone: the kernel prints the current
// group there, so compare with Equivalent.
func (t Table) Normalize() Table {
	n := t
	switch n.Features.QueueMode {
	case "rq", "mq":
		n.Features.QueueMode = ""
	case "bio":
		n.Features.RetainAttachedHWHandler = true
	}
	n.HWArgs = nil
	n.Groups = make([]Group, len(t.Groups))
	for i, g := range t.Groups {
		ng := Group{Selector: g.Selector, SelectorArgs: cloneOrNil(g.SelectorArgs), Paths: make([]Path, len(g.Paths))}
		if g.Selector == "historical-service-time" {
			ng.SelectorArgs = hstSelectorArgs(g.SelectorArgs)
		}
		for j, p := range g.Paths {
			ng.Paths[j] = Path{Dev: p.Dev, Args: normalizePathArgs(g.Selector, p.Args)}
		}
		n.Groups[i] = ng
	}
	return n
}

// repeatCount mirrors the selectors' handling of repeat_count: default 1,
// values above 1 forced to 1 (deprecated).
func repeatCount(args []string) string {
	if len(args) == 0 {
		return "1"
	}
	if n, err := strconv.ParseUint(args[0], 10, 32); err == nil && n > 1 {
		return "1"
	}
	return args[0]
}

func normalizePathArgs(selector string, args []string) []string {
	switch selector {
	case "round-robin", "queue-length":
		return []string{repeatCount(args)}
	case "service-time":
		rt := "1"
		if len(args) > 1 {
			rt = args[1]
		}
		return []string{repeatCount(args), rt}
	case "historical-service-time":
		return []string{"0"}
	}
	return cloneOrNil(args)
}

func hstSelectorArgs(args []string) []string {
	out := []string{"972", "0"}
	copy(out, args)
	return out
}

// Equal reports whether t and u are the same table, word for word.
func (t Table) Equal(u Table) bool {
	if t.Features != u.Features || t.HWHandler != u.HWHandler || t.InitialPG != u.InitialPG ||
		!slices.Equal(t.HWArgs, u.HWArgs) || len(t.Groups) != len(u.Groups) {
		return false
	}
	for i, g := range t.Groups {
		h := u.Groups[i]
		if g.Selector != h.Selector || !slices.Equal(g.SelectorArgs, h.SelectorArgs) ||
			!slices.EqualFunc(g.Paths, h.Paths, func(a, b Path) bool {
				return a.Dev == b.Dev && slices.Equal(a.Args, b.Args)
			}) {
			return false
		}
	}
	return true
}

// Equivalent reports whether loading desired would give the map the live
// table it already has: both are normalised and the initial PG (which the
// kernel reports as the current PG) is ignored. With
// retain_attached_hw_handler (explicit, or implied by bio mode) the kernel
// prints the handler already attached to the paths instead of the table's,
// so the handler is not compared then. A reload is needless when this
// holds and the size is unchanged.
func Equivalent(desired, live Table) bool {
	a, b := desired.Normalize(), live.Normalize()
	a.InitialPG, b.InitialPG = 0, 0
	if a.Features.RetainAttachedHWHandler {
		a.HWHandler = b.HWHandler
	}
	return a.Equal(b)
}
