package vm

import (
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchScript measures one daemon after the other on the same SAN, in the same boot, with the same
// /etc/multipath.conf (mpathd reads it natively when it has no mpathd.toml): Debian's multipathd
// first, its maps removed, then mpathd. Every figure is taken in the guest: times from
// /proc/uptime, CPU as utime+stime of the daemon's process (all its threads) from /proc/PID/stat,
// memory from /proc/PID/status. The polling loop's own cost falls on the guest, not on the daemon.
const benchScript = `
now() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ticks() { awk '{ print $14 + $15 }' /proc/$1/stat; }
cpu() { awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK 2>/dev/null || echo 100)" 'BEGIN { printf "%.2f", (b - a) / hz }'; }
maps() { dmsetup ls --target multipath 2>/dev/null | grep -c '^3'; }
links() { ls /dev/mapper | grep -c '^3'; }
mapped_paths() { dmsetup table --target multipath 2>/dev/null | grep -o '[0-9][0-9]*:[0-9][0-9]*' | wc -l; }
# until SECS CMD...: poll CMD every 0.2 s, at most SECS seconds.
until_ok() {
	n=$(($1 * 5))
	shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		usleep 200000
		n=$((n - 1))
	done
	return 1
}
paths_are() { [ "$(mapped_paths)" -eq "$1" ]; }

# bench NAME: the daemon was started at $T0 as $PID; measure it and emit bench.NAME.* records.
bench() {
	name=$1
	tf= tm= tl=
	n=$((LIMIT * 5))
	while [ $n -gt 0 ]; do
		t=$(now)
		k=$(maps)
		if [ -z "$tf" ] && [ "$k" -ge 1 ]; then tf=$t; fi
		if [ -z "$tm" ] && [ "$k" -ge $LUNS ]; then tm=$t; cm=$(ticks $PID); fi
		if [ -z "$tl" ] && [ "$(links)" -ge $LUNS ]; then tl=$t; cl=$(ticks $PID); fi
		[ -n "$tm" ] && [ -n "$tl" ] && break
		kill -0 $PID 2>/dev/null || { fail "$name exited"; return 1; }
		usleep 200000
		n=$((n - 1))
	done
	if [ -z "$tm" ] || [ -z "$tl" ]; then
		fail "$name: $(maps) maps, $(links) links of $LUNS after ${LIMIT}s"
		return 1
	fi
	emit bench.$name.first_map_s "$(elapsed $T0 $tf)"
	emit bench.$name.maps_s "$(elapsed $T0 $tm)"
	emit bench.$name.maps_cpu_s "$(cpu $C0 $cm)"
	emit bench.$name.links_s "$(elapsed $T0 $tl)"
	emit bench.$name.links_cpu_s "$(cpu $C0 $cl)"
	until_ok $LIMIT paths_are $PATHS || fail "$name: $(mapped_paths) of $PATHS paths in maps"
	udevadm settle --timeout=$LIMIT
	sleep 10
	c0=$(ticks $PID)
	sleep 60
	emit bench.$name.idle_cpu_s "$(cpu $c0 $(ticks $PID))"
	# One host deleted and scanned again: its paths leave every map and come back.
	t0=$(now) c0=$(ticks $PID)
	for s in /sys/bus/scsi/devices/$HOST:0:0:*; do echo 1 > $s/delete; done
	until_ok $LIMIT paths_are $((PATHS - LUNS)) || fail "$name: $(mapped_paths) paths in maps after deleting host $HOST, want $((PATHS - LUNS))"
	echo '- - -' > /sys/class/scsi_host/host$HOST/scan
	until_ok $LIMIT paths_are $PATHS || fail "$name: $(mapped_paths) paths in maps after the rescan, want $PATHS"
	emit bench.$name.storm_s "$(elapsed $t0 $(now))"
	udevadm settle --timeout=$LIMIT
	sleep 5
	emit bench.$name.storm_cpu_s "$(cpu $c0 $(ticks $PID))"
	emit bench.$name.rss_kb "$(awk '/^VmRSS:/ { print $2 }' /proc/$PID/status)"
	emit bench.$name.hwm_kb "$(awk '/^VmHWM:/ { print $2 }' /proc/$PID/status)"
}

HOST=$(for h in /sys/class/scsi_host/host*; do [ "$(cat $h/proc_name)" = scsi_debug ] && echo ${h##*/host}; done | sort -n | tail -n 1)
t=$(now)
start_udev $LIMIT
emit bench.udev_coldplug_s "$(elapsed $t $(now))"
printf 'defaults {\n\tfind_multipaths on\n\tuser_friendly_names no\n}\n' > /etc/multipath.conf

if [ "$ONLY" != mpathd ]; then
	T0=$(now)
	multipathd -d -s > /tmp/multipathd.log 2>&1 &
	PID=$!
	C0=0
	bench multipathd
	multipathd shutdown > /dev/null 2>&1 || kill $PID
	until_ok 60 sh -c "! kill -0 $PID" || kill -9 $PID
	dmsetup remove_all
	udevadm settle --timeout=$LIMIT
	[ "$(maps)" = 0 ] || fail "multipathd's maps not removed: $(dmsetup ls)"
	until_ok 60 sh -c '[ "$(ls /dev/mapper | grep -c ^3)" = 0 ]' || fail "multipathd's links not removed"
fi

T0=$(now)
mpathd --log-format json > /tmp/mpathd.log 2>&1 &
PID=$!
C0=0
bench mpathd
kill -TERM $PID
wait $PID
emit bench.mpathd.log "$(sed -n 's/.*"message":"\([^"]*\)".*/\1/p' /tmp/mpathd.log | sort | uniq -c | sort -rn | head -n 25)"
if [ "$PROFILE" = 1 ]; then
	# A second mpathd adopts the maps and runs 60 s idle under the CPU profiler.
	mpathd --log-format json --cpu-profile /tmp/cpu.pprof > /tmp/mpathd2.log 2>&1 &
	PID=$!
	until_ok $LIMIT grep -q '"message":"ready"' /tmp/mpathd2.log || fail "profiled mpathd not ready"
	sleep 70
	kill -TERM $PID
	wait $PID
	emit bench.profile "$(base64 /tmp/cpu.pprof)"
fi
`

// benchMetrics are the figures the bench scenario emits per daemon, in table order.
var benchMetrics = []struct{ key, what string }{
	{"first_map_s", "start → first map in the kernel (s)"},
	{"maps_s", "start → all maps in the kernel (s)"},
	{"maps_cpu_s", "CPU to get there (s)"},
	{"links_s", "start → all /dev/mapper links (s)"},
	{"links_cpu_s", "CPU to get there (s)"},
	{"idle_cpu_s", "CPU over 60 s idle (s)"},
	{"storm_s", "one host deleted and rescanned: paths back (s)"},
	{"storm_cpu_s", "CPU for it, until udev settled (s)"},
	{"rss_kb", "RSS at the end (KiB)"},
	{"hwm_kb", "peak RSS (KiB)"},
}

// TestVMBench runs Debian's multipathd and then mpathd on one SAN with udevd running and prints
// their figures side by side, with mpathd's as a fraction of multipathd's. It is a measurement, not
// a pass/fail test (make bench-vm): it runs only with MPATHD_BENCH=1 (and the VM bed enabled), and
// fails only when a daemon does not get all maps up. MPATHD_BENCH_LUNS sets the LUNs per host
// (default 64: 4 hosts × 64 = 256 paths; 1024 gives 4,096 paths).
func TestVMBench(t *testing.T) {
	if os.Getenv("MPATHD_BENCH") != "1" {
		t.Skip("benchmark scenario: set MPATHD_BENCH=1 (make bench-vm)")
	}
	luns := 64
	if v, err := strconv.Atoi(os.Getenv("MPATHD_BENCH_LUNS")); err == nil && v > 0 {
		luns = v
	}
	const hosts = 4
	paths := hosts * luns
	limit := 300 + paths/4 // seconds per phase
	s := multipathTools
	s.HostTools = []string{"/sbin/multipathd"}
	s.SAN = SAN{Hosts: hosts, LUNs: luns}
	s.UdevLater = true
	s.Commands = []string{"./cmd/mpathd"}
	profile := os.Getenv("MPATHD_BENCH_PROFILE") // a file for a CPU profile of mpathd idle
	// MPATHD_BENCH_ONLY=mpathd skips multipathd (to iterate on mpathd alone; no ratios then).
	s.Script = fmt.Sprintf("LUNS=%d\nPATHS=%d\nLIMIT=%d\nPROFILE=%d\nONLY=%q\n", luns, paths, limit, btoi(profile != ""),
		os.Getenv("MPATHD_BENCH_ONLY")) + benchScript
	// Under TCG the guest kernel picks hpet, an emulated device every clock read exits to: that
	// weighs on a Go runtime (which reads the clock in its scheduler) far more than on a real
	// server, whose TSC is read in user space. The TSC is what both daemons meet in production.
	s.KernelArgs = "clocksource=tsc tsc=reliable"
	s.Timeout = time.Duration(8*limit+600) * time.Second
	if paths > 1024 {
		s.Memory = 3072
	}
	res := Run(t, s)
	var b strings.Builder
	fmt.Fprintf(&b, "%d hosts × %d LUNs = %d paths, udevd running (coldplug %s s), %s, %v in all\n\n",
		hosts, luns, paths, res.Get("bench.udev_coldplug_s"), res.Accel, res.Elapsed.Round(time.Second))
	fmt.Fprintf(&b, "| %-46s | %10s | %10s | %8s |\n", "", "multipathd", "mpathd", "ratio")
	fmt.Fprintf(&b, "|%s|%s|%s|%s|\n", strings.Repeat("-", 48), strings.Repeat("-", 12), strings.Repeat("-", 12), strings.Repeat("-", 10))
	for _, m := range benchMetrics {
		a, o := res.Get("bench.multipathd."+m.key), res.Get("bench.mpathd."+m.key)
		ratio := "—"
		if x, err := strconv.ParseFloat(a, 64); err == nil && x > 0 {
			if y, err := strconv.ParseFloat(o, 64); err == nil {
				ratio = fmt.Sprintf("%.3f", y/x)
			}
		}
		fmt.Fprintf(&b, "| %-46s | %10s | %10s | %8s |\n", m.what, a, o, ratio)
	}
	t.Logf("mpathd's log, messages by count:\n%s", res.Get("bench.mpathd.log"))
	t.Logf("side by side:\n%s", b.String())
	fmt.Print(b.String())
	if profile != "" {
		p, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(res.Get("bench.profile"), "\n", ""))
		if err == nil {
			err = os.WriteFile(profile, p, 0o644)
		}
		if err != nil {
			t.Errorf("CPU profile: %v", err)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
