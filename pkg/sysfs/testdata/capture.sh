#!/bin/sh
# capture.sh DEST: copy the parts of /sys and /proc that pkg/sysfs reads
# into DEST, keeping the kernel's relative symlinks, so a live system (the
# tests/vm guest: see TestVMSysfs) becomes a fixture tree. Write-only
# attributes become empty files; attributes that cannot be read (e.g.
# access_state without a device handler) are left out, as pkg/sysfs treats
# them. With udevadm present, DEST/udev-id-serial lists "sdX ID_SERIAL".
set -eu
dest=$1
mkdir -p "$dest/proc"

attr() {
	for f in "$@"; do
		[ -e "$f" ] || continue
		mkdir -p "$dest${f%/*}"
		cat "$f" > "$dest$f" 2>/dev/null || rm -f "$dest$f"
	done
}
wo() {
	for f in "$@"; do
		[ -e "$f" ] || continue
		mkdir -p "$dest${f%/*}"
		: > "$dest$f"
	done
}
link() {
	for l in "$@"; do
		[ -L "$l" ] || continue
		mkdir -p "$dest${l%/*}"
		ln -sfn "$(readlink "$l")" "$dest$l"
	done
}

for b in /sys/block/sd* /sys/block/dm-*; do
	[ -e "$b" ] || continue
	link "$b"
	r=$(readlink -f "$b")
	attr "$r/dev" "$r/size" "$r/stat" "$r/ro" "$r/dm/name" "$r/dm/uuid" "$r/dm/suspended"
	for sub in holders slaves; do
		[ -d "$r/$sub" ] && mkdir -p "$dest$r/$sub"
		for h in "$r/$sub"/*; do link "$h"; done
	done
	[ -L "$r/device" ] || continue
	link "$r/device"
	d=$(readlink -f "$r/device")
	for a in vendor model rev state queue_depth timeout access_state preferred_path dh_state wwid \
		vpd_pg80 vpd_pg83 inquiry; do
		attr "$d/$a"
	done
	wo "$d/delete" "$d/rescan"
	hctl=${d##*/}
	link "/sys/class/scsi_device/$hctl" "$d/scsi_device/$hctl/device"
	h=${hctl%%:*}
	hd=$(readlink -f "/sys/class/scsi_host/host$h")
	link "/sys/class/scsi_host/host$h"
	attr "$hd/proc_name" "$hd/state"
	wo "$hd/scan"
	if command -v udevadm > /dev/null; then
		echo "${b##*/} $(udevadm info -q property -n "/dev/${b##*/}" | sed -n 's/^ID_SERIAL=//p')" >> "$dest/udev-id-serial"
	fi
done
cat /proc/diskstats > "$dest/proc/diskstats"
