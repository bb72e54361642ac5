package dm

import (
	"strings"
	"testing"
)

// Tables from the references: KI §2.8 (examples 1 and 2), KI §5.6, the
// GE §4.2 probe on kernel 6.1, and MT §1.5. Each loaded string is paired with
// what the kernel prints back (canonical form, trailing space).
var tableExamples = []struct {
	name, load, readback string
}{
	{
		name:     "KI 2.8 example 1 alua service-time",
		load:     "3 queue_if_no_path pg_init_retries 50 1 alua 2 1 service-time 0 2 2 8:16 1 1 8:48 1 1 service-time 0 2 2 8:32 1 1 8:64 1 1",
		readback: "3 queue_if_no_path pg_init_retries 50 1 alua 2 1 service-time 0 2 2 8:16 1 1 8:48 1 1 service-time 0 2 2 8:32 1 1 8:64 1 1 ",
	},
	{
		name:     "KI 2.8 example 2 round-robin initial pg 2",
		load:     "0 0 2 2 round-robin 0 2 1 8:16 1 8:48 1 round-robin 0 2 1 8:32 1 8:64 1",
		readback: "0 0 2 2 round-robin 0 2 1 8:16 1 8:48 1 round-robin 0 2 1 8:32 1 8:64 1 ",
	},
	{
		name:     "KI 5.6 scsi_debug recipe",
		load:     "1 queue_if_no_path 0 2 1 round-robin 0 1 1 8:16 1 round-robin 0 1 1 8:80 1",
		readback: "1 queue_if_no_path 0 2 1 round-robin 0 1 1 8:16 1 round-robin 0 1 1 8:80 1 ",
	},
	{
		name:     "GE 4.2 probe service-time",
		load:     "0 0 1 1 service-time 0 2 2 8:0 1 1 8:16 1 1",
		readback: "0 0 1 1 service-time 0 2 2 8:0 1 1 8:16 1 1 ",
	},
	{
		name:     "MT 1.5 service-time with repeat_count only",
		load:     "1 queue_if_no_path 1 alua 2 1 service-time 0 2 1 8:16 1 8:48 1 service-time 0 2 1 8:32 1 8:64 1",
		readback: "1 queue_if_no_path 1 alua 2 1 service-time 0 2 2 8:16 1 1 8:48 1 1 service-time 0 2 2 8:32 1 1 8:64 1 1 ",
	},
	{
		name:     "bio mode implies retain",
		load:     "2 queue_mode bio 0 1 1 round-robin 0 1 0 8:16",
		readback: "3 retain_attached_hw_handler queue_mode bio 0 1 1 round-robin 0 1 1 8:16 1 ",
	},
	{
		name:     "explicit mq vanishes, handler args dropped, repeat_count forced",
		load:     "3 queue_if_no_path queue_mode mq 3 rdac x y 1 1 queue-length 0 2 1 8:16 128 8:32 128",
		readback: "1 queue_if_no_path 1 rdac 1 1 queue-length 0 2 1 8:16 1 8:32 1 ",
	},
	{
		name:     "all features in canonical order",
		load:     "6 pg_init_delay_msecs 0 retain_attached_hw_handler pg_init_retries 3 queue_if_no_path 0 1 1 round-robin 0 1 1 8:16 1",
		readback: "6 queue_if_no_path pg_init_retries 3 pg_init_delay_msecs 0 retain_attached_hw_handler 0 1 1 round-robin 0 1 1 8:16 1 ",
	},
	{
		name:     "historical-service-time defaults",
		load:     "0 0 1 1 historical-service-time 0 2 0 8:16 8:32",
		readback: "0 0 1 1 historical-service-time 2 972 0 2 1 8:16 0 8:32 0 ",
	},
	{
		name:     "io-affinity cpumask",
		load:     "0 0 1 1 io-affinity 0 2 1 8:16 1 8:32 2",
		readback: "0 0 1 1 io-affinity 0 2 1 8:16 1 8:32 2 ",
	},
	{
		name:     "no groups",
		load:     "1 queue_if_no_path 0 0 0",
		readback: "1 queue_if_no_path 0 0 0 ",
	},
}

func TestTableExamples(t *testing.T) {
	for _, ex := range tableExamples {
		t.Run(ex.name, func(t *testing.T) {
			loaded, err := ParseTable(ex.load)
			if err != nil {
				t.Fatal(err)
			}
			// The constructor string round-trips exactly, except that
			// features are rendered in canonical order.
			want := ex.load
			if strings.HasPrefix(ex.name, "all features") {
				want = "6 queue_if_no_path pg_init_retries 3 pg_init_delay_msecs 0 retain_attached_hw_handler 0 1 1 round-robin 0 1 1 8:16 1"
			}
			if got := loaded.String(); got != want {
				t.Errorf("render:\n got %q\nwant %q", got, want)
			}
			live, err := ParseTable(ex.readback)
			if err != nil {
				t.Fatal(err)
			}
			if got := live.String() + " "; got != ex.readback {
				t.Errorf("readback render:\n got %q\nwant %q", got, ex.readback)
			}
			if got := loaded.Normalize().String() + " "; got != ex.readback {
				t.Errorf("normalised load:\n got %q\nwant %q", got, ex.readback)
			}
			if !Equivalent(loaded, live) {
				t.Errorf("Equivalent(load, readback) = false")
			}
			if !live.Normalize().Equal(live) {
				t.Errorf("readback is not a fixed point of Normalize: %q", live.Normalize().String())
			}
		})
	}
}

func TestTableEquivalentDetectsChanges(t *testing.T) {
	base := "1 queue_if_no_path 0 2 1 round-robin 0 1 1 8:16 1 round-robin 0 1 1 8:80 1"
	live, err := ParseTable(base + " ")
	if err != nil {
		t.Fatal(err)
	}
	same := []string{
		"1 queue_if_no_path 0 2 2 round-robin 0 1 1 8:16 1 round-robin 0 1 1 8:80 1", // initial pg = current pg
		"1 queue_if_no_path 0 2 1 round-robin 0 1 0 8:16 round-robin 0 1 0 8:80",     // default repeat_count
		"3 queue_if_no_path queue_mode rq 0 2 1 round-robin 0 1 1 8:16 1 round-robin 0 1 1 8:80 1",
	}
	for _, s := range same {
		d, err := ParseTable(s)
		if err != nil {
			t.Fatal(err)
		}
		if !Equivalent(d, live) {
			t.Errorf("Equivalent(%q) = false, want true", s)
		}
	}
	differ := []string{
		"0 0 2 1 round-robin 0 1 1 8:16 1 round-robin 0 1 1 8:80 1",                       // queueing off
		"1 queue_if_no_path 0 2 1 service-time 0 1 1 8:16 1 round-robin 0 1 1 8:80 1",     // selector
		"1 queue_if_no_path 0 2 1 round-robin 0 1 1 8:80 1 round-robin 0 1 1 8:16 1",      // group order
		"1 queue_if_no_path 0 1 1 round-robin 0 2 1 8:16 1 8:80 1",                        // grouping
		"1 queue_if_no_path 1 alua 2 1 round-robin 0 1 1 8:16 1 round-robin 0 1 1 8:80 1", // handler
		"1 queue_if_no_path 0 2 1 round-robin 0 1 1 8:16 1 round-robin 0 1 1 8:96 1",      // path
		"3 queue_if_no_path queue_mode bio 0 2 1 round-robin 0 1 1 8:16 1 round-robin 0 1 1 8:80 1",
	}
	for _, s := range differ {
		d, err := ParseTable(s)
		if err != nil {
			t.Fatal(err)
		}
		if Equivalent(d, live) {
			t.Errorf("Equivalent(%q) = true, want false", s)
		}
	}
}

func TestParseTableErrors(t *testing.T) {
	bad := map[string]string{
		"":                                     "missing feature count",
		"x":                                    "feature count",
		"1":                                    "features: want 1 words",
		"1 no_partitions 0 0 0":                "unknown feature",
		"1 pg_init_retries 0 0 0":              "needs an argument",
		"2 pg_init_retries x 0 0 0":            "not a number",
		"2 pg_init_retries 51 0 0 0":           "pg_init_retries 51",
		"2 queue_mode foo 0 0 0":               "queue_mode",
		"0 0 1 0 round-robin 0 1 0 8:16":       "initial_pg 0",
		"0 0 1 2 round-robin 0 1 0 8:16":       "initial_pg 2",
		"0 0 0 1":                              "initial_pg 1",
		"0 0 1 1 round-robin 0 0 0":            "no paths",
		"0 0 1 1 round-robin 0 2 1 8:16 1":     "path: want 2 words",
		"0 0 1 1 round-robin 0 1 0 8:16 extra": "trailing words",
		"0 0 2000 1":                           "priority group count",
		"0 0 1 1 round-robin 99999999999999999999 ": "selector arg count",
	}
	for in, want := range bad {
		_, err := ParseTable(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTable(%q) = %v, want error containing %q", in, err, want)
		}
	}
}

func TestTableValidate(t *testing.T) {
	bad := []struct {
		t    Table
		want string
	}{
		{Table{InitialPG: 1, Groups: []Group{{Selector: "round-robin", Paths: []Path{{Dev: "8:16", Args: []string{"1"}}, {Dev: "8:32"}}}}}, "one count per group"},
		{Table{InitialPG: 1, Groups: []Group{{Selector: "round robin", Paths: []Path{{Dev: "8:16"}}}}}, "whitespace"},
		{Table{InitialPG: 1, Groups: []Group{{Selector: "round-robin", Paths: []Path{{Dev: ""}}}}}, "empty path device"},
		{Table{HWArgs: []string{"1"}}, "without a handler"},
		{Table{Features: Features{HasPGInitDelay: true, PGInitDelayMsecs: 60001}}, "pg_init_delay_msecs"},
		{Table{InitialPG: 1, Groups: []Group{{Selector: "round-robin", Paths: []Path{{Dev: "8:16", Args: []string{""}}}}}}, "empty path arg"},
	}
	for _, c := range bad {
		_, err := c.t.MarshalText()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("MarshalText(%+v) = %v, want error containing %q", c.t, err, c.want)
		}
	}
}

func TestTableUnmarshalText(t *testing.T) {
	var tb Table
	if err := tb.UnmarshalText([]byte(tableExamples[0].load)); err != nil {
		t.Fatal(err)
	}
	if tb.HWHandler != "alua" || tb.Features.PGInitRetries != 50 || !tb.Features.QueueIfNoPath ||
		len(tb.Groups) != 2 || tb.Groups[1].Paths[1].Dev != "8:64" || tb.Groups[1].Paths[1].Args[1] != "1" {
		t.Errorf("UnmarshalText = %+v", tb)
	}
}

func FuzzParseTable(f *testing.F) {
	for _, ex := range tableExamples {
		f.Add(ex.load)
		f.Add(ex.readback)
	}
	f.Add("2 pg_init_delay_msecs 2000 1 emc 1 1 round-robin 0 1 1 /dev/sdb 1")
	f.Fuzz(func(t *testing.T, s string) {
		tb, err := ParseTable(s)
		if err != nil {
			return
		}
		// Whatever parses renders, and the rendering parses to the same table.
		out, err := tb.MarshalText()
		if err != nil {
			t.Fatalf("parsed table does not render: %v", err)
		}
		again, err := ParseTable(string(out))
		if err != nil {
			t.Fatalf("rendered table %q does not parse: %v", out, err)
		}
		if !again.Equal(tb) {
			t.Fatalf("round trip changed the table: %q -> %q", s, out)
		}
		n := tb.Normalize()
		if !n.Normalize().Equal(n) {
			t.Fatalf("Normalize is not idempotent on %q", s)
		}
		if !Equivalent(tb, n) {
			t.Fatalf("table not equivalent to its normal form: %q", s)
		}
	})
}

// With retain_attached_hw_handler the kernel prints the attached handler
// (seen on kernel 6.1 with scsi_dh_alua on scsi_debug paths), so the
// handler must not count as a difference; without it, it must.
func TestEquivalentRetainedHandler(t *testing.T) {
	for _, c := range []struct {
		desired, live string
		want          bool
	}{
		{"1 retain_attached_hw_handler 0 1 1 round-robin 0 1 1 8:0 1", "1 retain_attached_hw_handler 1 alua 1 1 round-robin 0 1 1 8:0 1 ", true},
		{"2 queue_mode bio 0 1 1 round-robin 0 1 1 8:0 1", "3 retain_attached_hw_handler queue_mode bio 1 alua 1 1 round-robin 0 1 1 8:0 1 ", true},
		{"1 retain_attached_hw_handler 1 emc 1 1 round-robin 0 1 1 8:0 1", "1 retain_attached_hw_handler 1 alua 1 1 round-robin 0 1 1 8:0 1 ", true},
		{"0 0 1 1 round-robin 0 1 1 8:0 1", "0 1 alua 1 1 round-robin 0 1 1 8:0 1 ", false},
		{"0 1 alua 1 1 round-robin 0 1 1 8:0 1", "0 0 1 1 round-robin 0 1 1 8:0 1 ", false},
	} {
		if got := Equivalent(mustTable(t, c.desired), mustTable(t, c.live)); got != c.want {
			t.Errorf("Equivalent(%q, %q) = %v, want %v", c.desired, c.live, got, c.want)
		}
	}
}

func BenchmarkParseTable(b *testing.B) {
	s := tableExamples[0].readback
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTable(s); err != nil {
			b.Fatal(err)
		}
	}
}
