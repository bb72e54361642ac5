package vm

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
)

// tableGroups reads the priority groups of a multipath table line ("0 N multipath FEATURES HWH
// NPG FIRST SEL ...") as the devices of each group, in table order.
func tableGroups(t *testing.T, table string) [][]string {
	t.Helper()
	f := strings.Fields(table)
	num := func(i int) int {
		if i >= len(f) {
			t.Fatalf("table %q cut short at field %d", table, i)
		}
		n, err := strconv.Atoi(f[i])
		if err != nil {
			t.Fatalf("table %q: field %d %q: %v", table, i, f[i], err)
		}
		return n
	}
	i := 3
	i += 1 + num(i) // features
	i += 1 + num(i) // hardware handler
	npg := num(i)
	i += 2 // number of groups, first group
	var groups [][]string
	for range npg {
		i++             // selector
		i += 1 + num(i) // selector arguments
		np, nargs := num(i), num(i+1)
		i += 2
		var g []string
		for range np {
			g = append(g, f[i])
			i += 1 + nargs
		}
		groups = append(groups, g)
	}
	return groups
}

// topologyPrios maps each path of the topology to its priority and prioritizer.
func topologyPrios(t *testing.T, js string) map[string]api.Path {
	t.Helper()
	var top api.Topology
	if err := json.Unmarshal([]byte(js), &top); err != nil {
		t.Fatalf("topology: %v\n%s", err, js)
	}
	out := map[string]api.Path{}
	for _, m := range top.Maps {
		for _, g := range m.Groups {
			for _, p := range g.Paths {
				out[p.Dev] = p
			}
		}
	}
	return out
}

// TestVMIETPrio: the iet prioritizer on the iSCSI SAN. LIO serves one LUN on two portals; with
// prio iet and preferredip= portal 2's address, the path through portal 2 gets 20 and the other 10,
// so group_by_prio puts portal 2's path alone in the first group of the kernel's table, and the
// I/O written through the map lands on it. udev runs, so the portal comes from the path's
// /dev/disk/by-path link as it does for multipath-tools.
func TestVMIETPrio(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{None: true},
		ISCSI:    true,
		Udev:     true,
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Timeout:  5 * time.Minute,
		Script: iscsiHelpers + `
iscsi_san 1 || return 0
set -- $(ls /sys/block | grep '^sd')
[ "$(iscsi_portal_of $1)" = 2 ] && { PP=$1; PO=$2; } || { PP=$2; PO=$1; }
wait_for 30 sh -c "ls /dev/disk/by-path | grep -q '^ip-10.0.2.1:3260-iscsi-.*-lun-'" || fail "udev made no by-path link for portal 2"
emit bypath "$(for l in /dev/disk/by-path/ip-*; do echo "${l##*/} $(basename $(readlink $l))"; done | grep -v -- -part)"
cat > /tmp/c.toml <<EOF
[defaults]
polling_interval = 1
[overrides]
path_grouping_policy = "group_by_prio"
detect_pgpolicy = false
failback = "immediate"
prio = "iet"
prio_args = "preferredip=10.0.2.1"
detect_prio = false
EOF
start_mpathd --config /tmp/c.toml --log-level debug
M=$(dmsetup ls --target multipath | awk '{ print $1; exit }')
[ -n "$M" ] || { fail "no map"; diag; iscsi_diag; return 0; }
wait_for 30 sh -c "mpathctl --json show topology | grep -q '\"prioritizer\": *\"iet\"'" || fail "no path rated by iet"
sleep 2
emit preferred "$PP $(devt_of $PP)"
emit other "$PO $(devt_of $PO)"
emit table "$(dmsetup table $M)"
emit topology "$(mpathctl --json show topology)"
wp=$(writes_of $PP); wo=$(writes_of $PO)
dd if=/dev/zero of=/dev/mapper/$M bs=4k count=256 oflag=direct 2>/dev/null || fail "write through $M"
emit writes "$(( $(writes_of $PP) - wp )) $(( $(writes_of $PO) - wo ))"
mpathctl show topology
`,
	})
	defer logDiag(t, res)
	t.Logf("by-path links: %s", res.Get("bypath"))
	pref, other := strings.Fields(res.Get("preferred")), strings.Fields(res.Get("other"))
	if len(pref) != 2 || len(other) != 2 {
		t.Fatalf("paths: preferred %q, other %q", res.Get("preferred"), res.Get("other"))
	}
	if !strings.Contains(res.Get("bypath"), "ip-10.0.2.1:3260-iscsi-") || !strings.Contains(res.Get("bypath"), " "+pref[0]) {
		t.Errorf("by-path: %q, want portal 2's link naming %s", res.Get("bypath"), pref[0])
	}
	groups := tableGroups(t, res.Get("table"))
	if len(groups) != 2 || len(groups[0]) != 1 || groups[0][0] != pref[1] || len(groups[1]) != 1 || groups[1][0] != other[1] {
		t.Errorf("table %q: groups %v, want [[%s] [%s]] (portal 2's path first)", res.Get("table"), groups, pref[1], other[1])
	}
	paths := topologyPrios(t, res.Get("topology"))
	for dev, want := range map[string]int{pref[0]: 20, other[0]: 10} {
		if p := paths[dev]; p.Prio != want || p.Prioritizer != "iet" || p.Fallback != "" {
			t.Errorf("%s: prio %d by %q (fallback %q), want %d by iet", dev, p.Prio, p.Prioritizer, p.Fallback, want)
		}
	}
	w := strings.Fields(res.Get("writes"))
	if len(w) != 2 {
		t.Fatalf("writes: %q", res.Get("writes"))
	}
	wp, _ := strconv.Atoi(w[0])
	wo, _ := strconv.Atoi(w[1])
	if wp < 256 || wo != 0 {
		t.Errorf("writes through the map: %d on the preferred path, %d on the other; want all on the preferred", wp, wo)
	}
}

// TestVMPathLatencyPrio: path_latency on scsi_debug paths. The daemon runs in a cgroup whose io.max
// lets it read one of the two paths of LUN 0 only 10 times a second, so that path's direct reads
// take about 100 ms against well under 10 ms on the other: with io_num=10 base_num=10 the slow path
// rates about log10(100 s / 100 ms) = 3, the fast one at least 4, and group_by_prio puts the fast
// path first in the kernel's table.
func TestVMPathLatencyPrio(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 1},
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Script: daemonHelpers + `
M=333333330000007d0
FAST=$(path_of 0 0); SLOW=$(path_of 0 1)
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup || fail "mount cgroup2"
echo +io > /sys/fs/cgroup/cgroup.subtree_control || fail "io controller"
mkdir -p /sys/fs/cgroup/mpathd
echo "$(devt_of $SLOW) riops=10" > /sys/fs/cgroup/mpathd/io.max || fail "io.max"
echo $$ > /sys/fs/cgroup/mpathd/cgroup.procs || fail "join the cgroup"
cat > /tmp/c.toml <<EOF
[defaults]
polling_interval = 2
[overrides]
path_grouping_policy = "group_by_prio"
detect_pgpolicy = false
failback = "immediate"
prio = "path_latency"
prio_args = "io_num=10 base_num=10"
detect_prio = false
EOF
start_mpathd --config /tmp/c.toml --log-level debug
wait_for 60 sh -c "dmsetup table $M | grep -q multipath" || fail "no map"
wait_for 60 sh -c "mpathctl --json show topology | grep -q '\"prioritizer\": *\"path_latency\"'" || fail "no path rated by path_latency"
sleep 6
emit fast "$FAST $(devt_of $FAST)"
emit slow "$SLOW $(devt_of $SLOW)"
emit iomax "$(cat /sys/fs/cgroup/mpathd/io.max)"
emit table "$(dmsetup table $M)"
emit topology "$(mpathctl --json show topology)"
mpathctl show topology
`,
	})
	defer logDiag(t, res)
	t.Logf("io.max: %s", res.Get("iomax"))
	fast, slow := strings.Fields(res.Get("fast")), strings.Fields(res.Get("slow"))
	if len(fast) != 2 || len(slow) != 2 {
		t.Fatalf("paths: fast %q, slow %q", res.Get("fast"), res.Get("slow"))
	}
	paths := topologyPrios(t, res.Get("topology"))
	pf, ps := paths[fast[0]], paths[slow[0]]
	t.Logf("prio: fast %s %d, slow %s %d", fast[0], pf.Prio, slow[0], ps.Prio)
	if pf.Prioritizer != "path_latency" || ps.Prioritizer != "path_latency" || pf.Fallback != "" || ps.Fallback != "" {
		t.Errorf("prioritizers %q/%q, fallbacks %q/%q; want path_latency without fallback", pf.Prioritizer, ps.Prioritizer, pf.Fallback, ps.Fallback)
	}
	if ps.Prio < 2 || ps.Prio > 3 || pf.Prio < 4 || pf.Prio > 8 {
		t.Errorf("prio fast %d, slow %d; want the throttled path at 2-3 (about 100 ms a read), the other at 4-8", pf.Prio, ps.Prio)
	}
	groups := tableGroups(t, res.Get("table"))
	if len(groups) != 2 || len(groups[0]) != 1 || groups[0][0] != fast[1] || len(groups[1]) != 1 || groups[1][0] != slow[1] {
		t.Errorf("table %q: groups %v, want [[%s] [%s]] (the fast path first)", res.Get("table"), groups, fast[1], slow[1])
	}
}

// TestVMDetectPrecedence: detect_prio and detect_checker on LIO's ALUA groups. The configuration
// names prio iet preferring portal 1 and the directio checker; portal 1's group is active/non-
// optimized, portal 2's active/optimized. With detection on, ALUA (TPGS) overrides both: tur checks
// the paths, scsi_dh_alua's sysfs state rates them 10 and 50, and portal 2's path leads the
// kernel's table. With detection off, the configured ones apply: iet rates portal 1's path 20
// against 10 and it leads the table, checked by directio.
func TestVMDetectPrecedence(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{None: true},
		ISCSI:    true,
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Timeout:  6 * time.Minute,
		Script: iscsiHelpers + `
ISCSI_ALUA=1
iscsi_san 1 || return 0
iscsi_alua 1 nonoptimized
iscsi_alua 2 optimized
set -- $(ls /sys/block | grep '^sd')
[ "$(iscsi_portal_of $1)" = 1 ] && { P1=$1; P2=$2; } || { P1=$2; P2=$1; }
emit paths "$P1 $(devt_of $P1) $P2 $(devt_of $P2)"
conf() {
	cat > /tmp/c.toml <<EOF
[defaults]
polling_interval = 1
[overrides]
path_grouping_policy = "group_by_prio"
detect_pgpolicy = false
failback = "immediate"
path_checker = "directio"
prio = "iet"
prio_args = "preferredip=10.0.1.1"
detect_prio = $1
detect_checker = $1
EOF
}
conf true
start_mpathd --config /tmp/c.toml --log-level debug
M=$(dmsetup ls --target multipath | awk '{ print $1; exit }')
[ -n "$M" ] || { fail "no map"; diag; iscsi_diag; return 0; }
wait_for 30 sh -c "mpathctl --json show topology | grep -q '\"prioritizer\": *\"sysfs\"'" || fail "no path rated by sysfs"
sleep 3
emit on.table "$(dmsetup table $M)"
emit on.topology "$(mpathctl --json show topology)"
emit on.access "$(cat /sys/block/$P1/device/access_state) $(cat /sys/block/$P2/device/access_state)"
mpathctl show topology
kill $MPATHD_PID; wait $MPATHD_PID 2>/dev/null

conf false
start_mpathd --config /tmp/c.toml --log-level debug
wait_for 30 sh -c "mpathctl --json show topology | grep -q '\"prioritizer\": *\"iet\"'" || fail "no path rated by iet"
sleep 3
emit off.table "$(dmsetup table $M)"
emit off.topology "$(mpathctl --json show topology)"
mpathctl show topology
`,
	})
	defer logDiag(t, res)
	p := strings.Fields(res.Get("paths"))
	if len(p) != 4 {
		t.Fatalf("paths: %q", res.Get("paths"))
	}
	t.Logf("access states with detection: %s", res.Get("on.access"))
	for _, tc := range []struct {
		phase        string
		first        string // device of the first group
		checker      string
		prioritizer  string
		prio1, prio2 int
		from         string // where both came from
	}{
		{"on", p[3], "tur", "sysfs", 10, 50, "detected: ALUA (TPGS 1)"},
		{"off", p[1], "directio", "iet", 20, 10, "configured"},
	} {
		groups := tableGroups(t, res.Get(tc.phase+".table"))
		if len(groups) != 2 || len(groups[0]) != 1 || groups[0][0] != tc.first {
			t.Errorf("detection %s: table %q: groups %v, want %s alone first", tc.phase, res.Get(tc.phase+".table"), groups, tc.first)
		}
		paths := topologyPrios(t, res.Get(tc.phase+".topology"))
		for dev, want := range map[string]int{p[0]: tc.prio1, p[2]: tc.prio2} {
			got := paths[dev]
			if got.Prio != want || got.Prioritizer != tc.prioritizer || got.Checker != tc.checker || got.Fallback != "" ||
				got.CheckerFrom != tc.from || got.PrioFrom != tc.from {
				t.Errorf("detection %s: %s: prio %d by %q (%s), checker %q (%s), fallback %q; want %d by %s, checker %s, both %s",
					tc.phase, dev, got.Prio, got.Prioritizer, got.PrioFrom, got.Checker, got.CheckerFrom, got.Fallback, want, tc.prioritizer, tc.checker, tc.from)
			}
		}
	}
}

// TestVMVendorFallback: a vendor checker and prioritizer configured for paths of another array.
// scsi_debug refuses VPD 0xc9 and is no Hitachi, so rdac cannot check the paths and hds cannot rate
// them: the daemon checks them with tur instead, leaves their priority undefined, builds the map all
// the same, and says so in its log and in mpathctl show, path by path.
func TestVMVendorFallback(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 1},
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Script: daemonHelpers + `
M=333333330000007d0
cat > /tmp/c.toml <<EOF
[defaults]
polling_interval = 2
[overrides]
path_checker = "rdac"
detect_checker = false
prio = "hds"
detect_prio = false
EOF
start_mpathd --config /tmp/c.toml
wait_for 60 sh -c "dmsetup table $M | grep -q multipath" || fail "no map"
wait_for 30 sh -c "mpathctl show topology | grep -q fallback=" || fail "no fallback shown"
emit show "$(mpathctl show topology)"
emit topology "$(mpathctl --json show topology)"
emit logged "$(grep -c 'fell back' /tmp/mpathd.log)"
emit dmstatus "$(dmsetup status $M)"
`,
	})
	defer logDiag(t, res)
	t.Logf("mpathctl show topology:\n%s", res.Get("show"))
	paths := topologyPrios(t, res.Get("topology"))
	if len(paths) != 2 {
		t.Fatalf("%d paths in the topology, want 2", len(paths))
	}
	for dev, p := range paths {
		if p.CheckerState != "up" || p.Checker != "tur" || p.Prioritizer != "hds" ||
			!strings.Contains(p.Fallback, "checker rdac cannot check this device") || !strings.Contains(p.Fallback, "prio hds failed") {
			t.Errorf("%s: state %s, checker %q, prioritizer %q, fallback %q; want up by tur, hds failing, both named", dev, p.CheckerState, p.Checker, p.Prioritizer, p.Fallback)
		}
		if !strings.Contains(res.Get("show"), dev) || strings.Count(res.Get("show"), "fallback=") != 2 {
			t.Errorf("mpathctl show does not name %s's fallback:\n%s", dev, res.Get("show"))
		}
	}
	if n, _ := strconv.Atoi(res.Get("logged")); n < 2 {
		t.Errorf("%d fallback lines in the log, want one per path", n)
	}
	for dev, p := range paths {
		if !strings.Contains(res.Get("dmstatus"), p.DevT+" A ") {
			t.Errorf("%s: dm status %q, want the path active in the kernel", dev, res.Get("dmstatus"))
		}
	}
}
