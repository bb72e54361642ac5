package vm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dbusFiles puts the host's dbus-daemon, dbus-send and dbus-monitor with
// their libraries into the guest, with a system bus configuration that
// includes the shipped policy file.
func dbusFiles(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range []string{"dbus-daemon", "dbus-send", "dbus-monitor"} {
		bin, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("%s not installed (Debian package dbus)", name)
		}
		libs, _ := sharedLibs(bin)
		for _, p := range append([]string{bin}, libs...) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			files[p] = b
		}
		b, _ := os.ReadFile(bin)
		files["/bin/"+name] = b
	}
	policy, err := os.ReadFile(filepath.Join("..", "..", "configs", "org.mpathd.Daemon1.conf"))
	if err != nil {
		t.Fatal(err)
	}
	files["/usr/share/dbus-1/system.d/org.mpathd.Daemon1.conf"] = policy
	// The system bus's own defaults, as Debian ships them, without the
	// service helper, syslog and the messagebus user.
	files["/usr/share/dbus-1/system.conf"] = []byte(`<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
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
  <includedir>/usr/share/dbus-1/system.d</includedir>
</busconfig>
`)
	return files
}

// TestVMDBus: the real daemon runs without a bus, takes its name when the
// system bus starts, serves map and path properties to dbus-send, signals
// PathStateChanged when a path is offlined, and the shipped policy refuses
// nobody an action (cmd side in pkg/dbusapi/guest_test.go).
func TestVMDBus(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:        SAN{Hosts: 2, LUNs: 1},
		Commands:   []string{"./cmd/mpathd", "./cmd/mpathctl"},
		GuestTests: []string{"./pkg/dbusapi"},
		WantPass:   []string{"dbusapi.test TestGuestPolicy"},
		Files:      dbusFiles(t),
		Script: daemonHelpers + `
echo 0123456789abcdef0123456789abcdef > /etc/machine-id
mkdir -p /run/dbus
printf '[defaults]\npolling_interval = 1\n' > /tmp/c.toml
start_mpathd --config /tmp/c.toml
emit dbus_before "$(mpathctl show status --json | grep '"dbus"')"
dbus-daemon --system --nofork --nopidfile > /tmp/bus.log 2>&1 &
BUS=unix:path=/run/dbus/system_bus_socket
get() { dbus-send --bus=$BUS --print-reply --dest=org.mpathd.Daemon1 "$1" org.freedesktop.DBus.Properties.Get string:"$2" string:"$3" | tail -n 1; }
wait_for 20 sh -c "dbus-send --bus=$BUS --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetNameOwner string:org.mpathd.Daemon1" || { fail "mpathd did not take its name when the bus appeared"; cat /tmp/bus.log; ls -la /run/dbus /bin/dbus-daemon; }
emit dbus_after "$(mpathctl show status --json | grep '"dbus"')"
M=333333330000007d0
P0=$(path_of 0 0)
emit wwid "$(get /org/mpathd/Daemon1/map/$M org.mpathd.Daemon1.Map WWID)"
emit devt "$(get /org/mpathd/Daemon1/path/$P0 org.mpathd.Daemon1.Path DevT)"
emit state_before "$(get /org/mpathd/Daemon1/path/$P0 org.mpathd.Daemon1.Path CheckerState)"
# The polling core's figures are live properties: read them while the map is busy.
read_loop $M
sleep 4
emit map_iops "$(get /org/mpathd/Daemon1/map/$M org.mpathd.Daemon1.Map IOPS)"
stop_read_loop
dbus-monitor --address $BUS "type='signal',interface='org.mpathd.Daemon1.Manager'" > /tmp/mon 2>&1 &
wait_for 10 grep -q NameLost /tmp/mon || fail "dbus-monitor did not start"
echo offline > /sys/block/$P0/device/state
wait_for 10 grep -q "member=PathStateChanged" /tmp/mon || fail "no PathStateChanged signal"
sleep 1
emit monitor "$(cat /tmp/mon)"
emit state_after "$(get /org/mpathd/Daemon1/path/$P0 org.mpathd.Daemon1.Path CheckerState)"
emit p0 "$P0"
emit devt_want "$(devt_of $P0)"
run_gotest /bin/dbusapi.test -test.run '^TestGuest' -test.v
echo "bus log:"; cat /tmp/bus.log
`,
	})
	if got := res.Get("gotest"); got != "/bin/dbusapi.test PASS" {
		t.Errorf("guest test: %q", got)
	}
	for key, want := range map[string]string{
		"dbus_before":  `"dbus": "disconnected"`,
		"dbus_after":   `"dbus": "connected"`,
		"wwid":         `variant       string "333333330000007d0"`,
		"devt":         `variant       string "` + res.Get("devt_want") + `"`,
		"state_before": `variant       string "up"`,
		"state_after":  `variant       string "down"`,
	} {
		if got := strings.TrimSuffix(strings.TrimSpace(res.Get(key)), ","); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
	// "variant       double 812.3": a map under a read loop does I/O.
	if f := strings.Fields(res.Get("map_iops")); len(f) != 3 || f[1] != "double" || f[2] == "0" {
		t.Errorf("map IOPS over D-Bus under a read loop: %q", res.Get("map_iops"))
	} else {
		t.Logf("map IOPS read over D-Bus under a read loop: %s", f[2])
	}
	mon := res.Get("monitor")
	for _, want := range []string{"member=PathStateChanged", `string "` + res.Get("p0") + `"`, `string "down"`} {
		if !strings.Contains(mon, want) {
			t.Errorf("signal lacks %s:\n%s", want, mon)
		}
	}
	if t.Failed() {
		t.Logf("signals:\n%s", mon)
	}
}
