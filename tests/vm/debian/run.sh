#!/bin/sh
# The Debian tier's scenario runner, started by mpathd-vm-scenario.service once multi-user.target is
# reached. Console (ttyS0, through the journal) is for humans; records go to the result port, ttyS1.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
L=/usr/lib/mpathd-vm
read -r UPTIME _ </proc/uptime
stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1
. $L/lib.sh
. $L/env
echo "@@mpathd-vm: scenario unit started at ${UPTIME}s"
# Boot figures: seconds since the kernel started, to multi-user.target and to this unit.
mu=$(systemctl show -P ActiveEnterTimestampMonotonic multi-user.target)
emit boot.multiuser "$(awk -v u="$mu" 'BEGIN { printf "%.1f", u / 1e6 }')"
emit boot.scenario "$UPTIME"
# Where the boot's time went (systemd-analyze cannot tell before this unit, part of the boot, ends):
# kernel and initramfs until systemd started, then systemd's targets.
secs() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1e6 }'; }
emit boot.systemd "$(secs "$(systemctl show -P UserspaceTimestampMonotonic)")"
echo "@@mpathd-vm: boot: systemd $(secs "$(systemctl show -P UserspaceTimestampMonotonic)") s, sysinit.target $(secs "$(systemctl show -P ActiveEnterTimestampMonotonic sysinit.target)") s, basic.target $(secs "$(systemctl show -P ActiveEnterTimestampMonotonic basic.target)") s, mpathd.service $(secs "$(systemctl show -P ActiveEnterTimestampMonotonic mpathd.service)") s"
emit boot.failed_units "$(systemctl list-units --failed --plain --no-legend | awk '{print $1}' | sort | tr '\n' ' ' | sed 's/ $//')"

# root_paths: the root disk's sd devices (both qemu scsi-hd devices share ROOT_WWID), one
# "sdX ID" per line with ID the qemu device (root0 on the first virtio-scsi controller, root1 on the
# second, told apart by their PCI slots).
root_paths() {
	for b in /sys/block/sd*; do
		[ -e "$b/device/wwid" ] || continue
		[ "$(cat "$b/device/wwid")" = "$ROOT_WWID" ] || continue
		case $(readlink -f "$b") in
		*/0000:00:0$ROOT0_SLOT.0/*) echo "${b##*/} root0" ;;
		*/0000:00:0$ROOT1_SLOT.0/*) echo "${b##*/} root1" ;;
		esac
	done
}
# root_mounted: the sd device / is mounted from.
root_mounted() { basename "$(findmnt -n -o SOURCE /)"; }
# root_path_del ID / root_path_add ID: ask the host to unplug or plug the root path ID (root0|root1)
# with QMP, and wait until the guest has lost or found its sd device.
root_path_present() { root_paths | grep -q " $1\$"; }
root_path_absent() { ! root_path_present "$1"; }
root_path_del() {
	emit qmp "device_del $1"
	wait_for 60 root_path_absent "$1" || fail "root path $1 still present 60 s after device_del"
}
root_path_add() {
	emit qmp "device_add $1"
	wait_for 60 root_path_present "$1" || fail "root path $1 absent 60 s after device_add"
}
# The data SAN: scsi_debug paths, one "sdX H:C:T:L" per line.
data_paths() {
	for h in /sys/class/scsi_host/host*; do
		[ "$(cat "$h/proc_name")" = scsi_debug ] || continue
		n=${h##*/host}
		for b in /sys/block/sd*; do
			t=$(basename "$(readlink "$b/device")")
			[ "${t%%:*}" = "$n" ] && echo "${b##*/} $t"
		done
	done
}
if [ -n "$SCSI_DEBUG" ]; then
	modprobe scsi_debug $SCSI_DEBUG || fail "modprobe scsi_debug $SCSI_DEBUG"
	wait_for 60 sh -c "[ \$(ls /sys/bus/pseudo/drivers/scsi_debug/adapter*/host*/target*/*/block 2>/dev/null | grep -c '^sd') -ge $EXPECT_PATHS ]" ||
		fail "scsi_debug: fewer than $EXPECT_PATHS paths appeared"
	wait_for 60 alua_settled || fail "ALUA states did not settle: $(for d in /sys/block/sd*/device; do
		echo "$(basename "$(readlink "$d")")=$(cat "$d/access_state" 2>/dev/null)"; done | tr '\n' ' ')"
	udevadm settle --timeout=60 || fail "udevadm settle timed out"
fi
echo "@@mpathd-vm: root paths: $(root_paths | tr '\n' ' ') mounted: $(root_mounted); data paths: $(data_paths | tr '\n' ' ')"
echo "@@mpathd-vm: scenario start"
. $L/scenario.sh
status=$?
[ $status -ne 0 ] && fail "scenario script exited with status $status"
echo "@@mpathd-vm: scenario end (status $status, failed=$FAILED)"
if [ "$FAILED" != 0 ]; then
	journalctl -b -u mpathd --no-pager | tail -n 60
fi
emit dmesg "$(dmesg | tail -n 60)"
emit exit "$FAILED"
exec 3>&-
sync
poweroff -f
