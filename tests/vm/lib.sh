# Guest shell helpers of the VM test bed, shared by both tiers (the busybox initramfs's init.sh and
# the Debian system's scenario unit). The caller opens fd 3 on the result port (ttyS1) first.
# Results are records the host parses: "= KEY first-line" starts a value, "+ KEY next-line" continues it.
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
		sleep 0.1
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
