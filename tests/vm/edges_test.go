package vm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The edge drills: failure handling under a writing, verifying fio on one map over two paths
// (scsi_debug, 2 hosts x 1 LUN: host 0 optimized, host 1 non-optimized). Each boots once. The
// daemon runs with debug logging; records named diag.* are diagnostics, printed only when an
// assertion fails (the daemon's log, the kernel's account of the paths, dmesg).
const edgeHelpers = daemonHelpers + `
M=333333330000007d0
P0=$(path_of 0 0)
P1=$(path_of 0 1)
# fio_start SECONDS: random 4k direct writes on the map for SECONDS, each block read back and
# checked (crc32c) once 64 more are written, stopping at the first error or mismatch.
fio_start() {
	fio --name=drill --filename=/dev/mapper/$M --ioengine=libaio --iodepth=4 --direct=1 \
		--rw=randwrite --bs=4k --verify=crc32c --verify_fatal=1 --do_verify=1 --verify_backlog=64 \
		--time_based --runtime=$1 --output-format=json --output=/tmp/fio.json 2>/tmp/fio.err &
	FIO=$!
}
# fio_wait: wait for fio and emit its exit status, its JSON report and the verify failures it printed.
fio_wait() {
	wait $FIO
	emit fio_rc "$?"
	emit fio_json "$(cat /tmp/fio.json)"
	emit fio_verify_failures "$(grep -ciE 'verify failed|bad magic|bad header|verify.*mismatch' /tmp/fio.err)"
	emit diag.fio_err "$(cat /tmp/fio.err)"
}
# diag: what the daemon, device-mapper and the kernel say, for a failing drill.
diag() {
	emit diag.status "$(dmsetup status)"
	emit diag.table "$(dmsetup table)"
	emit diag.log "$(grep -v '"level":"debug"' /tmp/mpathd.log | tail -n 150)"
	emit diag.debug "$(grep '"level":"debug"' /tmp/mpathd.log | grep -vE 'polling core|stats' | tail -n 150)"
	emit diag.dmesg "$(dmesg | grep -E 'multipath|device-mapper|offline|sd [0-9]|blk_update|I/O error' | tail -n 80)"
}
`

// fioReport is the part of fio's JSON report the drills assert on.
type fioReport struct {
	Error int // first error of the job (errno); 0 when none
	Read  fioDir
	Write fioDir
}

type fioDir struct {
	TotalIOs int64 `json:"total_ios"`
	ClatNs   struct {
		Max float64 `json:"max"`
	} `json:"clat_ns"`
}

// parseFio decodes fio's JSON report (fio may print notes before it).
func parseFio(t *testing.T, js string) fioReport {
	t.Helper()
	var out struct{ Jobs []fioReport }
	i := strings.IndexByte(js, '{')
	if i < 0 {
		t.Fatalf("no fio report:\n%s", js)
	}
	if err := json.Unmarshal([]byte(js[i:]), &out); err != nil || len(out.Jobs) != 1 {
		t.Fatalf("fio report (%d jobs): %v\n%s", len(out.Jobs), err, js)
	}
	return out.Jobs[0]
}

// checkFio asserts that fio exited 0 with no error and no verify failure, and that it verified what
// it wrote: every write was read back except the last backlog of 64 blocks and those in flight.
func checkFio(t *testing.T, res *Result) fioReport {
	t.Helper()
	r := parseFio(t, res.Get("fio_json"))
	t.Logf("fio: exit %s, error %d, verify failures %s, %d writes, %d verified, worst latency %.1f s write, %.1f s read",
		res.Get("fio_rc"), r.Error, res.Get("fio_verify_failures"), r.Write.TotalIOs, r.Read.TotalIOs, r.Write.ClatNs.Max/1e9, r.Read.ClatNs.Max/1e9)
	if res.Get("fio_rc") != "0" || r.Error != 0 {
		t.Errorf("fio failed: exit %s, error %d:\n%s", res.Get("fio_rc"), r.Error, res.Get("diag.fio_err"))
	}
	if res.Get("fio_verify_failures") != "0" {
		t.Errorf("fio reported %s verify failures", res.Get("fio_verify_failures"))
	}
	if r.Write.TotalIOs == 0 || r.Read.TotalIOs < r.Write.TotalIOs-64-4 {
		t.Errorf("fio verified %d of %d writes", r.Read.TotalIOs, r.Write.TotalIOs)
	}
	return r
}

// pathFailCounts is failCounts ordered by path, so that it does not depend on the group order.
func pathFailCounts(status string) string {
	fc := strings.Split(failCounts(status), ",")
	slices.Sort(fc)
	return strings.Join(fc, ",")
}

// logDiag prints the diagnostics of a failed drill.
func logDiag(t *testing.T, res *Result) {
	t.Helper()
	if !t.Failed() {
		return
	}
	for _, k := range []string{"diag.flaps", "diag.status", "diag.table", "diag.log", "diag.debug", "diag.dmesg"} {
		if v := res.Get(k); v != "" {
			t.Logf("%s:\n%s", k, v)
		}
	}
}

// flappingDrill: the two paths of a map are offlined in turn (2 s offline, then 8 s until the
// other one goes) under a writing, verifying fio, with no_path_retry npr. Each flap costs the
// kernel a path failure on the path in use; the other path is healthy all along, so no I/O may
// fail, however often the paths flap, and none may wait long: a flap costs a failover, not a wait
// for the flapping path (with queue, a wait is how a map left without a usable path would show).
func flappingDrill(t *testing.T, npr string) {
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 1},
		Commands: []string{"./cmd/mpathd"},
		Timeout:  5 * time.Minute,
		Script: edgeHelpers + fmt.Sprintf(`
printf '[defaults]\nno_path_retry = "%s"\n' > /tmp/c.toml
start_mpathd --config /tmp/c.toml --log-level debug
emit table "$(dmsetup table $M)"
fio_start 85
# 8 flaps, alternating P0 and P1, each begun only while fio still runs.
: > /tmp/flaps
(
	sleep 3
	i=0
	while [ $i -lt 8 ] && kill -0 $FIO 2>/dev/null; do
		if [ $((i %% 2)) = 0 ]; then P=$P0; else P=$P1; fi
		echo "$(now) offline $P" >> /tmp/flaps
		echo offline > /sys/block/$P/device/state
		sleep 2
		echo running > /sys/block/$P/device/state
		echo "$(now) running $P" >> /tmp/flaps
		i=$((i + 1))
		sleep 8
	done
) &
FLAPPER=$!
fio_wait
kill $FLAPPER 2>/dev/null
wait $FLAPPER 2>/dev/null
for P in $P0 $P1; do echo running > /sys/block/$P/device/state; done
emit flaps "$(grep -c running /tmp/flaps)"
emit diag.flaps "$(cat /tmp/flaps)"
diag
`, npr),
	})
	defer logDiag(t, res)
	table := res.Get("table")
	if strings.Count(table, ":") != 2 || strings.Contains(table, "queue_if_no_path") != (npr == "queue") {
		t.Errorf("map not over 2 paths with no_path_retry %s: %s", npr, table)
	}
	r := checkFio(t, res)
	if r.Write.ClatNs.Max > 10e9 || r.Read.ClatNs.Max > 10e9 {
		t.Errorf("an I/O waited %.1f s (write) / %.1f s (read) although a healthy path was there all along",
			r.Write.ClatNs.Max/1e9, r.Read.ClatNs.Max/1e9)
	}
	flaps, _ := strconv.Atoi(res.Get("flaps"))
	t.Logf("no_path_retry %s: %d flaps under fio", npr, flaps)
	if flaps < 8 {
		t.Errorf("only %d flaps done while fio ran, want 8", flaps)
	}
}

// TestVMEdgeFlappingFail: the flapping drill with no_path_retry fail.
func TestVMEdgeFlappingFail(t *testing.T) {
	t.Parallel()
	flappingDrill(t, "fail")
}

// TestVMEdgeFlappingQueue: the flapping drill with no_path_retry queue.
func TestVMEdgeFlappingQueue(t *testing.T) {
	t.Parallel()
	flappingDrill(t, "queue")
}

// TestVMEdgeAllPathsDownQueue: with no_path_retry queue, both paths offline for 20 s under a
// writing, verifying fio: the I/O waits (the worst write or verifying read takes about the
// outage) and resumes when a path returns, with nothing failed and everything verified.
func TestVMEdgeAllPathsDownQueue(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 1},
		Commands: []string{"./cmd/mpathd"},
		Timeout:  4 * time.Minute, // 50 s of fio; a loaded host took 1 min 51 s
		Script: edgeHelpers + `
printf '[defaults]\nno_path_retry = "queue"\n' > /tmp/c.toml
start_mpathd --config /tmp/c.toml --log-level debug
fio_start 50
sleep 8
for P in $P0 $P1; do echo offline > /sys/block/$P/device/state; done
sleep 10
emit outage_status "$(dmsetup status $M)"
sleep 10
for P in $P0 $P1; do echo running > /sys/block/$P/device/state; done
fio_wait
diag
`,
	})
	defer logDiag(t, res)
	if st := res.Get("outage_status"); strings.Count(st, " F ") != 2 {
		t.Errorf("both paths should be failed in the kernel during the outage: %s", st)
	}
	r := checkFio(t, res)
	if worst := max(r.Write.ClatNs.Max, r.Read.ClatNs.Max); worst < 15e9 {
		t.Errorf("worst latency %.1f s: no I/O waited through the 20 s outage", worst/1e9)
	}
}

// TestVMEdgeNoPathRetryExpiry: with no_path_retry 3 and polling_interval 1, a writer's I/O fails
// once both paths are gone, no sooner than 3 s after the last one went, and the map stays (it is
// a device somebody may hold open); when the paths return, writes work again.
func TestVMEdgeNoPathRetryExpiry(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 1},
		Commands: []string{"./cmd/mpathd"},
		Timeout:  4 * time.Minute, // a host at load 24 took 1 min 46 s
		Script: edgeHelpers + `
printf '[defaults]\npolling_interval = 1\nno_path_retry = 3\n' > /tmp/c.toml
start_mpathd --config /tmp/c.toml --log-level debug
dd if=/dev/urandom of=/tmp/pat bs=4k count=1 2>/dev/null
# A writer: one synchronous 4k write after another; the first failure's return time is kept.
: > /tmp/failed_at
(
	while dd if=/tmp/pat of=/dev/mapper/$M bs=4k count=1 oflag=direct conv=fsync 2>/dev/null; do :; done
	now > /tmp/failed_at
) &
WRITER=$!
sleep 3
echo offline > /sys/block/$P0/device/state
sleep 2
echo offline > /sys/block/$P1/device/state
t0=$(now)
wait_for 30 sh -c '[ -s /tmp/failed_at ]'
if [ -s /tmp/failed_at ]; then emit fail_after "$(elapsed $t0 $(cat /tmp/failed_at))"; else emit fail_after never; kill $WRITER; fi
wait $WRITER 2>/dev/null
dmsetup info $M >/dev/null 2>&1 && emit map_exists yes || emit map_exists no
for P in $P0 $P1; do echo running > /sys/block/$P/device/state; done
wait_for 20 dd if=/tmp/pat of=/dev/mapper/$M bs=4k count=1 oflag=direct conv=fsync && emit write_after_return ok || emit write_after_return failed
diag
`,
	})
	defer logDiag(t, res)
	after, err := strconv.ParseFloat(res.Get("fail_after"), 64)
	t.Logf("no_path_retry 3 x polling_interval 1: I/O failed %s s after the last path went", res.Get("fail_after"))
	if err != nil || after < 3 || after > 15 {
		t.Errorf("I/O failed after %q s, want between 3 and 15", res.Get("fail_after"))
	}
	if res.Get("map_exists") != "yes" {
		t.Errorf("the map is gone after no_path_retry expired")
	}
	if res.Get("write_after_return") != "ok" {
		t.Errorf("writes do not work again after the paths returned")
	}
}

// TestVMEdgeKillRestart: kill -9 of the daemon while fio writes and a path is down, then a
// restart: no I/O fails and the new daemon reloads nothing.
//
// What proves "no reload": the kernel keeps no count of table loads. A map's event number counts
// target events (a path failed or reinstated, a group switched or bypassed), and fail counts count
// each path's failures since its table was loaded. Before the kill the down path is failed in the
// kernel and the daemon has seen it down, so a daemon that adopts the map as it is has nothing to
// tell the kernel: the event number must not move. A reload would show: the new table starts with
// every path active, so the down path must be failed again (by the daemon or by the next I/O), a
// target event; and every fail count starts at 0, which the healthy path's count of 1 (from an
// outside fail_path earlier) would reveal even if the down path's were the same again. So across
// the restart the event number and every fail count must be unchanged, the down path still failed,
// and the daemon's log must show no reload.
func TestVMEdgeKillRestart(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 1},
		Commands: []string{"./cmd/mpathd"},
		Timeout:  4 * time.Minute, // 50 s of fio; a loaded host took 1 min 51 s
		Script: edgeHelpers + `
start_mpathd --log-level debug
D0=$(devt_of $P0)
D1=$(devt_of $P1)
fio_start 50
sleep 3
# The healthy path gets a fail count of 1: failed from outside, reinstated by the daemon.
dmsetup message $M 0 fail_path $D1
wait_for 20 sh -c "dmsetup status $M | grep -q '$D1 A 1 '" || emit problem "$P1 not reinstated after an outside fail_path"
echo offline > /sys/block/$P0/device/state
wait_for 20 sh -c "dmsetup status $M | grep -q '$D0 F '" || emit problem "$P0 not failed in the kernel"
sleep 7 # more than a polling interval: the daemon has checked the path and knows it down
emit events_before "$(dmsetup info -c --noheadings -o name,events $M)"
emit status_before "$(dmsetup status $M)"
r0=$(reloads $M)
kill -9 $MPATHD_PID
sleep 1
start_mpathd --log-level debug
sleep 12 # two polling intervals of the new daemon
emit events_after "$(dmsetup info -c --noheadings -o name,events $M)"
emit status_after "$(dmsetup status $M)"
emit restart_reloads "$(( $(reloads $M) - r0 ))"
echo running > /sys/block/$P0/device/state
wait_for 20 sh -c "dmsetup status $M | grep -q '$D0 A '" && emit reinstated yes || emit reinstated no
fio_wait
diag
`,
	})
	defer logDiag(t, res)
	for _, p := range res.All("problem") {
		t.Errorf("setup: %s", p)
	}
	checkFio(t, res)
	before, after := res.Get("events_before"), res.Get("events_after")
	sb, sa := res.Get("status_before"), res.Get("status_after")
	fb, fa := pathFailCounts(sb), pathFailCounts(sa)
	t.Logf("events before/after restart: %q / %q; fail counts %s / %s; reloads by the new daemon %s",
		before, after, fb, fa, res.Get("restart_reloads"))
	if before == "" || before != after {
		t.Errorf("the map's event number moved across the restart: %q → %q", before, after)
	}
	if fb == "" || fb != fa || strings.Count(sa, " F ") != 1 {
		t.Errorf("fail counts or path states changed across the restart (a reload resets them):\nbefore %s\nafter  %s", sb, sa)
	}
	if res.Get("restart_reloads") != "0" {
		t.Errorf("the restarted daemon reloaded the map %s times", res.Get("restart_reloads"))
	}
	if res.Get("reinstated") != "yes" {
		t.Errorf("the path was not reinstated after it returned")
	}
}
