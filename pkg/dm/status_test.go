package dm

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Status lines from KI §2.8 and the GE §4.2 probe on kernel 6.1.
var statusExamples = []string{
	"2 0 1 0 2 1 A 0 2 2 8:16 A 0 4096 1 8:48 A 0 0 1 E 0 2 2 8:32 A 0 0 1 8:64 A 0 0 1",
	"2 0 1 0 2 1 A 0 2 2 8:16 F 1 0 1 8:48 A 0 0 1 E 0 2 2 8:32 A 0 0 1 8:64 A 0 0 1",
	"2 0 1 0 2 2 E 0 2 2 8:16 F 1 0 1 8:48 F 1 0 1 A 0 2 2 8:32 A 0 0 1 8:64 A 0 0 1",
	"2 1 0 0 2 2 E 0 2 0 8:16 A 0 8:48 A 0 E 0 2 0 8:32 A 0 8:64 A 0",
	"2 0 0 0 2 2 E 0 2 0 8:16 A 0 8:48 A 0 A 0 2 0 8:32 A 0 8:64 A 0",
	"2 0 0 0 2 2 D 0 2 0 8:16 A 0 8:48 A 0 A 0 2 0 8:32 F 1 8:64 A 0",
	"2 1 0 0 1 1 E 0 2 2 8:0 A 0 0 1 8:16 A 0 0 1",
	"2 1 0 0 1 1 E 0 2 2 8:0 A 0 0 1 8:16 F 1 0 1",
	"2 0 0 0 1 1 A 2 972 0 2 3 8:16 A 0 1024 1 5000000 8:32 A 0 0 0 5000000",
	"2 0 0 0 0 0",
}

func TestStatusExamples(t *testing.T) {
	for _, s := range statusExamples {
		st, err := ParseStatus(s + " ") // the kernel ends with a space
		if err != nil {
			t.Fatal(err)
		}
		if got := st.String(); got != s {
			t.Errorf("round trip:\n got %q\nwant %q", got, s)
		}
	}
}

func TestStatusFields(t *testing.T) {
	st, err := ParseStatus(statusExamples[2])
	if err != nil {
		t.Fatal(err)
	}
	if st.QueueIO || st.PGInitCount != 1 || st.CurrentPG != 2 || st.ActiveGroup() != 2 {
		t.Errorf("header: %+v", st)
	}
	p, g, ok := st.Path("8:48")
	if !ok || g != 1 || !p.Failed || p.FailCount != 1 || !slices.Equal(p.Selector, []string{"0", "1"}) {
		t.Errorf("Path(8:48) = %+v, %d, %v", p, g, ok)
	}
	if _, _, ok := st.Path("8:99"); ok {
		t.Error("Path(8:99) found")
	}
	st, _ = ParseStatus(statusExamples[0])
	p, _, _ = st.Path("8:16")
	l, err := ParsePathLoad("service-time", p.Selector)
	if err != nil || l.InFlight != 4096 || l.RelativeThroughput != 1 {
		t.Errorf("ParsePathLoad = %+v, %v", l, err)
	}
	st, _ = ParseStatus(statusExamples[3])
	if !st.QueueIO || st.ActiveGroup() != 0 || st.CurrentPG != 2 {
		t.Errorf("before I/O: %+v", st)
	}
	st, _ = ParseStatus(statusExamples[5])
	if st.Groups[0].State != GroupDisabled {
		t.Errorf("group 1 state %c, want D", st.Groups[0].State)
	}
	st, _ = ParseStatus(statusExamples[8])
	p, _, _ = st.Path("8:16")
	l, err = ParsePathLoad("historical-service-time", p.Selector)
	if err != nil || l.ServiceTime != 1024 || l.InFlight != 1 || !slices.Equal(st.Groups[0].Selector, []string{"972", "0"}) {
		t.Errorf("hst = %+v, %v, group %v", l, err, st.Groups[0].Selector)
	}
}

func TestParsePathLoadErrors(t *testing.T) {
	for _, c := range []struct {
		sel   string
		words []string
	}{
		{"service-time", []string{"1"}},
		{"service-time", []string{"x", "1"}},
		{"queue-length", nil},
		{"nosuch", nil},
	} {
		if _, err := ParsePathLoad(c.sel, c.words); err == nil {
			t.Errorf("ParsePathLoad(%q, %q) succeeded", c.sel, c.words)
		}
	}
	if l, err := ParsePathLoad("round-robin", nil); err != nil || l != (PathLoad{}) {
		t.Errorf("round-robin: %+v %v", l, err)
	}
}

func TestParseStatusErrors(t *testing.T) {
	bad := map[string]string{
		"":                                  "missing feature status count",
		"2 0":                               "missing feature status",
		"2 x 0 0 0 0":                       "not a count",
		"2 0 0 0 1 1 X 0 1 0 8:16 A 0":      "not A, E or D",
		"2 0 0 0 1 1 A 0 1 0 8:16 Q 0":      "not A or F",
		"2 0 0 0 1 1 A 0 1 0 8:16 A -1":     "fail count",
		"2 0 0 0 1 1 A 0 1 1 8:16 A 0":      "missing per-path selector status",
		"2 0 0 0 1 1 A 0 1 0 8:16 A 0 junk": "trailing words",
		"2 0 0 0 5000 1":                    "priority group count",
	}
	for in, want := range bad {
		_, err := ParseStatus(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseStatus(%q) = %v, want error containing %q", in, err, want)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	for _, s := range statusExamples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStatus(s)
		if err != nil {
			return
		}
		again, err := ParseStatus(st.String())
		if err != nil {
			t.Fatalf("rendered status %q does not parse: %v", st.String(), err)
		}
		if !reflect.DeepEqual(again, st) {
			t.Fatalf("round trip changed the status: %q -> %q\n%+v\n%+v", s, st.String(), st, again)
		}
	})
}

func BenchmarkParseStatus(b *testing.B) {
	s := statusExamples[0] + " "
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseStatus(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderTable(b *testing.B) {
	tb, err := ParseTable(tableExamples[0].load)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = tb.AppendText(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTableString(b *testing.B) {
	tb, err := ParseTable(tableExamples[0].load)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = tb.String()
	}
}
