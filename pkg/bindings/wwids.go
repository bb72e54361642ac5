package bindings

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/mpathd/mpathd/internal/atomicfile"
)

// DefaultWWIDsPath is the wwids file multipath-tools uses.
const DefaultWWIDsPath = "/etc/multipath/wwids"

const wwidsHeader = `# Multipath WWIDs: one "/WWID/" per line.
# Maintained by mpathd (and compatible with multipath-tools). With
# find_multipaths "on" or "strict", a WWID listed here is always multipathed.
#
`

// ParseWWIDs reads a wwids file: one /WWID/ per line, '#' comments. Lines it
// cannot use are skipped and reported in the returned error (a join of
// *LineError); the list holds every usable WWID once, in file order.
func ParseWWIDs(data []byte) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var errs []error
	for n, line := range bytes.Split(data, []byte("\n")) {
		w, err := parseWWIDLine(string(line))
		if err != nil {
			errs = append(errs, &LineError{Line: n + 1, Text: string(line), Msg: err.Error()})
			continue
		}
		if w != "" && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out, errors.Join(errs...)
}

func parseWWIDLine(line string) (string, error) {
	s := strings.TrimSpace(line)
	if s == "" || s[0] == '#' {
		return "", nil
	}
	if s[0] != '/' {
		return "", errors.New("want /WWID/")
	}
	end := strings.IndexByte(s[1:], '/')
	if end < 0 {
		return "", errors.New("missing closing '/'")
	}
	w := s[1 : 1+end]
	rest := strings.TrimSpace(s[2+end:])
	if w == "" {
		return "", errors.New("empty WWID")
	}
	if strings.ContainsAny(w, " \t") {
		return "", errors.New("WWID contains whitespace")
	}
	if rest != "" && rest[0] != '#' {
		return "", errors.New("text after the closing '/'")
	}
	return w, nil
}

// WWIDs is the wwids file. Each call reads the file, so outside edits
// (multipath -a, an admin) are seen at once; it is small. Methods are safe
// for concurrent use.
type WWIDs struct {
	path string
	mu   sync.Mutex
}

// NewWWIDs returns the wwids file at path; it need not exist yet.
func NewWWIDs(path string) *WWIDs { return &WWIDs{path: path} }

func (f *WWIDs) read() ([]byte, error) {
	data, err := os.ReadFile(f.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("wwids: read %s: %w", f.path, err)
	}
	return data, nil
}

// List returns the WWIDs in the file (none if it is missing). Bad lines are
// skipped and reported in warn.
func (f *WWIDs) List() (wwids []string, warn, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := f.read()
	if err != nil {
		return nil, nil, err
	}
	wwids, warn = ParseWWIDs(data)
	if warn != nil {
		warn = fmt.Errorf("wwids: %s: %w", f.path, warn)
	}
	return wwids, warn, nil
}

// Contains reports whether wwid is listed.
func (f *WWIDs) Contains(wwid string) (bool, error) {
	list, _, err := f.List()
	if err != nil {
		return false, err
	}
	for _, w := range list {
		if w == wwid {
			return true, nil
		}
	}
	return false, nil
}

// Add appends wwid unless it is listed already, creating the file (and its
// directory) if needed. It reports whether the file changed.
func (f *WWIDs) Add(wwid string) (bool, error) {
	if err := checkWWID(wwid); err != nil {
		return false, fmt.Errorf("wwids: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := f.read()
	if err != nil {
		return false, err
	}
	list, _ := ParseWWIDs(data)
	for _, w := range list {
		if w == wwid {
			return false, nil
		}
	}
	if len(data) == 0 {
		return true, f.write([]byte(wwidsHeader + "/" + wwid + "/\n"))
	}
	var add []byte
	if data[len(data)-1] != '\n' {
		add = append(add, '\n')
	}
	add = append(add, "/"+wwid+"/\n"...)
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return false, fmt.Errorf("wwids: add %s: %w", wwid, err)
	}
	_, err = file.Write(add)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("wwids: add %s to %s: %w", wwid, f.path, err)
	}
	return true, nil
}

// Remove deletes every line for wwid, keeping comments and other lines as
// they are. It reports whether the file changed.
func (f *WWIDs) Remove(wwid string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := f.read()
	if err != nil || len(data) == 0 {
		return false, err
	}
	var out bytes.Buffer
	changed := false
	lines := bytes.SplitAfter(data, []byte("\n"))
	for _, line := range lines {
		if w, err := parseWWIDLine(string(line)); err == nil && w == wwid {
			changed = true
			continue
		}
		out.Write(line)
	}
	if !changed {
		return false, nil
	}
	return true, f.write(out.Bytes())
}

func (f *WWIDs) write(data []byte) error {
	if err := atomicfile.Write(f.path, data, 0o644); err != nil {
		return fmt.Errorf("wwids: write %s: %w", f.path, err)
	}
	return nil
}
