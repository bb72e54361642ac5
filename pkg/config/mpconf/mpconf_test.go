package mpconf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/config"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		line string
		want []string // quoted tokens shown as «…»
	}{
		{`keyword value`, []string{"keyword", "value"}},
		{"\t keyword\tvalue  ", []string{"keyword", "value"}},
		{`keyword "value # more"`, []string{"keyword", "«value # more»"}},
		{`keyword "value ! more"`, []string{"keyword", "«value ! more»"}},
		{`keyword value ! comment`, []string{"keyword", "value"}},
		{`keyword value#comment`, []string{"keyword", "value"}},
		{`keyword "2.5"" SSD"`, []string{"keyword", `«2.5" SSD»`}},
		{`keyword """"`, []string{"keyword", `«"»`}},
		{`keyword ""`, []string{"keyword", "«»"}},
		{`keyword "  leading"`, []string{"keyword", "«  leading»"}},
		{`devnode "!^sd[a-z]"`, []string{"devnode", "«!^sd[a-z]»"}},
		{`devnode !^sd`, []string{"devnode"}},
		{`defaults{`, []string{"defaults", "{"}},
		{`}`, []string{"}"}},
		{"# comment", nil},
		{"! comment", nil},
		{"k v\xc3\xa9w", []string{"k", "v", "w"}},
		{`vendor ab"cd"`, []string{"vendor", "ab", "«cd»"}},
	}
	for _, tt := range tests {
		toks, err := tokenize(tt.line)
		if err != nil {
			t.Errorf("%q: %v", tt.line, err)
			continue
		}
		var got []string
		for _, tk := range toks {
			if tk.quoted {
				got = append(got, "«"+tk.text+"»")
			} else {
				got = append(got, tk.text)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.line, got, tt.want)
		}
	}
	if _, err := tokenize(`keyword "open`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"unclosed section", "defaults {\n\tpolling_interval 5\n", "x.conf:1: section defaults is not closed"},
		{"stray brace", "defaults {\n}\n}\n", "x.conf:3: '}' without an open section"},
		{"missing brace", "\ndefaults\npolling_interval 5\n", "x.conf:2: defaults needs '{'"},
		{"one-line section", "defaults { polling_interval 5 }\n", "x.conf:1: unexpected"},
		{"unterminated quote", "defaults {\n\talias_prefix \"mp\n}\n", "x.conf:2: missing closing quote"},
		{"brace as keyword", "defaults {\n{\n}\n", "x.conf:2: expected a keyword"},
		{"text after close", "defaults {\n} x\n", "x.conf:2: text after '}'"},
		{"device without brace", "devices {\n\tdevice\n}\n", "x.conf:2: device needs '{'"},
	}
	for _, tt := range tests {
		_, err := Build(Source{Name: "x.conf", Data: []byte(tt.text)})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Line == 0 {
			t.Errorf("%s: %v is not a *config.Error with a line", tt.name, err)
		}
	}
}

func build(t *testing.T, srcs ...Source) *config.Config {
	t.Helper()
	c, err := Build(srcs...)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return c
}

func warnings(c *config.Config) string {
	var b strings.Builder
	for _, w := range c.Warnings {
		b.WriteString(w.Error() + "\n")
	}
	return b.String()
}

func TestWarnings(t *testing.T) {
	c := build(t, Source{Name: "m.conf", Data: []byte(`defaults {
	verbosity 2
	max_fds 8192
	polling_interval 10
	polling_interval 12
	no_such_keyword 1
	failback sometimes
	user_friendly_names
	path_checker tur extra
	multipath_dir /lib/multipath
	user_friendly_names maybe
	failback 0
}
devices {
	device {
		vendor "ACME"
		product "X"
		polling_interval 3
		vpd_vendor hp3par
		features "1 bogus"
	}
	weird 1
	device {
		vendor "NOPRODUCT"
	}
}
multipaths {
	multipath {
		alias lost
	}
}
overrides {
	hardware_handler "1 alua"
	protocol {
		type scsi:fcp
		eh_deadline soon
	}
}
unknown_section {
	x {
		y 1
	}
}
`)})
	want := []string{
		"m.conf:2: verbosity: not implemented by mpathd: ignored",
		"m.conf:3: max_fds: not implemented by mpathd: ignored",
		"m.conf:5: polling_interval: set again in the same section: the later value wins",
		"m.conf:6: no_such_keyword: unknown keyword in defaults: ignored",
		`m.conf:7: failback: invalid value "sometimes"`,
		"m.conf:8: user_friendly_names: missing value: ignored",
		`m.conf:9: path_checker: extra text "extra" after the value: ignored`,
		"m.conf:10: multipath_dir: deprecated: ignored",
		`m.conf:11: user_friendly_names: invalid value "maybe": must be yes or no`,
		"m.conf:12: failback: set again in the same section",
		"m.conf:12: failback: failback 0 means not set",
		"m.conf:18: polling_interval: not allowed in section device",
		"m.conf:19: vpd_vendor: not implemented by mpathd: ignored",
		`m.conf:20: features: invalid value "1 bogus": unknown feature "bogus"`,
		"m.conf:22: weird: unknown keyword in devices: ignored",
		"m.conf:23: device: a device entry needs both vendor and product: ignored",
		"m.conf:28: multipath: a multipath entry needs a wwid: ignored",
		"m.conf:33: hardware_handler: not allowed in section overrides",
		"m.conf:36: eh_deadline: invalid value \"soon\": \"soon\" is not a number of seconds or \"off\"; ignored",
		"m.conf:39: unknown_section: unknown section at the top level: ignored",
	}
	got := warnings(c)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing warning %q", w)
		}
	}
	if n := strings.Count(got, "\n"); n != len(want) {
		t.Errorf("%d warnings, want %d:\n%s", n, len(want), got)
	}
	g := c.Global()
	if g.PollingInterval != 12 || g.Origin("polling_interval") != "defaults (m.conf:5)" {
		t.Errorf("polling_interval %d from %q", g.PollingInterval, g.Origin("polling_interval"))
	}
	if g.PathChecker != "tur" || g.UserFriendlyNames {
		t.Errorf("path_checker %q user_friendly_names %v", g.PathChecker, g.UserFriendlyNames)
	}
	if len(c.Devices) != 1 || c.Devices[0].Vendor != "ACME" {
		t.Errorf("devices %+v", c.Devices)
	}
}

func TestValues(t *testing.T) {
	c := build(t, Source{Name: "v.conf", Data: []byte(`defaults {
	no_path_retry 0
	user_friendly_names 1
	flush_on_last_del yes
	find_multipaths smart
	marginal_pathgroups no
	fast_io_fail_tmo off
	dev_loss_tmo infinity
	path_selector "round-robin 0"
	weight_update no
	stats_interval 500ms
	weight_hysteresis 0.1
	partition_delimiter p
	skip_kpartx yes
}
overrides {
	no_path_retry 12
	failback 30
}
`)})
	g := c.Global()
	checks := []struct {
		key       string
		got, want any
	}{
		{"no_path_retry", g.NoPathRetry, config.NoPathRetry{Mode: config.RetryCount, Count: 12}},
		{"failback", g.Failback, config.Failback{Mode: config.FailbackDeferred, Ticks: 30}},
		{"user_friendly_names", g.UserFriendlyNames, true},
		{"flush_on_last_del", g.FlushOnLastDel, config.FlushAlways},
		{"find_multipaths", g.FindMultipaths, config.FindOn},
		{"marginal_pathgroups", g.MarginalPathgroups, "off"},
		{"fast_io_fail_tmo", g.FastIOFailTmo, config.TmoOff},
		{"dev_loss_tmo", g.DevLossTmo, config.TmoInfinity},
		{"path_selector", g.PathSelector, "round-robin 0"},
		{"weight_update", g.WeightUpdate, false},
		{"stats_interval", g.StatsInterval.String(), "500ms"},
		{"weight_hysteresis", g.WeightHysteresis, 0.1},
		{"partition_delimiter", g.PartitionDelimiter, "p"},
		{"skip_kpartx", g.SkipKpartx, true},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.key, ck.got, ck.want)
		}
	}
	// no_path_retry 0 means fail, in defaults where overrides do not reach
	// (overrides apply to maps, and Global resolves with them: use the
	// defaults layer directly).
	if r := c.Defaults.NoPathRetry; r == nil || r.Mode != config.RetryFail {
		t.Errorf("defaults no_path_retry 0 = %v, want fail", r)
	}
	if w := warnings(c); w != "v.conf:5: find_multipaths: smart is not implemented by mpathd: on is used (the same maps once find_multipaths_timeout has passed, without claiming single paths meanwhile)\n" {
		t.Errorf("warnings: %s", w)
	}
}

// TestZeroMeansUnset: failback 0 is multipath-tools' "not set", so it drops
// an earlier failback of the same layer; the shaky-path counters take "no".
func TestZeroMeansUnset(t *testing.T) {
	c := build(t, Source{Name: "z.conf", Data: []byte("defaults {\n\tfailback immediate\n\tfailback 0\n\tsan_path_err_threshold no\n\tmarginal_path_err_sample_time off\n}\n")})
	g := c.Global()
	if g.Failback.Mode != config.FailbackManual || g.Origin("failback") != config.OriginBuiltin {
		t.Errorf("failback %v from %q, want the built-in manual", g.Failback, g.Origin("failback"))
	}
	if c.Defaults.SanPathErrThreshold == nil || *c.Defaults.SanPathErrThreshold != 0 || c.Defaults.MarginalPathErrSampleTime == nil {
		t.Errorf("shaky-path counters not read as off: %v", warnings(c))
	}
}

func TestMultipathdDefaults(t *testing.T) {
	c := build(t, Source{Name: "e.conf", Data: []byte("defaults {\n\tuser_friendly_names yes\n}\n")})
	g := c.Global()
	if g.FindMultipaths != config.FindStrict || !strings.Contains(g.Origin("find_multipaths"), "multipath-tools' default") {
		t.Errorf("find_multipaths %q from %q, want strict from multipath-tools' default", g.FindMultipaths, g.Origin("find_multipaths"))
	}
	if g.DetectPgpolicy || !strings.Contains(g.Origin("detect_pgpolicy"), "before 0.9.6") {
		t.Errorf("detect_pgpolicy %v from %q, want off as in multipathd 0.9.4", g.DetectPgpolicy, g.Origin("detect_pgpolicy"))
	}
	c = build(t, Source{Name: "e.conf", Data: []byte("defaults {\n\tfind_multipaths yes\n\tdetect_pgpolicy yes\n}\n")})
	if g := c.Global(); g.FindMultipaths != config.FindOn || !g.DetectPgpolicy {
		t.Errorf("find_multipaths yes gave %q, detect_pgpolicy yes gave %v", g.FindMultipaths, g.DetectPgpolicy)
	}
}

// TestPrecedence follows multipath-tools: multipath > overrides > device
// entries (later and user ones first, built-in after) > defaults, with
// conf.d files read after the main file.
func TestPrecedence(t *testing.T) {
	main := Source{Name: "/etc/multipath.conf", Data: []byte(`defaults {
	failback followover
	no_path_retry 3
	path_checker directio
	polling_interval 10
}
devices {
	device {
		vendor "NETAPP"
		product "LUN"
		failback 30
	}
	device {
		vendor "NET.*"
		product ".*"
		prio alua
		rr_min_io_rq 5
	}
}
multipaths {
	multipath {
		wwid 3600a0980
		alias db
		no_path_retry fail
	}
}
overrides {
	no_path_retry queue
}
`)}
	dropin := Source{Name: "/etc/multipath/conf.d/50-netapp.conf", Data: []byte(`defaults {
	polling_interval 7
}
devices {
	device {
		vendor "NETAPP"
		product "LUN"
		rr_min_io_rq 9
	}
}
multipaths {
	multipath {
		wwid 3600a0980
		rr_weight priorities
	}
}
`)}
	c := build(t, main, dropin)
	r := c.Resolve("3600a0980", "NETAPP", "LUN", "")
	tests := []struct {
		key    string
		got    any
		want   any
		origin string
	}{
		{"no_path_retry", r.NoPathRetry, config.NoPathRetry{Mode: config.RetryFail}, "multipaths[wwid=3600a0980] (/etc/multipath.conf:24)"},
		{"rr_weight", r.RRWeight, "priorities", "multipaths[wwid=3600a0980] (/etc/multipath/conf.d/50-netapp.conf:14)"},
		{"failback", r.Failback, config.Failback{Mode: config.FailbackDeferred, Ticks: 30}, "devices[vendor=NETAPP,product=LUN] (/etc/multipath.conf:11)"},
		{"rr_min_io_rq", r.RRMinIORq, 9, "devices[vendor=NETAPP,product=LUN] (/etc/multipath/conf.d/50-netapp.conf:8)"},
		{"prio", r.Prio, "alua", "devices[vendor=NET.*,product=.*] (/etc/multipath.conf:16)"},
		{"features", r.Features, "2 pg_init_retries 50", "devices[vendor=NETAPP,product=LUN] (built-in)"},
		{"path_checker", r.PathChecker, "directio", "defaults (/etc/multipath.conf:4)"},
		{"polling_interval", r.PollingInterval, 7, "defaults (/etc/multipath/conf.d/50-netapp.conf:2)"},
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
		t.Errorf("alias %q", r.Alias)
	}
	if r2 := c.Resolve("other", "NETAPP", "LUN", ""); r2.NoPathRetry.Mode != config.RetryQueue {
		t.Errorf("overrides: no_path_retry %v", r2.NoPathRetry)
	}
	// The two NETAPP/LUN entries are one, at the later place, after NET.*:
	// its failback (from the first file) beats NET.*'s, which sets none,
	// and its rr_min_io_rq from the drop-in beats NET.*'s 5.
	if len(c.Devices) != 2 || c.Devices[1].Vendor != "NETAPP" {
		t.Fatalf("devices not merged: %+v", c.Devices)
	}
	if !strings.Contains(warnings(c), "50-netapp.conf:5: device: same vendor, product and revision as the entry at /etc/multipath.conf:8") {
		t.Errorf("warnings: %s", warnings(c))
	}
}

// TestDuplicateDeviceMergeOrder is multipath-tools' rule for identical
// entries: the merged entry takes the later one's place, so an entry
// between them loses to values of the earlier one.
func TestDuplicateDeviceMergeOrder(t *testing.T) {
	c := build(t, Source{Name: "d.conf", Data: []byte(`devices {
	device {
		vendor "ACME"
		product "X"
		prio const
	}
	device {
		vendor "ACME"
		product ".*"
		prio alua
	}
	device {
		vendor "ACME"
		product "X"
		failback immediate
	}
}
`)})
	r := c.Resolve("w", "ACME", "X", "")
	if r.Prio != "const" || r.Failback.Mode != config.FailbackImmediate {
		t.Errorf("prio %q (want const, merged into the later entry), failback %v", r.Prio, r.Failback)
	}
}

func TestBlacklist(t *testing.T) {
	c := build(t, Source{Name: "b.conf", Data: []byte(`blacklist {
	devnode "^(ram|raw|loop|fd|md|dm-|sr|scd|st)[0-9]*"
	devnode "^(ram|raw|loop|fd|md|dm-|sr|scd|st)[0-9]*"
	wwid ".*"
	device {
		vendor "IBM"
		product "Universal Xport"
	}
	property "ID_ATA"
	protocol "scsi:usb"
}
blacklist_exceptions {
	wwid "^3600a098"
	wwid "!^3600"
	device {
		product "FlashArray"
	}
}
`)})
	if len(c.Blacklist.Devnode) != 1 {
		t.Errorf("duplicate devnode not merged: %q", c.Blacklist.Devnode)
	}
	tests := []struct {
		p    config.PathInfo
		want string
	}{
		{config.PathInfo{Devnode: "sdb", WWID: "3600a0980abc"}, "allowed by wwid exception ^3600a098"},
		{config.PathInfo{Devnode: "sdb", WWID: "3600b"}, "blacklisted by wwid .*"},
		{config.PathInfo{Devnode: "sdb", WWID: "2000"}, "allowed by wwid exception !^3600"},
		{config.PathInfo{Devnode: "loop0"}, "blacklisted by devnode !^(sd[a-z]|dasd[a-z]|nvme[0-9])"},
		{config.PathInfo{Devnode: "sdc", Vendor: "IBM", Product: "Universal Xport"}, `blacklisted by device vendor="IBM" product="Universal Xport"`},
		{config.PathInfo{Devnode: "sdc", Vendor: "PURE", Product: "FlashArray"}, `allowed by device exception vendor="" product="FlashArray"`},
		{config.PathInfo{Devnode: "sdd", Protocol: "scsi:usb"}, "blacklisted by protocol scsi:usb"},
	}
	for _, tt := range tests {
		if got := c.Filter(tt.p).String(); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.p, got, tt.want)
		}
	}
}

func TestAliasGivenTwice(t *testing.T) {
	c := build(t, Source{Name: "a.conf", Data: []byte(`multipaths {
	multipath {
		wwid W1
		alias data
	}
	multipath {
		wwid W2
		alias data
	}
	multipath {
		wwid W1
		alias "data"
	}
}
`)})
	if r := c.Resolve("W2", "", "", ""); r.Alias != "" {
		t.Errorf("W2 got alias %q", r.Alias)
	}
	if r := c.Resolve("W1", "", "", ""); r.Alias != "data" {
		t.Errorf("W1 lost its alias: %q", r.Alias)
	}
	if !strings.Contains(warnings(c), `a.conf:6: alias: alias "data" is already given to WWID W1`) {
		t.Errorf("warnings: %s", warnings(c))
	}
}

// TestLocate proves the file choice: mpathd.toml first, then multipath.conf
// with its drop-ins in lexical order, then built-in.
func TestLocate(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	toml := filepath.Join(root, config.DefaultPath)
	c, err := config.LoadOptionalAt(root, toml)
	if err != nil || c.File != "" {
		t.Fatalf("nothing: %v %q", err, c.File)
	}
	write(config.MultipathConfPath, "defaults {\n\tpolling_interval 11\n}\n")
	write(config.MultipathConfDir+"/b.conf", "defaults {\n\tpolling_interval 13\n}\n")
	write(config.MultipathConfDir+"/a.conf", "defaults {\n\tpolling_interval 12\n\tverbosity 3\n}\n")
	write(config.MultipathConfDir+"/c.conf.disabled", "defaults {\n\tpolling_interval 99\n}\n")
	c, err = config.LoadOptionalAt(root, toml)
	if err != nil {
		t.Fatal(err)
	}
	mc := filepath.Join(root, config.MultipathConfPath)
	wantFiles := []string{mc, filepath.Join(root, config.MultipathConfDir, "a.conf"), filepath.Join(root, config.MultipathConfDir, "b.conf")}
	if c.File != mc || !reflect.DeepEqual(c.Files, wantFiles) {
		t.Errorf("file %q files %q", c.File, c.Files)
	}
	if g := c.Global(); g.PollingInterval != 13 {
		t.Errorf("polling_interval %d, want 13 from the last drop-in", g.PollingInterval)
	}
	if len(c.Warnings) != 1 || c.Warnings[0].Line != 3 || !strings.HasSuffix(c.Warnings[0].File, "a.conf") {
		t.Errorf("warnings %v", c.Warnings)
	}
	write(config.MultipathConfDir+"/z.conf", "defaults {\n")
	if _, err := config.LoadOptionalAt(root, toml); err == nil || !strings.Contains(err.Error(), "z.conf:1:") {
		t.Errorf("broken drop-in: %v", err)
	}
	write(config.DefaultPath, "[defaults]\npolling_interval = 4\n")
	c, err = config.LoadOptionalAt(root, toml)
	if err != nil || c.File != toml || c.Global().PollingInterval != 4 {
		t.Errorf("mpathd.toml must win: %v %q", err, c.File)
	}
}

// TestRoundTrip: Render then Build gives the same configuration, and
// Export gives TOML that resolves to the same settings.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.conf")
	if len(files) == 0 {
		t.Fatal("no corpus")
	}
	for _, f := range files {
		c, err := loadCase(filepath.Dir(f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		checkRoundTrip(t, f, c)
	}
}

func checkRoundTrip(t *testing.T, name string, c *config.Config) {
	t.Helper()
	text := Render(c)
	c2, err := Build(Source{Name: "rendered", Data: []byte(text)})
	if err != nil {
		t.Fatalf("%s: rendered text does not parse: %v\n%s", name, err, text)
	}
	var a, b bytes.Buffer
	c.Export(&a)
	c2.Export(&b)
	if a.String() != b.String() {
		t.Fatalf("%s: round trip differs:\n--- before\n%s\n--- after\n%s\n--- rendered\n%s", name, a.String(), b.String(), text)
	}
	// The rendered text holds only keywords mpathd accepts; a warning can only be about a value
	// mpathd accepts without implementing it (a checker, a prioritizer, rr_min_io, a property
	// filter...).
	for _, w := range c2.Warnings {
		if !strings.Contains(w.Msg, "not implemented by mpathd") {
			t.Errorf("%s: rendered text has warning %v\n%s", name, w, text)
		}
	}
	if _, err := config.Parse(a.Bytes(), "export.toml"); err != nil {
		t.Errorf("%s: exported TOML does not load: %v\n%s", name, err, a.String())
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.conf")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("defaults {\n\tpolling_interval 5\n}\n"))
	f.Add([]byte("blacklist {\n\tdevnode \"!^sd\"\"x\"\n\tdevice {\n\t\tvendor \"\"\n\t}\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Build(Source{Name: "f.conf", Data: data})
		if err != nil {
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File != "f.conf" {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		for _, w := range c.Warnings {
			if w.File == "" {
				t.Fatalf("warning without file: %v", w)
			}
		}
		checkRoundTrip(t, "fuzz", c)
	})
}

// TestReservationKeywords: reservation_key and all_tg_pt are applied as
// multipathd reads them (reservation_key in defaults and multipaths only),
// survive Render and import as TOML, and prkeys_file stays ignored as
// multipath-tools ignores it.
func TestReservationKeywords(t *testing.T) {
	c := build(t, Source{Name: "pr.conf", Data: []byte(`defaults {
	reservation_key 0x123abc:aptpl
	all_tg_pt yes
	prkeys_file /var/lib/prkeys
}
devices {
	device {
		vendor "LIO-ORG"
		product ".*"
		all_tg_pt no
		reservation_key 0x1
	}
}
multipaths {
	multipath {
		wwid 36001405aaaa
		reservation_key file
	}
	multipath {
		wwid 36001405bbbb
		reservation_key "0xffffffffffffffff"
	}
}
`)})
	want := "pr.conf:4: prkeys_file: deprecated: ignored (multipath-tools ignores it too)\n" +
		"pr.conf:11: reservation_key: not allowed in section device: ignored (multipath-tools ignores it there too)\n"
	if w := warnings(c); w != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", w, want)
	}
	for _, tc := range []struct {
		wwid, vendor string
		key          config.ReservationKey
		allTgPt      bool
		origin       string
	}{
		{"36001405cccc", "ACME", config.ReservationKey{Source: config.PRKeyConfig, Key: 0x123abc, APTPL: true}, true, "defaults (pr.conf:2)"},
		{"36001405cccc", "LIO-ORG", config.ReservationKey{Source: config.PRKeyConfig, Key: 0x123abc, APTPL: true}, false, "defaults (pr.conf:2)"},
		{"36001405aaaa", "LIO-ORG", config.ReservationKey{Source: config.PRKeyFile}, false, "multipaths[wwid=36001405aaaa] (pr.conf:17)"},
		{"36001405bbbb", "ACME", config.ReservationKey{Source: config.PRKeyConfig, Key: 0xffffffffffffffff}, true, "multipaths[wwid=36001405bbbb] (pr.conf:21)"},
	} {
		r := c.Resolve(tc.wwid, tc.vendor, "LUN", "")
		if r.ReservationKey != tc.key || r.AllTgPt != tc.allTgPt || r.Origin("reservation_key") != tc.origin {
			t.Errorf("%s %s: reservation_key %+v (%s) all_tg_pt %v; want %+v (%s) %v", tc.wwid, tc.vendor,
				r.ReservationKey, r.Origin("reservation_key"), r.AllTgPt, tc.key, tc.origin, tc.allTgPt)
		}
	}
	if g := c.Global(); g.PRKeysFile != "/etc/multipath/prkeys" {
		t.Errorf("prkeys_file %q, want the default", g.PRKeysFile)
	}
	text := Render(c)
	for _, line := range []string{"\treservation_key \"0x123abc:aptpl\"\n", "\t\treservation_key \"file\"\n", "\tall_tg_pt yes\n", "\t\tall_tg_pt no\n"} {
		if !strings.Contains(text, line) {
			t.Errorf("rendered config lacks %q:\n%s", line, text)
		}
	}
	checkRoundTrip(t, "pr.conf", c)
	var b bytes.Buffer
	c.Export(&b)
	if !strings.Contains(b.String(), `reservation_key = "0x123abc:aptpl"`) {
		t.Errorf("import lacks the key:\n%s", b.String())
	}
	// A bad key is ignored with a warning, as multipathd ignores it.
	bad := build(t, Source{Name: "bad.conf", Data: []byte("defaults {\n\treservation_key 0xnothex\n}\n")})
	if w := warnings(bad); !strings.Contains(w, `bad.conf:2: reservation_key: invalid value "0xnothex"`) || bad.Global().ReservationKey.Source != config.PRKeyNone {
		t.Errorf("bad key: %s %+v", w, bad.Global().ReservationKey)
	}
}

// A prioritizer whose prio_args do not fit is named with the line to fix;
// multipathd would load the file too and rate nothing with it.
func TestWarnsPrioArgs(t *testing.T) {
	c, err := Build(Source{Name: "p.conf", Data: []byte("defaults {\n\tprio iet\n}\ndevices {\n\tdevice {\n\t\tvendor X\n\t\tproduct Y\n\t\tprio path_latency\n\t\tprio_args \"io_num=9999\"\n\t}\n}\n")})
	if err != nil {
		t.Fatal(err)
	}
	got := warnings(c)
	for _, want := range []string{
		"p.conf:2: prio: defaults: checker: iet: prio_args \"\": preferredip=ADDR is required: the paths get const",
		"p.conf:9: prio_args: devices[0]: checker: path_latency: io_num=9999 is outside [2, 200]: the paths get const",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("warnings:\n%swant %s", got, want)
		}
	}
}

// multipath.conf's uid_attribute is applied, without a warning, in each
// section multipath-tools reads it in.
func TestUIDAttributeApplied(t *testing.T) {
	c := build(t, Source{Name: "m.conf", Data: []byte(`defaults {
	uid_attribute ID_WWN
}
devices {
	device {
		vendor "HP"
		product "OPEN-.*"
		uid_attribute SCSI_IDENT_LUN_NAA_REG
	}
}
`)})
	if len(c.Warnings) != 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
	if got := c.UIDAttribute("HP", "OPEN-V", ""); got != "SCSI_IDENT_LUN_NAA_REG" {
		t.Errorf("device: uid_attribute %q", got)
	}
	if got := c.UIDAttribute("NETAPP", "LUN", ""); got != "ID_WWN" {
		t.Errorf("defaults: uid_attribute %q", got)
	}
}
