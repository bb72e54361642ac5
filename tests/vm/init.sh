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

. /lib/mpathd-vm/lib.sh

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
