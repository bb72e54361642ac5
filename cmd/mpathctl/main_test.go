package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/api/apitest"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/control"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestMain(m *testing.M) {
	time.Local = time.UTC // golden files show times in UTC
	os.Exit(m.Run())
}

// fixture is the topology every golden file shows: two maps of two groups
// of two paths; in mpathb one path failed and one is a ghost, and mpathb
// has switched to its second group.
func fixture() api.Topology {
	t := apitest.Generate(2, 2, 2)
	b := &t.Maps[1]
	b.Groups[0].State, b.Groups[1].State = api.GroupEnabled, api.GroupActive
	b.Groups[0].Paths[0].DMState, b.Groups[0].Paths[0].CheckerState, b.Groups[0].Paths[0].DevState =
		api.DMFailed, api.CheckerDown, "offline"
	b.Groups[0].Paths[1].CheckerState = api.CheckerGhost
	fb := &b.Groups[1].Paths[1] // a configured prioritizer that does not fit the device
	fb.Checker, fb.Prioritizer, fb.Fallback = "tur", "hds", "prio hds failed: checker: sdi: hds prio: INQUIRY: NETAPP LUN is not a Hitachi DF array"
	b.Queueing.RetriesLeft = 0
	b.PathFaults, b.GroupSwitches, b.TableLoads = 3, 1, 2
	b.Name = "data"
	t.Orphans = []api.Orphan{{Dev: "sdx", DevT: "65:112", HCIL: "3:0:0:7", WWID: "3600a098038300000000000000000009",
		DevState: "running", Vendor: "NETAPP", Product: "LUN C-Mode", SizeSectors: 2097152, Checker: "tur",
		Reason: "find_multipaths on: a single path, not in the wwids file"}}
	return t
}

// daemon serves the fixture on a temp socket and returns its path.
func daemon(t *testing.T) (*apitest.Fake, string) {
	t.Helper()
	fake := apitest.New(fixture())
	path := filepath.Join(t.TempDir(), "mpathd.sock")
	l, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &control.Server{Service: fake}
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	return fake, path
}

// mpathctl runs the command line against the socket.
func mpathctl(t *testing.T, socket string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), append([]string{"--socket", socket}, args...), &out, &errOut, false)
	return out.String(), errOut.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func TestGolden(t *testing.T) {
	_, sock := daemon(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"show_topology", []string{"show", "topology"}},
		{"show_topology_color", []string{"show", "topology", "--color", "always"}},
		{"show_topology_json", []string{"show", "topology", "--json"}},
		{"show_maps", []string{"show", "maps"}},
		{"show_map", []string{"show", "map", "data"}},
		{"show_paths", []string{"show", "paths"}},
		{"show_status", []string{"show", "status"}},
		{"show_status_json", []string{"--json", "show", "status"}},
		{"show_config", []string{"show", "config"}},
		{"show_stats", []string{"show", "stats"}},
		{"config_explain", []string{"config", "explain", "sdc"}},
		{"top", []string{"top", "--count", "1"}},
		{"help", []string{"--help"}},
		{"help_switch", []string{"switch", "map", "--help"}},
		{"show_reservation", []string{"show", "reservation", "data"}},
		{"show_reservation_json", []string{"show", "reservation", "data", "--json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := mpathctl(t, sock, tc.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			golden(t, tc.name, out)
		})
	}
}

// Every line of the top screen fits 80 columns.
func TestTopWidth(t *testing.T) {
	var b bytes.Buffer
	topo := apitest.Generate(3, 2, 4)
	topo.Maps[0].Name = "a-very-long-map-name-indeed"
	renderTop(&b, apitest.New(topo).Stats(), topo, false)
	for _, line := range strings.Split(b.String(), "\n") {
		if len(line) > 80 {
			t.Errorf("%d columns: %q", len(line), line)
		}
	}
}

func TestActions(t *testing.T) {
	fake, sock := daemon(t)
	for _, args := range [][]string{
		{"fail", "path", "sdb"}, {"reinstate", "path", "sdb"}, {"switch", "map", "mpatha", "group", "2"},
		{"reconfigure"}, {"resize", "map", "data"}, {"flush", "map", "data"}, {"add", "path", "sdx"},
		{"del", "path", "sdx"}, {"rescan"}, {"rescan", "host", "3"},
		{"set", "prkey", "data", "0x1:aptpl"}, {"unset", "prkey", "data"}, {"set", "prstatus", "data"},
		{"unset", "prstatus", "data"}, {"set", "prhold", "data"}, {"unset", "prhold", "data"},
	} {
		out, errOut, code := mpathctl(t, sock, args...)
		if code != 0 || out != "ok\n" {
			t.Errorf("%v: exit %d, %q %q", args, code, out, errOut)
		}
	}
	want := []string{"FailPath sdb", "ReinstatePath sdb", "SwitchGroup mpatha 2", "Reconfigure", "ResizeMap data",
		"FlushMap data", "AddPath sdx", "DelPath sdx", "Rescan -1", "Rescan 3",
		"SetPRKey data 0x1:aptpl", "SetPRKey data ", "SetPRStatus data true", "SetPRStatus data false",
		"SetPRHold data true", "SetPRHold data false"}
	if got := fake.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q\nwant %q", got, want)
	}
	fake.FailNext("FlushMap", api.Errorf(api.CodeBusy, "map data is in use (mounted)"))
	_, errOut, code := mpathctl(t, sock, "flush", "map", "data")
	if code != 1 || errOut != "mpathctl: flush map: map data is in use (mounted)\n" {
		t.Errorf("busy flush: exit %d, %q", code, errOut)
	}
	_, errOut, code = mpathctl(t, sock, "switch", "map", "data", "group", "0")
	if code != 2 || !strings.Contains(errOut, "numbered from 1") {
		t.Errorf("group 0: exit %d, %q", code, errOut)
	}
}

func TestExitCodes(t *testing.T) {
	_, sock := daemon(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"show", "map", "nope"}, 1, `mpathctl: show map: no map "nope"`},
		{[]string{"show"}, 2, `"show" is not a command; did you mean:`},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{}, 2, "no command given"},
		{[]string{"show", "topology", "--color", "pink"}, 2, "must be auto, always or never"},
		{[]string{"fail", "path", "sdb", "--json"}, 2, "fail path has no JSON output"},
		{[]string{"show", "maps", "--count", "3"}, 2, "--count applies to events and top only"},
		{[]string{"--socket", "/nonexistent/s.sock", "show", "status"}, 1, "mpathd is not running"},
	} {
		_, errOut, code := mpathctl(t, sock, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(good, []byte("[defaults]\npolling_interval = 10\n"), 0o644)
	os.WriteFile(bad, []byte("[defaults]\npolling_interval = \"often\"\nno_such_key = 1\n"), 0o644)
	// No daemon: the socket does not exist.
	out, errOut, code := mpathctl(t, filepath.Join(dir, "none.sock"), "config", "check", good)
	if code != 0 || out != good+": ok\n" {
		t.Errorf("good file: exit %d, %q %q", code, out, errOut)
	}
	_, errOut, code = mpathctl(t, filepath.Join(dir, "none.sock"), "config", "check", bad)
	if code != 1 || !strings.Contains(errOut, bad+":2") || !strings.Contains(errOut, "no_such_key") {
		t.Errorf("bad file: exit %d, %q", code, errOut)
	}
	if out, errOut, _ := mpathctl(t, "x", "config", "check", "../../configs/mpathd.toml"); !strings.HasSuffix(out, ": ok\n") || errOut != "" {
		t.Errorf("the shipped reference file: %q %q", out, errOut)
	}
	// A keyword accepted without being applied is named in a warning; the file is valid.
	warn := filepath.Join(dir, "warn.toml")
	os.WriteFile(warn, []byte("[defaults]\nmarginal_pathgroups = \"on\"\n"), 0o644)
	out, errOut, code = mpathctl(t, filepath.Join(dir, "none.sock"), "config", "check", warn)
	if code != 0 || out != warn+": ok\n" || !strings.HasPrefix(errOut, "warning: "+warn+":2: defaults.marginal_pathgroups: not implemented by mpathd: ignored (") {
		t.Errorf("not applied keyword: exit %d, %q, %q", code, out, errOut)
	}
}

// TestMultipathConf: a *.conf file is checked in multipath.conf syntax, with what mpathd does not
// implement as warnings (exit 0), and config import prints the equivalent TOML, which loads.
func TestMultipathConf(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "multipath.conf")
	os.WriteFile(conf, []byte("defaults {\n\tuser_friendly_names yes\n\tverbosity 3\n}\nmultipaths {\n\tmultipath {\n\t\twwid 3600a0980\n\t\talias \"db\"\"1\"\n\t}\n}\n"), 0o644)
	out, errOut, code := mpathctl(t, filepath.Join(dir, "none.sock"), "config", "check", conf)
	if code != 0 || out != conf+": ok\n" || errOut != "warning: "+conf+":3: verbosity: not implemented by mpathd: ignored\n" {
		t.Errorf("config check: exit %d, %q, %q", code, out, errOut)
	}
	out, errOut, code = mpathctl(t, filepath.Join(dir, "none.sock"), "config", "import", conf)
	if code != 0 {
		t.Fatalf("config import: exit %d, %q", code, errOut)
	}
	for _, want := range []string{"#   " + conf + ":3: verbosity: not implemented by mpathd", "user_friendly_names = true", `alias = "db\"1"`, `find_multipaths = "strict"`} {
		if !strings.Contains(out, want) {
			t.Errorf("config import lacks %q:\n%s", want, out)
		}
	}
	toml := filepath.Join(dir, "mpathd.toml")
	os.WriteFile(toml, []byte(out), 0o644)
	if out, errOut, code := mpathctl(t, filepath.Join(dir, "none.sock"), "config", "check", toml); code != 0 {
		t.Errorf("imported TOML does not check: %q %q", out, errOut)
	}
	os.WriteFile(conf, []byte("defaults {\n\tverbosity 3\n"), 0o644)
	if _, errOut, code := mpathctl(t, filepath.Join(dir, "none.sock"), "config", "import", conf); code != 1 || !strings.Contains(errOut, conf+":1: section defaults is not closed") {
		t.Errorf("broken file: exit %d, %q", code, errOut)
	}
}

func TestEvents(t *testing.T) {
	fake, sock := daemon(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 890e6, time.UTC)
	evs := []api.Event{
		{Time: at, Type: api.EventPathDown, Map: "data", Path: "sdf", Old: "up", New: "down", Reason: "TUR: not ready"},
		{Time: at.Add(time.Second), Type: api.EventGroupSwitch, Map: "data", Old: "1", New: "2", Reason: "no usable path in group 1"},
		{Time: at.Add(2 * time.Second), Type: api.EventQueueingOn, Map: "data"},
	}
	go func() {
		for fake.Hub.Subscribers() == 0 {
			time.Sleep(time.Millisecond)
		}
		for _, ev := range evs {
			fake.Hub.Publish(ev)
		}
	}()
	out, errOut, code := mpathctl(t, sock, "events", "--count", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	golden(t, "events", out)

	for fake.Hub.Subscribers() != 0 {
		time.Sleep(time.Millisecond)
	}
	go func() {
		for fake.Hub.Subscribers() == 0 {
			time.Sleep(time.Millisecond)
		}
		fake.Hub.Publish(evs[0])
	}()
	out, _, code = mpathctl(t, sock, "events", "--json", "--count", "1")
	if code != 0 || out != `{"time":"2026-03-04T05:06:07.89Z","type":"path_down","map":"data","path":"sdf","old":"up","new":"down","reason":"TUR: not ready"}`+"\n" {
		t.Errorf("events --json: %d %q", code, out)
	}
}

func TestCompletion(t *testing.T) {
	_, sock := daemon(t)
	names := func(op string) []string {
		if op == api.OpMaps {
			return []string{"mpatha", "data"}
		}
		return []string{"sdb", "sdc"}
	}
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{""}, []string{"show", "config", "set", "unset", "fail", "reinstate", "switch", "reconfigure", "resize", "flush", "add", "del", "rescan", "events", "top", "completion"}},
		{[]string{"sh"}, []string{"show"}},
		{[]string{"show", "m"}, []string{"maps", "map", "metrics"}},
		{[]string{"show", "map", ""}, []string{"mpatha", "data"}},
		{[]string{"--socket", "/x", "fail", "path", "sd"}, []string{"sdb", "sdc"}},
		{[]string{"config", "explain", "d"}, []string{"data"}},
		{[]string{"config", "check", ""}, []string{filesMarker}},
		{[]string{"switch", "map", "data", ""}, []string{"group"}},
		{[]string{"rescan", ""}, []string{"host"}},
		{[]string{"completion", ""}, []string{"bash", "zsh"}},
		{[]string{"show", "--js"}, []string{"--json"}},
		{[]string{"show", "topology", ""}, nil},
	} {
		if got := candidates(tc.words, names); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.words, got, tc.want)
		}
	}
	// Through the hidden command, with names from the daemon.
	var out bytes.Buffer
	complete(t.Context(), []string{"--socket", sock, "show", "map", ""}, &out)
	if out.String() != "mpatha\ndata\n" {
		t.Errorf("__complete: %q", out.String())
	}
	// The scripts parse.
	for shell, script := range map[string]string{"bash": bashCompletion, "zsh": zshCompletion} {
		sh, err := exec.LookPath(shell)
		if err != nil {
			t.Logf("%s not installed; script not checked", shell)
			continue
		}
		if out, err := exec.Command(sh, "-n", "-c", script).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", shell, err, out)
		}
	}
}

// Parsing never panics, and what it accepts is runnable.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{"show topology", "show map mpatha --json", "switch map a group 2",
		"--socket /x rescan host 3", "help show", "config check /etc/x.toml", "top --count 2 --interval 1s",
		"events --json --", "-- show paths", "--color=never show stats", "fail path", "--timeout", "completion zsh"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		inv, err := parseArgs(strings.Split(line, " "))
		if err != nil {
			if _, ok := err.(*usageError); !ok {
				t.Fatalf("%q: error %T %v is not a usage error", line, err, err)
			}
			return
		}
		if inv.cmd == nil && !inv.opts.help && !inv.opts.version {
			t.Fatalf("%q: accepted without a command", line)
		}
		if inv.cmd != nil && inv.cmd.run == nil && !inv.opts.help {
			t.Fatalf("%q: accepted a command that cannot run", line)
		}
		if inv.cmd != nil && !inv.opts.help {
			for _, tok := range inv.cmd.pattern {
				if tok.param != "" && inv.params[tok.param] == "" {
					t.Fatalf("%q: %s empty", line, tok.param)
				}
			}
		}
	})
}

// The command table has no two commands that could match the same words.
func TestCommandTableUnambiguous(t *testing.T) {
	for i, a := range commands {
		for _, b := range commands[i+1:] {
			if len(a.pattern) != len(b.pattern) {
				continue
			}
			overlap := true
			for k := range a.pattern {
				x, y := a.pattern[k], b.pattern[k]
				if x.param == "" && y.param == "" && x.word != y.word {
					overlap = false
				}
			}
			if overlap {
				t.Errorf("%q and %q overlap", a.usage, b.usage)
			}
		}
	}
}

// Completion never panics on what a shell may pass, options included.
func FuzzCandidates(f *testing.F) {
	for _, s := range []string{"", "show m", "--socket", "--socket /x fail path sd", "-- -", "config check "} {
		f.Add(s)
	}
	names := func(string) []string { return []string{"mpatha", "sdb"} }
	f.Fuzz(func(t *testing.T, line string) {
		for _, c := range candidates(strings.Split(line, " "), names) {
			if c == "" {
				t.Fatalf("%q: empty candidate", line)
			}
		}
	})
}

func TestRenderMapReservation(t *testing.T) {
	m := fixture().Maps[0]
	m.Reservation = &api.Reservation{Map: m.Name, Status: "set", Hold: "unset", Key: "0xa1a1:aptpl", KeySource: "file"}
	var b strings.Builder
	renderMap(&b, m, paint(false))
	if !strings.HasSuffix(b.String(), "reservation: key=0xa1a1:aptpl (file) status=set hold=unset\n") {
		t.Errorf("show map:\n%s", b.String())
	}
}

// show status prints each configuration warning the daemon reports (a keyword accepted without
// being applied, named with its file and line) on a line of its own.
func TestShowStatusWarnings(t *testing.T) {
	c, err := config.Parse([]byte("[defaults]\nrr_weight = \"priorities\"\n"), "/etc/mpathd/mpathd.toml")
	if err != nil || len(c.Warnings) != 1 {
		t.Fatalf("%v %v", c, err)
	}
	var b strings.Builder
	renderStatus(&b, api.Status{Version: "test", State: "running", ConfigFile: c.File, ConfigWarnings: []string{c.Warnings[0].Error()}}, paint(false))
	want := "warning  /etc/mpathd/mpathd.toml:2: defaults.rr_weight: not implemented by mpathd: ignored ("
	if !slices.ContainsFunc(strings.Split(b.String(), "\n"), func(l string) bool {
		return strings.HasPrefix(strings.Join(strings.Fields(l), " "), strings.Join(strings.Fields(want), " "))
	}) {
		t.Errorf("show status:\n%s", b.String())
	}
}
