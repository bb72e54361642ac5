#!/bin/sh
# PID 1 of the test-bed guest. The harness appends /scenario/env and /scenario/script.sh.
# Console (ttyS0) is for humans; results go to ttyS1 as records the host parses:
#   "= KEY first-line" starts a value, "+ KEY next-line" continues it.
export PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox mkdir -p /proc /sys /dev /usr/bin /usr/sbin /sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm /run /tmp /var/tmp /etc/multipath
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
echo "@@mpathd-vm: init"

stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1

emit() {
	key=$1
	shift
	printf '%s\n' "$*" | {
		first=1
		while IFS= read -r line; do
			if [ $first = 1 ]; then printf '= %s %s\n' "$key" "$line"; first=0
			else printf '+ %s %s\n' "$key" "$line"; fi
		done
		if [ $first = 1 ]; then printf '= %s \n' "$key"; fi
	} >&3
	return 0
}
FAILED=0
fail() { echo "FAIL: $*"; emit fail "$*"; FAILED=1; }
check_eq() { # NAME GOT WANT
	if [ "$2" = "$3" ]; then emit "check.$1" ok
	else fail "$1: got '$2', want '$3'"; fi
}
# run_gotest BINARY [ARGS...]: run a guest-side Go test binary against the real kernel. Each top-level
# test's verdict is emitted as "gotest.result NAME TEST PASS|FAIL|SKIP" (NAME is the binary's base
# name) for the host to match with the scenario's WantPass; a binary that ran no test, or a test that
# skipped, fails the scenario.
GOTEST_N=0
run_gotest() {
	local bin=$1 name=${1##*/} out rc ran=0 verdict test rest
	shift
	GOTEST_N=$((GOTEST_N + 1))
	out=/tmp/gotest.$GOTEST_N
	echo "@@mpathd-vm: running $bin $*"
	{ MPATHD_VM_GUEST=1 "$bin" -test.v "$@" 2>&1; echo $? >"$out.rc"; } | tee "$out"
	rc=$(cat "$out.rc")
	grep -E '^--- (PASS|FAIL|SKIP): ' "$out" | sed 's/^--- //' >"$out.verdicts"
	while read -r verdict test rest; do
		verdict=${verdict%:}
		emit gotest.result "$name $test $verdict"
		ran=$((ran + 1))
		[ "$verdict" = SKIP ] && fail "$name: $test skipped; a guest test must run"
	done <"$out.verdicts"
	[ $ran -eq 0 ] && fail "$name ran no test ($*)"
	if [ "$rc" = 0 ]; then emit gotest "$bin PASS"
	else emit gotest "$bin FAIL"; fail "go test binary $bin failed"; fi
}
# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	n=$(($1 * 10))
	shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		usleep 100000
		n=$((n - 1))
	done
	return 1
}
# Paths of the simulated SAN, one "sdX H:C:T:L" per line.
san_paths() {
	for b in /sys/block/sd*; do
		[ -e "$b" ] || continue
		echo "${b##*/} $(basename "$(readlink "$b/device")")"
	done
}
# The sd device for H:C:T:L.
sd_of() { ls "/sys/class/scsi_device/$1/device/block" 2>/dev/null; }

. /scenario/env
for m in $MODULES; do
	insmod "$m" || fail "insmod $m"
done
if [ -n "$SCSI_DEBUG" ]; then
	insmod "$SCSI_DEBUG_KO" $SCSI_DEBUG || fail "insmod scsi_debug $SCSI_DEBUG"
fi
# start_udev [SETTLE_SECONDS]: run systemd-udevd and coldplug every device.
start_udev() {
	/lib/systemd/systemd-udevd --daemon --resolve-names=never
	udevadm trigger --action=add --type=subsystems
	udevadm trigger --action=add --type=devices
	udevadm settle --timeout=${1:-30} || fail "udevadm settle timed out"
}
if [ "$UDEV" = 1 ]; then
	start_udev
fi
# A large SAN takes longer to scan and settle under TCG: allow 1 s more per 20 paths.
SAN_WAIT=$((30 + ${EXPECT_PATHS:-0} / 20))
if [ -n "$EXPECT_PATHS" ]; then
	wait_for $SAN_WAIT sh -c "[ \$(ls -d /sys/block/sd* 2>/dev/null | wc -l) -ge $EXPECT_PATHS ]" ||
		fail "only $(ls -d /sys/block/sd* 2>/dev/null | wc -l) of $EXPECT_PATHS paths appeared"
fi

# scsi_dh_alua learns each path's state with an asynchronous RTPG and shows active/optimized until it
# returns. scsi_debug's state is fixed by host number (0 optimized, 1 non-optimized, 2 standby), so
# wait for every path to show it: scenarios then start from a settled SAN.
alua_settled() {
	for b in /sys/block/sd*; do
		d=$b/device
		[ -e "$d/access_state" ] || continue
		# No handler attached (a SCSI-2 LUN without cached VPD has no port group for alua).
		[ "$(cat "$d/dh_state" 2>/dev/null)" = alua ] || continue
		h=$(readlink "$d")
		h=${h##*/}
		h=${h%%:*}
		case $((h % 3)) in
		0) want=active/optimized ;;
		1) want=active/non-optimized ;;
		2) want=standby ;;
		esac
		read -r state <"$d/access_state"
		[ "$state" = "$want" ] || return 1
	done
}
if [ -n "$SCSI_DEBUG" ]; then
	wait_for $SAN_WAIT alua_settled || fail "ALUA states did not settle:$(for b in /sys/block/sd*; do echo " ${b##*/} $(cat $b/device/dh_state 2>/dev/null) $(cat $b/device/access_state 2>/dev/null)"; done)"
fi

echo "@@mpathd-vm: simulated SAN"
for h in /sys/class/scsi_host/host*; do
	[ "$(cat "$h/proc_name")" = scsi_debug ] || continue
	echo "  ${h##*/} (scsi_debug)"
done
if [ "${EXPECT_PATHS:-0}" -le 64 ]; then
	san_paths | while read -r dev hctl; do
		d=/sys/block/$dev/device
		echo "  $dev $hctl $(cat /sys/block/$dev/dev) wwid=$(cat $d/wwid) alua=$(cat $d/access_state 2>/dev/null)"
	done
else
	echo "  $EXPECT_PATHS paths"
fi

[ -n "$ISCSI_LIB" ] && . "$ISCSI_LIB"
echo "@@mpathd-vm: scenario start"
cd /scenario
. /scenario/script.sh
status=$?
[ $status -ne 0 ] && fail "scenario script exited with status $status"
echo "@@mpathd-vm: scenario end (status $status, failed=$FAILED)"
emit dmesg "$(dmesg | tail -n 60)"
emit exit "$FAILED"
exec 3>&-
sync
poweroff -f
