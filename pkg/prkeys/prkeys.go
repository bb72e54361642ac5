// Package prkeys reads and writes the prkeys file: the persistent reservation
// key of each map whose reservation_key is "file", in multipath-tools' format
// (/etc/multipath/prkeys), so keys set with mpathpersist survive a restart and
// a switch between mpathd and multipathd.
//
// Each line is a key and a WWID separated by white space; the key is written
// 0x%016x, with a capital X (0X…) when the registration asked for APTPL
// (activate persist through power loss). '#' starts a comment line.
package prkeys

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/mpathd/mpathd/internal/atomicfile"
)

// DefaultPath is the prkeys file multipath-tools uses.
const DefaultPath = "/etc/multipath/prkeys"

const header = `# Multipath persistent reservation keys, Version : 1.0
# NOTE: this file is maintained by the multipath daemon (mpathd or multipathd).
# You should not need to edit it in normal circumstances.
#
# Format:
# prkey wwid
#
`

// Key is a registration key with its APTPL flag.
type Key struct {
	Key   uint64
	APTPL bool
}

// String writes k as a reservation_key value: 0x-hex, ":aptpl" appended when set.
func (k Key) String() string {
	s := "0x" + strconv.FormatUint(k.Key, 16)
	if k.APTPL {
		s += ":aptpl"
	}
	return s
}

// Entry is one line of the file.
type Entry struct {
	WWID string
	Key
}

// LineError is a line the parser could not use.
type LineError struct {
	Line int
	Text string
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s: %q", e.Line, e.Msg, e.Text) }

// ParseKey reads a key as multipath-tools does: an optional "0x" (or "0X"),
// then one to sixteen hex digits.
func ParseKey(s string) (uint64, error) {
	h := s
	if len(h) >= 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X') {
		h = h[2:]
	}
	if h == "" || len(h) > 16 {
		return 0, fmt.Errorf("prkeys: %q: want 1 to 16 hex digits, optionally after 0x", s)
	}
	n, err := strconv.ParseUint(h, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("prkeys: %q: want 1 to 16 hex digits, optionally after 0x", s)
	}
	return n, nil
}

// ParseKeyFlags reads a reservation_key value or a setprkey argument: a key,
// optionally followed by ":aptpl".
func ParseKeyFlags(s string) (Key, error) {
	keyText, flag, hasFlag := strings.Cut(s, ":")
	if hasFlag && flag != "aptpl" {
		return Key{}, fmt.Errorf("prkeys: %q: the only flag is :aptpl", s)
	}
	n, err := ParseKey(keyText)
	if err != nil {
		return Key{}, err
	}
	return Key{Key: n, APTPL: hasFlag}, nil
}

// formatLine writes one entry as multipath-tools does.
func formatLine(e Entry) string {
	x := "x"
	if e.APTPL {
		x = "X"
	}
	return fmt.Sprintf("0%s%016x %s\n", x, e.Key.Key, e.WWID)
}

// parseLine reads one line; ok is false for blank and comment lines.
func parseLine(line string) (e Entry, ok bool, err error) {
	line = strings.TrimRight(line, "\r")
	f := strings.Fields(line)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return Entry{}, false, nil
	}
	if len(f) != 2 {
		return Entry{}, false, errors.New("want a key and a WWID")
	}
	n, err := ParseKey(f[0])
	if err != nil {
		return Entry{}, false, err
	}
	// The capital X is multipath-tools' APTPL mark.
	return Entry{WWID: f[1], Key: Key{Key: n, APTPL: strings.Contains(f[0], "X")}}, true, nil
}

// Parse reads a prkeys file. The first entry of a WWID counts, as in
// multipath-tools. Lines it cannot use are skipped and reported in the
// returned error (a join of *LineError).
func Parse(data []byte) ([]Entry, error) {
	var out []Entry
	seen := map[string]bool{}
	var errs []error
	for n, line := range strings.Split(string(data), "\n") {
		e, ok, err := parseLine(line)
		if err != nil {
			errs = append(errs, &LineError{Line: n + 1, Text: line, Msg: err.Error()})
			continue
		}
		if ok && !seen[e.WWID] {
			seen[e.WWID] = true
			out = append(out, e)
		}
	}
	return out, errors.Join(errs...)
}

// Format writes entries as a whole file, with the header.
func Format(entries []Entry) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	for _, e := range entries {
		b.WriteString(formatLine(e))
	}
	return b.Bytes()
}

// File is the prkeys file. Each call reads it, so keys set by another program
// (multipathd's mpathpersist, an admin) are seen at once; it is small.
// Methods are safe for concurrent use.
type File struct {
	path string
	mu   sync.Mutex
}

// New returns the prkeys file at path; it need not exist yet.
func New(path string) *File { return &File{path: path} }

// Path is the file's path.
func (f *File) Path() string { return f.path }

func (f *File) read() ([]byte, error) {
	data, err := os.ReadFile(f.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("prkeys: read %s: %w", f.path, err)
	}
	return data, nil
}

// Get returns the key of wwid; ok is false when the file has none. Bad lines
// are skipped and reported in warn.
func (f *File) Get(wwid string) (k Key, ok bool, warn, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := f.read()
	if err != nil {
		return Key{}, false, nil, err
	}
	entries, warn := Parse(data)
	if warn != nil {
		warn = fmt.Errorf("prkeys: %s: %w", f.path, warn)
	}
	for _, e := range entries {
		if e.WWID == wwid {
			return e.Key, true, warn, nil
		}
	}
	return Key{}, false, warn, nil
}

// Set records the key of wwid, replacing any line it had; a zero key removes
// the WWID's lines, as multipath-tools does. Comments and other lines are kept.
func (f *File) Set(wwid string, k Key) error {
	if wwid == "" || strings.ContainsAny(wwid, " \t\r\n") {
		return fmt.Errorf("prkeys: invalid WWID %q", wwid)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := f.read()
	if err != nil {
		return err
	}
	if len(data) == 0 && k.Key == 0 {
		return nil
	}
	var out bytes.Buffer
	if len(data) == 0 {
		out.WriteString(header)
	}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		if e, ok, err := parseLine(strings.TrimSuffix(line, "\n")); err == nil && ok && e.WWID == wwid {
			continue
		}
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteByte('\n')
		}
	}
	if k.Key != 0 {
		out.WriteString(formatLine(Entry{WWID: wwid, Key: k}))
	}
	if bytes.Equal(out.Bytes(), data) {
		return nil
	}
	if err := atomicfile.Write(f.path, out.Bytes(), 0o600); err != nil {
		return fmt.Errorf("prkeys: write %s: %w", f.path, err)
	}
	return nil
}
