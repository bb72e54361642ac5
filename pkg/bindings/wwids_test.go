package bindings

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestParseWWIDs(t *testing.T) {
	text := "# Multipath wwids, Version : 1.0\n#\n/3600a0980/\n  /36001405abc/  # trailing comment\n/3600a0980/\nbad\n/open\n//\n/a b/\n/x/y\n\n/W2/"
	got, err := ParseWWIDs([]byte(text))
	if want := []string{"3600a0980", "36001405abc", "W2"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if err == nil {
		t.Fatal("no error for malformed lines")
	}
	for _, want := range []string{"line 6: want /WWID/", "line 7: missing closing", "line 8: empty WWID", "line 9: WWID contains whitespace", "line 10: text after"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestWWIDsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multipath", "wwids")
	f := NewWWIDs(path)
	if ok, err := f.Contains("W1"); ok || err != nil {
		t.Fatalf("missing file: %v %v", ok, err)
	}
	for _, w := range []string{"W1", "W2", "W1"} {
		if _, err := f.Add(w); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "#") || !strings.HasSuffix(string(data), "\n/W1/\n/W2/\n") {
		t.Errorf("file:\n%s", data)
	}
	if ok, _ := f.Contains("W2"); !ok {
		t.Error("W2 not found")
	}
	// An outside edit without a final newline is appended to cleanly.
	os.WriteFile(path, append(data, "/W3/"...), 0o644)
	if added, err := f.Add("W4"); !added || err != nil {
		t.Fatalf("Add W4: %v %v", added, err)
	}
	list, warn, err := f.List()
	if err != nil || warn != nil || !slices.Equal(list, []string{"W1", "W2", "W3", "W4"}) {
		t.Errorf("List = %q, %v, %v", list, warn, err)
	}
	if removed, err := f.Remove("W2"); !removed || err != nil {
		t.Fatalf("Remove: %v %v", removed, err)
	}
	if removed, _ := f.Remove("W2"); removed {
		t.Error("second Remove changed the file")
	}
	list, _, _ = f.List()
	if !slices.Equal(list, []string{"W1", "W3", "W4"}) {
		t.Errorf("after Remove: %q", list)
	}
	data, _ = os.ReadFile(path)
	if !strings.HasPrefix(string(data), "#") {
		t.Error("Remove dropped the comments")
	}
	if _, err := f.Add("bad wwid"); err == nil {
		t.Error("Add accepted a WWID with a blank")
	}
}

func TestWWIDsConcurrentAdd(t *testing.T) {
	f := NewWWIDs(filepath.Join(t.TempDir(), "wwids"))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := f.Add("SAME"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	list, _, _ := f.List()
	if !slices.Equal(list, []string{"SAME"}) {
		t.Errorf("list %q", list)
	}
	data, _ := os.ReadFile(filepath.Join(filepath.Dir(f.path), "wwids"))
	if n := strings.Count(string(data), "/SAME/"); n != 1 {
		t.Errorf("%d lines for one WWID", n)
	}
}

func FuzzParseWWIDs(f *testing.F) {
	f.Add([]byte("# c\n/3600a0980/\n/x/ # y\n"))
	f.Add([]byte("bad\n//\n/a b/\n/x/y\n/\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, _ := ParseWWIDs(data)
		var b strings.Builder
		for _, w := range list {
			b.WriteString("/" + w + "/\n")
		}
		back, err := ParseWWIDs([]byte(b.String()))
		if err != nil || !slices.Equal(back, list) {
			t.Fatalf("re-parse of %q: %q, %v", list, back, err)
		}
	})
}
