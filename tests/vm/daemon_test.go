package vm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
)

// Guest shell helpers shared by the daemon scenarios.
const daemonHelpers = `
# start_mpathd [ARGS]: run the daemon with JSON logs and wait until it says it is ready.
start_mpathd() {
	mpathd --log-format json "$@" >> /tmp/mpathd.log 2>&1 &
	MPATHD_PID=$!
	wait_for 90 grep -q '"message":"ready"' /tmp/mpathd.log || fail "mpathd did not get ready"
}
# now: seconds since boot with centiseconds.
now() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# path_of LUN HOST: the sd device of a LUN on a scsi_debug host.
path_of() { sd_of "$2:0:0:$1"; }
devt_of() { cat /sys/block/$1/dev; }
# reloads MAP: how many times the daemon reloaded a map's table.
reloads() { grep '"message":"table reloaded"' /tmp/mpathd.log | grep -c "\"map\":\"$1\""; }
# read_loop MAP: O_DIRECT reads in a loop; every failure is counted in /tmp/readerr.
read_loop() {
	: > /tmp/readerr
	( while :; do
		dd if=/dev/mapper/$1 of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null || echo x >> /tmp/readerr
	done ) &
	READER=$!
}
stop_read_loop() { kill $READER; wait $READER 2>/dev/null; emit read_errors "$(wc -l < /tmp/readerr)"; }
`

func hostsOf(res *Result) map[string]int {
	// devt → scsi host, from "path" records "sdX H:C:T:L MAJ:MIN".
	m := map[string]int{}
	for _, line := range strings.Split(res.Get("paths"), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		h, _ := strconv.Atoi(strings.SplitN(f[1], ":", 2)[0])
		m[f[2]] = h
	}
	return m
}

// TestVMDaemonAssembly: on a 3-host x 4-LUN SAN with the default configuration mpathd builds 4 maps
// named and identified by udev's ID_SERIAL, each with 3 groups ordered optimized, non-optimized,
// standby; I/O works through the maps; mpathctl agrees with dmsetup; a kill -9 and restart neither
// fails I/O nor reloads a map; a bad config is refused before any map is touched, and SIGHUP with a
// broken file keeps the daemon running.
func TestVMDaemonAssembly(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 3, LUNs: 4},
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Script: daemonHelpers + `
emit paths "$(san_paths | while read d h; do echo "$d $h $(devt_of $d)"; done)"
printf '[defaults]\npolling_interval = 2\n' > /tmp/good.toml
start_mpathd --config /tmp/good.toml
emit maps "$(dmsetup ls --target multipath | awk '{print $1}' | sort)"
emit uuids "$(dmsetup info -c --noheadings -o name,uuid --separator ' ' | sort)"
for m in $(dmsetup ls --target multipath | awk '{print $1}'); do
	emit "table.$m" "$(dmsetup table $m)"
done
# I/O through a map: write a pattern, read it back (all LUNs share scsi_debug's store).
M=333333330000007d0
dd if=/dev/urandom of=/tmp/pat bs=4k count=64 2>/dev/null
dd if=/tmp/pat of=/dev/mapper/$M bs=4k oflag=direct conv=fsync 2>/dev/null || fail "write through $M"
dd if=/dev/mapper/$M of=/tmp/back bs=4k count=64 iflag=direct 2>/dev/null || fail "read through $M"
cmp -s /tmp/pat /tmp/back && emit io ok || fail "data read back differs"
# mpathctl against the kernel's own account.
sleep 3 # one polling interval: the first I/O activated a group without a dm event
emit topology "$(mpathctl show topology --json)"
emit dmstatus "$(dmsetup status)"
emit dmtable "$(dmsetup table)"
mpathctl show topology

# Give one path a failure count: a table reload would reset it, so it proves no reload below.
P1=$(path_of 0 1)
dmsetup message $M 0 fail_path $(devt_of $P1)
wait_for 20 sh -c "dmsetup status $M | grep -q '$(devt_of $P1) A 1'" || fail "path not reinstated after an outside fail_path"
before_events="$(dmsetup info -c --noheadings -o name,events | sort)"
before_status="$(dmsetup status | sort)"
read_loop $M
sleep 1
kill -9 $MPATHD_PID
sleep 1
start_mpathd --config /tmp/good.toml
sleep 3
stop_read_loop
check_eq events_after_restart "$(dmsetup info -c --noheadings -o name,events | sort)" "$before_events"
emit status_before "$before_status"
emit status_after "$(dmsetup status | sort)"

# A configuration with an unknown key is refused with file:line:key, before any map is touched.
printf '[defaults]\npolling_interval = 2\nno_such_key = 1\n' > /tmp/bad.toml
mpathd --config /tmp/bad.toml > /tmp/bad.out 2>&1
emit bad_rc "$?"
emit bad_out "$(cat /tmp/bad.out)"
check_eq events_after_bad_config "$(dmsetup info -c --noheadings -o name,events | sort)" "$before_events"

# SIGHUP with a broken file: the daemon keeps running on the old configuration.
cp /tmp/bad.toml /tmp/good.toml
kill -HUP $MPATHD_PID
wait_for 10 grep -q 'configuration not reloaded' /tmp/mpathd.log || fail "no log line for the broken reload"
kill -0 $MPATHD_PID && emit alive_after_bad_hup yes
emit status_json "$(mpathctl show status --json)"
`,
	})
	wwids := []string{"333333330000007d0", "333333330000007d1", "333333330000007d2", "333333330000007d3"}
	if got := res.Get("maps"); got != strings.Join(wwids, "\n") {
		t.Errorf("maps = %q", got)
	}
	for _, w := range wwids {
		if !strings.Contains(res.Get("uuids"), w+" mpath-"+w) {
			t.Errorf("map %s lacks uuid mpath-%s: %q", w, w, res.Get("uuids"))
		}
	}
	// Group order: host%3 == 0 (optimized, 50), 1 (non-optimized, 10), 2 (standby, 1).
	hosts := hostsOf(res)
	for _, w := range wwids {
		table := res.Get("table." + w)
		f := strings.Fields(table)
		var order []int
		for _, tok := range f {
			if h, ok := hosts[tok]; ok {
				order = append(order, h%3)
			}
		}
		if fmt.Sprint(order) != "[0 1 2]" || !strings.Contains(table, " 3 1 service-time 0 1 ") {
			t.Errorf("%s: table %q: groups by host%%3 = %v, want [0 1 2] in 3 groups", w, table, order)
		}
	}
	if res.Get("io") != "ok" {
		t.Errorf("I/O through the map failed")
	}
	checkTopologyAgainstDmsetup(t, res.Get("topology"), res.Get("dmtable"), res.Get("dmstatus"))
	if res.Get("read_errors") != "0" {
		t.Errorf("reads failed across kill -9 and restart: %s", res.Get("read_errors"))
	}
	if a, b := res.Get("status_after"), res.Get("status_before"); !strings.Contains(a, " A 1 ") || failCounts(a) != failCounts(b) {
		t.Errorf("fail counts changed across restart (a reload resets them):\nbefore %s\nafter  %s", b, a)
	}
	if res.Get("bad_rc") == "0" || !strings.Contains(res.Get("bad_out"), "/tmp/bad.toml:3") || !strings.Contains(res.Get("bad_out"), "no_such_key") {
		t.Errorf("bad config: rc %s, output %q", res.Get("bad_rc"), res.Get("bad_out"))
	}
	if res.Get("alive_after_bad_hup") != "yes" {
		t.Errorf("daemon died on SIGHUP with a broken config")
	}
	// After the broken SIGHUP the daemon still runs the old file's configuration over every map.
	var st api.Status
	if err := json.Unmarshal([]byte(res.Get("status_json")), &st); err != nil {
		t.Fatalf("show status --json: %v\n%s", err, res.Get("status_json"))
	}
	if st.State != "running" || st.Maps != 4 || st.Paths != 12 || st.ConfigFile != "/tmp/good.toml" {
		t.Errorf("status after a broken SIGHUP: state %q, %d maps, %d paths, config %q; want running, 4, 12, /tmp/good.toml",
			st.State, st.Maps, st.Paths, st.ConfigFile)
	}
}

// failCounts extracts the "dev A|F count" triples of status lines.
func failCounts(status string) string {
	var out []string
	for _, line := range strings.Split(status, "\n") {
		f := strings.Fields(line)
		for i := 0; i+2 < len(f); i++ {
			if strings.Contains(f[i], ":") && (f[i+1] == "A" || f[i+1] == "F") {
				out = append(out, f[i]+" "+f[i+2])
			}
		}
	}
	return strings.Join(out, ",")
}

// checkTopologyAgainstDmsetup asserts that mpathctl's JSON says what the kernel says.
func checkTopologyAgainstDmsetup(t *testing.T, topoJSON, tables, statuses string) {
	t.Helper()
	var top struct {
		Maps []struct {
			Name, UUID, WWID, DM string
			SizeSectors          uint64 `json:"size_sectors"`
			Features             string
			HWHandler            string `json:"hw_handler"`
			Groups               []struct {
				Index int
				State string
				Paths []struct {
					Dev          string
					DevT         string `json:"dev_t"`
					DMState      string `json:"dm_state"`
					CheckerState string `json:"checker_state"`
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(topoJSON), &top); err != nil {
		t.Fatalf("show topology --json: %v\n%s", err, topoJSON)
	}
	tab := map[string]string{}
	for _, line := range strings.Split(tables, "\n") {
		if name, rest, ok := strings.Cut(line, ": "); ok {
			tab[name] = rest
		}
	}
	stat := map[string][]string{}
	for _, line := range strings.Split(statuses, "\n") {
		if name, rest, ok := strings.Cut(line, ": "); ok {
			stat[name] = strings.Fields(rest)
		}
	}
	if len(top.Maps) != len(tab) {
		t.Errorf("mpathctl shows %d maps, dmsetup %d", len(top.Maps), len(tab))
	}
	for _, m := range top.Maps {
		table := tab[m.Name]
		if !strings.HasPrefix(table, fmt.Sprintf("0 %d multipath %s %s ", m.SizeSectors, m.Features, m.HWHandler)) {
			t.Errorf("%s: mpathctl size/features/handler %d %q %q, dmsetup table %q", m.Name, m.SizeSectors, m.Features, m.HWHandler, table)
		}
		// Walk the status line: per group "A|E|D 0 <npaths> <nargs>", per path "dev A|F count args...".
		st := stat[m.Name]
		var groups, paths []string
		for i := 0; i < len(st); i++ {
			switch {
			case (st[i] == "A" || st[i] == "E" || st[i] == "D") && i+1 < len(st) && !strings.Contains(st[i-1], ":"):
				groups = append(groups, map[string]string{"A": "active", "E": "enabled", "D": "disabled"}[st[i]])
			case strings.Contains(st[i], ":") && i+1 < len(st):
				paths = append(paths, st[i]+" "+map[string]string{"A": "active", "F": "failed"}[st[i+1]])
			}
		}
		var gotGroups, gotPaths []string
		for _, g := range m.Groups {
			if g.Index == 0 {
				continue
			}
			gotGroups = append(gotGroups, g.State)
			for _, p := range g.Paths {
				gotPaths = append(gotPaths, p.DevT+" "+p.DMState)
				if !strings.Contains(table, " "+p.DevT+" ") {
					t.Errorf("%s: path %s not in dmsetup table", m.Name, p.DevT)
				}
			}
		}
		if fmt.Sprint(gotGroups) != fmt.Sprint(groups) || fmt.Sprint(gotPaths) != fmt.Sprint(paths) {
			t.Errorf("%s: mpathctl groups %v paths %v; dmsetup status groups %v paths %v", m.Name, gotGroups, gotPaths, groups, paths)
		}
	}
}

// TestVMDaemonPathFailure: a path offlined under a read loop fails no read; the daemon reports it
// down quickly, reinstates it within polling_interval + 1 s of its return, and with failback
// immediate the optimized group is used again.
func TestVMDaemonPathFailure(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 1},
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Script: daemonHelpers + `
printf '[defaults]\npolling_interval = 1\nfailback = "immediate"\n' > /tmp/c.toml
start_mpathd --config /tmp/c.toml
M=333333330000007d0
P0=$(path_of 0 0)
mpathctl events --json > /tmp/events 2>&1 &
sleep 2 # let the event stream subscribe before anything happens
read_loop $M
wait_for 10 sh -c "dmsetup status $M | grep -q ' A 0 1 2 $(devt_of $P0) A'" || fail "I/O not on the optimized group"
t0=$(now)
echo offline > /sys/block/$P0/device/state
wait_for 10 grep -q "\"type\":\"path_down\".*\"path\":\"$P0\"" /tmp/events || fail "no path_down event for $P0"
t1=$(now)
emit down_after "$(elapsed $t0 $t1)"
emit p0_devt "$(devt_of $P0)"
emit status_down "$(dmsetup status $M)"
sleep 2
t2=$(now)
echo running > /sys/block/$P0/device/state
wait_for 10 grep -q "\"type\":\"path_up\".*\"path\":\"$P0\"" /tmp/events || fail "no path_up event for $P0"
wait_for 10 sh -c "dmsetup status $M | grep -q '$(devt_of $P0) A'" || fail "$P0 not reinstated"
t3=$(now)
emit up_after "$(elapsed $t2 $t3)"
wait_for 10 sh -c "dmsetup status $M | grep -q ' A 0 1 2 $(devt_of $P0) A'" || fail "no failback to the optimized group"
stop_read_loop
emit events "$(cat /tmp/events)"
`,
	})
	if res.Get("read_errors") != "0" {
		t.Errorf("%s reads failed while a path went down", res.Get("read_errors"))
	}
	down, _ := strconv.ParseFloat(res.Get("down_after"), 64)
	up, _ := strconv.ParseFloat(res.Get("up_after"), 64)
	t.Logf("path reported down %.2f s after offline; reinstated %.2f s after running (polling_interval 1)", down, up)
	// Generous bounds: TCG on a loaded 2-core host; the figures go in the log above.
	if down > 5 || up > 6 {
		t.Errorf("down after %.2f s, up after %.2f s", down, up)
	}
	if !strings.Contains(res.Get("events"), `"type":"group_switch"`) {
		t.Errorf("no group_switch event for the failback:\n%s", res.Get("events"))
	}
	// When the daemon reports the path down, the kernel has it failed too.
	if st := strings.Fields(res.Get("status_down")); !slices.Contains(st, res.Get("p0_devt")) ||
		st[slices.Index(st, res.Get("p0_devt"))+1] != "F" {
		t.Errorf("status when %s was reported down: %q, want it failed (F)", res.Get("p0_devt"), res.Get("status_down"))
	}
}

// TestVMDaemonQueueing: no_path_retry queue holds I/O without error until a path returns, with the
// right data; no_path_retry 2 with polling_interval 1 fails queued I/O after about 2 s and says why.
func TestVMDaemonQueueing(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 2},
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Script: daemonHelpers + `
cat > /tmp/c.toml <<'CFG'
[defaults]
polling_interval = 1
[[multipaths]]
wwid = "333333330000007d0"
no_path_retry = "queue"
[[multipaths]]
wwid = "333333330000007d1"
no_path_retry = 2
CFG
start_mpathd --config /tmp/c.toml
Q=333333330000007d0
R=333333330000007d1
dd if=/dev/urandom of=/tmp/pat bs=4k count=1 2>/dev/null
dd if=/tmp/pat of=/dev/mapper/$Q bs=4k count=1 oflag=direct conv=fsync 2>/dev/null
emit table_q "$(dmsetup table $Q)"

# queue: every path offline, a reader blocks without error, one path back completes it.
for h in 0 1; do echo offline > /sys/block/$(path_of 0 $h)/device/state; done
dd if=/dev/mapper/$Q of=/tmp/q.out bs=4k count=1 iflag=direct 2>/tmp/q.err &
QPID=$!
sleep 4
kill -0 $QPID 2>/dev/null && emit q_blocked yes
echo running > /sys/block/$(path_of 0 1)/device/state
wait $QPID
emit q_rc "$?"
cmp -s /tmp/pat /tmp/q.out && emit q_data ok

# no_path_retry 2: the reader fails after about 2 polling intervals.
for h in 0 1; do echo offline > /sys/block/$(path_of 1 $h)/device/state; done
t0=$(now)
dd if=/dev/mapper/$R of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null
emit r_rc "$?"
emit r_after "$(elapsed $t0 $(now))"
emit r_log "$(grep -E 'no_path_retry|recovery mode|queueing changed' /tmp/mpathd.log)"
for h in 0 1; do echo running > /sys/block/$(path_of 1 $h)/device/state; done
wait_for 10 sh -c "dmsetup table $R | grep -q queue_if_no_path" || fail "queueing not restored on $R"

# SIGTERM: the maps stay in the kernel, queueing is switched off first (queue_without_daemon no).
kill -TERM $MPATHD_PID
wait $MPATHD_PID
emit term_rc "$?"
emit after_term "$(dmsetup table | sort)"
`,
	})
	if !strings.Contains(res.Get("table_q"), "queue_if_no_path") {
		t.Errorf("no_path_retry queue map does not queue: %s", res.Get("table_q"))
	}
	if res.Get("q_blocked") != "yes" || res.Get("q_rc") != "0" || res.Get("q_data") != "ok" {
		t.Errorf("queueing read: blocked %q rc %q data %q", res.Get("q_blocked"), res.Get("q_rc"), res.Get("q_data"))
	}
	after, _ := strconv.ParseFloat(res.Get("r_after"), 64)
	t.Logf("no_path_retry 2 x polling_interval 1: queued read failed after %.2f s", after)
	if res.Get("r_rc") == "0" || after < 1.5 || after > 8 {
		t.Errorf("no_path_retry 2: rc %s after %.2f s", res.Get("r_rc"), after)
	}
	if !strings.Contains(res.Get("r_log"), "exhausted") && !strings.Contains(res.Get("r_log"), "within no_path_retry") {
		t.Errorf("the log does not say why I/O failed:\n%s", res.Get("r_log"))
	}
	if term := res.Get("after_term"); res.Get("term_rc") != "0" || strings.Count(term, "multipath") != 2 || strings.Contains(term, "queue_if_no_path") {
		t.Errorf("after SIGTERM (rc %s) the maps must stay without queueing:\n%s", res.Get("term_rc"), term)
	}
}

// TestVMDaemonHotplug: deleting a path costs one reload and the map keeps working; a host scan
// brings it back; a new host's burst of paths costs at most one reload per map.
func TestVMDaemonHotplug(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 4},
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Script: daemonHelpers + `
start_mpathd
M=333333330000007d0
P=$(path_of 0 1)
D=$(devt_of $P)
r0=$(reloads $M)
echo 1 > /sys/block/$P/device/delete
wait_for 10 sh -c "! dmsetup table $M | grep -q ' $D '" || fail "deleted path still in the table"
sleep 1
emit delete_reloads "$(( $(reloads $M) - r0 ))"
dd if=/dev/mapper/$M of=/dev/null bs=4k count=16 iflag=direct 2>/dev/null && emit read_after_delete ok
echo "- - -" > /sys/class/scsi_host/host1/scan
wait_for 15 sh -c "[ \$(dmsetup table $M | grep -o ' [0-9]*:[0-9]* ' | wc -l) -eq 2 ]" || fail "path did not come back after scan"
sleep 1
for m in $(dmsetup ls --target multipath | awk '{print $1}'); do echo "$m $(reloads $m)"; done > /tmp/before
echo 1 > /sys/bus/pseudo/drivers/scsi_debug/add_host
wait_for 30 sh -c "[ \$(dmsetup table | grep -c ' 3 1 service-time') -eq 4 ]" || fail "new host's paths not in every map"
sleep 2
while read m n; do emit burst_reloads "$m $(( $(reloads $m) - n ))"; done < /tmp/before
`,
	})
	if res.Get("delete_reloads") != "1" {
		t.Errorf("a path delete cost %s reloads, want 1", res.Get("delete_reloads"))
	}
	if res.Get("read_after_delete") != "ok" {
		t.Errorf("map unreadable after a path delete")
	}
	bursts := res.All("burst_reloads")
	if len(bursts) != 4 {
		t.Fatalf("burst reload counts: %q", bursts)
	}
	for _, b := range bursts {
		f := strings.Fields(b)
		if n, _ := strconv.Atoi(f[1]); n > 1 {
			t.Errorf("map %s reloaded %d times for one burst", f[0], n)
		}
	}
}

// TestVMDaemonUdev: with udevd running (a normal host), the daemon's maps carry the uuid
// mpath-<ID_SERIAL> that udev computes for their paths, udev has made every /dev/mapper link by the
// time the daemon says it is ready (it waits on udev's cookie semaphore), and no semaphore is left.
func TestVMDaemonUdev(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 2},
		Udev:     true,
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Script: daemonHelpers + `
printf '[defaults]\nuser_friendly_names = true\n' > /tmp/c.toml
start_mpathd --config /tmp/c.toml
for m in $(dmsetup ls --target multipath | awk '{print $1}'); do
	emit link "$m $(readlink /dev/mapper/$m)"
	emit uuid "$m $(dmsetup info -c --noheadings -o uuid $m)"
	emit udev_dm "$m $(udevadm info -q property -n /dev/mapper/$m | grep -E '^DM_(NAME|UUID)=' | tr '\n' ' ')"
done
san_paths | while read d h; do emit serial "$(udevadm info -q property -n /dev/$d | sed -n 's/^ID_SERIAL=//p')"; done
emit sems "$(grep -c 0x0d4d /proc/sysvipc/sem)"
emit warnings "$(grep -c 'udev did not' /tmp/mpathd.log)"
`,
	})
	serials := map[string]bool{}
	for _, s := range res.All("serial") {
		serials[s] = true
	}
	if len(serials) != 2 {
		t.Fatalf("udev ID_SERIALs: %v", res.All("serial"))
	}
	for _, u := range res.All("uuid") {
		f := strings.Fields(u)
		if len(f) != 2 || !serials[strings.TrimPrefix(f[1], "mpath-")] {
			t.Errorf("map uuid %q is not mpath-<udev ID_SERIAL> (serials %v)", u, serials)
		}
	}
	links := res.All("link")
	if len(links) != 2 {
		t.Fatalf("maps: %v", links)
	}
	for _, l := range links {
		if f := strings.Fields(l); len(f) != 2 || !strings.HasPrefix(f[1], "../dm-") {
			t.Errorf("/dev/mapper link not made by udev when the daemon was ready: %q", l)
		}
	}
	for _, u := range res.All("udev_dm") {
		if !strings.Contains(u, "DM_UUID=mpath-") {
			t.Errorf("udev database lacks the map: %q", u)
		}
	}
	if res.Get("sems") != "0" {
		t.Errorf("%s udev cookie semaphores left behind", res.Get("sems"))
	}
	if res.Get("warnings") != "0" {
		t.Errorf("the daemon logged %s udev waits that timed out, want 0", res.Get("warnings"))
	}
}
