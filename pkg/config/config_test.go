package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse([]byte(text), "test.toml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestBuiltinDefaults(t *testing.T) {
	r := Builtin().Resolve("3600", "Linux", "scsi_debug", "")
	want := builtinSettings()
	want.MaxPollingInterval = 20
	if !reflect.DeepEqual(r.Settings, want) {
		t.Errorf("built-in settings:\n got %+v\nwant %+v", r.Settings, want)
	}
	for _, e := range r.Explain() {
		if !strings.HasPrefix(e.Origin, OriginBuiltin) {
			t.Errorf("%s: origin %q, want built-in (scsi_debug is not in the hardware table)", e.Key, e.Origin)
		}
	}
	checks := []struct {
		got, want any
	}{
		{r.PathSelector, "service-time 0"},
		{r.Failback, Failback{Mode: FailbackManual}},
		{r.NoPathRetry, NoPathRetry{Mode: RetryFail}},
		{r.PathChecker, "tur"},
		{r.DetectPrio, true},
		{r.PollingInterval, 5},
		{r.MaxPollingInterval, 20},
		{r.UserFriendlyNames, false},
		{r.AliasPrefix, "mpath"},
		{r.FindMultipaths, FindOn},
		{r.PathGroupingPolicy, Failover},
		{r.FlushOnLastDel, FlushUnused},
	}
	for i, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("check %d: got %v, want %v", i, c.got, c.want)
		}
	}
}

func TestPrecedenceAndOrigin(t *testing.T) {
	c := mustParse(t, `
[defaults]
polling_interval = 10
failback = "followover"
no_path_retry = 3
path_checker = "directio"

[overrides]
no_path_retry = "queue"

[[devices]]
vendor = "NETAPP"
product = "LUN"
failback = 30

[[devices]]
vendor = "NET.*"
product = ".*"
prio = "alua"

[[multipaths]]
wwid = "3600a0980"
alias = "db"
no_path_retry = "fail"
`)
	r := c.Resolve("3600a0980", "NETAPP", "LUN", "")
	tests := []struct {
		key    string
		got    any
		want   any
		origin string
	}{
		{"no_path_retry", r.NoPathRetry, NoPathRetry{Mode: RetryFail}, "multipaths[wwid=3600a0980]"},
		{"failback", r.Failback, Failback{Mode: FailbackDeferred, Ticks: 30}, "devices[vendor=NETAPP,product=LUN] (config)"},
		{"prio", r.Prio, "alua", "devices[vendor=NET.*,product=.*] (config)"},
		{"features", r.Features, "2 pg_init_retries 50", "devices[vendor=NETAPP,product=LUN] (built-in)"},
		{"path_checker", r.PathChecker, "directio", "defaults"},
		{"polling_interval", r.PollingInterval, 10, "defaults"},
		{"max_polling_interval", r.MaxPollingInterval, 40, "built-in (4 × polling_interval)"},
		{"path_selector", r.PathSelector, "service-time 0", "built-in"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.key, tt.got, tt.want)
		}
		if o := r.Origin(tt.key); o != tt.origin {
			t.Errorf("%s origin = %q, want %q", tt.key, o, tt.origin)
		}
	}
	if r.Alias != "db" {
		t.Errorf("alias = %q, want db", r.Alias)
	}
	// Another WWID on the same array: overrides win over the device entries.
	r2 := c.Resolve("other", "NETAPP", "LUN", "")
	if r2.NoPathRetry.Mode != RetryQueue || r2.Origin("no_path_retry") != OriginOverrides {
		t.Errorf("no_path_retry = %v from %q, want queue from overrides", r2.NoPathRetry, r2.Origin("no_path_retry"))
	}
	if r2.Alias != "" {
		t.Errorf("alias = %q for another WWID", r2.Alias)
	}
}

func TestDeprecatedFeatures(t *testing.T) {
	c := mustParse(t, `
[defaults]
features = "3 queue_if_no_path queue_mode bio"

[[devices]]
vendor = "ACME"
product = "X"
no_path_retry = 4
queue_mode = "mq"
`)
	r := c.Resolve("w", "Linux", "scsi_debug", "")
	if r.NoPathRetry.Mode != RetryQueue || r.Origin("no_path_retry") != "features (defaults)" {
		t.Errorf("no_path_retry %v from %q", r.NoPathRetry, r.Origin("no_path_retry"))
	}
	if r.QueueMode != "bio" || r.Origin("queue_mode") != "features (defaults)" {
		t.Errorf("queue_mode %q from %q", r.QueueMode, r.Origin("queue_mode"))
	}
	r = c.Resolve("w", "ACME", "X", "")
	if r.NoPathRetry.Count != 4 || r.QueueMode != "mq" {
		t.Errorf("keywords must beat feature words: %v %q", r.NoPathRetry, r.QueueMode)
	}
}

func TestProtocolOverrides(t *testing.T) {
	c := mustParse(t, `
[defaults]
dev_loss_tmo = 120

[overrides]
fast_io_fail_tmo = 15

[[overrides.protocol]]
type = "scsi:iscsi"
fast_io_fail_tmo = "off"

[[overrides.protocol]]
type = "scsi:fcp"
dev_loss_tmo = "infinity"
eh_deadline = 20

[[overrides.protocol]]
type = "scsi:iscsi"
dev_loss_tmo = 30
`)
	r := c.Resolve("w", "Linux", "scsi_debug", "")
	tests := []struct {
		proto string
		want  Timeouts
	}{
		{"scsi:iscsi", Timeouts{TmoOff, 30, TmoUnset, "overrides.protocol[type=scsi:iscsi]", "overrides.protocol[type=scsi:iscsi]", "built-in"}},
		{"scsi:fcp", Timeouts{15, TmoInfinity, 20, "overrides", "overrides.protocol[type=scsi:fcp]", "overrides.protocol[type=scsi:fcp]"}},
		{"scsi:sas", Timeouts{15, 120, TmoUnset, "overrides", "defaults", "built-in"}},
	}
	for _, tt := range tests {
		if got := r.Timeouts(tt.proto); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.proto, got, tt.want)
		}
	}
	var buf bytes.Buffer
	c.Dump(&buf)
	c2, err := Parse(buf.Bytes(), "dump")
	if err != nil {
		t.Fatalf("dump: %v\n%s", err, buf.String())
	}
	if got := c2.Resolve("w", "Linux", "scsi_debug", "").Timeouts("scsi:iscsi"); got != tests[0].want {
		t.Errorf("after round trip: %+v", got)
	}
	_, err = Parse([]byte("[overrides]\n[[overrides.protocol]]\ntype = \"scsi:fc\"\nprio = \"alua\"\n"), "test.toml")
	if err == nil || !strings.Contains(err.Error(), "test.toml:3: overrides.protocol[0].type: unknown protocol") ||
		!strings.Contains(err.Error(), "test.toml:4: overrides.protocol[0].prio: unknown key") {
		t.Errorf("errors: %v", err)
	}
}

func TestMultipathsMerge(t *testing.T) {
	c := mustParse(t, `
[[multipaths]]
wwid = "W1"
alias = "a"
failback = "immediate"

[[multipaths]]
wwid = "W1"
no_path_retry = 5
`)
	r := c.Resolve("W1", "", "", "")
	if r.Alias != "a" || r.Failback.Mode != FailbackImmediate || r.NoPathRetry.Count != 5 {
		t.Errorf("merged entry: alias %q failback %v no_path_retry %v", r.Alias, r.Failback, r.NoPathRetry)
	}
}

// TestPartitionKeywords: partition_delimiter is daemon-wide (built-in "-part", kpartx's rules'
// names; "" is allowed), skip_kpartx is per map.
func TestPartitionKeywords(t *testing.T) {
	if g := mustParse(t, "").Global(); g.PartitionDelimiter != "-part" || g.SkipKpartx {
		t.Errorf("built-in: partition_delimiter %q skip_kpartx %v, want \"-part\" false", g.PartitionDelimiter, g.SkipKpartx)
	}
	c := mustParse(t, `
[defaults]
partition_delimiter = ""

[[devices]]
vendor = "V"
product = "P"
skip_kpartx = true

[[multipaths]]
wwid = "W1"
skip_kpartx = false
`)
	if g := c.Global(); g.PartitionDelimiter != "" {
		t.Errorf("partition_delimiter %q, want empty", g.PartitionDelimiter)
	}
	if !c.Resolve("W2", "V", "P", "").SkipKpartx || c.Resolve("W1", "V", "P", "").SkipKpartx {
		t.Errorf("skip_kpartx: device entry or multipaths entry not applied")
	}
	if _, err := Parse([]byte("[defaults]\npartition_delimiter = \"a/b\"\n"), "t.toml"); err == nil {
		t.Errorf("partition_delimiter with a slash accepted")
	}
	if _, err := Parse([]byte("[[multipaths]]\nwwid = \"W\"\npartition_delimiter = \"p\"\n"), "t.toml"); err == nil {
		t.Errorf("partition_delimiter accepted in [[multipaths]]")
	}
}

func TestRevisionMatch(t *testing.T) {
	c := mustParse(t, `
[[devices]]
vendor = "ACME"
product = "X"
revision = "^2"
prio = "const"
`)
	if got := c.Resolve("w", "ACME", "X", "1.0").Prio; got != "" {
		t.Errorf("revision 1.0 matched: prio %q", got)
	}
	if got := c.Resolve("w", "ACME", "X", "2.1").Prio; got != "const" {
		t.Errorf("revision 2.1 did not match: prio %q", got)
	}
}

func TestStrictErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string // substrings of the error, in order
	}{
		{"unknown key", "[defaults]\npolling_interval = 5\npath_cheker = \"tur\"\n",
			[]string{`test.toml:3: defaults.path_cheker: unknown key (did you mean "path_checker"?)`}},
		{"wrong type", "[defaults]\n\npolling_interval = \"5\"\n",
			[]string{"test.toml:3: defaults.polling_interval: must be an integer, not a string"}},
		{"invalid value", "[defaults]\nfailback = \"sometimes\"\n",
			[]string{"test.toml:2: defaults.failback:", "sometimes"}},
		{"yes is not a bool", "[defaults]\nuser_friendly_names = \"yes\"\n",
			[]string{"test.toml:2: defaults.user_friendly_names: must be a boolean: write true"}},
		{"unknown section", "[default]\npolling_interval = 5\n",
			[]string{"test.toml:1: default: unknown section"}},
		{"key in wrong section", "[[multipaths]]\nwwid = \"x\"\npath_checker = \"tur\"\n",
			[]string{"test.toml:3: multipaths[0].path_checker: not allowed in [[multipaths]]"}},
		{"global key in devices", "[[devices]]\nvendor = \"A\"\nproduct = \"B\"\npolling_interval = 3\n",
			[]string{"test.toml:4: devices[0].polling_interval: not allowed in [[devices]]; only in [defaults]"}},
		{"second device entry", "[[devices]]\nvendor = \"A\"\nproduct = \"B\"\n\n[[devices]]\nvendor = \"C\"\nproduct = \"D\"\nprio = \"bogus\"\n",
			[]string{"test.toml:8: devices[1].prio: unknown prioritizer"}},
		{"missing product", "[[devices]]\nvendor = \"A\"\n",
			[]string{"test.toml:1: devices[0]: product is required"}},
		{"bad regex", "[blacklist]\ndevnode = [\"sd(\"]\n",
			[]string{"test.toml:2: blacklist.devnode: bad regular expression"}},
		{"bad blacklist key", "[blacklist]\nvendor = \"x\"\n",
			[]string{"test.toml:2: blacklist.vendor: unknown key"}},
		{"syntax", "[defaults]\npolling_interval = = 5\n",
			[]string{"test.toml:2:"}},
		{"features count", "[defaults]\nfeatures = \"2 queue_if_no_path\"\n",
			[]string{"test.toml:2: defaults.features:", "count"}},
		{"selector", "[defaults]\npath_selector = \"fastest 0\"\n",
			[]string{"test.toml:2: defaults.path_selector: unknown path selector"}},
		{"max below polling", "[defaults]\npolling_interval = 10\nmax_polling_interval = 5\n",
			[]string{"test.toml:3: defaults.max_polling_interval: 5 is below polling_interval 10"}},
		{"duplicate alias", "[[multipaths]]\nwwid = \"A\"\nalias = \"x\"\n[[multipaths]]\nwwid = \"B\"\nalias = \"x\"\n",
			[]string{"test.toml:6: multipaths[1].alias: alias \"x\" is already given to WWID A"}},
		{"smart unsupported", "[defaults]\nfind_multipaths = \"smart\"\n",
			[]string{"test.toml:2: defaults.find_multipaths: \"smart\" is not one of off, greedy, on, strict"}},
		{"duration", "[defaults]\nstats_interval = 1\n",
			[]string{"test.toml:2: defaults.stats_interval: must be a duration string"}},
		{"inline table key", "[defaults]\npolling_interval = 5\n\n[blacklist]\ndevice = [ { vendor = \"A\", bogus = 1 } ]\n",
			[]string{"test.toml:5: blacklist.device[0].bogus: unknown key"}},
		{"after a multi-line array", "[blacklist]\ndevnode = [\n  \"^a\",\n  \"^b\",\n]\n[defaults]\nx = 1\n",
			[]string{"test.toml:7: defaults.x: unknown key"}},
		{"after a multi-line string", "[defaults]\nprio_args = \"\"\"\nbogus = 1\n\"\"\"\nbogus = 2\n",
			[]string{"test.toml:5: defaults.bogus: unknown key"}},
		{"dotted key at top level", "\n\ndefaults.bogus = 1\n",
			[]string{"test.toml:3: defaults.bogus: unknown key"}},
		{"quoted key", "[defaults]\n\"bo gus\" = 1\n",
			[]string{"test.toml:2: defaults.bo gus: unknown key"}},
		{"third multipaths entry", "[[multipaths]]\nwwid = \"a\"\n[[multipaths]]\nwwid = \"b\"\n[[multipaths]]\nwwid = \"c d\"\n",
			[]string{"test.toml:6: multipaths[2].wwid:"}},
		{"several errors", "[defaults]\npolling_intervall = 5\nfailback = 0\n",
			[]string{"test.toml:2: defaults.polling_intervall", "test.toml:3: defaults.failback"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.text), "test.toml")
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			pos := 0
			for _, w := range tt.want {
				i := strings.Index(msg[pos:], w)
				if i < 0 {
					t.Fatalf("error %q does not contain %q (after offset %d)", msg, w, pos)
				}
				pos += i + len(w)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

func TestValueForms(t *testing.T) {
	c := mustParse(t, `
[defaults]
failback = "15"
no_path_retry = "queue"
find_multipaths = "yes"
flush_on_last_del = "no"
path_selector = "round-robin"
fast_io_fail_tmo = "off"
dev_loss_tmo = "infinity"
hardware_handler = "1 alua"
features = "3 queue_if_no_path pg_init_retries 50"
weight_hysteresis = 0
stats_half_life = "1m"
`)
	r := c.Global()
	if r.Failback != (Failback{Mode: FailbackDeferred, Ticks: 15}) || r.NoPathRetry.Mode != RetryQueue ||
		r.FindMultipaths != FindOn || r.FlushOnLastDel != FlushUnused || r.PathSelector != "round-robin 0" ||
		r.FastIOFailTmo != TmoOff || r.DevLossTmo != TmoInfinity || r.HardwareHandler != "1 alua" ||
		r.WeightHysteresis != 0 || r.StatsHalfLife != time.Minute {
		t.Errorf("unexpected values: %+v", r.Settings)
	}
}

func TestReferenceFileEqualsBuiltin(t *testing.T) {
	path := filepath.Join("..", "..", "configs", "mpathd.toml")
	c, err := Load(path)
	if err != nil {
		t.Fatalf("reference file: %v", err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("reference file warnings: %v", c.Warnings)
	}
	for _, dev := range [][2]string{{"Linux", "scsi_debug"}, {"NETAPP", "LUN"}, {"PURE", "FlashArray"}, {"", ""}} {
		got := c.Resolve("w", dev[0], dev[1], "").Settings
		want := Builtin().Resolve("w", dev[0], dev[1], "").Settings
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v: reference file resolves to\n%+v\nbuilt-in is\n%+v", dev, got, want)
		}
	}
	// Every keyword is documented in the reference file.
	data, _ := os.ReadFile(path)
	for _, k := range Keywords() {
		if !bytes.Contains(data, []byte(k+" =")) {
			t.Errorf("keyword %s missing from the reference file", k)
		}
	}
	if len(c.Devices) != 0 || len(c.Multipaths) != 0 || !reflect.DeepEqual(c.Blacklist, FilterList{}) ||
		!reflect.DeepEqual(c.BlacklistExceptions, FilterList{}) || hasAny(&c.Overrides) {
		t.Error("reference file must set only [defaults]")
	}
}

func TestLoadOptional(t *testing.T) {
	c, err := LoadOptional(filepath.Join(t.TempDir(), "missing.toml"))
	if err != nil || c.File != "" {
		t.Fatalf("missing file: %v, %v", c, err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	p := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(p, []byte("[defaults]\nbogus = 1\n"), 0o644)
	if err := Validate(p); err == nil || !strings.Contains(err.Error(), p+":2: defaults.bogus") {
		t.Errorf("Validate: %v", err)
	}
	if _, err := LoadOptional(p); err == nil {
		t.Error("LoadOptional accepted a broken file")
	}
}

func TestDumpRoundTrip(t *testing.T) {
	c := mustParse(t, `
[defaults]
polling_interval = 2
user_friendly_names = true
prio_args = "hbtl \"x\" \\d"

[blacklist]
devnode = ["^loop", "!^sd"]
wwid = "^36"
[[blacklist.device]]
vendor = "ACME"

[blacklist_exceptions]
property = ["ID_SERIAL"]

[overrides]
dev_loss_tmo = 30

[[devices]]
vendor = "ACME"
product = "Z"
product_blacklist = "GHOST"
failback = 4

[[multipaths]]
wwid = "W"
alias = "data"
rr_weight = "priorities"
`)
	var buf bytes.Buffer
	if err := c.Dump(&buf); err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(buf.Bytes(), "dump")
	if err != nil {
		t.Fatalf("dump does not parse: %v\n%s", err, buf.String())
	}
	for _, q := range []struct{ wwid, vendor, product string }{{"W", "ACME", "Z"}, {"x", "NETAPP", "LUN"}, {"x", "DGC", "RAID 5"}, {"", "", ""}} {
		a, b := c.Resolve(q.wwid, q.vendor, q.product, ""), c2.Resolve(q.wwid, q.vendor, q.product, "")
		if !reflect.DeepEqual(a.Settings, b.Settings) || a.Alias != b.Alias {
			t.Errorf("%v: round trip changed settings\n%+v\n%+v", q, a.Settings, b.Settings)
		}
	}
	for _, p := range []PathInfo{{Devnode: "loop0"}, {Devnode: "sdb", Vendor: "ACME", Product: "Q"}, {Devnode: "sdc", WWID: "36"}, {Devnode: "sdd", Vendor: "ACME", Product: "GHOST"}} {
		if a, b := c.Filter(p), c2.Filter(p); a.Blacklisted != b.Blacklisted {
			t.Errorf("%+v: blacklist verdict changed: %v vs %v", p, a, b)
		}
	}
	// Dumping the built-in configuration round-trips too.
	buf.Reset()
	Builtin().Dump(&buf)
	if _, err := Parse(buf.Bytes(), "dump"); err != nil {
		t.Fatalf("built-in dump does not parse: %v", err)
	}
}

func TestSelectGrouping(t *testing.T) {
	r := Builtin().Global()
	tests := []struct {
		g    Grouping
		want GroupingPolicy
	}{
		{Grouping{Prios: []string{"alua", "sysfs"}}, GroupByPrio},
		{Grouping{Prios: []string{"alua", "const"}}, Failover},
		{Grouping{}, Failover},
	}
	for _, tt := range tests {
		if got, _ := r.SelectGrouping(tt.g); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.g, got, tt.want)
		}
	}
	c := mustParse(t, "[defaults]\ndetect_pgpolicy_use_tpg = true\n")
	if got, _ := c.Global().SelectGrouping(Grouping{Prios: []string{"alua"}, AllHaveTPG: true}); got != GroupByTPG {
		t.Errorf("use_tpg: %s", got)
	}
	c = mustParse(t, "[defaults]\ndetect_pgpolicy = false\npath_grouping_policy = \"multibus\"\n")
	if got, origin := c.Global().SelectGrouping(Grouping{Prios: []string{"alua"}}); got != Multibus || origin != OriginDefaults {
		t.Errorf("detect off: %s from %s", got, origin)
	}
	c = mustParse(t, "[defaults]\ndetect_pgpolicy = false\npath_grouping_policy = \"group_by_tpg\"\n")
	if got, _ := c.Global().SelectGrouping(Grouping{Prios: []string{"const"}}); got != Failover {
		t.Errorf("tpg fallback: %s", got)
	}
}

func TestShouldMultipath(t *testing.T) {
	tests := []struct {
		mode           FindMultipaths
		c              Candidate
		multipath, rem bool
	}{
		{FindOn, Candidate{Paths: 1}, false, false},
		{FindOn, Candidate{Paths: 2}, true, true},
		{FindOn, Candidate{Paths: 1, InWWIDsFile: true}, true, false},
		{FindStrict, Candidate{Paths: 4}, false, false},
		{FindStrict, Candidate{Paths: 1, InWWIDsFile: true}, true, false},
		{FindGreedy, Candidate{Paths: 1}, true, true},
		{FindOff, Candidate{Paths: 1}, true, true},
		{FindStrict, Candidate{Paths: 1, MapExists: true}, true, true},
		{FindOn, Candidate{Paths: 0, MapExists: true}, true, true},
		{FindGreedy, Candidate{Paths: 0}, false, false},
	}
	for _, tt := range tests {
		d := ShouldMultipath(tt.mode, tt.c)
		if d.Multipath != tt.multipath || d.Remember != tt.rem || d.Reason == "" {
			t.Errorf("%s %+v: %+v", tt.mode, tt.c, d)
		}
	}
}

func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("[defaults]\npolling_interval = 5\nfailback = \"immediate\"\n"))
	f.Add([]byte("[[devices]]\nvendor = \"A\"\nproduct = \"B\"\nno_path_retry = 4\n[[multipaths]]\nwwid = \"w\"\nalias = \"x\"\n"))
	f.Add([]byte("[blacklist]\ndevnode = [\"!^sd\"]\n[[blacklist.device]]\nvendor = \"(\"\n"))
	f.Add([]byte("a = \"\"\"\nx = 1\n\"\"\"\n[b]\nc = [\n 1,\n 2]\n"))
	f.Add([]byte("[defaults]\nmetrics_listen = \"[::1]:9588\"\nmetrics_load = true\n"))
	if data, err := os.ReadFile(filepath.Join("..", "..", "configs", "mpathd.toml")); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.toml")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := c.Dump(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := Parse(buf.Bytes(), "dump")
		if err != nil {
			t.Fatalf("dump of a valid config does not parse: %v\n%s", err, buf.String())
		}
		// The dump promises the same effective settings: compare what both resolve and filter to
		// for the maps and devices the file names, and for ones it does not.
		for _, p := range configProbes(c) {
			want, got := c.Resolve(p.WWID, p.Vendor, p.Product, "r"), back.Resolve(p.WWID, p.Vendor, p.Product, "r")
			if !reflect.DeepEqual(want.Settings, got.Settings) || want.Alias != got.Alias {
				t.Fatalf("%+v resolves differently after Dump:\n%+v\n%+v\ndump:\n%s", p, want, got, buf.String())
			}
			for _, proto := range append([]string{"scsi:fcp", "scsi:iscsi", "scsi:sas"}, protocolTypes(c)...) {
				// The origins differ by design: a dumped built-in entry comes back as the file's.
				if a, b := want.Timeouts(proto), got.Timeouts(proto); a.FastIOFail != b.FastIOFail || a.DevLoss != b.DevLoss {
					t.Fatalf("%+v %s timeouts differ after Dump: %+v, %+v", p, proto, a, b)
				}
			}
			if a, b := c.Filter(p), back.Filter(p); !reflect.DeepEqual(a, b) {
				t.Fatalf("%+v filtered differently after Dump: %+v, %+v\ndump:\n%s", p, a, b, buf.String())
			}
		}
		c.Resolve("w", "v", "p", "r").Explain()
	})
}

// configProbes are the paths FuzzLoadConfig resolves and filters: one per [[multipaths]] entry, per
// [[devices]] entry and per filter entry of c (with the regexes' own text as the device strings),
// and some that nothing in c names.
func configProbes(c *Config) []PathInfo {
	props := []string{"ID_SERIAL", "ID_WWN"}
	ps := []PathInfo{{Devnode: "sda", Vendor: "v", Product: "p", WWID: "w", Properties: props, UIDAttribute: "ID_SERIAL"},
		{Devnode: "sdb", Vendor: "NETAPP", Product: "LUN", WWID: "3600a098038303053453f463045727a37", Protocol: "scsi:fcp", Properties: props, UIDAttribute: "ID_SERIAL"},
		{Devnode: "dm-0"}, {}}
	for _, m := range c.Multipaths {
		ps = append(ps, PathInfo{Devnode: "sdc", WWID: m.WWID, Properties: props, UIDAttribute: "ID_SERIAL"})
	}
	for _, d := range c.Devices {
		ps = append(ps, PathInfo{Devnode: "sdd", Vendor: d.Vendor, Product: d.Product, WWID: "w", Protocol: "scsi:iscsi"},
			PathInfo{Devnode: "sdd", Vendor: d.Vendor, Product: d.ProductBlacklist, WWID: "w"})
	}
	for _, fl := range []FilterList{c.Blacklist, c.BlacklistExceptions} {
		for _, s := range fl.Devnode {
			ps = append(ps, PathInfo{Devnode: s, WWID: "w"})
		}
		for _, s := range fl.WWID {
			ps = append(ps, PathInfo{Devnode: "sde", WWID: s})
		}
		for _, s := range fl.Property {
			ps = append(ps, PathInfo{Devnode: "sde", WWID: "w", Properties: []string{s}, UIDAttribute: "ID_SERIAL"})
		}
		for _, s := range fl.Protocol {
			ps = append(ps, PathInfo{Devnode: "sde", WWID: "w", Protocol: s})
		}
		for _, d := range fl.Device {
			ps = append(ps, PathInfo{Devnode: "sde", WWID: "w", Vendor: d.Vendor, Product: d.Product})
		}
	}
	return ps
}

func protocolTypes(c *Config) []string {
	var ts []string
	for _, po := range c.ProtocolOverrides {
		ts = append(ts, po.Type)
	}
	return ts
}

func BenchmarkResolve(b *testing.B) {
	c, err := Parse([]byte("[defaults]\nuser_friendly_names = true\n[[devices]]\nvendor = \"ACME\"\nproduct = \"X\"\nfailback = 3\n[[multipaths]]\nwwid = \"W\"\nalias = \"a\"\n"), "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Resolve("W", "NETAPP", "LUN", "")
	}
}

func BenchmarkFilter(b *testing.B) {
	c := Builtin()
	p := PathInfo{Devnode: "sdb", Vendor: "NETAPP", Product: "LUN", Protocol: "scsi:fcp", WWID: "3600a0980", Properties: []string{"DEVNAME", "ID_SERIAL", "ID_WWN", "SUBSYSTEM"}, UIDAttribute: "ID_SERIAL"}
	b.ReportAllocs()
	for b.Loop() {
		c.Filter(p)
	}
}

func TestReservationKeyTOML(t *testing.T) {
	c, err := Parse([]byte(`[defaults]
reservation_key = "0xABC:aptpl"
prkeys_file = "/var/lib/mpathd/prkeys"
[[devices]]
vendor = "LIO-ORG"
product = ".*"
all_tg_pt = true
[overrides]
reservation_key = "file"
[[multipaths]]
wwid = "w1"
reservation_key = "0x0"
`), "pr.toml")
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Global(); g.PRKeysFile != "/var/lib/mpathd/prkeys" {
		t.Errorf("prkeys_file %q", g.PRKeysFile)
	}
	r := c.Resolve("w2", "LIO-ORG", "x", "")
	if r.ReservationKey != (ReservationKey{Source: PRKeyFile}) || !r.AllTgPt || r.Origin("reservation_key") != "overrides" {
		t.Errorf("w2: %+v %v %s", r.ReservationKey, r.AllTgPt, r.Origin("reservation_key"))
	}
	if r := c.Resolve("w1", "ACME", "x", ""); r.ReservationKey != (ReservationKey{Source: PRKeyConfig}) || r.AllTgPt {
		t.Errorf("w1: %+v %v", r.ReservationKey, r.AllTgPt)
	}
	var b bytes.Buffer
	c.Export(&b)
	c2, err := Parse(b.Bytes(), "export.toml")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, b.String())
	}
	if r2 := c2.Resolve("w2", "LIO-ORG", "x", ""); r2.Settings != r.Settings {
		t.Errorf("export changes w2")
	}
	for _, bad := range []string{`reservation_key = "0x12345678901234567"`, `reservation_key = "files"`, `reservation_key = "0x1:apt"`,
		`reservation_key = 12`, `prkeys_file = "prkeys"`} {
		if _, err := Parse([]byte("[defaults]\n"+bad+"\n"), "bad.toml"); err == nil || !strings.Contains(err.Error(), "bad.toml:2") {
			t.Errorf("%s: error %v, want one naming bad.toml:2", bad, err)
		}
	}
}

func TestReservationKeyExplained(t *testing.T) {
	c, err := Parse([]byte("[overrides]\nreservation_key = \"0x1a:aptpl\"\nall_tg_pt = true\n"), "x.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Setting{
		"reservation_key": {Key: "reservation_key", Value: `"0x1a:aptpl"`, Origin: "overrides"},
		"all_tg_pt":       {Key: "all_tg_pt", Value: "true", Origin: "overrides"},
		"prkeys_file":     {Key: "prkeys_file", Value: `"/etc/multipath/prkeys"`, Origin: OriginBuiltin},
	}
	for _, s := range c.Resolve("w", "V", "P", "").Explain() {
		if w, ok := want[s.Key]; ok {
			if s != w {
				t.Errorf("explain %s = %+v, want %+v", s.Key, s, w)
			}
			delete(want, s.Key)
		}
	}
	if len(want) != 0 {
		t.Errorf("not explained: %v", want)
	}
	// Without a key, explain shows none.
	for _, s := range Builtin().Resolve("w", "V", "P", "").Explain() {
		if s.Key == "reservation_key" && (s.Value != "" || s.Origin != OriginBuiltin) {
			t.Errorf("built-in reservation_key %+v", s)
		}
	}
}

// uid_attribute: ID_SERIAL built in, set per [defaults], [overrides] and
// [[devices]] (not [[multipaths]]: the WWID is not known before it is read),
// "" allowed, anything that is not a udev property name refused.
func TestUIDAttribute(t *testing.T) {
	if got := mustParse(t, "").UIDAttribute("V", "P", ""); got != "ID_SERIAL" {
		t.Errorf("built-in uid_attribute %q, want ID_SERIAL", got)
	}
	c := mustParse(t, `
[defaults]
uid_attribute = "SCSI_IDENT_LUN_NAA_REG"

[[devices]]
vendor = "V"
product = "P"
uid_attribute = ""
`)
	if got := c.UIDAttribute("V", "P", ""); got != "" {
		t.Errorf("device entry: uid_attribute %q, want empty", got)
	}
	if got := c.UIDAttribute("W", "Q", ""); got != "SCSI_IDENT_LUN_NAA_REG" {
		t.Errorf("defaults: uid_attribute %q", got)
	}
	if got := mustParse(t, "[overrides]\nuid_attribute = \"ID_WWN\"\n").UIDAttribute("NVME", "x", ""); got != "ID_WWN" {
		t.Errorf("overrides: uid_attribute %q", got)
	}
	for _, bad := range []string{
		"[defaults]\nuid_attribute = \"ID SERIAL\"\n",
		"[defaults]\nuid_attribute = 3\n",
		"[[multipaths]]\nwwid = \"W\"\nuid_attribute = \"ID_WWN\"\n",
	} {
		if _, err := Parse([]byte(bad), "t.toml"); err == nil {
			t.Errorf("accepted: %q", bad)
		}
	}
}
