package dbusapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/api/apitest"
)

// busConfig is the system bus's default policy (as Debian ships it), a
// private socket, and the policy file under test.
const busConfig = `<busconfig>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  %s
</busconfig>
`

// testDir is a directory other users can reach (t.TempDir's parent is
// private), for clients running as nobody.
func testDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "mpathd-dbus-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startBus runs a private dbus-daemon with extra config (e.g. an <include>
// of the policy) on dir/name and returns its address and a stop function.
func startBus(t *testing.T, dir, name, extra string) (addr string, stop func()) {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon not installed (Debian package dbus)")
	}
	sock := filepath.Join(dir, name)
	cfg := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(busConfig, sock, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+cfg, "--nofork", "--print-address=1", "--address=unix:path="+sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("dbus-daemon: %v", err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
			os.Remove(sock)
		}
	}
	t.Cleanup(stop)
	return strings.TrimSpace(line), stop
}

func policyInclude(t *testing.T) string {
	abs, err := filepath.Abs("../../configs/org.mpathd.Daemon1.conf")
	if err != nil {
		t.Fatal(err)
	}
	return "<include>" + abs + "</include>"
}

// serveOn runs a Server for fake on the bus at addr until the test ends.
func serveOn(t *testing.T, fake api.Service, addr, socket string, log io.Writer) *Server {
	t.Helper()
	if log == nil {
		log = t.Output()
	}
	s := &Server{Service: fake, SocketPath: socket, Resync: time.Hour, Log: slog.New(slog.NewTextHandler(log, nil))}
	if addr != "" { // else the default: dial SocketPath
		s.Connect = func(ctx context.Context) (*dbus.Conn, error) { return dbus.Connect(addr, dbus.WithContext(ctx)) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func clientConn(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	c, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitForName blocks until the daemon owns its name (the test's deadline
// bounds it).
func waitForName(t *testing.T, c *dbus.Conn) {
	t.Helper()
	for {
		var has bool
		if err := c.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, BusName).Store(&has); err != nil {
			t.Fatal(err)
		}
		if has {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run executes a command, optionally as nobody, and returns its output.
func run(t *testing.T, asNobody bool, name string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	cmd := exec.Command(bin, args...)
	if asNobody {
		if os.Getuid() != 0 {
			t.Skip("needs root to run a client as nobody")
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The acceptance test: independent clients (busctl, dbus-send,
// dbus-monitor) against the shipped policy on a real dbus-daemon.
func TestRealBus(t *testing.T) {
	dir := testDir(t)
	addr, _ := startBus(t, dir, "bus", policyInclude(t))
	topo := apitest.Generate(2, 2, 2)
	topo.Maps[1].Name = "data-1"
	fake := apitest.New(topo)
	srv := serveOn(t, fake, addr, filepath.Join(dir, "bus"), nil)
	c := clientConn(t, addr)
	waitForName(t, c)
	for srv.State() != StateConnected { // set just after the name is taken
		time.Sleep(time.Millisecond)
	}
	busAddr := "--address=" + addr // busctl
	sendAddr := "--bus=" + addr    // dbus-send

	t.Run("busctl reads properties", func(t *testing.T) {
		for _, tc := range []struct{ path, iface, prop, want string }{
			{"/org/mpathd/Daemon1/map/mpatha", MapIface, "WWID", `s "` + topo.Maps[0].WWID + `"`},
			{"/org/mpathd/Daemon1/map/data_2d1", MapIface, "SizeSectors", "t 209715200"},
			{"/org/mpathd/Daemon1/map/data_2d1", MapIface, "ActiveGroup", "i 1"},
			{"/org/mpathd/Daemon1/path/sdc", PathIface, "CheckerState", `s "up"`},
			{"/org/mpathd/Daemon1/path/sdc", PathIface, "Map", `o "/org/mpathd/Daemon1/map/mpatha"`},
			{"/org/mpathd/Daemon1", ManagerIface, "PathCount", "u 8"},
		} {
			out, err := run(t, false, "busctl", busAddr, "get-property", BusName, tc.path, tc.iface, tc.prop)
			if err != nil || strings.TrimSpace(out) != tc.want {
				t.Errorf("busctl get-property %s %s: %v %q, want %q", tc.path, tc.prop, err, out, tc.want)
			}
		}
		out, err := run(t, false, "busctl", busAddr, "call", BusName, string(ManagerPath), ManagerIface, "ListMaps")
		if err != nil || strings.TrimSpace(out) != `ao 2 "/org/mpathd/Daemon1/map/mpatha" "/org/mpathd/Daemon1/map/data_2d1"` {
			t.Errorf("ListMaps: %v %q", err, out)
		}
		out, err = run(t, false, "busctl", busAddr, "tree", BusName)
		if err != nil || !strings.Contains(out, "/org/mpathd/Daemon1/map/data_2d1") || !strings.Contains(out, "/org/mpathd/Daemon1/path/sdi") {
			t.Errorf("busctl tree: %v\n%s", err, out)
		}
		out, err = run(t, false, "busctl", busAddr, "introspect", BusName, "/org/mpathd/Daemon1/path/sdb")
		if err != nil || !strings.Contains(out, ".CheckerState") || !strings.Contains(out, "org.freedesktop.DBus.Properties") {
			t.Errorf("introspect path: %v\n%s", err, out)
		}
	})

	t.Run("nobody reads but may not act", func(t *testing.T) {
		out, err := run(t, true, "dbus-send", sendAddr, "--print-reply", "--dest="+BusName,
			"/org/mpathd/Daemon1/path/sdb", "org.freedesktop.DBus.Properties.Get", "string:"+PathIface, "string:DMState")
		if err != nil || !strings.Contains(out, `string "active"`) {
			t.Errorf("Get as nobody: %v\n%s", err, out)
		}
		out, err = run(t, true, "dbus-send", sendAddr, "--print-reply", "--dest="+BusName,
			string(ManagerPath), ManagerIface+".GetStatus")
		if err != nil || !strings.Contains(out, `"Version"`) {
			t.Errorf("GetStatus as nobody: %v\n%s", err, out)
		}
		out, err = run(t, true, "dbus-send", sendAddr, "--print-reply", "--dest="+BusName,
			string(ManagerPath), ManagerIface+".GetReservation", "string:mpatha")
		if err != nil || !strings.Contains(out, `string "unset"`) {
			t.Errorf("GetReservation as nobody: %v\n%s", err, out)
		}
		for _, call := range [][]string{{ManagerIface + ".Reconfigure"}, {ManagerIface + ".FailPath", "string:sdb"},
			{ManagerIface + ".SetPRStatus", "string:mpatha", "boolean:true"},
			{"org.freedesktop.DBus.Properties.Set", "string:" + PathIface, "string:DMState", "variant:string:failed"}} {
			args := append([]string{sendAddr, "--print-reply", "--dest=" + BusName, string(ManagerPath)}, call...)
			out, err := run(t, true, "dbus-send", args...)
			if err == nil || !strings.Contains(out, "org.freedesktop.DBus.Error.AccessDenied") {
				t.Errorf("%s as nobody: %v\n%s", call[0], err, out)
			}
		}
		if calls := fake.Calls(); len(calls) != 0 {
			t.Errorf("actions ran for nobody: %v", calls)
		}
	})

	t.Run("root acts", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("the policy gives actions to root only")
		}
		out, err := run(t, false, "dbus-send", sendAddr, "--print-reply", "--dest="+BusName,
			string(ManagerPath), ManagerIface+".SwitchGroup", "string:data-1", "int32:2")
		if err != nil {
			t.Fatalf("SwitchGroup as root: %v\n%s", err, out)
		}
		for _, call := range [][]string{{".SetPRKey", "string:data-1", "string:0x1:aptpl"}, {".SetPRStatus", "string:data-1", "boolean:true"},
			{".SetPRHold", "string:data-1", "boolean:false"}} {
			args := append([]string{sendAddr, "--print-reply", "--dest=" + BusName, string(ManagerPath), ManagerIface + call[0]}, call[1:]...)
			if out, err := run(t, false, "dbus-send", args...); err != nil {
				t.Errorf("%s as root: %v\n%s", call[0], err, out)
			}
		}
		fake.FailNext("FlushMap", api.Errorf(api.CodeBusy, "map nope is in use"))
		out, err = run(t, false, "dbus-send", sendAddr, "--print-reply", "--dest="+BusName,
			string(ManagerPath), ManagerIface+".FlushMap", "string:nope")
		if err == nil || !strings.Contains(out, "org.mpathd.Daemon1.Error.Busy: map nope is in use") {
			t.Errorf("busy FlushMap: %v\n%s", err, out)
		}
		want := []string{"SwitchGroup data-1 2", "SetPRKey data-1 0x1:aptpl", "SetPRStatus data-1 true", "SetPRHold data-1 false", "FlushMap nope"}
		if calls := fake.Calls(); len(calls) < len(want) || !slices.Equal(calls[:len(want)], want) {
			t.Errorf("calls %v", calls)
		}
	})

	t.Run("signals on a path failure", func(t *testing.T) {
		mon, err := exec.LookPath("dbus-monitor")
		if err != nil {
			t.Skip("dbus-monitor not installed")
		}
		cmd := exec.Command(mon, "--address", addr, "type='signal',interface='"+ManagerIface+"'")
		pipe, _ := cmd.StdoutPipe()
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		r := bufio.NewReader(pipe)
		// readUntil reads up to the signal header containing want, then
		// its args lines.
		readUntil := func(want string, args int) string {
			var seen strings.Builder
			for {
				line, err := r.ReadString('\n')
				seen.WriteString(line)
				if strings.Contains(line, want) {
					for range args {
						l, _ := r.ReadString('\n')
						seen.WriteString(l)
					}
					return seen.String()
				}
				if err != nil {
					t.Fatalf("dbus-monitor ended before %q: %v\n%s", want, err, seen.String())
				}
			}
		}
		readUntil("member=NameLost", 1) // the monitor is in place

		// Our own client sees PropertiesChanged too.
		sig := make(chan *dbus.Signal, 64)
		c.Signal(sig)
		if err := c.AddMatchSignal(dbus.WithMatchObjectPath("/org/mpathd/Daemon1/path/sdc"),
			dbus.WithMatchInterface(propertiesIface)); err != nil {
			t.Fatal(err)
		}
		if err := fake.SetPathState("sdc", api.CheckerDown, api.DMFailed, "TUR: medium not present"); err != nil {
			t.Fatal(err)
		}
		got := readUntil("member=PathStateChanged", 6)
		for _, want := range []string{`object path "/org/mpathd/Daemon1/path/sdc"`, `string "sdc"`, `string "mpatha"`,
			`string "up"`, `string "down"`, `string "TUR: medium not present"`} {
			if !strings.Contains(got, want) {
				t.Errorf("PathStateChanged lacks %s:\n%s", want, got)
			}
		}
		for s := range sig {
			if s.Name != propertiesIface+".PropertiesChanged" {
				continue
			}
			changed := s.Body[1].(map[string]dbus.Variant)
			if changed["CheckerState"].Value() != "down" || changed["DMState"].Value() != "failed" {
				t.Errorf("PropertiesChanged %v", changed)
			}
			if _, ok := changed["Weight"]; ok {
				t.Error("Weight announced")
			}
			break
		}
		v, err := c.Object(BusName, "/org/mpathd/Daemon1/map/mpatha").GetProperty(MapIface + ".UsablePaths")
		if err != nil || v.Value() != uint32(3) {
			t.Errorf("UsablePaths after the failure: %v %v", v, err)
		}
	})

	t.Run("maps come and go", func(t *testing.T) {
		sig := make(chan *dbus.Signal, 64)
		c.Signal(sig)
		c.AddMatchSignal(dbus.WithMatchInterface(objectMgrIface))
		next := fake.Topology()
		next.Maps = next.Maps[:1]
		fake.SetTopology(next)
		fake.Hub.Publish(api.Event{Type: api.EventMapRemoved, Map: "data-1"})
		removed := map[dbus.ObjectPath]bool{}
		for s := range sig {
			if s.Name == objectMgrIface+".InterfacesRemoved" {
				removed[s.Body[0].(dbus.ObjectPath)] = true
			}
			if len(removed) == 5 { // the map and its four paths
				break
			}
		}
		if !removed["/org/mpathd/Daemon1/map/data_2d1"] || !removed["/org/mpathd/Daemon1/path/sdi"] {
			t.Errorf("removed %v", removed)
		}
		var objs map[dbus.ObjectPath]map[string]map[string]dbus.Variant
		if err := c.Object(BusName, ManagerPath).Call(objectMgrIface+".GetManagedObjects", 0).Store(&objs); err != nil || len(objs) != 5 {
			t.Errorf("GetManagedObjects: %v, %d objects", err, len(objs))
		}
		err := c.Object(BusName, "/org/mpathd/Daemon1/map/data_2d1").Call(propertiesIface+".Get", 0, MapIface, "Name").Err
		if de, ok := err.(dbus.Error); !ok || de.Name != "org.freedesktop.DBus.Error.UnknownObject" {
			t.Errorf("Get on a removed map: %v", err)
		}
	})
}

// The daemon checks the caller's uid itself, even if a bus lets everyone
// through (a broken or missing policy).
func TestDaemonChecksCaller(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as nobody")
	}
	dir := testDir(t)
	open := `<policy context="default"><allow own="*"/><allow send_type="method_call"/></policy>`
	addr, _ := startBus(t, dir, "bus", open)
	fake := apitest.New(apitest.Generate(1, 1, 2))
	serveOn(t, fake, addr, filepath.Join(dir, "bus"), nil)
	waitForName(t, clientConn(t, addr))
	out, err := run(t, true, "dbus-send", "--bus="+addr, "--print-reply", "--dest="+BusName,
		string(ManagerPath), ManagerIface+".FailPath", "string:sdb")
	if err == nil || !strings.Contains(out, "AccessDenied") || !strings.Contains(out, "needs root (you are uid 65534)") {
		t.Errorf("FailPath as nobody on an open bus: %v\n%s", err, out)
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("calls %v", calls)
	}
}

// No bus at start: the server waits, connects when the socket appears, and
// reconnects after the bus restarts.
func TestBusComesAndGoes(t *testing.T) {
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon not installed")
	}
	dir := testDir(t)
	sock := filepath.Join(dir, "late")
	addr := "unix:path=" + sock
	fake := apitest.New(apitest.Generate(1, 1, 1))
	var logs lockedBuffer
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "")
	srv := serveOn(t, fake, "", sock, &logs) // the default connection: dial the watched socket
	// A first attempt fails and says so. Wait for that rather than for a time: under qemu-user
	// the first attempt can take longer than any fixed sleep.
	for !strings.Contains(logs.String(), "no system bus") {
		time.Sleep(10 * time.Millisecond)
	}
	if srv.State() != StateDisconnected {
		t.Fatalf("state without a bus: %s", srv.State())
	}
	_, stop := startBus(t, dir, "late", policyInclude(t))
	c, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	waitForName(t, c) // the socket appeared: connected without waiting out the backoff
	c.Close()
	stop()
	// The lost bus is said once ("lost the bus"), and the first reconnect attempt that fails says
	// "no system bus" once more. Wait for that attempt, then let two further retries (1 s and 2 s
	// of backoff) fail before the bus returns: they must say nothing.
	for strings.Count(logs.String(), "no system bus") < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(3500 * time.Millisecond)
	if srv.State() != StateDisconnected {
		t.Fatalf("state with the bus gone: %s", srv.State())
	}
	startBus(t, dir, "late", policyInclude(t))
	c2 := clientConn(t, addr)
	waitForName(t, c2)
	// Once per outage, not once per retry.
	if n := strings.Count(logs.String(), "lost the bus"); n != 1 {
		t.Errorf("said %d times that the bus was lost, want once:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "no system bus"); n != 2 {
		t.Errorf("said %d times that the bus is missing, want twice:\n%s", n, logs.String())
	}
	var status map[string]dbus.Variant
	if err := c2.Object(BusName, ManagerPath).Call(ManagerIface+".GetStatus", 0).Store(&status); err != nil || status["Paths"].Value() != uint32(1) {
		t.Errorf("GetStatus after reconnect: %v %v", err, status)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A second daemon on the same bus waits for the name, says so once, and
// takes over when the first one leaves.
func TestNameTaken(t *testing.T) {
	dir := testDir(t)
	addr, _ := startBus(t, dir, "bus", policyInclude(t))
	c := clientConn(t, addr)
	first := &Server{Service: apitest.New(apitest.Generate(1, 1, 1)), SocketPath: filepath.Join(dir, "bus"),
		Connect: func(ctx context.Context) (*dbus.Conn, error) { return dbus.Connect(addr, dbus.WithContext(ctx)) }}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { first.Run(ctx); close(done) }()
	waitForName(t, c)

	var logs lockedBuffer
	second := serveOn(t, apitest.New(apitest.Generate(2, 1, 1)), addr, filepath.Join(dir, "bus"), &logs)
	for !strings.Contains(logs.String(), "owned by another process") {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	for second.State() != StateConnected {
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), "cannot export"); n != 1 {
		t.Errorf("said %d times that the name is taken:\n%s", n, logs.String())
	}
	var n uint32
	v, err := c.Object(BusName, ManagerPath).GetProperty(ManagerIface + ".MapCount")
	if err == nil {
		n = v.Value().(uint32)
	}
	if n != 2 {
		t.Errorf("MapCount from the second daemon: %v %v", v, err)
	}
}

// A service that publishes an event just before its new snapshot still
// ends up with the new state on the bus.
func TestLateSnapshot(t *testing.T) {
	dir := testDir(t)
	addr, _ := startBus(t, dir, "bus", policyInclude(t))
	fake := apitest.New(apitest.Generate(1, 1, 2))
	serveOn(t, fake, addr, filepath.Join(dir, "bus"), nil)
	c := clientConn(t, addr)
	waitForName(t, c)
	sig := make(chan *dbus.Signal, 16)
	c.Signal(sig)
	c.AddMatchSignal(dbus.WithMatchObjectPath(PathPath("sdc")), dbus.WithMatchInterface(propertiesIface))

	fake.Hub.Publish(api.Event{Type: api.EventPathDown, Map: "mpatha", Path: "sdc", Old: "up", New: "down"})
	next := apitest.Generate(1, 1, 2) // a copy: the published snapshot is shared
	next.Maps[0].Groups[0].Paths[1].CheckerState = api.CheckerDown
	fake.SetTopology(next)
	for s := range sig {
		if v, ok := s.Body[1].(map[string]dbus.Variant)["CheckerState"]; ok && v.Value() == "down" {
			break
		}
	}
}
