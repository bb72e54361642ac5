package prkeys

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseKeyFlags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Key
		bad  bool
	}{
		{in: "0x1234", want: Key{Key: 0x1234}},
		{in: "0X1234", want: Key{Key: 0x1234}},
		{in: "1234", want: Key{Key: 0x1234}},
		{in: "0xabcdef0123456789:aptpl", want: Key{Key: 0xabcdef0123456789, APTPL: true}},
		{in: "0x0", want: Key{}},
		{in: "0x", bad: true},
		{in: "0x12345678901234567", bad: true},
		{in: "0xfoo", bad: true},
		{in: "0x12:apt", bad: true},
		{in: "", bad: true},
		{in: "0x-1", bad: true},
	} {
		got, err := ParseKeyFlags(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseKeyFlags(%q) = %+v, %v; want %+v, bad %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
	if s := (Key{Key: 0xabc, APTPL: true}).String(); s != "0xabc:aptpl" {
		t.Errorf("String = %q", s)
	}
}

func TestParse(t *testing.T) {
	data := header + "0x0000000000001234 3600a0b8000000001\n" +
		"  # comment\n\n" +
		"0X00000000000000ff 3600a0b8000000002\n" +
		"0x0000000000000001 3600a0b8000000001\n" + // a second line for a WWID: the first counts
		"junk\n" +
		"0xzz 3600a0b8000000003\n"
	got, err := Parse([]byte(data))
	want := []Entry{
		{WWID: "3600a0b8000000001", Key: Key{Key: 0x1234}},
		{WWID: "3600a0b8000000002", Key: Key{Key: 0xff, APTPL: true}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse = %+v, want %+v", got, want)
	}
	var le *LineError
	if !errors.As(err, &le) || le.Line != 13 {
		t.Fatalf("want the bad lines reported from line 13, got %v", err)
	}
	if n := strings.Count(err.Error(), "line "); n != 2 {
		t.Fatalf("want 2 bad lines, got %v", err)
	}
}

func TestFileSetGet(t *testing.T) {
	p := filepath.Join(t.TempDir(), "multipath", "prkeys")
	f := New(p)
	if _, ok, _, err := f.Get("w1"); ok || err != nil {
		t.Fatalf("missing file: ok %v err %v", ok, err)
	}
	if err := f.Set("w1", Key{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("removing a key from no file created it: %v", err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.Set("w1", Key{Key: 0x1234}))
	must(f.Set("w2", Key{Key: 0xabcdef, APTPL: true}))
	must(f.Set("w1", Key{Key: 0x99}))
	data, err := os.ReadFile(p)
	must(err)
	want := header + "0X0000000000abcdef w2\n0x0000000000000099 w1\n"
	if string(data) != want {
		t.Fatalf("file:\n%s\nwant:\n%s", data, want)
	}
	if k, ok, warn, err := f.Get("w2"); !ok || warn != nil || err != nil || k != (Key{Key: 0xabcdef, APTPL: true}) {
		t.Fatalf("Get w2 = %+v %v %v %v", k, ok, warn, err)
	}
	must(f.Set("w2", Key{}))
	if _, ok, _, _ := f.Get("w2"); ok {
		t.Fatal("w2 still has a key after removal")
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
	if err := f.Set("w 3", Key{Key: 1}); err == nil {
		t.Fatal("a WWID with a space was accepted")
	}
}

// FuzzParse checks that parsing never panics and that what it reads is
// written back and read again to the same entries.
func FuzzParse(f *testing.F) {
	f.Add([]byte(header + "0x0000000000001234 3600a0b8000000001\n0X00000000000000ff w2\n"))
	f.Add([]byte("0x1 a\n0x2 a\n#x\n bad line here\n"))
	f.Add([]byte("0X 1\n\r\n0xffffffffffffffff\tw\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, _ := Parse(data)
		again, err := Parse(Format(entries))
		if err != nil {
			t.Fatalf("rendered file does not parse: %v\n%s", err, Format(entries))
		}
		if len(entries) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(entries, again) {
			t.Fatalf("round trip: %+v != %+v", entries, again)
		}
	})
}
