package vm

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
)

// iscsiHelpers times an iSCSI drill: the map over the LUN's two sessions, which path carries the
// I/O, and each path's state in the kernel's dm table.
const iscsiHelpers = edgeHelpers + `
# dm_state DEV: the dm-multipath state of a path (A or F) in the map's status.
dm_state() { dmsetup status $M | tr ' ' '\n' | grep -A1 -x "$(devt_of $1)" | tail -n 1; }
writes_of() { awk '{print $5}' /sys/block/$1/stat; }
# active_path A B: the one of two paths whose writes grow over 2 s.
active_path() {
	local a1 b1 a2 b2
	a1=$(writes_of $1); b1=$(writes_of $2)
	sleep 2
	a2=$(writes_of $1); b2=$(writes_of $2)
	if [ $((a2 - a1)) -gt $((b2 - b1)) ]; then echo $1; else echo $2; fi
}
recovery_tmos() { for s in /sys/class/iscsi_session/session*; do printf '%s=%s ' ${s##*/} $(cat $s/recovery_tmo); done; }
# kmark MSG: a line in the kernel log, so a drill's steps and the kernel's reactions share a clock.
kmark() { echo "mpathd-vm: $*" > /dev/kmsg; }
# ktime PATTERN: the kernel timestamp (s) of the last kernel log line with PATTERN (grep -E).
ktime() { dmesg | grep -E "$1" | tail -n 1 | sed 's/^\[ *\([0-9.]*\)\].*/\1/'; }
`

// TestVMISCSIFailover is the iSCSI drill on a real SAN: LIO serving one LUN on two portals, each in
// a network namespace of its own behind a veth pair, open-iscsi logged in to both (two sessions,
// two paths with the iscsi_session transport class), and mpathd with fast_io_fail_tmo 5, failover
// grouping with portal 1's path preferred (weightedpath 50 against 10), failback immediate and
// no_path_retry queue, under fio writing and verifying.
//
//   - mpathd writes fast_io_fail_tmo into each session's recovery_tmo (open-iscsi's 120 s before),
//     and it reads back;
//   - the link of portal 1, in use, goes down: the initiator marks the session FAILED (its nop-out,
//     2 s + 2 s), and the path is failed in the map within fast_io_fail_tmo + 1 s of that; fio
//     carries on over the other portal without an error;
//   - the link comes back: iscsid logs in again, mpathd reinstates the path and fails back to it;
//   - both paths are cut for 25 s (the initiator's link to portal 1, portal 2's own network on the
//     target side), longer than recovery_tmo and the nop-outs together: the map queues, the sessions and their sd devices stay, and when the links return fio completes with
//     no error and every block verified.
func TestVMISCSIFailover(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{None: true},
		ISCSI:    true,
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Timeout:  7 * time.Minute,
		Script: iscsiHelpers + `
iscsi_san 1 || return 0
emit recovery_tmo_before "$(recovery_tmos)"
set -- $(ls /sys/block | grep '^sd')
[ "$(iscsi_portal_of $1)" = 1 ] && { PA=$1; PB=$2; } || { PA=$2; PB=$1; }
cat > /tmp/c.toml <<EOF
[defaults]
polling_interval = 1
[overrides]
fast_io_fail_tmo = 5
no_path_retry = "queue"
path_grouping_policy = "failover"
detect_pgpolicy = false
failback = "immediate"
prio = "weightedpath"
prio_args = "devname ^$PA\$ 50 ^$PB\$ 10"
detect_prio = false
EOF
start_mpathd --config /tmp/c.toml --log-level debug
M=$(dmsetup ls --target multipath | awk '{ print $1; exit }')
[ -n "$M" ] || { fail "no map"; diag; iscsi_diag; return 0; }
emit table "$(dmsetup table $M)"
emit recovery_tmo "$(recovery_tmos)"
emit explain "$(mpathctl --json config explain $M)"
fio_start 150
sleep 4
NA=$(iscsi_portal_of $PA)
emit active "$(active_path $PA $PB) $PA portal $NA"

# One portal's link down.
SA=$(iscsi_session_of $PA)
# The moment the session turns FAILED (when the initiator blocks it and recovery_tmo starts), in
# the kernel log: a fork-free loop, so the mark follows within a few tens of milliseconds.
( f=/sys/class/iscsi_session/$SA/state; while read -r st < $f; [ "$st" != FAILED ]; do usleep 20000; done; kmark "$SA FAILED" ) &
kmark "link $NA down"
iscsi_link $NA down
wait_for 60 sh -c "[ \"\$(cat /sys/class/iscsi_session/$SA/state)\" = FAILED ]" || fail "$SA never FAILED"
wait_for 60 sh -c "[ \"\$(dmsetup status $M | tr ' ' '\n' | grep -A1 -x $(devt_of $PA) | tail -n 1)\" = F ]" || fail "$PA never failed in the map"
emit k_link_down "$(ktime "mpathd-vm: link $NA down")"
emit k_conn_error "$(ktime "connection${SA#session}:0: (ping timeout|detected conn error)")"
emit k_session_failed "$(ktime "mpathd-vm: $SA FAILED")"
emit k_recovery_timeout "$(ktime "${SA}: session recovery timed out")"
emit k_path_failed "$(ktime "Failing path $(devt_of $PA)\.")"
emit dev_state_down "$(cat /sys/block/$PA/device/state)"
sleep 2
emit active_during "$(active_path $PA $PB)"
sleep 4

# Back.
kmark "link $NA up"
t3=$(now)
iscsi_link $NA up
wait_for 90 sh -c "[ \"\$(dmsetup status $M | tr ' ' '\n' | grep -A1 -x $(devt_of $PA) | tail -n 1)\" = A ]" || fail "$PA not reinstated"
emit link_up_to_reinstated "$(elapsed $t3 $(now))"
emit k_link_up "$(ktime "mpathd-vm: link $NA up")"
sleep 3
emit active_after "$(active_path $PA $PB)"
emit recovery_tmo_after "$(recovery_tmos)"

# Every path cut, longer than recovery_tmo and the nop-outs: the initiator's link to portal 1, and
# portal 2's own network on the target side. The map queues, the devices stay.
t6=$(now)
iscsi_link 1 down
iscsi_portal 2 down
sleep 25
emit all_down_paths "$(ls /sys/block | grep -c '^sd')"
emit all_down_states "$(dm_state $PA) $(dm_state $PB)"
emit all_down_table "$(dmsetup table $M)"
emit all_down_sessions "$(cat /sys/class/iscsi_session/session*/state | tr '\n' ' ')"
kill -0 $FIO 2>/dev/null && emit fio_alive_during_outage yes
iscsi_link 1 up
iscsi_portal 2 up
wait_for 120 sh -c "[ \"\$(dmsetup status $M | tr ' ' '\n' | grep -A1 -x $(devt_of $PA) | tail -n 1)\$(dmsetup status $M | tr ' ' '\n' | grep -A1 -x $(devt_of $PB) | tail -n 1)\" = AA ]" || fail "paths not back after the outage"
emit outage_to_both_active "$(elapsed $t6 $(now))"
emit paths_after "$(ls /sys/block | grep -c '^sd')"
kill -0 $FIO 2>/dev/null || fail "fio ended before the outage was over: make its runtime longer"
fio_wait
# Every block fio wrote, read back and checked: fio verifies as it goes but leaves the blocks of its
# last backlogs when its time is up, so the same job replays its offsets in verify-only mode.
W=$(grep -o '"total_ios" : [0-9]*' /tmp/fio.json | sed -n 2p | awk '{ print $3 }')
fio --name=drill --filename=/dev/mapper/$M --ioengine=libaio --iodepth=4 --direct=1 --rw=randwrite --bs=4k \
	--verify=crc32c --verify_fatal=1 --verify_only --number_ios=$W --output-format=json --output=/tmp/fio2.json 2>/tmp/fio2.err
emit verify_all_rc "$?"
emit verify_all "$W $(grep -o '"total_ios" : [0-9]*' /tmp/fio2.json | sed -n 1p | awk '{ print $3 }')"
emit verify_all_err "$(head -c 2000 /tmp/fio2.err)"
emit topology "$(mpathctl show topology)"
diag
iscsi_diag
`,
	})
	defer logDiag(t, res)
	defer func() {
		if t.Failed() {
			t.Logf("diag.iscsi:\n%s", res.Get("diag.iscsi"))
		}
	}()
	t.Logf("table: %s", res.Get("table"))

	// recovery_tmo: open-iscsi's 120 before, fast_io_fail_tmo after, and still after a relogin.
	t.Logf("recovery_tmo: before mpathd %s; applied %s; after the relogin %s", res.Get("recovery_tmo_before"), res.Get("recovery_tmo"), res.Get("recovery_tmo_after"))
	for _, k := range []string{"recovery_tmo", "recovery_tmo_after"} {
		f := strings.Fields(res.Get(k))
		if len(f) != 2 {
			t.Errorf("%s: %q, want two sessions", k, res.Get(k))
		}
		for _, s := range f {
			if !strings.HasSuffix(s, "=5") {
				t.Errorf("%s: %s, want 5 (fast_io_fail_tmo)", k, s)
			}
		}
	}
	var ex api.Explanation
	if err := json.Unmarshal([]byte(res.Get("explain")), &ex); err != nil {
		t.Errorf("explain: %v\n%s", err, res.Get("explain"))
	}
	n := 0
	for _, s := range ex.Transport {
		if s.Attribute == "recovery_tmo" {
			n++
			if s.Want != "5" || s.Value != "5" || s.Error != "" {
				t.Errorf("explain: %+v", s)
			}
		}
	}
	if n != 2 {
		t.Errorf("explain lists %d recovery_tmo settings, want 2: %+v", n, ex.Transport)
	}

	secs := func(k string) float64 {
		v, err := strconv.ParseFloat(res.Get(k), 64)
		if err != nil {
			t.Errorf("%s: %q", k, res.Get(k))
		}
		return v
	}
	// Kernel log timestamps: the link set down, the initiator's nop-out noticing, the session's
	// recovery_tmo expiring, dm failing the path.
	down, connErr, sessFailed, recov, failed := secs("k_link_down"), secs("k_conn_error"), secs("k_session_failed"), secs("k_recovery_timeout"), secs("k_path_failed")
	t.Logf("link down on %s: connection error after %.2f s, session FAILED %.2f s later, its recovery_tmo expired %.2f s after that, and the path failed in the map %.2f s after the session (%.2f s after the link went down); device %s",
		res.Get("active"), connErr-down, sessFailed-connErr, recov-sessFailed, failed-sessFailed, failed-down, res.Get("dev_state_down"))
	if d := failed - sessFailed; d < 0 || d > 6 {
		t.Errorf("path failed %.2f s after its session, want within fast_io_fail_tmo + 1 s = 6 s", d)
	}
	// From the connection error the initiator's own reaction (iscsid blocking the session) comes on top.
	if d := failed - connErr; d < 0 || d > 8 {
		t.Errorf("path failed %.2f s after its connection error, want within fast_io_fail_tmo + 3 s", d)
	}
	if d := connErr - down; d < 0 || d > 8 {
		t.Errorf("the initiator took %.2f s to see the link down, want its nop-out bound (2 s + 2 s) and slack", d)
	}
	act := strings.Fields(res.Get("active"))
	if len(act) < 2 || act[0] != act[1] {
		t.Fatalf("I/O at the start on %v, want the path of portal 1 (weightedpath 50 against 10)", act)
	}
	pa := act[0]
	if d := res.Get("active_during"); d == pa {
		t.Errorf("I/O still on %s while its link was down", d)
	}
	t.Logf("link up: %s reinstated after %s s; I/O on %s (was %s)", pa, res.Get("link_up_to_reinstated"), res.Get("active_after"), pa)
	if a := res.Get("active_after"); a != pa {
		t.Errorf("after reinstatement I/O is on %s, want failback to %s (failback immediate)", a, pa)
	}
	t.Logf("every path cut 25 s: paths %s, dm states %s, sessions %s; both active again %s s after the outage began",
		res.Get("all_down_paths"), res.Get("all_down_states"), res.Get("all_down_sessions"), res.Get("outage_to_both_active"))
	if res.Get("all_down_paths") != "2" || res.Get("paths_after") != "2" {
		t.Errorf("sd devices during/after the outage: %s/%s, want 2/2", res.Get("all_down_paths"), res.Get("paths_after"))
	}
	if res.Get("all_down_states") != "F F" {
		t.Errorf("dm path states during the outage %q, want F F", res.Get("all_down_states"))
	}
	if !strings.Contains(res.Get("all_down_table"), "queue_if_no_path") {
		t.Errorf("map not queueing during the outage: %s", res.Get("all_down_table"))
	}
	if res.Get("fio_alive_during_outage") != "yes" {
		t.Errorf("fio ended during the outage")
	}
	r := parseFio(t, res.Get("fio_json"))
	t.Logf("fio: exit %s, error %d, verify failures %s, %d writes, %d verified as it went, worst latency %.1f s write, %.1f s read; verify-only pass: exit %s, written/read back %s",
		res.Get("fio_rc"), r.Error, res.Get("fio_verify_failures"), r.Write.TotalIOs, r.Read.TotalIOs, r.Write.ClatNs.Max/1e9, r.Read.ClatNs.Max/1e9,
		res.Get("verify_all_rc"), res.Get("verify_all"))
	if res.Get("fio_rc") != "0" || r.Error != 0 || res.Get("fio_verify_failures") != "0" {
		t.Errorf("fio failed: exit %s, error %d, verify failures %s:\n%s", res.Get("fio_rc"), r.Error, res.Get("fio_verify_failures"), res.Get("diag.fio_err"))
	}
	// The verify-only pass reads each block of the map once: as many blocks as were written, or
	// the whole map when the writes went round it more than once.
	blocks := -1
	if tf := strings.Fields(res.Get("table")); len(tf) > 1 {
		if n, err := strconv.Atoi(tf[1]); err == nil {
			blocks = n / 8
		}
	}
	f := strings.Fields(res.Get("verify_all"))
	var written, read int
	if len(f) == 2 {
		written, _ = strconv.Atoi(f[0])
		read, _ = strconv.Atoi(f[1])
	}
	if res.Get("verify_all_rc") != "0" || len(f) != 2 || written == 0 || read != min(written, blocks) {
		t.Errorf("verify-only pass: exit %s, written/read %q:\n%s", res.Get("verify_all_rc"), res.Get("verify_all"), res.Get("verify_all_err"))
	}
}
