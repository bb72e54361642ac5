package mpathcompat

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/api/apitest"
	"github.com/mpathd/mpathd/pkg/config"
)

// rig is a Server over the apitest fake: two maps of two groups of two paths.
func rig(t *testing.T) (*Server, *apitest.Fake) {
	t.Helper()
	f := apitest.New(apitest.Generate(2, 2, 2))
	return &Server{Service: f, Version: "test"}, f
}

const helpLine = "mpathd test (multipathd-compatible)\nCLI commands reference:\n"

// TestCommands runs each command as root against the fake and compares the
// reply with multipathd's, and the daemon calls it made.
func TestCommands(t *testing.T) {
	tests := []struct {
		cmd   string
		want  string // exact reply; "" when only the checks below apply
		calls []string
		check func(t *testing.T, reply string)
	}{
		// os-brick: liveness; vdsm: busy: False.
		{cmd: "show status", want: "path checker states:\nup                  8\n\npaths: 8\nbusy: False\n"},
		// Trident: pid \d+ (running|idle).
		{cmd: "show daemon", want: "pid 4242 running\n", check: matches(`^pid \d+ (running|idle)\n$`)},
		// gobrick: name dm-N uuid.
		{cmd: "show maps", want: "name   sysfs uuid                            \n" +
			"mpatha dm-0  3600a098038300000000000000000000\n" +
			"mpathb dm-1  3600a098038300000000000000000001\n"},
		{cmd: "list multipaths", want: "name   sysfs uuid                            \n" +
			"mpatha dm-0  3600a098038300000000000000000000\n" +
			"mpathb dm-1  3600a098038300000000000000000001\n"},
		{cmd: `show maps raw format "%n %d"`, want: "mpatha dm-0\nmpathb dm-1\n"},
		{cmd: `show maps raw format "%w %d %n %s"`, want: "3600a098038300000000000000000000 dm-0 mpatha NETAPP,LUN C-Mode\n" +
			"3600a098038300000000000000000001 dm-1 mpathb NETAPP,LUN C-Mode\n"},
		{cmd: "sho maps status", want: "name   failback  queueing paths dm-st  write_prot\n" +
			"mpatha immediate 12 chk   4     active rw        \n" +
			"mpathb immediate 12 chk   4     active rw        \n"},
		{cmd: "show maps stats", want: "name   path_faults switch_grp map_loads total_q_time q_timeouts\n" +
			"mpatha 0           0          0         0            0         \n" +
			"mpathb 0           0          0         0            0         \n"},
		{cmd: "show map dm-1 raw format %n", want: "mpathb\n"},
		// HPE CSI, IBM PowerVS CSI.
		{cmd: `show paths raw format "%w %d %t %i %o %T %c %s %m"`, check: func(t *testing.T, r string) {
			lines := strings.Split(strings.TrimSuffix(r, "\n"), "\n")
			if len(lines) != 8 || lines[0] != "3600a098038300000000000000000000 sdb active 1:0:0:0 running ready tur NETAPP,LUN C-Mode,## mpatha" {
				t.Errorf("first of %d lines: %q", len(lines), lines[0])
			}
		}},
		// os-brick.
		{cmd: "show paths raw format %d", want: "sdb\nsdc\nsdd\nsde\nsdf\nsdg\nsdh\nsdi\n"},
		// gobrick.
		{cmd: `show paths raw format "%d %w %m"`, check: matches(`^sdb 3600a098038300000000000000000000 mpatha\n`)},
		// Monitoring textfile scripts.
		{cmd: `show paths format "%d %t %T"`, check: matches(`^dev dm_st  chk_st\nsdb active ready \n`)},
		{cmd: "show paths", check: matches(`^hcil    dev dev_t pri dm_st  chk_st dev_st  next_check\n1:0:0:0 sdb 8:16  50  active ready  running undef     \n`)},
		{cmd: "show path /dev/sdh", want: "running\n"},
		{cmd: "show map mpatha topology", want: "mpatha (3600a098038300000000000000000000) dm-0 NETAPP,LUN C-Mode\n" +
			"size=100G features='1 queue_if_no_path' hwhandler='1 alua' wp=rw\n" +
			"|-+- policy='service-time 0' prio=50 status=active\n" +
			"| |- 1:0:0:0 sdb 8:16  active ready running\n" +
			"| `- 2:0:0:0 sdc 8:32  active ready running\n" +
			"`-+- policy='service-time 0' prio=10 status=enabled\n" +
			"  |- 1:0:1:0 sdd 8:48  active ready running\n" +
			"  `- 2:0:1:0 sde 8:64  active ready running\n"},
		{cmd: "show topology", check: matches(`(?m)^mpathb \(3600a098038300000000000000000001\) dm-1 NETAPP,LUN C-Mode$`)},
		{cmd: "show maps topology", check: matches(`(?m)^  .- 2:0:1:1 sdi 8:128 active ready running$`)},
		// jq over show maps json: .maps[].uuid is the WWID, .path_groups[].paths[].dm_st.
		{cmd: "show maps json", check: func(t *testing.T, r string) {
			var doc struct {
				Major int `json:"major_version"`
				Minor int `json:"minor_version"`
				Maps  []struct {
					UUID   string `json:"uuid"`
					Groups []struct {
						Paths []struct {
							DMSt  string `json:"dm_st"`
							ChkSt string `json:"chk_st"`
						} `json:"paths"`
					} `json:"path_groups"`
				} `json:"maps"`
			}
			if err := json.Unmarshal([]byte(r), &doc); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, r)
			}
			if doc.Major != 0 || doc.Minor != 1 || len(doc.Maps) != 2 || doc.Maps[1].UUID != "3600a098038300000000000000000001" {
				t.Errorf("doc = %+v", doc)
			}
			if p := doc.Maps[0].Groups[1].Paths[0]; p.DMSt != "active" || p.ChkSt != "ready" {
				t.Errorf("path = %+v", p)
			}
		}},
		{cmd: "show map 3600a098038300000000000000000001 json", check: func(t *testing.T, r string) {
			var doc struct {
				Map struct {
					Name  string `json:"name"`
					Paths int    `json:"paths"`
				} `json:"map"`
			}
			if err := json.Unmarshal([]byte(r), &doc); err != nil || doc.Map.Name != "mpathb" || doc.Map.Paths != 4 {
				t.Errorf("doc = %+v, %v\n%s", doc, err, r)
			}
		}},
		// Trident greps find_multipaths; vdsm reads show config local.
		{cmd: "show config", want: "defaults {\n\tpolling_interval 5\n\tfind_multipaths \"on\"\n}\n"},
		{cmd: "show config local", want: "defaults {\n\tpolling_interval 5\n\tfind_multipaths \"on\"\n}\n" +
			"multipaths {\n\tmultipath {\n\t\twwid \"3600a098038300000000000000000000\"\n\t\t# alias \"mpatha\"\n\t}\n" +
			"\tmultipath {\n\t\twwid \"3600a098038300000000000000000001\"\n\t\t# alias \"mpathb\"\n\t}\n}\n"},
		{cmd: "show wildcards", check: matches(`^multipath format wildcards:\n%n  name\n%w  uuid\n(?s:.*)\npath format wildcards:\n%w  uuid\n%i  hcil\n`)},

		// Actions: vdsm wants exactly "ok\n" from resize.
		{cmd: "resize map dm-0", want: "ok\n", calls: []string{"ResizeMap dm-0"}},
		{cmd: "resize map /dev/dm-0", want: "ok\n", calls: []string{"ResizeMap dm-0"}},
		{cmd: "add path /dev/sdb", want: "ok\n", calls: []string{"AddPath sdb"}},
		{cmd: "del path sdb", want: "ok\n", calls: []string{"DelPath sdb"}},
		{cmd: "remove path sdb", want: "ok\n", calls: []string{"DelPath sdb"}},
		{cmd: "fail path sdc", want: "ok\n", calls: []string{"FailPath sdc"}},
		{cmd: "reinstate path sdc", want: "ok\n", calls: []string{"ReinstatePath sdc"}},
		{cmd: "add map 3600a098038300000000000000000007", want: "ok\n", calls: []string{"AddMap 3600a098038300000000000000000007"}},
		{cmd: "remove map /dev/mapper/mpatha", want: "ok\n", calls: []string{"FlushMap mpatha"}},
		{cmd: "del multipath mpathb", want: "ok\n", calls: []string{"FlushMap mpathb"}},
		{cmd: "del maps", want: "ok\n", calls: []string{"FlushMap mpatha", "FlushMap mpathb"}},
		{cmd: "reload map mpatha", want: "ok\n", calls: []string{"ReloadMap mpatha"}},
		{cmd: "suspend map mpatha", want: "ok\n", calls: []string{"SuspendMap mpatha"}},
		{cmd: "resume map mpatha", want: "ok\n", calls: []string{"ResumeMap mpatha"}},
		{cmd: "switch map mpatha group 2", want: "ok\n", calls: []string{"SwitchGroup mpatha 2"}},
		{cmd: "switchgroup map mpatha group 0", want: "fail\n"},
		{cmd: "disablequeueing maps", want: "ok\n", calls: []string{"SetQueueing  false"}},
		{cmd: "disablequeueing map mpathb", want: "ok\n", calls: []string{"SetQueueing mpathb false"}},
		{cmd: "restorequeueing map mpathb", want: "ok\n", calls: []string{"SetQueueing mpathb true"}},
		{cmd: "restorequeueing multipaths", want: "ok\n", calls: []string{"SetQueueing  true"}},
		{cmd: "forcequeueing daemon", want: "ok\n", calls: []string{"ForceQueueWithoutDaemon true"}},
		{cmd: "restorequeueing daemon", want: "ok\n", calls: []string{"ForceQueueWithoutDaemon false"}},
		{cmd: "reset maps stats", want: "ok\n", calls: []string{"ResetStats "}},
		{cmd: "reset map mpatha stats", want: "ok\n", calls: []string{"ResetStats mpatha"}},
		{cmd: "reconfigure", want: "ok\n", calls: []string{"Reconfigure"}},
		{cmd: "reconfigure all", want: "ok\n", calls: []string{"Reconfigure"}},
		{cmd: "shutdown", want: "fail\n"},

		// Grammar: unknown words, ambiguity, missing parameters get the help text.
		// Grammar: multipathd 0.9.4 answers "sh maps" (ambiguous) with a bare fail, and an
		// unknown word or a missing parameter with its command reference.
		{cmd: "sh maps", want: "fail\n"},
		{cmd: "show bogus \n", check: help("show bogus \n: not found")},
		{cmd: "add path \n", check: help("add path \n: Missing argument")},
		{cmd: "show", check: help("show: not found")},
		{cmd: "maps show", check: help("maps show: not found")},
		{cmd: "show maps maps", check: help("show maps maps: not found")},
		{cmd: "   ", check: help("   : not found")},
		{cmd: "show map nosuch json", want: "fail\n"},
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			s, f := rig(t)
			got := s.Execute(t.Context(), tc.cmd, true)
			if tc.want != "" && got != tc.want {
				t.Errorf("reply\n got %q\nwant %q", got, tc.want)
			}
			if strings.Contains(got, "error receiving packet") {
				t.Errorf("reply holds multipathd's client error text: %q", got)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
			if calls := f.Calls(); !slices.Equal(calls, tc.calls) {
				t.Errorf("calls = %q, want %q", calls, tc.calls)
			}
		})
	}
}

func matches(re string) func(*testing.T, string) {
	r := regexp.MustCompile(re)
	return func(t *testing.T, got string) {
		t.Helper()
		if !r.MatchString(got) {
			t.Errorf("reply does not match %s:\n%s", re, got)
		}
	}
}

func help(reason string) func(*testing.T, string) {
	return func(t *testing.T, got string) {
		t.Helper()
		if !strings.HasPrefix(got, reason+"\n"+helpLine) || !strings.Contains(got, "\n list|show paths raw format $format\n") {
			t.Errorf("reply is not the help text after %q:\n%s", reason, got)
		}
	}
}

func TestNonRootMayOnlyShow(t *testing.T) {
	s, f := rig(t)
	for _, cmd := range []string{"add path sdb", "del map mpatha", "reconfigure", "shutdown", "resize map dm-0"} {
		if got := s.Execute(t.Context(), cmd, false); got != "permission deny: need to be root\n" {
			t.Errorf("%s as non-root: %q", cmd, got)
		}
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("non-root actions reached the daemon: %q", calls)
	}
	if got := s.Execute(t.Context(), "list status", false); !strings.HasSuffix(got, "busy: False\n") {
		t.Errorf("show status as non-root: %q", got)
	}
}

func TestFailureReplies(t *testing.T) {
	s, f := rig(t)
	var logged strings.Builder
	s.Log = slog.New(slog.NewTextHandler(&logged, nil))
	f.FailNext("FlushMap", api.Errorf(api.CodeBusy, "map or partition in use"))
	if got := s.Execute(t.Context(), "del map mpatha", true); got != "fail\n" {
		t.Errorf("busy flush: %q", got)
	}
	f.FailNext("Reconfigure", api.Errorf(api.CodeInvalid, "mpathd.toml:3: bad value"))
	if got := s.Execute(t.Context(), "reconfigure", true); got != "fail\n" {
		t.Errorf("bad config: %q", got)
	}
	f.FailNext("FlushMap", errors.New("boom"))
	if got := s.Execute(t.Context(), "del maps", true); got != "fail\n" {
		t.Errorf("del maps with one failure: %q", got)
	}
	for _, reason := range []string{"map or partition in use", "mpathd.toml:3: bad value", "boom"} {
		if !strings.Contains(logged.String(), reason) {
			t.Errorf("reason %q not logged:\n%s", reason, logged.String())
		}
	}
}

// slow is a daemon whose resize waits for its context, like a shard stuck
// behind a long operation.
type slow struct{ *apitest.Fake }

func (slow) ResizeMap(ctx context.Context, m string) error {
	<-ctx.Done()
	return api.Errorf(api.CodeBusy, "%v (the request stays queued on the map)", ctx.Err())
}

func (slow) Reconfigure(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestTimeoutReply(t *testing.T) {
	s := &Server{Service: slow{apitest.New(apitest.Generate(1, 1, 2))}, ActionTimeout: 1}
	if got := s.Execute(t.Context(), "resize map mpatha", true); got != "timeout\n" {
		t.Errorf("resize past the action timeout: %q", got)
	}
	// multipathd only schedules a reconfigure: a long one is answered ok.
	if got := s.Execute(t.Context(), "reconfigure", true); got != "ok\n" {
		t.Errorf("long reconfigure: %q", got)
	}
}

func TestShutdown(t *testing.T) {
	s, _ := rig(t)
	stopped := false
	s.Shutdown = func() { stopped = true }
	if got := s.Execute(t.Context(), "shutdown", true); got != "ok\n" || !stopped {
		t.Errorf("shutdown: %q, stopped %v", got, stopped)
	}
}

// dumped serves the real built-in configuration's dump, with a file layer.
type dumped struct{ *apitest.Fake }

func (dumped) EffectiveConfig() (string, error) {
	cfg, err := config.Parse([]byte("[defaults]\nuser_friendly_names = true\n[blacklist]\nwwid = [\"^36001\", \"^3600a\"]\n[[blacklist.device]]\nvendor = \"IBM\"\nproduct = \"3S42\"\n[blacklist_exceptions]\nproperty = [\"(SCSI_IDENT_|ID_WWN)\"]\n"), "mpathd.toml")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = cfg.Dump(&b)
	return b.String(), err
}

func TestShowConfigAndBlacklistOfTheRealDump(t *testing.T) {
	s := &Server{Service: dumped{apitest.New(apitest.Generate(1, 1, 1))}}
	conf := s.Execute(t.Context(), "show config", true)
	for _, want := range []string{"defaults {\n", "\tfind_multipaths \"on\"\n", "\tuser_friendly_names yes\n",
		"blacklist {\n\twwid \"^36001\"\n\twwid \"^3600a\"\n\tdevice {\n\t\tvendor \"IBM\"\n\t\tproduct \"3S42\"\n\t}\n}\n",
		"devices {\n\tdevice {\n\t\tvendor ", "\n}\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("show config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Count(conf, "{") != strings.Count(conf, "}") || strings.Contains(conf, "[") && strings.Contains(conf, " = ") {
		t.Errorf("show config is not multipath.conf syntax:\n%s", conf)
	}
	bl := s.Execute(t.Context(), "show blacklist", true)
	for _, want := range []string{
		"device node rules:\n- blacklist:\n        (default rule)     !^(sd[a-z]|dasd[a-z]|nvme[0-9])\n- exceptions:\n        <empty>\n",
		"wwid rules:\n- blacklist:\n        (config file rule) ^36001\n        (config file rule) ^3600a\n- exceptions:\n        <empty>\n",
		"udev property rules:\n- blacklist:\n        <empty>\n- exceptions:\n        (default rule)     ",
		"        (config file rule) (SCSI_IDENT_|ID_WWN)\n",
		"        (default rule)     (NETAPP|LSI|ENGENIO):Universal Xport\n",
		"        (config file rule) IBM:3S42\n",
	} {
		if !strings.Contains(bl, want) {
			t.Errorf("show blacklist lacks %q:\n%s", want, bl)
		}
	}
}

func TestShowDevices(t *testing.T) {
	s, _ := rig(t)
	s.SysBlock = t.TempDir()
	for _, d := range []string{"sdb", "sda", "dm-0", "loop0"} {
		if err := os.Mkdir(filepath.Join(s.SysBlock, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := "available block devices:\n" +
		"    dm-0 devnode blacklisted, unmonitored\n" +
		"    loop0 devnode blacklisted, unmonitored\n" +
		"    sda devnode whitelisted, unmonitored\n" +
		"    sdb devnode whitelisted, monitored\n"
	if got := s.Execute(t.Context(), "show devices", true); got != want {
		t.Errorf("show devices\n got %q\nwant %q", got, want)
	}
}

func TestRenderTopologyWidthsAndWords(t *testing.T) {
	top := api.Topology{Maps: []api.Map{{
		Name: "3600a0980", WWID: "3600a0980", DM: "dm-12", SizeSectors: 2097152 * 5, Features: "0",
		HWHandler: "0", ReadOnly: true, Vendor: "PURE", Product: "FlashArray",
		Groups: []api.Group{{Index: 1, State: api.GroupActive, Prio: 50, Selector: "round-robin 0", Paths: []api.Path{
			{Dev: "sdaa", DevT: "65:160", HCIL: "10:0:0:1", DMState: api.DMFailed, CheckerState: api.CheckerDown, DevState: "transport-offline"},
			{Dev: "sdb", DevT: "8:16", HCIL: "1:0:0:1", DMState: api.DMActive, CheckerState: api.CheckerPending, DevState: "blocked"},
			{Dev: "sdc", DevT: "8:32", HCIL: "1:0:0:2", DMState: api.DMActive, CheckerState: api.CheckerGhost, DevState: "running"},
			{Dev: "sdd", DevT: "8:48", HCIL: "1:0:0:3", DMState: api.DMActive, CheckerState: ""},
		}}},
	}}}
	want := "3600a0980 dm-12 PURE,FlashArray\n" +
		"size=5.0G features='0' hwhandler='0' wp=ro\n" +
		"`-+- policy='round-robin 0' prio=50 status=active\n" +
		"  |- 10:0:0:1 sdaa 65:160 failed faulty      offline\n" +
		"  |- 1:0:0:1  sdb  8:16   active i/o pending running\n" +
		"  |- 1:0:0:2  sdc  8:32   active ghost       running\n" +
		"  `- 1:0:0:3  sdd  8:48   active undef       unknown\n"
	var b strings.Builder
	if err := RenderTopology(&b, top); err != nil || b.String() != want {
		t.Errorf("RenderTopology\n got %q\nwant %q", b.String(), want)
	}
}

func TestSizeWord(t *testing.T) {
	for sectors, want := range map[uint64]string{0: "0.0K", 2: "1.0K", 2048: "1.0M", 209715200: "100G",
		2147483648: "1.0T", 20971520: "10G", 3 << 41: "3.0P", 1 << 60: "524288P"} {
		if got := sizeWord(sectors); got != want {
			t.Errorf("sizeWord(%d) = %q, want %q", sectors, got, want)
		}
	}
}

func TestLunHex(t *testing.T) {
	for hcil, want := range map[string]string{"1:0:0:1": "0x0001000000000000", "1:0:0:300": "0x012c000000000000",
		"1:0:0:70000": "0x1170000100000000", "bad": "[undef]"} {
		if got := lunHex(hcil); got != want {
			t.Errorf("lunHex(%q) = %q, want %q", hcil, got, want)
		}
	}
}

// TestSocket serves a real socket: several commands on one connection, and
// a non-root peer refused an action.
func TestSocket(t *testing.T) {
	s, _ := rig(t)
	var uid atomic.Uint32
	s.PeerUID = func(net.Conn) (uint32, error) { return uid.Load(), nil }
	sock := filepath.Join(t.TempDir(), "multipathd.socket")
	ls, err := Listen(sock, "@mpathcompat-test-"+filepath.Base(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket mode: %v %v", fi.Mode(), err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Serve(ctx, ls...) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	for _, addr := range []string{sock, ls[1].Addr().String()} {
		c, err := Dial(t.Context(), addr)
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"show daemon", "resize map dm-0", "show status"} {
			got, err := c.Do(t.Context(), cmd)
			if err != nil || got == "" || strings.HasPrefix(got, "fail") {
				t.Errorf("%s on %s: %q, %v", cmd, addr, got, err)
			}
		}
		c.Close()
	}
	uid.Store(1000)
	c, err := Dial(t.Context(), sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := c.Do(t.Context(), "del maps"); got != "permission deny: need to be root\n" || err != nil {
		t.Errorf("non-root del maps: %q, %v", got, err)
	}
	// A second Listen on a live socket is refused rather than stealing it.
	if _, err := Listen(sock); err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Errorf("Listen on a live socket: %v", err)
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"show status", `show paths raw format "%w %d %t"`, "sho map mpatha json",
		"switch map a group 2", `add path "/dev/sd b"`, `show maps format "`, "del", "list multipaths stats", "\x00"} {
		f.Add(s)
	}
	s := &Server{Service: apitest.New(apitest.Generate(1, 2, 2)), Version: "test"}
	f.Fuzz(func(t *testing.T, line string) {
		// Any line gets a reply, and a non-root peer never reaches an action.
		if reply := s.Execute(t.Context(), line, false); reply == "" {
			t.Fatalf("%q: empty reply", line)
		}
		c, err := ParseCommand(line)
		if err != nil {
			return
		}
		for _, p := range c.Params {
			if strings.Contains(p, `"`) {
				t.Fatalf("%q: parameter %q holds a quote", line, p)
			}
		}
		again, err := ParseCommand(c.String())
		if err != nil || again.String() != c.String() || again.Verb != c.Verb || !slices.Equal(again.Quals, c.Quals) {
			t.Fatalf("%q → %q → %+v, %v", line, c.String(), again, err)
		}
		for k, p := range c.Params {
			if again.Params[k] != p {
				t.Fatalf("%q: parameter %q came back as %q", line, p, again.Params[k])
			}
		}
	})
}

// TestMapsJSONLayout pins the text of show maps json, laid out as multipathd
// lays it out (clients parse it as JSON; people diff it).
func TestMapsJSONLayout(t *testing.T) {
	want := `{
   "major_version": 0,
   "minor_version": 1,
   "maps": [{
      "name" : "mpatha",
      "uuid" : "3600a098038300000000000000000000",
      "sysfs" : "dm-0",
      "failback" : "immediate",
      "queueing" : "12 chk",
      "paths" : 1,
      "write_prot" : "rw",
      "dm_st" : "active",
      "features" : "1 queue_if_no_path",
      "hwhandler" : "1 alua",
      "action" : "",
      "path_faults" : 0,
      "vend" : "NETAPP",
      "prod" : "LUN C-Mode",
      "rev" : "##",
      "switch_grp" : 0,
      "map_loads" : 0,
      "total_q_time" : 0,
      "q_timeouts" : 0,
      "path_groups": [{
         "selector" : "service-time 0",
         "pri" : 50,
         "dm_st" : "active",
         "marginal_st" : "normal",
         "group" : 1,
         "paths": [{
            "dev" : "sdb",
            "dev_t" : "8:16",
            "dm_st" : "active",
            "dev_st" : "running",
            "chk_st" : "ready",
            "checker" : "tur",
            "pri" : 50,
            "host_wwnn" : "[undef]",
            "target_wwnn" : "[undef]",
            "host_wwpn" : "[undef]",
            "target_wwpn" : "[undef]",
            "host_adapter" : "[undef]",
            "lun_hex" : "0x0000000000000000",
            "marginal_st" : "normal"
         }]
      }]
   }]
}
`
	if got := MapsJSON(apitest.Generate(1, 1, 1)); got != want {
		t.Errorf("show maps json\n got %s\nwant %s", got, want)
	}
	if got := MapsJSON(api.Topology{}); got != "{\n   \"major_version\": 0,\n   \"minor_version\": 1,\n   \"maps\": []\n}\n" {
		t.Errorf("show maps json without maps: %q", got)
	}
}

// TestMapsJSONCache: the cached rendering always equals a fresh one, through
// path state changes (new groups) and scalar changes on the same groups.
func TestMapsJSONCache(t *testing.T) {
	s, f := rig(t)
	show := func() string { return s.Execute(t.Context(), "show maps json", false) }
	if got, want := show(), MapsJSON(f.Topology()); got != want {
		t.Fatalf("first render differs from MapsJSON")
	}
	if err := f.SetPathState("sdc", api.CheckerDown, api.DMFailed, "test"); err != nil {
		t.Fatal(err)
	}
	got := show()
	if want := MapsJSON(f.Topology()); got != want || !strings.Contains(got, `"chk_st" : "faulty"`) {
		t.Fatalf("after a path failed: cached render is stale:\n%s", got)
	}
	// The same groups with another counter: the key covers the map's own fields.
	top := f.Topology()
	top.Maps = slices.Clone(top.Maps)
	top.Maps[1].PathFaults = 7
	f.SetTopology(top)
	if got, want := show(), MapsJSON(top); got != want || !strings.Contains(got, `"path_faults" : 7`) {
		t.Fatalf("after a counter changed: cached render is stale")
	}
	if n := len(s.json.entries); n != 2 {
		t.Errorf("cache holds %d maps, want 2", n)
	}
	f.SetTopology(api.Topology{})
	if got := show(); got != MapsJSON(api.Topology{}) || len(s.json.entries) != 0 {
		t.Errorf("without maps: %q, %d cached", got, len(s.json.entries))
	}
}

// brokenListener fails its first Accept for good.
type brokenListener struct{ net.Listener }

func (brokenListener) Accept() (net.Conn, error) { return nil, errors.New("broken") }

// TestServeStopsWhenOneSocketFails: a listener that breaks stops Serve with
// its error, even while another one is still fine.
func TestServeStopsWhenOneSocketFails(t *testing.T) {
	s, _ := rig(t)
	good, err := Listen(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Serve(t.Context(), good[0], brokenListener{good[0]})
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("Serve = %v, want the broken listener's error", err)
	}
}

// TestStatusAndDaemonWords: busy while the daemon starts or reloads (vdsm
// waits for busy: False), and multipathd's state words in show daemon.
func TestStatusAndDaemonWords(t *testing.T) {
	for _, tc := range []struct{ state, busy, daemon string }{
		{"startup", "True", "pid 7 startup\n"},
		{"configure", "True", "pid 7 configure\n"},
		{"running", "False", "pid 7 running\n"},
		{"reloading", "True", "pid 7 configure\n"},
		{"stopping", "True", "pid 7 shutdown\n"},
	} {
		st := api.Status{PID: 7, State: tc.state, Paths: 3,
			CheckerStates: map[string]int{api.CheckerUp: 1, api.CheckerGhost: 1, api.CheckerDisconnected: 1}}
		want := "path checker states:\nup                  1\nghost               1\ndisconnected        1\n\npaths: 3\nbusy: " + tc.busy + "\n"
		if got := Status(st); got != want {
			t.Errorf("%s: show status\n got %q\nwant %q", tc.state, got, want)
		}
		if got := Daemon(st); got != tc.daemon {
			t.Errorf("%s: show daemon %q, want %q", tc.state, got, tc.daemon)
		}
	}
}

// TestPRCommands: multipathd's persistent reservation commands, as
// libmpathpersist sends them, with multipathd's replies.
func TestPRCommands(t *testing.T) {
	tests := []struct {
		cmd, want string
		calls     []string
		root      bool
	}{
		{cmd: "getprstatus map mpatha", want: "set\n", root: true},
		{cmd: "getprhold map mpatha", want: "unset\n", root: true},
		{cmd: "getprkey map mpatha", want: "0xabc:aptpl\n", root: true},
		{cmd: "getprkey map /dev/mapper/mpatha", want: "0xabc:aptpl\n", root: true},
		{cmd: "getprkey multipath dm-1", want: "none\n", root: true},
		{cmd: "getprstatus map mpathb", want: "unset\n", root: true},
		{cmd: "getprhold map mpathb", want: "unset\n", root: true},
		{cmd: "getprstatus map nosuchmap", want: "fail\n", root: true},
		{cmd: "getprstatus map mpatha", want: "permission deny: need to be root\n"},
		{cmd: "setprstatus map mpatha", want: "ok\n", calls: []string{"SetPRStatus mpatha true"}, root: true},
		{cmd: `setprstatus map mpatha pathlist "sdb sdc"`, want: "ok\n", calls: []string{"SetPRStatus mpatha true"}, root: true},
		{cmd: "unsetprstatus map /dev/dm-0", want: "ok\n", calls: []string{"SetPRStatus dm-0 false"}, root: true},
		{cmd: "setprkey map mpatha key 0x123:aptpl", want: "ok\n", calls: []string{"SetPRKey mpatha 0x123:aptpl"}, root: true},
		{cmd: "unsetprkey map mpatha", want: "ok\n", calls: []string{"SetPRKey mpatha "}, root: true},
		{cmd: "setprhold map mpatha", want: "ok\n", calls: []string{"SetPRHold mpatha true"}, root: true},
		{cmd: "unsetprhold map mpatha", want: "ok\n", calls: []string{"SetPRHold mpatha false"}, root: true},
		{cmd: "setprkey map mpatha", root: true}, // no key: the command reference, as for any incomplete command
		{cmd: "setprhold map mpatha", want: "permission deny: need to be root\n"},
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			s, f := rig(t)
			top := f.Topology()
			top.Maps[0].Reservation = &api.Reservation{Map: "mpatha", Status: "set", Hold: "unset", Key: "0xabc:aptpl", KeySource: "file"}
			f.SetTopology(top)
			got := s.Execute(t.Context(), tc.cmd, tc.root)
			if tc.want == "" {
				help("setprkey map mpatha: not found")(t, got)
			} else if got != tc.want {
				t.Errorf("reply %q, want %q", got, tc.want)
			}
			if calls := f.Calls(); !slices.Equal(calls, tc.calls) {
				t.Errorf("calls = %q, want %q", calls, tc.calls)
			}
		})
	}
	// A refusal of the daemon (setprkey without reservation_key "file") is a bare fail.
	s, f := rig(t)
	f.FailNext("SetPRKey", api.Errorf(api.CodeInvalid, "reservation_key is not \"file\""))
	if got := s.Execute(t.Context(), "setprkey map mpatha key 0x1", true); got != "fail\n" {
		t.Errorf("refused setprkey: %q", got)
	}
}
