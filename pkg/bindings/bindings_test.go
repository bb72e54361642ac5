package bindings

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestEncodeID(t *testing.T) {
	for id, want := range map[int]string{1: "a", 26: "z", 27: "aa", 28: "ab", 52: "az", 53: "ba", 702: "zz", 703: "aaa", 18278: "zzz", MaxID: "fxshrxw", 0: "", -1: ""} {
		if got := EncodeID(id); got != want {
			t.Errorf("EncodeID(%d) = %q, want %q", id, got, want)
		}
		if id < 1 {
			continue
		}
		if back, ok := ParseAlias("mpath"+want, "mpath"); !ok || back != id {
			t.Errorf("ParseAlias(mpath%s) = %d, %v; want %d", want, back, ok, id)
		}
	}
}

func TestParseAlias(t *testing.T) {
	tests := []struct {
		alias, prefix string
		id            int
		ok            bool
	}{
		{"mpatha", "mpath", 1, true},
		{"MPATHa", "MPATH", 1, true},
		{"MPATHa  00", "MPATH", 1, true}, // ends at the first blank
		{"MPATHa\t00", "MPATH", 1, true},
		{"MPATHa", "mpath", 0, false}, // wrong-case prefix
		{"mpath", "mpath", 0, false},  // empty suffix
		{"MPATH0", "MPATH", 0, false}, // digits
		{"MPATHa0c", "MPATH", 0, false},
		{"mpathA", "mpath", 0, false},
		{"mpathaaaaaaaa", "mpath", 0, false}, // 8 letters
		{"mpathfxshrxx", "mpath", 0, false},  // MaxID + 1
		{"mpathzzzzzzz", "mpath", 0, false},
		{"disk1", "mpath", 0, false},
		{"mpath a", "mpath", 0, false},
	}
	for _, tt := range tests {
		id, ok := ParseAlias(tt.alias, tt.prefix)
		if id != tt.id || ok != tt.ok {
			t.Errorf("ParseAlias(%q, %q) = %d, %v; want %d, %v", tt.alias, tt.prefix, id, ok, tt.id, tt.ok)
		}
	}
}

func table(t *testing.T, text string) *Table {
	t.Helper()
	tb, err := ParseBindings([]byte(text))
	if err != nil {
		t.Fatalf("ParseBindings: %v", err)
	}
	return tb
}

func TestSelect(t *testing.T) {
	live := func(names ...string) func(string) bool {
		return func(a string) bool {
			for _, n := range names {
				if n == a {
					return true
				}
			}
			return false
		}
	}
	tests := []struct {
		name     string
		bindings string
		req      Request
		alias    string
		isNew    bool
		err      error
	}{
		{"empty file", "", Request{WWID: "W9"}, "mpatha", true, nil},
		{"fills the hole", "mpatha W0\nmpathc W1\n", Request{WWID: "W9"}, "mpathb", true, nil},
		{"skips a live map's alias", "mpatha W0\nmpathc W1\n", Request{WWID: "W9", InUse: live("mpathb")}, "mpathd", true, nil},
		{"unsorted file", "mpathb W1\nmpatha W0\n", Request{WWID: "W9"}, "mpathc", true, nil},
		{"existing binding wins", "mpatha W0\nmpathb W9\n", Request{WWID: "W9"}, "mpathb", false, nil},
		{"existing binding wins over current name", "mpathb W9\n", Request{WWID: "W9", Current: "mpathq"}, "mpathb", false, nil},
		{"existing binding taken by a live map", "mpathb W9\n", Request{WWID: "W9", InUse: live("mpathb")}, "", false, ErrAliasInUse},
		{"existing binding with another prefix wins", "disk W9\n", Request{WWID: "W9"}, "disk", false, nil},
		{"never reuse an alias bound elsewhere", "mpatha W0\n", Request{WWID: "W9", Current: "mpatha"}, "mpathb", true, nil},
		{"keeps a free current name", "mpatha W0\n", Request{WWID: "W9", Current: "mpathk"}, "mpathk", true, nil},
		{"current name foreign to the prefix", "", Request{WWID: "W9", Current: "oradata"}, "mpatha", true, nil},
		{"current name is the WWID", "", Request{WWID: "W9", Current: "W9"}, "mpatha", true, nil},
		{"current name held by another live map", "", Request{WWID: "W9", Current: "mpathc", InUse: live("mpathc")}, "mpatha", true, nil},
		{"mpathz then mpathaa", seq(26), Request{WWID: "WNEW"}, "mpathaa", true, nil},
		{"mpathzz then mpathaaa", seq(702), Request{WWID: "WNEW"}, "mpathaaa", true, nil},
		{"foreign aliases are kept, not allocated from", "mpatha W0\nmpath0 W1\nmpathb-x W2\nyellow W3\n", Request{WWID: "W9"}, "mpathb", true, nil},
		{"other prefix", "mpatha W0\n", Request{WWID: "W9", Prefix: "disk"}, "diska", true, nil},
		{"bad WWID", "", Request{WWID: "a b"}, "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := table(t, tt.bindings)
			r := tt.req
			if r.Prefix == "" {
				r.Prefix = "mpath"
			}
			alias, isNew, err := tb.Select(r)
			if tt.name == "bad WWID" {
				if err == nil {
					t.Fatal("no error for a WWID with a blank")
				}
				return
			}
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if alias != tt.alias || isNew != tt.isNew {
				t.Errorf("got %q new=%v, want %q new=%v", alias, isNew, tt.alias, tt.isNew)
			}
		})
	}
}

// seq returns bindings mpatha..mpath<EncodeID(n)> for WWIDs W1..Wn.
func seq(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "mpath%s W%d\n", EncodeID(i), i)
	}
	return b.String()
}

func TestParseBindingsProblems(t *testing.T) {
	text := "# header\n\nmpatha W0  # comment\nmpatha W0\nmpathb\nmpathc W1 extra\nmpatha W5\nmpathd W0\n   \nmpathe W2\n"
	tb, err := ParseBindings([]byte(text))
	if err == nil {
		t.Fatal("no error for malformed lines")
	}
	var le *LineError
	if !errors.As(err, &le) || le.Line != 5 {
		t.Errorf("first problem: %v", err)
	}
	for _, want := range []string{"line 5:", "line 6:", "line 7: alias already bound to W0", "line 8: WWID already bound to mpatha"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "line 4") {
		t.Errorf("an exact duplicate is not a problem: %v", err)
	}
	if tb.Len() != 2 {
		t.Errorf("kept %d bindings, want 2: %v", tb.Len(), tb.Bindings())
	}
	if a, _ := tb.Alias("W2"); a != "mpathe" {
		t.Errorf("W2 -> %q", a)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	tb := table(t, "mpathaa W27\nmpathz W26\nmpatha W1\nfoo W0\n")
	out := tb.Format()
	if !strings.HasPrefix(string(out), "#") {
		t.Error("no header comment")
	}
	body := string(out[strings.LastIndex(string(out), "#\n")+2:])
	if want := "foo W0\nmpatha W1\nmpathz W26\nmpathaa W27\n"; body != want {
		t.Errorf("body:\n%s\nwant:\n%s", body, want)
	}
	back := table(t, string(out))
	if fmt.Sprint(back.Bindings()) != fmt.Sprint(tb.Bindings()) {
		t.Error("round trip changed the table")
	}
}

func TestFileAlias(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etc", "multipath", "bindings")
	f, warn, err := Open(path, false)
	if err != nil || warn != nil {
		t.Fatalf("Open missing file: %v %v", warn, err)
	}
	for i, w := range []string{"W0", "W1", "W0"} {
		a, err := f.Alias(Request{WWID: w, Prefix: "mpath"})
		if want := []string{"mpatha", "mpathb", "mpatha"}[i]; err != nil || a != want {
			t.Fatalf("Alias(%s) = %q, %v; want %q", w, a, err, want)
		}
	}
	data, _ := os.ReadFile(path)
	if !strings.HasSuffix(string(data), "mpatha W0\nmpathb W1\n") {
		t.Errorf("file content:\n%s", data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	// An outside edit made after Open is not overwritten.
	os.WriteFile(path, append(data, "mpathc W7\n"...), 0o600)
	if a, err := f.Alias(Request{WWID: "W8", Prefix: "mpath"}); err != nil || a != "mpathd" {
		t.Errorf("after outside edit: %q, %v", a, err)
	}
	data, _ = os.ReadFile(path)
	if !strings.Contains(string(data), "mpathc W7\n") {
		t.Errorf("outside binding lost:\n%s", data)
	}
	// A second reader sees the same bindings.
	g, _, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := g.Lookup("W8"); !ok || a != "mpathd" {
		t.Errorf("reopened: %q %v", a, ok)
	}
	// Read-only: existing bindings are served, none are added.
	if a, err := g.Alias(Request{WWID: "W1", Prefix: "mpath"}); a != "mpathb" || err != nil {
		t.Errorf("read-only existing: %q %v", a, err)
	}
	if a, err := g.Alias(Request{WWID: "W99", Prefix: "mpath"}); a != "" || err != nil {
		t.Errorf("read-only new: %q %v", a, err)
	}
}

func TestFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bindings")
	f, _, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	const n = 30
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, err := f.Alias(Request{WWID: fmt.Sprintf("W%d", i), Prefix: "mpath"})
			if err != nil {
				t.Error(err)
			}
			got[i] = a
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, a := range got {
		if seen[a] {
			t.Errorf("alias %s handed out twice", a)
		}
		seen[a] = true
	}
	for id := 1; id <= n; id++ {
		if !seen["mpath"+EncodeID(id)] {
			t.Errorf("mpath%s not allocated: ids must be dense", EncodeID(id))
		}
	}
	g, warn, err := Open(path, true)
	if err != nil || warn != nil || len(g.Bindings()) != n {
		t.Errorf("file after concurrent allocation: %d bindings, %v %v", len(g.Bindings()), warn, err)
	}
}

func TestFileWriteError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "multipath")
	f, _, err := Open(filepath.Join(dir, "bindings"), false)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	// The directory turns into a regular file: writing must fail and no
	// alias may be handed out.
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if a, err := f.Alias(Request{WWID: "W0", Prefix: "mpath"}); err == nil || a != "" {
		t.Errorf("Alias = %q, %v; want an error", a, err)
	}
	if _, ok := f.Lookup("W0"); ok {
		t.Error("a binding that was not written is remembered")
	}
}

func FuzzParseBindings(f *testing.F) {
	f.Add([]byte("# c\nmpatha W0\nmpathb W1 # x\n"))
	f.Add([]byte("mpatha\nmpatha W0 W1\nmpatha W2\nmpathb W2\n\x00\t \n"))
	f.Add([]byte(seq(30)))
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, _ := ParseBindings(data)
		out := tb.Format()
		back, err := ParseBindings(out)
		if err != nil {
			t.Fatalf("formatted table does not parse: %v", err)
		}
		if !slices.Equal(back.Bindings(), tb.Bindings()) {
			t.Fatalf("round trip changed the bindings:\n%v\n%v", tb.Bindings(), back.Bindings())
		}
		if again := back.Format(); !bytes.Equal(again, out) {
			t.Fatalf("Format is not stable:\n%s\n%s", out, again)
		}
		alias, isNew, err := tb.Select(Request{WWID: "WNEW", Prefix: "mpath"})
		if err == nil && isNew {
			if _, bound := tb.WWID(alias); bound {
				t.Fatalf("allocated %s, which is bound", alias)
			}
		}
	})
}

func TestName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bindings")
	os.WriteFile(path, []byte("mpatha W1\n"), 0o600)
	f, _, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		r            NameRequest
		name, source string
	}{
		{NameRequest{Request: Request{WWID: "W1", Prefix: "mpath"}, ConfigAlias: "db", UserFriendly: true}, "db", NameFromConfig},
		{NameRequest{Request: Request{WWID: "W1", Prefix: "mpath"}, UserFriendly: true}, "mpatha", NameFromBindings},
		{NameRequest{Request: Request{WWID: "W2", Prefix: "mpath"}, UserFriendly: true}, "mpathb", NameFromBindings},
		{NameRequest{Request: Request{WWID: "W1", Prefix: "mpath"}}, "W1", NameFromWWID},
		{NameRequest{Request: Request{WWID: "W1", Prefix: "mpath", InUse: func(string) bool { return true }}, UserFriendly: true}, "W1", NameFromWWID},
	}
	for i, tt := range tests {
		name, source, _ := f.Name(tt.r)
		if name != tt.name || source != tt.source {
			t.Errorf("%d: %q from %s, want %q from %s", i, name, source, tt.name, tt.source)
		}
	}
	var none *File
	if name, _, err := none.Name(NameRequest{Request: Request{WWID: "W3"}, UserFriendly: true}); name != "W3" || err == nil {
		t.Errorf("nil file: %q %v", name, err)
	}
}
