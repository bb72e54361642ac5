package vm

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// aluaHelpers read the map's groups from dm's status and time how long dm takes to follow a
// state change made on the target.
const aluaHelpers = iscsiHelpers + `
# dm_groups: the map's groups in table order from dm's status, "N:S DEVT=A|F" joined by " | "
# (S: A the group in use, E enabled, D bypassed).
dm_groups() {
	dmsetup status $M | awk '{
		i = 4; i += $i + 1; i += $i + 1            # features, hardware handler status
		ng = $i; i += 2; out = ""
		for (g = 1; g <= ng; g++) {
			s = g ":" $i; i++; i += $i + 1            # group state, path selector status
			np = $i; ia = $(i + 1); i += 2
			for (p = 0; p < np; p++) { s = s " " $i "=" $(i + 1); i += 3 + ia }
			out = out (g > 1 ? " | " : "") s
		}
		print out
	}'
}
# first_is DEV: DEV's path, active in dm, alone in the first group, and that group in use.
first_is() { [ "$(dm_groups | sed 's/ | .*//')" = "1:A $(devt_of $1)=A" ]; }
# until_true SECS CMD...: poll CMD (a function is fine) every 0.1 s for up to SECS seconds by the
# clock; prints the seconds it took, or "timeout".
until_true() {
	local t0=$(now) d=$1
	shift
	while :; do
		"$@" >/dev/null 2>&1 && { elapsed $t0 $(now); return 0; }
		awk -v a=$t0 -v b=$(now) -v d=$d 'BEGIN { exit !(b - a < d) }' || break
		usleep 100000
	done
	echo timeout
	return 1
}
pa_is() { [ "$(dm_state $PA)" = "$1" ]; }
# step MSG: a line on the console and in the kernel log, so a slow or stuck drill shows where it is.
step() { echo "@@mpathd-vm: $(now) $*"; kmark "$*"; }
# fio_quiet SECONDS: fio_start without fio's progress line on the console.
fio_quiet() {
	fio --name=drill --filename=/dev/mapper/$M --ioengine=libaio --iodepth=4 --direct=1 --eta=never \
		--rw=randwrite --bs=4k --verify=crc32c --verify_fatal=1 --do_verify=1 --verify_backlog=64 \
		--time_based --runtime=$1 --output-format=json --output=/tmp/fio.json 2>/tmp/fio.err &
	FIO=$!
}
# sample SECS CMD...: CMD's output about every second for SECS seconds (by the clock: a loaded
# guest under an emulator runs each command slowly), one word per sample.
sample() {
	local t0=$(now) d=$1 out=""
	shift
	while awk -v a=$t0 -v b=$(now) -v d=$d 'BEGIN { exit !(b - a < d) }'; do
		out="$out $("$@")"
		sleep 1
	done
	echo $out
}
# io_path A B: the one of two paths whose writes grow more over 2 s; "none" when neither grows
# (fio not writing yet, or its I/O held), after up to 5 tries.
io_path() {
	local a1 b1 a2 b2 k=0
	while [ $k -lt 5 ]; do
		a1=$(writes_of $1); b1=$(writes_of $2)
		sleep 2
		a2=$(writes_of $1); b2=$(writes_of $2)
		if [ $((a2 - a1)) -gt $((b2 - b1)) ]; then echo $1; return; fi
		if [ $((b2 - b1)) -gt $((a2 - a1)) ]; then echo $2; return; fi
		k=$((k + 1))
	done
	echo none
}
# table_first_is DEV: DEV's path alone in the first group of the loaded table.
table_first_is() { [ "$(dmsetup table $M | grep -o 'service-time 0 [0-9]* [0-9]* [0-9:]*' | head -n 1 | awk '{ print $3 " " $5 }')" = "1 $(devt_of $1)" ]; }
both_states() { echo "$(dm_state $PB)$(dm_state $PA)"; }
access_states() { echo "$(cat /sys/block/$PA/device/access_state) $(cat /sys/block/$PB/device/access_state)"; }
# downs DEV: how many times the daemon has reported DEV's checker state going to something other than up/ghost.
downs() { grep '"message":"path state changed"' /tmp/mpathd.log | grep "\"path\":\"$1\"" | grep -cvE '"new":"(up|ghost)"'; }
`

// TestVMALUA follows ALUA state changes made on a real target: LIO serving one LUN through two
// target ports (portal 1 in TPG 1, portal 2 in TPG 2), each in a target port group of its own
// with implicit ALUA, open-iscsi logged in to both, scsi_dh_alua attached to both paths, and
// mpathd with the built-in LIO-ORG settings (group_by_prio, prio alua, hardware_handler "1 alua",
// failback immediate, no_path_retry 12) at polling_interval 2, max_polling_interval 4, under fio
// writing and verifying all along. dm's status is the oracle throughout.
//
//   - portal 1 optimized, portal 2 standby: portal 1's path is alone in the first group, in use;
//   - three swaps (portal 2 optimized and portal 1 standby, back — the failback — and again): each
//     time the newly optimized path's group becomes the first and the one in use within
//     max_polling_interval + 4 s, the I/O follows, and the standby path stays in the map as a
//     ghost (not failed);
//   - the standby port transitioning for 20 s (less than the 60 s bound): its path is not failed
//     in dm, nor reported down by the daemon, at any sample, and comes back to standby;
//   - the port in use transitioning for 10 s, then optimized again: the I/O goes on without an
//     error and the path is back in use afterwards (what dm and scsi_dh_alua do meanwhile is
//     logged);
//   - the standby port transitioning for ever: its path is not failed 50 s in, and is failed
//     between the 60 s bound and bound + max_polling_interval + 5 s; I/O carries on over the
//     other port; the port back to standby: the path is reinstated;
//   - failback by priority alone (the path in use turns non-optimized, never failing, and the
//     other optimized): failback immediate moves the I/O to the optimized path;
//   - failback manual (SIGHUP): the other port turns optimized while the one in use stays
//     non-optimized: the reload puts the optimized path's group first, and the I/O stays where it is.
func TestVMALUA(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{None: true},
		ISCSI:    true,
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Timeout:  15 * time.Minute,
		Script: aluaHelpers + `
ISCSI_ALUA=1 iscsi_san 1 || return 0
emit pg_ids "$(cat $LIO/core/rd_mcp_0/lun0/alua/pg1/tg_pt_gp_id) $(cat $LIO/core/rd_mcp_0/lun0/alua/pg2/tg_pt_gp_id)"
iscsi_alua 2 standby || return 0
emit lio_states "$(iscsi_alua_state 1) $(iscsi_alua_state 2)"
set -- $(ls /sys/block | grep '^sd')
[ "$(iscsi_portal_of $1)" = 1 ] && { PA=$1; PB=$2; } || { PA=$2; PB=$1; }
emit dh_state "$(cat /sys/block/$PA/device/dh_state) $(cat /sys/block/$PB/device/dh_state)"
printf '[defaults]\npolling_interval = 2\nmax_polling_interval = 4\n' > /tmp/c.toml
step "mpathd"
start_mpathd --config /tmp/c.toml --log-level debug
step "mpathd ready"
M=$(dmsetup ls --target multipath | awk '{ print $1; exit }')
[ -n "$M" ] || { fail "no map"; diag; iscsi_diag; return 0; }
emit table "$(dmsetup table $M)"
wait_for 30 first_is $PA
emit initial "$(dm_groups)"
emit initial_pa "$(devt_of $PA)"
fio_quiet 400
T0=$(now)
( while sleep 10; do echo "@@mpathd-vm: $(now) load $(cut -d' ' -f1-3 /proc/loadavg) groups $(dm_groups)"; done ) &
HB=$!
sleep 4
emit initial_io "$(io_path $PA $PB) $PA"

# Swaps: the standby port optimized, the optimized one standby, at once.
X=$PA; Y=$PB; NX=1; NY=2
for i in 1 2 3; do
	step "swap $i: portal $NY optimized, portal $NX standby"
	iscsi_alua $NY optimized
	iscsi_alua $NX standby
	emit swap.$i "$(until_true 60 first_is $Y) $(dm_groups)"
	sleep 3
	emit swap_io.$i "$(io_path $X $Y) $Y"
	emit swap_access.$i "$(access_states)"
	emit swap_other.$i "$(dm_state $X)"
	Z=$X; X=$Y; Y=$Z; Z=$NX; NX=$NY; NY=$Z
done
# Now portal 2 (PB) is optimized and in use, portal 1 (PA) standby.

# The standby port transitioning for less than the bound.
D0=$(downs $PA)
step "portal 1 transitioning (short)"
iscsi_alua 1 transitioning
s=$(sample 20 dm_state $PA)
emit short_samples "$s"
emit short_lio "$(iscsi_alua_state 1)"
iscsi_alua 1 standby
sleep 5
emit short_after "$(dm_state $PA) $(dm_groups)"
emit short_downs "$(($(downs $PA) - D0))"

# The port in use transitioning for 10 s, then optimized again.
step "portal 2 transitioning (in use)"
iscsi_alua 2 transitioning
emit inuse_samples "$(sample 10 both_states)"
iscsi_alua 2 optimized
step "portal 2 optimized"
emit inuse_back "$(until_true 60 first_is $PB) $(dm_groups)"
sleep 3
emit inuse_io "$(io_path $PA $PB) $PB"
emit inuse_dmesg "$(dmesg | sed -n '/portal 2 transitioning/,/portal 1 transitioning/p' | head -n 40)"
emit inuse_pb "$(devt_of $PB)"

# The standby port transitioning for ever.
step "portal 1 transitioning (long)"
iscsi_alua 1 transitioning
t0=$(now)
sleep 50
emit long_at50 "$(dm_state $PA)"
emit long_failed "$(elapsed $t0 $(now)) $(until_true 40 pa_is F)"
emit long_lio "$(iscsi_alua_state 1)"
emit long_reason "$(grep '"message":"path state changed"' /tmp/mpathd.log | grep "\"path\":\"$PA\"" | tail -n 1)"
emit long_io "$(io_path $PA $PB) $PB"
step "portal 1 standby"
iscsi_alua 1 standby
emit long_back "$(until_true 60 pa_is A) $(dm_groups)"

# Failback by priority alone, the path in use never failing: portal 2 (in use) non-optimized,
# then portal 1 optimized.
iscsi_alua 2 nonoptimized
sleep 6
step "failback immediate: portal 1 optimized"
iscsi_alua 1 optimized
emit fb_immediate "$(until_true 60 first_is $PA) $(dm_groups)"
emit fb_immediate_io "$(io_path $PA $PB) $PA"

# failback manual (reloaded with SIGHUP): portal 2 standby, portal 1 (in use) non-optimized, then
# portal 2 optimized: its group becomes the better one, yet the I/O stays on portal 1's working path.
printf '[defaults]\npolling_interval = 2\nmax_polling_interval = 4\n[overrides]\nfailback = "manual"\n' > /tmp/c.toml
kill -HUP $MPATHD_PID
wait_for 60 grep -q '"message":"configuration reloaded"' /tmp/mpathd.log || fail "no reload after SIGHUP"
iscsi_alua 2 standby
iscsi_alua 1 nonoptimized
sleep 6
step "failback manual: portal 2 optimized"
iscsi_alua 2 optimized
emit fb_manual_first "$(until_true 30 table_first_is $PB) $(dmsetup table $M)"
sleep 10
emit fb_manual "$(dm_groups)"
emit fb_manual_io "$(io_path $PA $PB) $PA"
kill -0 $FIO 2>/dev/null && emit fio_alive yes
emit elapsed_io "$(elapsed $T0 $(now))"
step "done"
kill $HB
kill -INT $FIO 2>/dev/null
fio_wait
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
	if res.Get("pg_ids") != "1 2" || res.Get("lio_states") != "0 2" {
		t.Fatalf("LIO target port groups: ids %q states %q, want \"1 2\" and \"0 2\"", res.Get("pg_ids"), res.Get("lio_states"))
	}
	if res.Get("dh_state") != "alua alua" {
		t.Errorf("device handlers %q, want scsi_dh_alua on both paths", res.Get("dh_state"))
	}
	if !strings.Contains(res.Get("table"), " 1 alua ") {
		t.Errorf("table %q, want hardware handler alua", res.Get("table"))
	}
	pa := res.Get("initial_pa")
	if g := res.Get("initial"); !strings.HasPrefix(g, "1:A "+pa+"=A | 2:") {
		t.Errorf("groups at the start %q, want portal 1's path %s alone in the first group, in use", g, pa)
	}
	if f := strings.Fields(res.Get("initial_io")); len(f) != 2 || f[0] != f[1] {
		t.Errorf("I/O at the start on %v, want portal 1's path", f)
	}

	// Swaps: the optimized path first and in use within max_polling_interval + 4 s.
	var took []string
	for i := 1; i <= 3; i++ {
		k := fmt.Sprint(i)
		f := strings.Fields(res.Get("swap." + k))
		if len(f) == 0 {
			t.Errorf("swap %d: no result", i)
			continue
		}
		took = append(took, f[0])
		s, err := strconv.ParseFloat(f[0], 64)
		if err != nil || s > 10 {
			t.Errorf("swap %d: dm followed after %s s (%s), want within max_polling_interval + 6 s = 10 s", i, f[0], res.Get("swap."+k))
		}
		if io := strings.Fields(res.Get("swap_io." + k)); len(io) != 2 || io[0] != io[1] {
			t.Errorf("swap %d: I/O on %v, want the optimized path", i, io)
		}
		if o := res.Get("swap_other." + k); o != "A" {
			t.Errorf("swap %d: the standby path is %q in dm, want A (a ghost stays usable)", i, o)
		}
		// scsi_dh_alua learns the new state when dm activates the path's group (RTPG).
		acc := strings.Fields(res.Get("swap_access." + k))
		if want := "active/optimized"; len(acc) != 2 || acc[i%2] != want {
			t.Errorf("swap %d: scsi_dh_alua's access_state (portal 1, portal 2) %v, want portal %d %s", i, acc, 1+i%2, want)
		}
		t.Logf("swap %d: dm followed in %s s; scsi_dh_alua access_state (portal 1, portal 2) %s; groups %s", i, f[0], res.Get("swap_access."+k), strings.Join(f[1:], " "))
	}
	t.Logf("swap → dm: %s s", strings.Join(took, ", "))

	// Transitioning, shorter than the bound, on the standby port.
	// A loaded guest under TCG samples every few seconds, not every second: the daemon's log
	// (short_downs) covers the whole window, the samples what dm did.
	if s := strings.Fields(res.Get("short_samples")); len(s) < 2 || strings.Join(s, "") != strings.Repeat("A", len(s)) {
		t.Errorf("standby port transitioning 20 s: dm states %q about every second, want A throughout (not failed early)", s)
	}
	if res.Get("short_lio") != "15" {
		t.Errorf("LIO state while transitioning %q, want 15", res.Get("short_lio"))
	}
	if d := res.Get("short_downs"); d != "0" {
		t.Errorf("daemon reported the transitioning path down %s times within the bound", d)
	}
	if a := res.Get("short_after"); !strings.HasPrefix(a, "A ") {
		t.Errorf("after the short transition: %q, want the path active in dm", a)
	}

	// Transitioning on the port in use.
	t.Logf("port in use transitioning 10 s: dm states (in use, standby) each second %s; back in use %s", res.Get("inuse_samples"), res.Get("inuse_back"))
	t.Logf("kernel meanwhile:\n%s", res.Get("inuse_dmesg"))
	// LIO answers the port's I/O with NOT READY 04/0A; the SCSI layer retries it (scsi_dh_alua
	// asks for it) rather than failing it, so dm keeps the path, and so does the daemon.
	for _, smp := range strings.Fields(res.Get("inuse_samples")) {
		if !strings.HasPrefix(smp, "A") {
			t.Errorf("port in use transitioning (less than the bound): its path failed in dm (samples %q)", res.Get("inuse_samples"))
			break
		}
	}
	if pb := res.Get("inuse_pb"); pb == "" || strings.Contains(res.Get("inuse_dmesg"), "Failing path "+pb) {
		t.Errorf("port in use transitioning: the kernel failed its path %q", pb)
	}
	if b := strings.Fields(res.Get("inuse_back")); len(b) == 0 || b[0] == "timeout" {
		t.Errorf("port in use transitioning then optimized: not back in use: %q", res.Get("inuse_back"))
	}
	if io := strings.Fields(res.Get("inuse_io")); len(io) != 2 || io[0] != io[1] {
		t.Errorf("after the transition of the port in use, I/O on %v, want it back on that port", io)
	}

	// Transitioning for ever on the standby port: down after the bound, not before.
	if s := res.Get("long_at50"); s != "A" {
		t.Errorf("standby port transitioning: failed in dm before 50 s (%q), want not before the 60 s bound", s)
	}
	lf := strings.Fields(res.Get("long_failed"))
	var failedAt float64 = -1
	if len(lf) == 2 && lf[1] != "timeout" {
		a, _ := strconv.ParseFloat(lf[0], 64)
		b, _ := strconv.ParseFloat(lf[1], 64)
		failedAt = a + b
	}
	t.Logf("port transitioning for ever: path failed in dm %.2f s after the change (bound 60 s); daemon: %s", failedAt, res.Get("long_reason"))
	if failedAt < 60 || failedAt > 60+4+5 {
		t.Errorf("transitioning path failed after %.2f s (%q), want between the 60 s bound and 69 s", failedAt, res.Get("long_failed"))
	}
	if res.Get("long_lio") != "15" {
		t.Errorf("LIO state when the path failed %q, want 15 (still transitioning)", res.Get("long_lio"))
	}
	if !strings.Contains(res.Get("long_reason"), "transition") {
		t.Errorf("the daemon's last state change of the path does not name the transition: %s", res.Get("long_reason"))
	}
	if io := strings.Fields(res.Get("long_io")); len(io) != 2 || io[0] != io[1] {
		t.Errorf("I/O during the long transition on %v, want the other port", io)
	}
	if b := strings.Fields(res.Get("long_back")); len(b) == 0 || b[0] == "timeout" {
		t.Errorf("path not reinstated after the port left its transition: %q", res.Get("long_back"))
	}
	// Failback immediate by priority alone, and failback manual.
	fb := strings.Fields(res.Get("fb_immediate"))
	if len(fb) == 0 || fb[0] == "timeout" {
		t.Errorf("failback immediate: portal 1's path not first and in use: %q", res.Get("fb_immediate"))
	}
	if io := strings.Fields(res.Get("fb_immediate_io")); len(io) != 2 || io[0] != io[1] {
		t.Errorf("failback immediate: I/O on %v, want portal 1's path", io)
	}
	t.Logf("failback immediate (prio only): dm followed in %s", res.Get("fb_immediate"))
	t.Logf("failback manual: portal 2 optimized: table after %s; groups 10 s later %s; I/O on %s", res.Get("fb_manual_first"), res.Get("fb_manual"), res.Get("fb_manual_io"))
	if f := strings.Fields(res.Get("fb_manual_first")); len(f) == 0 || f[0] == "timeout" {
		t.Errorf("failback manual: the optimized path's group never came first in the table: %q", res.Get("fb_manual_first"))
	}
	if io := strings.Fields(res.Get("fb_manual_io")); len(io) != 2 || io[0] != io[1] {
		t.Errorf("failback manual: I/O on %v, want it kept on portal 1's working path", io)
	}
	if g := res.Get("fb_manual"); !strings.Contains(g, ":A "+pa+"=A") {
		t.Errorf("failback manual: groups %q, want portal 1's group (%s) still in use", g, pa)
	}
	if res.Get("fio_alive") != "yes" {
		t.Errorf("fio ended before the last drill (%s s after it started): make its runtime longer", res.Get("elapsed_io"))
	}
	r := parseFio(t, res.Get("fio_json"))
	t.Logf("fio: exit %s, error %d, verify failures %s, %d writes, %d verified, worst latency %.1f s write",
		res.Get("fio_rc"), r.Error, res.Get("fio_verify_failures"), r.Write.TotalIOs, r.Read.TotalIOs, r.Write.ClatNs.Max/1e9)
	// fio was stopped by SIGINT once the drills were done (exit 128); its report counts the errors.
	if res.Get("fio_rc") != "128" || r.Error != 0 || res.Get("fio_verify_failures") != "0" || r.Write.TotalIOs == 0 {
		t.Errorf("fio: error %d, verify failures %s, %d writes:\n%s", r.Error, res.Get("fio_verify_failures"), r.Write.TotalIOs, res.Get("diag.fio_err"))
	}
}
