#!/bin/sh
# Builds the sysfs fixture trees used by the package tests. The trees are
# committed; re-run this script (from any directory) after changing it.
# Layouts follow the kernel's: /sys/block/sdX and /sys/class/* are relative
# symlinks into /sys/devices, as on a live system.
#
#   fc/     2 FC hosts (host2, host3) x 2 LUNs, NAA-6 identities, ALUA with
#           host3 in standby, sdd offline, two multipath maps (dm-0, dm-1).
#   iscsi/  one iSCSI session (host4, LIO-style NAA-6 LUN) and one SAS path
#           (host5, EUI-64 only).
# Every tree carries the tunable attributes (rport fast_io_fail_tmo and
# dev_loss_tmo, session recovery_tmo, SAS I_T_nexus_loss_timeout, host
# eh_deadline, queue/max_sectors_kb) at the kernel's usual defaults, as
# plain files a test may write after copying the tree.
#   torn/   paths and a map with files missing, as when a device disappears
#           while it is being read.
#
# scsi_debug/ is not made here: it is a capture of the tests/vm guest by
# capture.sh (MPATHD_CAPTURE_FIXTURE=$PWD/scsi_debug go test ./tests/vm -vm
# -run TestVMSysfs), with udev's ID_SERIAL of every path.
set -eu
cd "$(dirname "$0")"
rm -rf fc iscsi torn # not scsi_debug

# hex2bin HEX FILE: write the bytes spelled by HEX (spaces ignored).
hex2bin() { printf %s "$1" | tr -d ' \n' | xxd -r -p > "$2"; }
# desc B0 B1 HEX: one VPD 0x83 designation descriptor (byte 0, byte 1, value).
desc() { printf '%s %s 00 %02x %s ' "$1" "$2" $(($(printf %s "$3" | tr -d ' ' | wc -c) / 2)) "$3"; }
# page83 DESC...: page header with the computed length, then the descriptors.
page83() { b=$(printf %s "$*" | tr -d ' '); printf '00 83 %04x %s' $((${#b} / 2)) "$b"; }
# put FILE VALUE: write a text attribute with the kernel's trailing newline.
put() { mkdir -p "$(dirname "$1")"; printf '%s\n' "$2" > "$1"; }
lnk() { mkdir -p "$(dirname "$2")"; ln -sr "$1" "$2"; }
hexstr() { printf %s "$1" | od -An -tx1 | tr -d ' \n'; }

# host ROOT HOSTDIR N PROC: a SCSI host with its scsi_host class directory.
host() {
	d=$1/$2/scsi_host/host$3
	put "$d/proc_name" "$4"; put "$d/state" running; : > "$d/scan"; put "$d/eh_deadline" off
	lnk "$d" "$1/sys/class/scsi_host/host$3"
}

# sdev ROOT TGTDIR HCTL VENDOR MODEL STATE VPD83HEX VPD80TEXT
sdev() {
	d=$1/$2/$3
	mkdir -p "$d"
	put "$d/vendor" "$4"; put "$d/model" "$5"; put "$d/rev" "9800"
	put "$d/state" "$6"; put "$d/queue_depth" 32; put "$d/timeout" 30
	: > "$d/delete"; : > "$d/rescan"
	hex2bin "00 00 06 12 1f 00 10 02 $(hexstr "$4")$(hexstr "$5")$(hexstr 9800)" "$d/inquiry"
	[ -n "$7" ] && hex2bin "$7" "$d/vpd_pg83"
	if [ -n "$8" ]; then
		hex2bin "00 80 00 $(printf %02x ${#8}) $(hexstr "$8")" "$d/vpd_pg80"
	fi
	mkdir -p "$d/scsi_device/$3"
	ln -s "../../../$3" "$d/scsi_device/$3/device"
	lnk "$d/scsi_device/$3" "$1/sys/class/scsi_device/$3"
}

# alua SDEVDIR STATE PREF
alua() { put "$1/access_state" "$2"; put "$1/preferred_path" "$3"; put "$1/dh_state" alua; }

# disk ROOT SDEVDIR NAME MAJ:MIN SIZE
disk() {
	b=$1/$2/block/$3
	put "$b/dev" "$4"; put "$b/size" "$5"
	put "$b/queue/max_sectors_kb" 1280; put "$b/queue/max_hw_sectors_kb" 32767
	put "$b/stat" "    1234        5    67890      321     4321       12   987654      654        0      789     1012        0        0        0        0       42        7"
	mkdir -p "$b/holders"
	ln -s "../../../$(basename "$2")" "$b/device"
	lnk "$b" "$1/sys/block/$3"
}

# dmmap ROOT NODE MAJ:MIN NAME UUID SLAVE...
dmmap() {
	r=$1 node=$2 dev=$3 name=$4 uuid=$5
	shift 5
	m=$r/sys/devices/virtual/block/$node
	put "$m/dev" "$dev"; put "$m/size" 2097152; put "$m/dm/name" "$name"
	put "$m/dm/uuid" "$uuid"; put "$m/dm/suspended" 0
	put "$m/stat" "       0        0        0        0        0        0        0        0        0        0        0        0        0        0        0        0        0"
	mkdir -p "$m/slaves" "$m/holders"
	for s in "$@"; do
		lnk "$r/sys/block/$s" "$m/slaves/$s"
		lnk "$m" "$(readlink -f "$r/sys/block/$s")/holders/$node"
	done
	lnk "$m" "$r/sys/block/$node"
}

# NetApp-like page 0x83: NAA-6 (LU), T10 vendor id (LU), relative target
# port (type 4, assoc 1) and target port group (type 5, assoc 1).
naa6_page() { # LUNHEXDIGIT TPG
	t10=$(hexstr "NETAPP  LUN C-Mode      80OS+M1S2Mq$1")
	page83 "$(desc 01 03 600a0980383030534f2b4d3153324d7$1)" "$(desc 02 01 "$t10")" \
		"$(desc 61 94 00000001)" "$(desc 61 95 0000$(printf %04x "$2"))"
}

mkfc() {
	r=fc
	mkdir -p $r/proc
	for h in 2 3; do
		hd=sys/devices/pci0000:00/0000:00:0$h.0/host$h
		host $r "$hd" $h qla2xxx
		rp=$hd/rport-$h:0-0
		put "$r/$rp/fc_remote_ports/rport-$h:0-0/port_state" Online
		put "$r/$rp/fc_remote_ports/rport-$h:0-0/node_name" 0x500a0980894ae0d$h
		put "$r/$rp/fc_remote_ports/rport-$h:0-0/port_name" 0x500a0981894ae0d$h
		put "$r/$rp/fc_remote_ports/rport-$h:0-0/fast_io_fail_tmo" off
		put "$r/$rp/fc_remote_ports/rport-$h:0-0/dev_loss_tmo" 30
		lnk "$r/$rp/fc_remote_ports/rport-$h:0-0" "$r/sys/class/fc_remote_ports/rport-$h:0-0"
		for l in 0 1; do
			state=running
			[ $h = 3 ] && [ $l = 1 ] && state=offline
			sdev $r "$rp/target$h:0:0" "$h:0:0:$l" "NETAPP  " "LUN C-Mode      " $state "$(naa6_page $l $((h - 1)))" "80OS+M1S2Mq$l"
			if [ $h = 2 ]; then alua "$r/$rp/target$h:0:0/$h:0:0:$l" active/optimized 1
			else alua "$r/$rp/target$h:0:0/$h:0:0:$l" standby 0; fi
		done
	done
	disk $r sys/devices/pci0000:00/0000:00:02.0/host2/rport-2:0-0/target2:0:0/2:0:0:0 sda 8:0 2097152
	disk $r sys/devices/pci0000:00/0000:00:02.0/host2/rport-2:0-0/target2:0:0/2:0:0:1 sdb 8:16 2097152
	disk $r sys/devices/pci0000:00/0000:00:03.0/host3/rport-3:0-0/target3:0:0/3:0:0:0 sdc 8:32 2097152
	disk $r sys/devices/pci0000:00/0000:00:03.0/host3/rport-3:0-0/target3:0:0/3:0:0:1 sdd 8:48 2097152
	dmmap $r dm-0 253:0 mpatha mpath-3600a0980383030534f2b4d3153324d70 sda sdc
	dmmap $r dm-1 253:1 mpathb mpath-3600a0980383030534f2b4d3153324d71 sdb sdd
	put $r/sys/block/vda/size 0 # a non-SCSI disk: no device link, never listed
	cat > $r/proc/diskstats <<'EOF'
   8       0 sda 1234 5 67890 321 4321 12 987654 654 0 789 1012 0 0 0 0 42 7
   8      16 sdb 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17
   8      32 sdc 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
   8      48 sdd 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 253       0 dm-0 0 0 0 0 0 0 0 0 0 0 0
 253       1 dm-1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
EOF
}

mkiscsi() {
	r=iscsi
	hd=sys/devices/platform/host4
	host $r $hd 4 iscsi_tcp
	s=$hd/session1
	put "$r/$s/iscsi_session/session1/state" LOGGED_IN
	put "$r/$s/iscsi_session/session1/targetname" iqn.2003-01.org.linux-iscsi.target:sn.0123
	put "$r/$s/iscsi_session/session1/tpgt" 1
	put "$r/$s/iscsi_session/session1/recovery_tmo" 120
	put "$r/$s/connection1:0/iscsi_connection/connection1:0/persistent_address" 192.0.2.10
	put "$r/$s/connection1:0/iscsi_connection/connection1:0/persistent_port" 3260
	lnk "$r/$s/iscsi_session/session1" "$r/sys/class/iscsi_session/session1"
	# LIO: NAA-6 (LU), T10 vendor id, SCSI name string (target port), TPG 0.
	name=$(hexstr "iqn.2003-01.org.linux-iscsi.target:sn.0123,t,0x0001")
	t10=$(hexstr "LIO-ORG 6f1c1d2a-6c9e-4a5b-9c0e-1a2b3c4d5e6f")
	sdev $r "$s/target4:0:0" 4:0:0:0 "LIO-ORG " "disk0           " running \
		"$(page83 "$(desc 01 03 6001405f1c1d2a6c9e4a5b9c0e1a2b3c)" "$(desc 02 01 "$t10")" "$(desc 53 98 "${name}00")" \
			"$(desc 61 94 00000001)" "$(desc 61 95 00000000)")" \
		"6f1c1d2a-6c9e-4a5b-9c0e-1a2b3c4d5e6f"
	disk $r $s/target4:0:0/4:0:0:0 sde 8:64 41943040

	hd=sys/devices/pci0000:00/0000:00:05.0/host5
	host $r $hd 5 mpt3sas
	ed=$hd/port-5:0/end_device-5:0
	put "$r/$ed/sas_device/end_device-5:0/sas_address" 0x5000c500a1b2c3d4
	put "$r/$ed/sas_end_device/end_device-5:0/I_T_nexus_loss_timeout" 2000
	lnk "$r/$ed/sas_end_device/end_device-5:0" "$r/sys/class/sas_end_device/end_device-5:0"
	sdev $r "$ed/target5:0:0" 5:0:0:0 "SEAGATE " "ST4000NM0025    " running \
		"$(page83 "$(desc 01 02 5000c500a1b2c3d7)")" ""
	disk $r $ed/target5:0:0/5:0:0:0 sdf 8:80 7814037168
}

mktorn() {
	r=torn
	hd=sys/devices/pci0000:00/0000:00:02.0/host2
	host $r $hd 2 qla2xxx
	for l in 0 1 2 3; do
		sdev $r "$hd/target2:0:0" 2:0:0:$l "NETAPP  " "LUN C-Mode      " running "$(naa6_page $l 1)" "80OS+M1S2Mq$l"
	done
	for l in 0 1 2 3; do
		disk $r "$hd/target2:0:0/2:0:0:$l" sd$(printf "\\$(printf %o $((97 + l)))") 8:$((l * 16)) 2097152
	done
	rm $r/$hd/target2:0:0/2:0:0:1/state                # sdb: device state gone
	rm $r/$hd/target2:0:0/2:0:0:2/block/sdc/dev        # sdc: dev gone
	rm $r/$hd/target2:0:0/2:0:0:3/vpd_pg83 \
		$r/$hd/target2:0:0/2:0:0:3/vpd_pg80        # sdd: no identity at all
	rm -r $r/$hd/target2:0:0/2:0:0:3/inquiry
	dmmap $r dm-0 253:0 mpatha mpath-3600a0980383030534f2b4d3153324d70 sda
	rm $r/sys/devices/virtual/block/dm-0/dm/name
	ln -s ../devices/virtual/block/dm-9 $r/sys/block/dm-9  # dangling
	ln -s ../devices/gone/block/sdz $r/sys/block/sdz       # dangling
}

mkfc
mkiscsi
mktorn
