package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/kerneltopo"
	"github.com/mpathd/mpathd/pkg/mpathcompat"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// The fc fixture: mpatha (dm-0) on sda and sdc, mpathb (dm-1) on sdb and sdd (offline).
const (
	wwidA = "3600a0980383030534f2b4d3153324d70"
	wwidB = "3600a0980383030534f2b4d3153324d71"
)

// fakeDaemon answers commands from a table and records them. Down makes
// every dial fail, as with no daemon.
type fakeDaemon struct {
	mu      sync.Mutex
	down    bool
	replies map[string]string // command → reply; missing: "ok\n"
	sent    []string
	err     error // transport error on Do
}

func (d *fakeDaemon) dial(context.Context) (conn, error) {
	if d.down {
		return nil, errors.New("connection refused")
	}
	return d, nil
}

func (d *fakeDaemon) Do(_ context.Context, cmd string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent = append(d.sent, cmd)
	if d.err != nil {
		return "", d.err
	}
	if r, ok := d.replies[cmd]; ok {
		return r, nil
	}
	return "ok\n", nil
}

func (d *fakeDaemon) Close() error { return nil }

type rig struct {
	e       *env
	out     *bytes.Buffer
	errOut  *bytes.Buffer
	kernel  *dm.Fake
	daemon  *fakeDaemon
	execs   [][]string
	enabled bool
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{out: &bytes.Buffer{}, errOut: &bytes.Buffer{}, kernel: fcKernel(t), daemon: &fakeDaemon{}}
	r.e = &env{
		stdin: strings.NewReader(""), stdout: r.out, stderr: r.errOut,
		getenv: func(string) string { return "" },
		dial:   r.daemon.dial,
		exec: func(path string, argv, _ []string) error {
			r.execs = append(r.execs, append([]string{path}, argv...))
			return nil
		},
		openDM:     func() (dm.Control, func(), error) { return r.kernel, func() {}, nil },
		sys:        sysfs.New("../../pkg/sysfs/testdata/fc"),
		wwids:      filepath.Join(t.TempDir(), "wwids"),
		loadConfig: func() (*config.Config, error) { return config.Builtin(), nil },
		render: func(w io.Writer, top api.Topology) error {
			for _, m := range top.Maps {
				fmt.Fprintf(w, "%s %s\n", m.Name, m.DM)
				for _, g := range m.Groups {
					for _, p := range g.Paths {
						fmt.Fprintf(w, "  %d %s %s %s %s %s prio=%d\n", g.Index, g.State, p.Dev, p.DMState, p.CheckerState, p.DevState, p.Prio)
					}
				}
			}
			return nil
		},
		dumpConfig:    dumpConfig,
		daemonEnabled: func() bool { return r.enabled },
	}
	return r
}

func (r *rig) run(argv ...string) int {
	r.out.Reset()
	r.errOut.Reset()
	r.daemon.sent = nil
	return run(context.Background(), r.e, argv)
}

func fcKernel(t *testing.T) *dm.Fake {
	t.Helper()
	f := dm.NewFake()
	path := func(d string) dm.Path { return dm.Path{Dev: d, Args: []string{"1"}} }
	for _, m := range []struct{ name, wwid, p1, p2 string }{{"mpatha", wwidA, "8:0", "8:32"}, {"mpathb", wwidB, "8:16", "8:48"}} {
		tab := dm.Table{Features: dm.Features{QueueIfNoPath: true}, InitialPG: 1, Groups: []dm.Group{
			{Selector: "round-robin", Paths: []dm.Path{path(m.p1)}}, {Selector: "round-robin", Paths: []dm.Path{path(m.p2)}}}}
		if _, err := dm.CreateMap(f, m.name, kerneltopo.UUIDPrefix+m.wwid, 2097152, tab, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.KernelFailPath("mpathb", "8:48"); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMultipathList(t *testing.T) {
	r := newRig(t)
	if code := r.run("multipath", "-l"); code != 0 {
		t.Fatalf("multipath -l: exit %d, stderr %s", code, r.errOut)
	}
	want := `mpatha dm-0
  1 enabled sda active unchecked running prio=0
  2 enabled sdc active unchecked running prio=0
mpathb dm-1
  1 active sdb active unchecked running prio=0
  2 enabled sdd failed down offline prio=0
`
	if r.out.String() != want {
		t.Errorf("multipath -l:\n%s\nwant\n%s", r.out, want)
	}
	for _, arg := range []string{"mpathb", "/dev/sdd", "8:16", wwidB, "dm-1", "/dev/mapper/mpathb"} {
		if code := r.run("multipath", "-l", arg); code != 0 || !strings.HasPrefix(r.out.String(), "mpathb dm-1\n") || strings.Contains(r.out.String(), "mpatha") {
			t.Errorf("multipath -l %s: exit %d\n%s%s", arg, code, r.out, r.errOut)
		}
	}
	if code := r.run("multipath", "-l", "/dev/nosuch"); code != 1 || !strings.Contains(r.errOut.String(), "is not a valid argument") {
		t.Errorf("multipath -l /dev/nosuch: exit %d, stderr %q", code, r.errOut)
	}
	if code := r.run("multipath", "-v1", "-ll"); code != 0 || r.out.String() != "mpatha\nmpathb\n" {
		t.Errorf("multipath -v1 -ll: exit %d, %q", code, r.out)
	}
	if code := r.run("multipath", "-ll", "-v0"); code != 0 || r.out.Len() != 0 {
		t.Errorf("multipath -ll -v0: exit %d, %q", code, r.out)
	}
	// The daemon is down: the topology comes from the kernel all the same, with a warning.
	r.daemon.down = true
	if code := r.run("multipath", "-ll"); code != 0 || !strings.Contains(r.out.String(), "mpathb dm-1") ||
		!strings.Contains(r.errOut.String(), "mpathd is not running") {
		t.Errorf("multipath -ll, daemon down: exit %d\n%s%s", code, r.out, r.errOut)
	}
}

type staticProber map[string]kerneltopo.Probe

func (s staticProber) Probe(_ context.Context, _ api.Map, p sysfs.Path) kerneltopo.Probe {
	return s[p.Name]
}

func TestMultipathListLongProbes(t *testing.T) {
	r := newRig(t)
	r.e.prober = func(*config.Config) prober {
		return staticProber{"sda": {State: api.CheckerUp, Prio: 50}, "sdc": {State: api.CheckerGhost, Prio: 1},
			"sdb": {State: api.CheckerUp, Prio: 50}, "sdd": {State: api.CheckerDown, Prio: 0}}
	}
	if code := r.run("multipath", "-ll", "mpatha"); code != 0 {
		t.Fatalf("exit %d: %s", code, r.errOut)
	}
	want := "mpatha dm-0\n  1 enabled sda active up running prio=50\n  2 enabled sdc active ghost running prio=1\n"
	if r.out.String() != want {
		t.Errorf("multipath -ll mpatha:\n%s\nwant\n%s", r.out, want)
	}
	// -l runs no checker.
	if r.run("multipath", "-l", "mpatha"); strings.Contains(r.out.String(), " up ") {
		t.Errorf("multipath -l probed paths:\n%s", r.out)
	}
}

func TestMultipathFlush(t *testing.T) {
	r := newRig(t)
	r.daemon.replies = map[string]string{"del map mpathb": "fail\nmap or partition in use\n"}
	if code := r.run("multipath", "-f", "mpatha"); code != 0 || fmt.Sprint(r.daemon.sent) != "[del map mpatha]" || r.out.Len() != 0 {
		t.Errorf("multipath -f mpatha: exit %d, sent %q, out %q", code, r.daemon.sent, r.out)
	}
	if code := r.run("multipath", "-f", "/dev/mapper/mpathb"); code != 1 || r.out.String() != "map or partition in use\n" {
		t.Errorf("multipath -f mpathb (daemon says in use): exit %d, out %q", code, r.out)
	}
	if code := r.run("multipath", "-f", "/dev/sda"); code != 1 || !strings.Contains(r.errOut.String(), "requires a map name") {
		t.Errorf("multipath -f /dev/sda: exit %d, %s", code, r.errOut)
	}
	if code := r.run("multipath", "-F"); code != 0 || fmt.Sprint(r.daemon.sent) != "[del maps]" {
		t.Errorf("multipath -F: exit %d, sent %q", code, r.daemon.sent)
	}
	// "fail\ntimeout\n": the daemon did not get to it; multipath acts itself.
	r.daemon.replies["del map mpatha"] = "fail\ntimeout\n"
	r.kernel.ResetCalls()
	if code := r.run("multipath", "-f", "mpatha"); code != 0 || !removed(r.kernel, "mpatha") {
		t.Errorf("multipath -f mpatha after a daemon timeout: exit %d, %s, calls %v", code, r.errOut, r.kernel.Calls())
	}
	// No reply within the client's timeout: likewise.
	r.daemon.err = os.ErrDeadlineExceeded
	if code := r.run("multipath", "-f", "mpathb"); code != 0 || !removed(r.kernel, "mpathb") {
		t.Errorf("multipath -f mpathb with the daemon not answering: exit %d, %s", code, r.errOut)
	}
}

// "timeout\n" is how the daemon's socket answers an action past its deadline: the daemon did not
// finish, so multipath acts itself, as after "fail\ntimeout\n".
func TestMultipathFlushAfterTimeoutReply(t *testing.T) {
	r := newRig(t)
	r.daemon.replies = map[string]string{"del map mpathb": "timeout\n"}
	if code := r.run("multipath", "-f", "mpathb"); code != 0 || !removed(r.kernel, "mpathb") {
		t.Errorf("multipath -f mpathb after a timeout reply: exit %d, %s, calls %v", code, r.errOut, r.kernel.Calls())
	}
}

func removed(f *dm.Fake, name string) bool {
	_, err := f.Info(name)
	return dm.IsNotExist(err)
}

func TestMultipathFlushDaemonDown(t *testing.T) {
	r := newRig(t)
	r.daemon.down = true
	if err := r.kernel.SetOpenCount("mpathb", 1); err != nil {
		t.Fatal(err)
	}
	if code := r.run("multipath", "-f", "mpathb"); code != 1 || !strings.Contains(r.errOut.String(), "mpathb: map in use") || removed(r.kernel, "mpathb") {
		t.Errorf("multipath -f of an open map: exit %d, %s", code, r.errOut)
	}
	r.kernel.ResetCalls()
	if code := r.run("multipath", "-f", "mpatha"); code != 0 || !removed(r.kernel, "mpatha") {
		t.Fatalf("multipath -f mpatha: exit %d, %s", code, r.errOut)
	}
	// Queueing goes off before the map does, so nothing can hang on it.
	var ops []string
	for _, c := range r.kernel.Calls() {
		if c.Op == "DM_TARGET_MSG" || c.Op == "DM_DEV_REMOVE" {
			ops = append(ops, c.Op+" "+c.Arg)
		}
	}
	if fmt.Sprint(ops) != "[DM_TARGET_MSG fail_if_no_path DM_DEV_REMOVE ]" {
		t.Errorf("calls %q", ops)
	}
	if code := r.run("multipath", "-F"); code != 1 || removed(r.kernel, "mpathb") {
		t.Errorf("multipath -F with mpathb open: exit %d, %s", code, r.errOut)
	}
	if err := r.kernel.SetOpenCount("mpathb", 0); err != nil {
		t.Fatal(err)
	}
	if code := r.run("multipath", "-F"); code != 0 || !removed(r.kernel, "mpathb") {
		t.Errorf("multipath -F: exit %d, %s", code, r.errOut)
	}
	if len(r.daemon.sent) != 0 {
		t.Errorf("sent %q to a daemon that is down", r.daemon.sent)
	}
}

func TestMultipathFlushPartitions(t *testing.T) {
	r := newRig(t)
	r.daemon.down = true
	// kpartx's partition map on mpatha: a mounted one keeps the map; an unused one goes first.
	if _, err := r.kernel.Create("mpatha1", "part1-mpath-"+wwidA); err != nil {
		t.Fatal(err)
	}
	if err := r.kernel.SetOpenCount("mpatha1", 1); err != nil {
		t.Fatal(err)
	}
	if code := r.run("multipath", "-f", "mpatha"); code != 1 || removed(r.kernel, "mpatha1") {
		t.Errorf("multipath -f with a mounted partition: exit %d, %s", code, r.errOut)
	}
	if err := r.kernel.SetOpenCount("mpatha1", 0); err != nil {
		t.Fatal(err)
	}
	r.kernel.ResetCalls()
	if code := r.run("multipath", "-f", "mpatha"); code != 0 || !removed(r.kernel, "mpatha1") || !removed(r.kernel, "mpatha") {
		t.Errorf("multipath -f with an unused partition: exit %d, %s", code, r.errOut)
	}
	var order []string
	for _, c := range r.kernel.Calls() {
		if c.Op == "DM_DEV_REMOVE" {
			order = append(order, c.Name)
		}
	}
	if fmt.Sprint(order) != "[mpatha1 mpatha]" {
		t.Errorf("removed %v, want the partition first", order)
	}
}

func TestMultipathWWIDs(t *testing.T) {
	r := newRig(t)
	steps := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"-a", "/dev/sdd"}, 0, "wwid '" + wwidB + "' added\n"},
		{[]string{"-a", "3600aNEW"}, 0, "wwid '3600aNEW' added\n"},
		{[]string{"-w", "3600aNEW"}, 0, "wwid '3600aNEW' removed\n"},
		{[]string{"-w", "3600aNEW"}, 0, "wwid '3600aNEW' not in wwids file\n"},
		{[]string{"-a", "3600aSTALE"}, 0, "wwid '3600aSTALE' added\n"},
		{[]string{"-W"}, 0, "successfully reset wwids\n"},
		{[]string{"-w"}, 1, ""},
	}
	for _, s := range steps {
		if code := r.run(append([]string{"multipath"}, s.args...)...); code != s.code || r.out.String() != s.out {
			t.Errorf("multipath %q: exit %d, out %q, stderr %q; want %d %q", s.args, code, r.out, r.errOut, s.code, s.out)
		}
	}
	data, err := os.ReadFile(r.e.wwids)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "/") {
			listed = append(listed, l)
		}
	}
	if want := "[/" + wwidB + "/ /" + wwidA + "/]"; fmt.Sprint(listed) != want {
		t.Errorf("wwids file after -W lists %v, want %s", listed, want)
	}
}

func TestMultipathUsablePaths(t *testing.T) {
	r := newRig(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-C", "mpatha"}, 0},
		{[]string{"-C", "/dev/dm-1"}, 0}, // sdb is active and running
		{[]string{"-U", "dm-1"}, 0},
		{[]string{"-C", "/dev/sda"}, 1}, // a path, not a map
		{[]string{"-C", "nosuch"}, 1},
	} {
		if code := r.run(append([]string{"multipath"}, tc.args...)...); code != tc.code {
			t.Errorf("multipath %q: exit %d, want %d (%s)", tc.args, code, tc.code, r.errOut)
		}
	}
	if err := r.kernel.KernelFailPath("mpathb", "8:16"); err != nil {
		t.Fatal(err)
	}
	if code := r.run("multipath", "-C", "mpathb"); code != 1 || !strings.Contains(r.errOut.String(), "no usable paths found") {
		t.Errorf("multipath -C mpathb with both paths failed: exit %d, %q", code, r.errOut)
	}
}

func TestMultipathValid(t *testing.T) {
	r := newRig(t)
	for _, tc := range []struct {
		args    []string
		daemon  bool
		enabled bool
		prev    string
		code    int
		out     string
	}{
		{[]string{"-c", "/dev/sda"}, true, false, "", 0, "DM_MULTIPATH_DEVICE_PATH=\"1\"\n"},
		{[]string{"-c", "vda"}, true, false, "", 1, "DM_MULTIPATH_DEVICE_PATH=\"0\"\n"},
		{[]string{"-u", "vda"}, true, false, "", 0, "DM_MULTIPATH_DEVICE_PATH=\"0\"\n"},
		{[]string{"-u", "sdb"}, false, false, "", 0, "DM_MULTIPATH_DEVICE_PATH=\"1\"\n"}, // in a map already
		{[]string{"-c", "dm-0"}, true, false, "", 1, ""},
		{[]string{"-u", "dm-0"}, true, false, "", 0, "DM_MULTIPATH_DEVICE_PATH=\"0\"\n"},
		{[]string{"-c"}, true, false, "", 1, ""},
	} {
		r.daemon.down = !tc.daemon
		r.enabled = tc.enabled
		r.e.getenv = func(string) string { return tc.prev }
		if code := r.run(append([]string{"multipath"}, tc.args...)...); code != tc.code || r.out.String() != tc.out {
			t.Errorf("multipath %q: exit %d, out %q (%s); want %d %q", tc.args, code, r.out, r.errOut, tc.code, tc.out)
		}
	}
}

func TestMultipathDelegates(t *testing.T) {
	r := newRig(t)
	for _, tc := range []struct {
		args []string
		sent string
	}{
		{[]string{"-r"}, "[reconfigure all]"},
		{nil, "[reconfigure]"},
		{[]string{"/dev/sdc"}, "[add path sdc]"},
		{[]string{"mpatha"}, "[reload map mpatha]"},
		{[]string{"36000NEW"}, "[add map 36000NEW]"},
	} {
		if code := r.run(append([]string{"multipath"}, tc.args...)...); code != 0 || fmt.Sprint(r.daemon.sent) != tc.sent {
			t.Errorf("multipath %q: exit %d, sent %q, want %s", tc.args, code, r.daemon.sent, tc.sent)
		}
	}
	r.daemon.down = true
	if code := r.run("multipath", "-r"); code != 1 || !strings.Contains(r.errOut.String(), "mpathd is not running") {
		t.Errorf("multipath -r, daemon down: exit %d, %q", code, r.errOut)
	}
}

func TestMultipathMisc(t *testing.T) {
	r := newRig(t)
	if code := r.run("multipath", "-t"); code != 0 || !strings.HasPrefix(r.out.String(), "defaults {\n") ||
		!strings.Contains(r.out.String(), "\tfind_multipaths \"on\"\n") || !strings.Contains(r.out.String(), "devices {\n") {
		t.Errorf("multipath -t: exit %d\n%s%s", code, r.out, r.errOut)
	}
	if code := r.run("multipath", "-h"); code != 0 || !strings.Contains(r.errOut.String(), "Usage:") {
		t.Errorf("multipath -h: exit %d", code)
	}
	if code := r.run("multipath", "-x"); code != 1 || !strings.Contains(r.errOut.String(), "invalid option") {
		t.Errorf("multipath -x: exit %d, %q", code, r.errOut)
	}
	if code := r.run("multipath", "-p", "bogus"); code != 1 {
		t.Errorf("multipath -p bogus: exit %d", code)
	}
	r.e.euid = 1000
	if code := r.run("multipath", "-ll"); code != 1 || r.errOut.String() != "need to be root\n" {
		t.Errorf("multipath -ll as a user: exit %d, %q", code, r.errOut)
	}
	if code := r.run("multipath", "-t"); code != 0 {
		t.Errorf("multipath -t as a user: exit %d", code)
	}
}

func TestMultipathdClient(t *testing.T) {
	r := newRig(t)
	r.daemon.replies = map[string]string{
		"show status \n":       "path checker states:\nup 4\n\npaths: 4\nbusy: False\n",
		"resize map dm-9 \n":   "fail\n",
		"del path sdz \n":      "fail\ndevice not found\n",
		"show maps":            "name sysfs uuid\nmpatha dm-0 " + wwidA + "\n",
		"show config local":    "defaults {\n}\n",
		"list paths format %d": "\x1b[1msda\x1b[0m\n",
	}
	for _, tc := range []struct {
		argv []string
		code int
		sent string
		out  string
	}{
		{[]string{"multipathd", "show", "status"}, 0, "[show status \n]", r.daemon.replies["show status \n"]},
		{[]string{"multipathd", "resize", "map", "dm-9"}, 1, "[resize map dm-9 \n]", "fail\n"},
		// A failure with a reason exits 0, as multipathd's client does.
		{[]string{"multipathd", "del", "path", "sdz"}, 0, "[del path sdz \n]", "fail\ndevice not found\n"},
		{[]string{"multipathd", "-kshow maps"}, 0, "[show maps]", r.daemon.replies["show maps"]},
		{[]string{"/usr/sbin/multipathd", "-v3", "-kshow config local"}, 0, "[show config local]", "defaults {\n}\n"},
		{[]string{"multipath-build", "multipathd", "show", "paths", "format", "%d %T"}, 0, "[show paths format \"%d %T\" \n]", "ok\n"},
	} {
		if code := r.run(tc.argv...); code != tc.code || fmt.Sprint(r.daemon.sent) != tc.sent || r.out.String() != tc.out {
			t.Errorf("%q: exit %d, sent %q, out %q; want %d %q %q", tc.argv, code, r.daemon.sent, r.out, tc.code, tc.sent, tc.out)
		}
	}
	// Interactive: one command per line until quit; colour is stripped when not on a terminal.
	r.e.stdin = strings.NewReader("show maps\n\n  list paths format %d \nquit\nshow status\n")
	if code := r.run("multipathd", "-k"); code != 0 || fmt.Sprint(r.daemon.sent) != "[show maps list paths format %d]" ||
		r.out.String() != r.daemon.replies["show maps"]+"sda\n" {
		t.Errorf("multipathd -k: exit %d, sent %q, out %q", code, r.daemon.sent, r.out)
	}
	r.daemon.err = os.ErrDeadlineExceeded
	if code := r.run("multipathd", "show", "status"); code != 1 || r.out.String() != "timeout receiving packet\n" {
		t.Errorf("timeout: exit %d, %q", code, r.out)
	}
	r.daemon.err = io.ErrUnexpectedEOF
	if code := r.run("multipathd", "show", "status"); code != 1 || !strings.Contains(r.out.String(), "error receiving packet") {
		t.Errorf("transport error: exit %d, %q", code, r.out)
	}
	r.daemon.down = true
	if code := r.run("multipathd", "show", "status"); code != 1 || r.out.Len() != 0 || r.errOut.Len() == 0 {
		t.Errorf("daemon down: exit %d, out %q, err %q", code, r.out, r.errOut)
	}
}

func TestMultipathdDaemonMode(t *testing.T) {
	r := newRig(t)
	if code := r.run("multipathd", "-d", "-s", "-v3"); code != 0 || fmt.Sprint(r.execs) != "[[/usr/sbin/mpathd mpathd --log-level debug]]" {
		t.Errorf("multipathd -d -s -v3: exit %d, exec %q", code, r.execs)
	}
	r.execs = nil
	if code := r.run("multipathd"); code != 1 || len(r.execs) != 0 || !strings.Contains(r.errOut.String(), "mpathd") {
		t.Errorf("multipathd (background daemon): exit %d, exec %q, %q", code, r.execs, r.errOut)
	}
	r.e.exec = func(string, []string, []string) error { return os.ErrNotExist }
	if code := r.run("multipathd", "-d"); code != 1 || !strings.Contains(r.errOut.String(), "cannot start mpathd") {
		t.Errorf("multipathd -d without mpathd: exit %d, %q", code, r.errOut)
	}
	if code := r.run("multipathd", "-x"); code != 1 {
		t.Errorf("multipathd -x: exit %d", code)
	}
}

// TestMultipathdSocket runs the real client against a socket that speaks
// multipathd's framing: the bytes on the wire are what multipathd's client sends.
func TestMultipathdSocket(t *testing.T) {
	name := fmt.Sprintf("@mpathd-test-%d", os.Getpid())
	t.Setenv(mpathcompat.SocketEnv, name)
	ln, err := net.Listen("unix", name)
	if err != nil {
		t.Skipf("abstract unix socket: %v", err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		cmd, err := mpathcompat.ReadFrame(c, mpathcompat.MaxRequest)
		got <- cmd
		if err == nil {
			mpathcompat.WriteFrame(c, "pid 42 idle\n")
		}
	}()
	e := realEnv()
	var out bytes.Buffer
	e.stdout, e.stderr = &out, io.Discard
	if code := run(context.Background(), e, []string{"multipathd", "show", "daemon"}); code != 0 || out.String() != "pid 42 idle\n" {
		t.Errorf("exit %d, out %q", code, out.String())
	}
	if cmd := <-got; cmd != "show daemon \n" {
		t.Errorf("server got %q", cmd)
	}
}

// TestMultipathListGolden prints -l with the real renderer: multipath -l's layout, paths unchecked
// ("undef"), priorities 0, the offline path failed.
func TestMultipathListGolden(t *testing.T) {
	r := newRig(t)
	r.e.render = mpathcompat.RenderTopology
	if code := r.run("multipath", "-l"); code != 0 {
		t.Fatalf("exit %d: %s", code, r.errOut)
	}
	golden := filepath.Join("testdata", "list.golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, r.out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if r.out.String() != string(want) {
		t.Errorf("multipath -l:\n%s\nwant\n%s", r.out, want)
	}
}
