package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/api/apitest"
)

type harness struct {
	fake *apitest.Fake
	srv  *Server
	path string
}

// start serves a fake 2-map topology on a socket in a temp dir, as uid.
func start(t testing.TB, topo api.Topology, uid uint32) *harness {
	t.Helper()
	h := &harness{fake: apitest.New(topo), path: filepath.Join(t.TempDir(), "run", "mpathd.sock")}
	h.srv = &Server{Service: h.fake, PeerUID: func(net.Conn) (uint32, error) { return uid, nil }}
	l, err := Listen(h.path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return h
}

func (h *harness) dial(t testing.TB) *Client {
	t.Helper()
	c, err := Dial(t.Context(), h.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestReadOperations(t *testing.T) {
	h := start(t, apitest.Generate(2, 2, 2), 1000)
	c := h.dial(t)
	ctx := t.Context()

	var topo api.Topology
	if err := c.Call(ctx, api.OpTopology, api.Args{}, &topo); err != nil {
		t.Fatal(err)
	}
	if len(topo.Maps) != 2 || topo.Maps[1].Groups[1].Paths[1].Dev != "sdi" {
		t.Fatalf("topology %+v", topo)
	}
	var m api.Map
	if err := c.Call(ctx, api.OpMap, api.Args{Map: topo.Maps[1].WWID}, &m); err != nil || m.Name != "mpathb" {
		t.Fatalf("map by wwid: %v %q", err, m.Name)
	}
	if err := c.Call(ctx, api.OpMap, api.Args{Map: "nope"}, nil); !api.IsCode(err, api.CodeNotFound) {
		t.Fatalf("unknown map: %v", err)
	}
	if err := c.Call(ctx, api.OpMap, api.Args{}, nil); !api.IsCode(err, api.CodeInvalid) {
		t.Fatalf("map without name: %v", err)
	}
	var paths []api.PathInfo
	if err := c.Call(ctx, api.OpPaths, api.Args{}, &paths); err != nil || len(paths) != 8 || paths[7].Map != "mpathb" {
		t.Fatalf("paths: %v %+v", err, paths)
	}
	var st api.Status
	if err := c.Call(ctx, api.OpStatus, api.Args{}, &st); err != nil || st.Paths != 8 || st.CheckerStates["up"] != 8 {
		t.Fatalf("status: %v %+v", err, st)
	}
	var stats api.Stats
	if err := c.Call(ctx, api.OpStats, api.Args{}, &stats); err != nil || len(stats.Paths) != 8 {
		t.Fatalf("stats: %v %+v", err, stats)
	}
	var cfg api.ConfigText
	if err := c.Call(ctx, api.OpConfig, api.Args{}, &cfg); err != nil || !strings.Contains(cfg.TOML, "[defaults]") {
		t.Fatalf("config: %v %q", err, cfg.TOML)
	}
	var ex api.Explanation
	if err := c.Call(ctx, api.OpExplain, api.Args{Target: "sdc"}, &ex); err != nil || ex.Map != "mpatha" || ex.Path != "sdc" {
		t.Fatalf("explain: %v %+v", err, ex)
	}
	if len(h.fake.Calls()) != 0 {
		t.Fatalf("reads caused actions: %v", h.fake.Calls())
	}
}

func TestActionsAsRoot(t *testing.T) {
	h := start(t, apitest.Generate(2, 2, 2), 0)
	c := h.dial(t)
	ctx := t.Context()
	zero, yes, no := 0, true, false
	for _, tc := range []struct {
		op   string
		args api.Args
	}{
		{api.OpFailPath, api.Args{Path: "sdb"}},
		{api.OpReinstatePath, api.Args{Path: "sdb"}},
		{api.OpSwitchGroup, api.Args{Map: "mpatha", Group: 2}},
		{api.OpReconfigure, api.Args{}},
		{api.OpResizeMap, api.Args{Map: "mpatha"}},
		{api.OpFlushMap, api.Args{Map: "mpathb"}},
		{api.OpAddPath, api.Args{Path: "sdz"}},
		{api.OpDelPath, api.Args{Path: "sdz"}},
		{api.OpRescan, api.Args{}},
		{api.OpRescan, api.Args{Host: &zero}},
		{api.OpCheckConfig, api.Args{File: "/etc/mpathd/mpathd.toml"}},
		{api.OpSetPRKey, api.Args{Map: "mpatha", Key: "0x1:aptpl"}},
		{api.OpSetPRStatus, api.Args{Map: "mpatha", On: &yes}},
		{api.OpSetPRHold, api.Args{Map: "mpatha", On: &no}},
	} {
		if err := c.Call(ctx, tc.op, tc.args, nil); err != nil {
			t.Errorf("%s: %v", tc.op, err)
		}
	}
	want := []string{"FailPath sdb", "ReinstatePath sdb", "SwitchGroup mpatha 2", "Reconfigure",
		"ResizeMap mpatha", "FlushMap mpathb", "AddPath sdz", "DelPath sdz", "Rescan -1", "Rescan 0",
		"CheckConfig /etc/mpathd/mpathd.toml", "SetPRKey mpatha 0x1:aptpl", "SetPRStatus mpatha true", "SetPRHold mpatha false"}
	if got := h.fake.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls\n got %q\nwant %q", got, want)
	}
	var res api.Reservation
	if err := c.Call(ctx, api.OpReservation, api.Args{Map: "mpathb"}, &res); err != nil || res != api.NoReservation("mpathb") {
		t.Errorf("reservation: %+v %v", res, err)
	}
	for _, args := range []api.Args{{Map: "mpatha"}, {On: &yes}} {
		if err := c.Call(ctx, api.OpSetPRStatus, args, nil); !api.IsCode(err, api.CodeInvalid) {
			t.Errorf("set_prstatus %+v: %v", args, err)
		}
	}
	h.fake.FailNext("FlushMap", fmt.Errorf("flush mpatha: %w", api.Errorf(api.CodeBusy, "map in use")))
	err := c.Call(ctx, api.OpFlushMap, api.Args{Map: "mpatha"}, nil)
	if !api.IsCode(err, api.CodeBusy) || err.Error() != "flush mpatha: map in use" {
		t.Errorf("busy flush: %v", err)
	}
	for _, args := range []api.Args{{Map: "mpatha"}, {Group: 1}} {
		if err := c.Call(ctx, api.OpSwitchGroup, args, nil); !api.IsCode(err, api.CodeInvalid) {
			t.Errorf("switch %+v: %v", args, err)
		}
	}
}

func TestNonRootIsReadOnly(t *testing.T) {
	h := start(t, apitest.Generate(1, 1, 2), 1000)
	c := h.dial(t)
	err := c.Call(t.Context(), api.OpFailPath, api.Args{Path: "sdb"}, nil)
	if !api.IsCode(err, api.CodePermission) || !strings.Contains(err.Error(), "needs root") {
		t.Fatalf("non-root fail_path: %v", err)
	}
	if len(h.fake.Calls()) != 0 {
		t.Fatalf("action ran: %v", h.fake.Calls())
	}
	if err := c.Call(t.Context(), api.OpStatus, api.Args{}, nil); err != nil {
		t.Fatalf("status after refusal: %v", err)
	}
}

func TestAuthorize(t *testing.T) {
	for _, tc := range []struct {
		op  string
		uid uint32
		ok  bool
	}{
		{api.OpTopology, 1000, true}, {api.OpEvents, 65534, true}, {api.OpFailPath, 0, true},
		{api.OpFailPath, 1, false}, {api.OpReconfigure, 65534, false}, {api.OpCheckConfig, 1000, false},
		{"unknown", 1000, false}, {"unknown", 0, true},
	} {
		err := api.Authorize(tc.op, tc.uid)
		if (err == nil) != tc.ok || err != nil && !api.IsCode(err, api.CodePermission) {
			t.Errorf("Authorize(%s, %d) = %v", tc.op, tc.uid, err)
		}
	}
}

// The real SO_PEERCRED path: our own uid, and, when running as root, a
// client process running as nobody.
func TestPeerCredentials(t *testing.T) {
	h := &harness{fake: apitest.New(apitest.Generate(1, 1, 1))}
	// t.TempDir's parent is private; nobody needs to reach the socket.
	dir, err := os.MkdirTemp("", "mpathd-control-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.path = filepath.Join(dir, "mpathd.sock")
	l, err := Listen(h.path)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = &Server{Service: h.fake}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- h.srv.Serve(ctx, l) }()
	defer func() { cancel(); <-done }()

	c := h.dial(t)
	err = c.Call(t.Context(), api.OpReconfigure, api.Args{}, nil)
	if os.Getuid() == 0 && err != nil || os.Getuid() != 0 && !api.IsCode(err, api.CodePermission) {
		t.Fatalf("reconfigure as uid %d: %v", os.Getuid(), err)
	}
	if os.Getuid() != 0 {
		return
	}
	// Re-run this test binary as nobody, from a copy nobody may execute.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "control.test")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^TestHelperClient$")
	cmd.Env = append(os.Environ(), "MPATHD_CONTROL_HELPER="+h.path)
	cmd.SysProcAttr = nobody()
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.ENOEXEC) {
		t.Skipf("the test binary cannot run itself here (another architecture under qemu-user without binfmt_misc): %v", err)
	}
	if err != nil {
		t.Fatalf("client as nobody: %v\n%s", err, out)
	}
	for _, want := range []string{"fail_path: permission: fail_path changes the daemon's state and needs root (you are uid 65534)", "status: ok"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("client as nobody: no %q in\n%s", want, out)
		}
	}
	if calls := h.fake.Calls(); !slices.Equal(calls, []string{"Reconfigure"}) {
		t.Errorf("calls %v", calls)
	}
}

// TestHelperClient is the client side of TestPeerCredentials, run in a child
// process as another user.
func TestHelperClient(t *testing.T) {
	path := os.Getenv("MPATHD_CONTROL_HELPER")
	if path == "" {
		t.Skip("helper process for TestPeerCredentials")
	}
	c, err := Dial(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Call(t.Context(), api.OpFailPath, api.Args{Path: "sdb"}, nil)
	fmt.Printf("fail_path: %s: %v\n", api.AsError(err).Code, err)
	err = c.Call(t.Context(), api.OpStatus, api.Args{}, nil)
	if err != nil {
		fmt.Printf("status: %v\n", err)
	} else {
		fmt.Println("status: ok")
	}
}

// A thousand bad requests in a row, on one connection and then on fresh
// ones, leave the server answering correctly.
func TestMalformedRequests(t *testing.T) {
	h := start(t, apitest.Generate(2, 2, 2), 0)
	conn, err := net.Dial("unix", h.path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	bad := []string{
		`not json`, `{`, `[]`, `"x"`, `{"v":1}`, `{"v":1,"op":"bogus"}`, `{"v":99,"op":"topology"}`,
		`{"v":"1","op":"topology"}`, `{"v":1,"op":"fail_path"}`, `{"v":1,"op":"map","args":{"map":7}}`,
		`{"v":1,"op":"rescan","args":{"host":-5}}`, "\x00\x01\x02\xff", `{"v":1,"op":"switch_group","args":{"map":"mpatha","group":-1}}`,
		`{"v":1,"op":"topology","args":[1,2]}`, strings.Repeat("{", 1000),
	}
	r := bufio.NewReader(conn)
	for i := range 1000 {
		line := bad[i%len(bad)]
		if _, err := conn.Write([]byte(line + "\n")); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		reply, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("request %d (%q): %v", i, line, err)
		}
		var resp api.Response
		if err := json.Unmarshal(reply, &resp); err != nil || resp.Error == nil {
			t.Fatalf("request %d (%q): reply %s", i, line, reply)
		}
		if resp.Error.Code != api.CodeInvalid {
			t.Fatalf("request %d (%q): code %s", i, line, resp.Error.Code)
		}
	}
	// Still serving on the same connection.
	conn.Write([]byte(`{"v":1,"id":7,"op":"status"}` + "\n"))
	reply, _ := r.ReadBytes('\n')
	var resp api.Response
	if json.Unmarshal(reply, &resp) != nil || resp.Error != nil || resp.ID != 7 {
		t.Fatalf("status after garbage: %s", reply)
	}
	// An oversized request is refused and the connection closed.
	big := `{"v":1,"op":"topology","args":{"map":"` + strings.Repeat("x", MaxRequest) + `"}}` + "\n"
	go conn.Write([]byte(big))
	reply, _ = r.ReadBytes('\n')
	if json.Unmarshal(reply, &resp) != nil || resp.Error == nil || !strings.Contains(resp.Error.Message, "longer than") {
		t.Fatalf("oversized: %s", reply)
	}
	if _, err := r.ReadBytes('\n'); err == nil {
		t.Fatal("connection open after an oversized request")
	}
	// Fresh connections get correct answers.
	for range 3 {
		var topo api.Topology
		if err := h.dial(t).Call(t.Context(), api.OpTopology, api.Args{}, &topo); err != nil || len(topo.Maps) != 2 {
			t.Fatalf("topology after garbage: %v", err)
		}
	}
}

func TestEventsStream(t *testing.T) {
	h := start(t, apitest.Generate(1, 2, 2), 1000)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan api.Event, 10)
	errc := make(chan error, 1)
	go func() {
		c, err := Dial(ctx, h.path)
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		errc <- c.Events(ctx, func(ev api.Event) error { got <- ev; return nil })
	}()
	// Wait until the subscription is in place, then fail a path.
	for h.fake.Hub.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := h.fake.SetPathState("sdc", api.CheckerDown, api.DMFailed, "TUR failed"); err != nil {
		t.Fatal(err)
	}
	ev := <-got
	if ev.Type != api.EventPathDown || ev.Path != "sdc" || ev.Reason != "TUR failed" {
		t.Fatalf("event %+v", ev)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Events after cancel: %v", err)
	}
	// The server notices the hang-up and drops the subscription.
	for h.fake.Hub.Subscribers() != 0 {
		time.Sleep(time.Millisecond)
	}
}

func TestListen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	path := filepath.Join(dir, "mpathd.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o755, path: 0o666} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", p, err, fi.Mode().Perm(), want)
		}
	}
	// A second daemon must not steal a live socket.
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Errorf("second Listen: %v", err)
	}
	// A dead daemon's socket is replaced.
	l.SetUnlinkOnClose(false)
	l.Close()
	l2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l2.Close()
	// Something that is not a socket is left alone.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Listen(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a file: %v", err)
	}
}

func TestDialNoDaemon(t *testing.T) {
	_, err := Dial(t.Context(), filepath.Join(t.TempDir(), "none.sock"))
	if err == nil || !strings.Contains(err.Error(), "mpathd is not running") {
		t.Fatalf("Dial: %v", err)
	}
}

func TestBusy(t *testing.T) {
	h := &harness{fake: apitest.New(apitest.Generate(1, 1, 1)), path: filepath.Join(t.TempDir(), "s.sock")}
	var uid atomic.Uint32
	uid.Store(1000)
	h.srv = &Server{Service: h.fake, MaxConns: 1, PeerUID: func(net.Conn) (uint32, error) { return uid.Load(), nil }}
	l, err := Listen(h.path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- h.srv.Serve(ctx, l) }()
	defer func() { cancel(); <-done }()

	first := h.dial(t)
	if err := first.Call(t.Context(), api.OpStatus, api.Args{}, nil); err != nil {
		t.Fatal(err)
	}
	second := h.dial(t)
	if err := second.Call(t.Context(), api.OpStatus, api.Args{}, nil); !api.IsCode(err, api.CodeBusy) {
		t.Fatalf("second connection: %v", err)
	}
	uid.Store(0)
	root := h.dial(t)
	if err := root.Call(t.Context(), api.OpStatus, api.Args{}, nil); err != nil {
		t.Fatalf("root turned away: %v", err)
	}
	uid.Store(1000)
	first.Close()
	for { // the slot frees once the server sees the close
		c := h.dial(t)
		err := c.Call(t.Context(), api.OpStatus, api.Args{}, nil)
		if err == nil {
			break
		}
		if !api.IsCode(err, api.CodeBusy) {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}

type panicky struct{ *apitest.Fake }

func (panicky) Status() api.Status { panic("boom") }

func TestPanicIsContained(t *testing.T) {
	srv := &Server{Service: panicky{apitest.New(apitest.Generate(1, 1, 1))}}
	resp := srv.handle(t.Context(), api.Request{V: 1, ID: 3, Op: api.OpStatus}, 0)
	if resp.Error == nil || resp.Error.Code != api.CodeInternal || resp.ID != 3 {
		t.Fatalf("%+v", resp)
	}
	if resp := srv.handle(t.Context(), api.Request{V: 1, Op: api.OpTopology}, 0); resp.Error != nil {
		t.Fatalf("after panic: %+v", resp.Error)
	}
}

func FuzzHandleLine(f *testing.F) {
	for _, s := range []string{`{"v":1,"op":"topology"}`, `{"v":1,"op":"map","args":{"map":"mpatha"}}`,
		`{"v":1,"op":"switch_group","args":{"map":"mpatha","group":2}}`, `{"v":1,"op":"rescan","args":{"host":3}}`, `{`} {
		f.Add([]byte(s), uint32(0))
	}
	srv := &Server{Service: apitest.New(apitest.Generate(2, 2, 2))}
	f.Fuzz(func(t *testing.T, line []byte, uid uint32) {
		var req api.Request
		if json.Unmarshal(line, &req) != nil || req.Op == api.OpEvents {
			return
		}
		resp := srv.handle(context.Background(), req, uid)
		if resp.Error != nil && resp.Result != nil {
			t.Fatalf("reply has both a result and an error: %+v", resp)
		}
		if resp.Error != nil && resp.Error.Code == api.CodeInternal {
			t.Fatalf("internal error for %q: %v", line, resp.Error)
		}
		if uid != 0 && api.Privileged(req.Op) && resp.Error == nil {
			t.Fatalf("uid %d ran %s", uid, req.Op)
		}
	})
}

// BenchmarkShowTopology4096 measures `show topology` on 4,096 paths (1,024
// maps) while another goroutine publishes a new snapshot every millisecond
// with one path flipped, far more often than checkers and reloads do.
// "answer" is the daemon's share: request sent until the last byte of the
// reply arrives; "decoded" adds the client's JSON decoding (what mpathctl
// pays on top).
func BenchmarkShowTopology4096(b *testing.B) {
	topo := apitest.Generate(1024, 2, 2)
	h := start(b, topo, 1000)
	paths := topo.Paths()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			p := paths[i%len(paths)]
			st, dm := api.CheckerDown, api.DMFailed
			if i/len(paths)%2 == 1 {
				st, dm = api.CheckerUp, api.DMActive
			}
			h.fake.SetPathState(p.Dev, st, dm, "bench")
		}
	})
	defer func() { cancel(); wg.Wait() }()

	b.Run("answer", func(b *testing.B) {
		conn, err := net.Dial("unix", h.path)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		r := bufio.NewReaderSize(conn, 1<<20)
		req := []byte(`{"v":1,"id":1,"op":"topology"}` + "\n")
		var lat latencies
		b.ReportAllocs()
		for b.Loop() {
			t0 := time.Now()
			conn.Write(req)
			line, err := r.ReadSlice('\n')
			for err == bufio.ErrBufferFull {
				_, err = r.ReadSlice('\n')
			}
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			_ = line
		}
		lat.report(b)
	})
	b.Run("decoded", func(b *testing.B) {
		c := h.dial(b)
		var lat latencies
		b.ReportAllocs()
		for b.Loop() {
			t0 := time.Now()
			var got api.Topology
			if err := c.Call(context.Background(), api.OpTopology, api.Args{}, &got); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			if len(got.Maps) != 1024 {
				b.Fatalf("%d maps", len(got.Maps))
			}
		}
		lat.report(b)
	})
}

type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	slices.Sort(l)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(l[len(l)/2]), "p50-ms")
	b.ReportMetric(ms(l[len(l)*99/100]), "p99-ms")
	b.ReportMetric(ms(l[len(l)-1]), "max-ms")
}

// A subscriber that stops reading never holds up the publisher: the hub
// drops its events, and the server disconnects it once a write stalls.
func TestStalledEventReader(t *testing.T) {
	fake := apitest.New(apitest.Generate(1, 1, 1))
	path := filepath.Join(t.TempDir(), "s.sock")
	srv := &Server{Service: fake, WriteTimeout: 50 * time.Millisecond}
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, l) }()
	defer func() { cancel(); <-done }()

	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte(`{"v":1,"op":"events"}` + "\n"))
	for fake.Hub.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	// Never read. Publish until the server gives up on us; every Publish
	// returns at once whatever the reader does.
	ev := api.Event{Type: api.EventPathDown, Map: "mpatha", Path: "sdb", Reason: strings.Repeat("x", 200)}
	for i := 0; fake.Hub.Subscribers() > 0; i++ {
		if i > 10_000_000 {
			t.Fatal("the stalled subscriber was never dropped")
		}
		fake.Hub.Publish(ev)
		if i%1000 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}
