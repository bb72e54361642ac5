package bindings

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/mpathd/mpathd/internal/atomicfile"
)

// DefaultBindingsPath is the bindings file multipath-tools uses.
const DefaultBindingsPath = "/etc/multipath/bindings"

// Binding is one "alias wwid" line.
type Binding struct {
	Alias string
	WWID  string
}

// LineError is a bindings or wwids line that was skipped.
type LineError struct {
	Line int
	Text string
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s: %q", e.Line, e.Msg, e.Text) }

// Table is a consistent set of bindings: each alias and each WWID at most
// once. The zero value is an empty table.
type Table struct {
	byAlias map[string]string
	byWWID  map[string]string
}

// ParseBindings reads a bindings file. Lines it cannot use are skipped and
// reported in the returned error (a join of *LineError); the table holds
// every usable binding either way. Comments start with '#'. A line that
// would bind an alias or a WWID a second time is skipped: the first wins.
func ParseBindings(data []byte) (*Table, error) {
	t := &Table{}
	var errs []error
	for n, line := range bytes.Split(data, []byte("\n")) {
		text := string(line)
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		bad := func(msg string) { errs = append(errs, &LineError{Line: n + 1, Text: string(line), Msg: msg}) }
		if len(f) != 2 {
			bad("want \"alias wwid\"")
			continue
		}
		alias, wwid := f[0], f[1]
		if w, ok := t.byAlias[alias]; ok {
			if w != wwid {
				bad(fmt.Sprintf("alias already bound to %s; line ignored", w))
			}
			continue
		}
		if a, ok := t.byWWID[wwid]; ok {
			bad(fmt.Sprintf("WWID already bound to %s; line ignored", a))
			continue
		}
		t.add(alias, wwid)
	}
	return t, errors.Join(errs...)
}

func (t *Table) add(alias, wwid string) {
	if t.byAlias == nil {
		t.byAlias = map[string]string{}
		t.byWWID = map[string]string{}
	}
	t.byAlias[alias] = wwid
	t.byWWID[wwid] = alias
}

// Len returns the number of bindings.
func (t *Table) Len() int { return len(t.byAlias) }

// Alias returns the alias bound to wwid.
func (t *Table) Alias(wwid string) (string, bool) {
	a, ok := t.byWWID[wwid]
	return a, ok
}

// WWID returns the WWID bound to alias.
func (t *Table) WWID(alias string) (string, bool) {
	w, ok := t.byAlias[alias]
	return w, ok
}

// compareAliases orders aliases like multipath-tools: shorter first, then
// lexically, so mpathz comes before mpathaa.
func compareAliases(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
}

// Bindings returns every binding, ordered by alias.
func (t *Table) Bindings() []Binding {
	out := make([]Binding, 0, len(t.byAlias))
	for a, w := range t.byAlias {
		out = append(out, Binding{Alias: a, WWID: w})
	}
	slices.SortFunc(out, func(x, y Binding) int { return compareAliases(x.Alias, y.Alias) })
	return out
}

const bindingsHeader = `# Multipath bindings: "alias wwid", one per line.
# Maintained by mpathd (and compatible with multipath-tools). Each alias and
# each WWID appears once; an existing binding is never changed.
#
`

// Format renders the table in the bindings file format.
func (t *Table) Format() []byte {
	var b bytes.Buffer
	b.WriteString(bindingsHeader)
	for _, x := range t.Bindings() {
		fmt.Fprintf(&b, "%s %s\n", x.Alias, x.WWID)
	}
	return b.Bytes()
}

// ErrAliasInUse means the alias bound to a WWID names a live map of another
// WWID; the map must then be named by its WWID.
var ErrAliasInUse = errors.New("bound alias is in use by another map")

// Request asks for the user-friendly name of one WWID.
type Request struct {
	WWID   string
	Prefix string // alias_prefix for this map
	// Current is the name of an existing map with this WWID ("" if none).
	// An unbound name that fits the prefix is kept and bound, so adopting a
	// map created elsewhere does not rename it.
	Current string
	// InUse reports whether alias names a live map of a different WWID
	// (nil: none do). Such ids are skipped during allocation.
	InUse func(alias string) bool
}

// Select decides the alias for r without changing t: an existing binding
// for the WWID always wins; else the current map name if it fits and is
// free; else the lowest free id for the prefix (holes are filled, ids bound
// to any WWID or held by a live map are skipped; foreign aliases are kept
// but never allocated from). isNew reports a binding that must be added.
func (t *Table) Select(r Request) (alias string, isNew bool, err error) {
	if err := checkWWID(r.WWID); err != nil {
		return "", false, err
	}
	inUse := func(a string) bool { return r.InUse != nil && r.InUse(a) }
	if a, ok := t.byWWID[r.WWID]; ok {
		if inUse(a) {
			return "", false, fmt.Errorf("bindings: %s for %s: %w", a, r.WWID, ErrAliasInUse)
		}
		return a, false, nil
	}
	if r.Current != "" && r.Current != r.WWID {
		if _, ok := ParseAlias(r.Current, r.Prefix); ok && !strings.ContainsAny(r.Current, " \t") {
			if _, bound := t.byAlias[r.Current]; !bound && !inUse(r.Current) {
				return r.Current, true, nil
			}
		}
	}
	used := make(map[int]bool, len(t.byAlias))
	for a := range t.byAlias {
		if id, ok := ParseAlias(a, r.Prefix); ok {
			used[id] = true
		}
	}
	// id < MaxID, then MaxID itself: id <= MaxID would never end where int
	// is 32 bits wide (MaxID+1 wraps round).
	for id := 1; ; id++ {
		if a := r.Prefix + EncodeID(id); !used[id] && !inUse(a) {
			return a, true, nil
		}
		if id == MaxID {
			break
		}
	}
	return "", false, fmt.Errorf("bindings: no free alias with prefix %q", r.Prefix)
}

func checkWWID(w string) error {
	if w == "" || strings.ContainsAny(w, " \t\n\r#/") {
		return fmt.Errorf("bindings: %q is not a storable WWID", w)
	}
	return nil
}

// File is a bindings file shared by the maps of one daemon. Its methods are
// safe for concurrent use.
type File struct {
	path     string
	readOnly bool

	mu    sync.Mutex
	table *Table
}

// Open reads the bindings file at path; a missing file is an empty table.
// Bad lines are skipped and reported in warn (nil if none); err is set only
// when the file cannot be read. With readOnly, new bindings are never
// written and Alias returns "" for WWIDs without one.
func Open(path string, readOnly bool) (f *File, warn, err error) {
	f = &File{path: path, readOnly: readOnly}
	warn, err = f.Reload()
	if err != nil {
		return nil, nil, err
	}
	return f, warn, nil
}

// Reload re-reads the file, e.g. after an outside edit.
func (f *File) Reload() (warn, err error) {
	data, err := os.ReadFile(f.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("bindings: read %s: %w", f.path, err)
	}
	t, warn := ParseBindings(data)
	if warn != nil {
		warn = fmt.Errorf("bindings: %s: %w", f.path, warn)
	}
	f.mu.Lock()
	f.table = t
	f.mu.Unlock()
	return warn, nil
}

// Lookup returns the alias bound to wwid, if any.
func (f *File) Lookup(wwid string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.table.Alias(wwid)
}

// Bindings returns every binding, ordered by alias.
func (f *File) Bindings() []Binding {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.table.Bindings()
}

// Alias returns the user-friendly name for r.WWID, allocating and writing a
// new binding when needed. The file is updated before the alias is returned,
// so an alias is never handed out unrecorded. On error, or read-only without
// a binding, the caller names the map by its WWID.
func (f *File) Alias(r Request) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	alias, isNew, err := f.table.Select(r)
	if err != nil || !isNew {
		return alias, err
	}
	if f.readOnly {
		return "", nil
	}
	// Another program may have added bindings since the file was read: decide
	// again on the current content so that none of them is overwritten.
	if data, err := os.ReadFile(f.path); err == nil {
		if t, _ := ParseBindings(data); t != nil {
			f.table = t
			if alias, isNew, err = f.table.Select(r); err != nil || !isNew {
				return alias, err
			}
		}
	}
	next := &Table{}
	for a, w := range f.table.byAlias {
		next.add(a, w)
	}
	next.add(alias, r.WWID)
	if err := atomicfile.Write(f.path, next.Format(), 0o600); err != nil {
		return "", fmt.Errorf("bindings: bind %s to %s: write %s: %w", alias, r.WWID, f.path, err)
	}
	f.table = next
	return alias, nil
}
