# iSCSI SAN library of the VM test bed (Scenario.ISCSI), sourced before the scenario script.
#
# The kernel's LIO target serves ramdisk LUNs from one target (ISCSI_IQN, TPG 1) on two portals, each
# in a network namespace of its own (tgt1, tgt2) joined to the initiator's (root) namespace by a veth
# pair: ini1 10.0.1.2 <-> tgt1 10.0.1.1, ini2 10.0.2.2 <-> tgt2 10.0.2.1. open-iscsi logs in to both
# portals, so every LUN has two sessions = two paths with the iscsi_session transport class.
#
#   iscsi_san LUNS [SIZE_MB]  build the SAN and log in; waits for 2 x LUNS sd devices
#   iscsi_link N up|down      the initiator's link to portal N (ip link set iniN)
#   iscsi_portal N up|down    the portal's own network (ip link set tgtN inside its namespace)
#   iscsi_session_of sdX      the device's iSCSI session (sessionN)
#   iscsi_portal_of sdX       the portal number (1 or 2) the device's session goes through
#   iscsi_state sdX           its session's state: LOGGED_IN, FAILED, FREE
#   iscsi_diag                emits diag.iscsi: sessions, node settings, target configfs
#   iscsi_node_b [PORTAL...]  a second initiator on the same host: open-iscsi iface nodeB with its
#                             own initiator name (ISCSI_IQN_B) logged in through the portals given
#                             (default 1); prints its sd devices. Its paths are other I_T nexuses
#                             to the same LUNs, for persistent reservations between two nodes.
#   iscsi_initiator_of sdX    the initiator name of the device's session
#
# ALUA (ISCSI_ALUA=1 before iscsi_san): each portal is a target port of its own, so a target port
# group of its own. Portal 2 moves to TPG 2 (relative target port 2) with the same LUNs, and each
# LUN's LIO device gets two groups, pg1 (tg_pt_gp_id 1, TPG 1's LUN) and pg2 (id 2, TPG 2's LUN),
# implicit ALUA only (alua_access_type 1: no SET TARGET PORT GROUPS, so scsi_dh_alua cannot move a
# state itself), both active/optimized at first.
#   iscsi_alua N STATE        set portal N's group on every LUN: optimized, nonoptimized, standby,
#                             unavailable, offline, transitioning (LIO 0 1 2 3 14 15); transitioning
#                             stays until the next iscsi_alua (LIO's implicit transition delay is 0)
#   iscsi_alua_state N        portal N's group state on LUN 0, LIO's number
#
# Initiator timeouts (iscsid.conf): nop-out every ISCSI_NOOP s, answer within ISCSI_NOOP s (default
# 2 and 2), so a dead link is noticed within about 4 s; replacement_timeout stays open-iscsi's 120 s,
# which the daemon under test is to replace with its fast_io_fail_tmo through recovery_tmo.
ISCSI_IQN=iqn.2003-01.org.linux-iscsi.mpathd:san
ISCSI_IQN_B=iqn.2003-01.org.linux-iscsi.mpathd:nodeb
# iproute2's ip (netns, veth): busybox sh would run its own ip applet, which has neither.
ip() { /bin/ip "$@"; }
ISCSI_NOOP=${ISCSI_NOOP:-2}
LIO=/sys/kernel/config/target

iscsi_san() {
	local luns=$1 size=${2:-64} pn l # not n: wait_for sets n
	grep -q ' /sys/kernel/config ' /proc/mounts || mount -t configfs configfs /sys/kernel/config || { fail "mount configfs"; return 1; }
	ip link set lo up
	for pn in 1 2; do
		ip netns add tgt$pn || { fail "ip netns add tgt$pn"; return 1; }
		ip link add ini$pn type veth peer name tgt$pn netns tgt$pn || { fail "veth pair $pn"; return 1; }
		ip addr add 10.0.$pn.2/24 dev ini$pn
		ip link set ini$pn up
		ip -n tgt$pn link set lo up
		ip -n tgt$pn addr add 10.0.$pn.1/24 dev tgt$pn
		ip -n tgt$pn link set tgt$pn up
	done
	# LIO writes persistent reservation (APTPL) state under its db_root, /var/target without
	# /etc/target; a PR OUT whose state file cannot be written ends NOT READY.
	mkdir -p /var/target/pr /var/target/alua
	# The target: ramdisk LUNs with fixed serials (so fixed WWIDs), demo mode (no ACLs, no CHAP).
	local tpg=$LIO/iscsi/$ISCSI_IQN/tpgt_1
	mkdir -p "$tpg" || { fail "LIO: no iscsi fabric in configfs"; return 1; }
	l=0
	while [ $l -lt "$luns" ]; do
		local dev=$LIO/core/rd_mcp_0/lun$l
		mkdir -p "$dev"
		echo "rd_pages=$((size * 256))" > "$dev/control"
		echo "5a1e0000-0000-4000-8000-00000000000$l" > "$dev/wwn/vpd_unit_serial"
		echo 1 > "$dev/enable" || { fail "LIO: enable ramdisk lun$l"; return 1; }
		mkdir "$tpg/lun/lun_$l"
		ln -s "$dev" "$tpg/lun/lun_$l/rd$l"
		l=$((l + 1))
	done
	echo 0 > "$tpg/attrib/authentication"
	echo 1 > "$tpg/attrib/generate_node_acls"
	echo 1 > "$tpg/attrib/cache_dynamic_acls"
	echo 0 > "$tpg/attrib/demo_mode_write_protect"
	# A portal's listening socket lives in the namespace of the process that makes it.
	for pn in 1 2; do
		[ "$ISCSI_ALUA" = 1 ] && [ $pn = 2 ] && continue # TPG 2's (iscsi_alua_target)
		nsenter --net=/run/netns/tgt$pn mkdir "$tpg/np/10.0.$pn.1:3260" || { fail "LIO: portal $pn"; return 1; }
	done
	echo 1 > "$tpg/enable"
	if [ "$ISCSI_ALUA" = 1 ]; then iscsi_alua_target "$luns" || return 1; fi

	# The initiator.
	mkdir -p /etc/iscsi /run/lock/iscsi /var/lib/iscsi
	echo "InitiatorName=iqn.2003-01.org.linux-iscsi.mpathd:initiator" > /etc/iscsi/initiatorname.iscsi
	cat > /etc/iscsi/iscsid.conf <<-EOF
	node.startup = manual
	node.session.auth.authmethod = None
	node.session.timeo.replacement_timeout = 120
	node.conn[0].timeo.login_timeout = 5
	node.conn[0].timeo.noop_out_interval = $ISCSI_NOOP
	node.conn[0].timeo.noop_out_timeout = $ISCSI_NOOP
	node.session.initial_login_retry_max = 4
	EOF
	iscsid || { fail "iscsid did not start"; return 1; }
	for pn in 1 2; do
		# iscsiadm needs iscsid's socket, which comes a moment after iscsid forks.
		wait_for 10 sh -c "iscsiadm -m discovery -t sendtargets -p 10.0.$pn.1 >/tmp/iscsi.discovery.$pn 2>&1" ||
			{ fail "discovery on portal $pn: $(cat /tmp/iscsi.discovery.$pn)"; return 1; }
		iscsiadm -m node -T "$ISCSI_IQN" -p 10.0.$pn.1:3260 --login >/tmp/iscsi.login.$pn 2>&1 ||
			{ fail "login on portal $pn: $(cat /tmp/iscsi.login.$pn)"; return 1; }
	done
	wait_for 30 sh -c "[ \$(ls -d /sys/block/sd* 2>/dev/null | wc -l) -ge $((2 * luns)) ]" ||
		{ fail "iSCSI: $(ls -d /sys/block/sd* 2>/dev/null | wc -l) of $((2 * luns)) paths appeared"; return 1; }
	echo "@@mpathd-vm: iSCSI SAN"
	for b in /sys/block/sd*; do
		echo "  ${b##*/} $(iscsi_session_of ${b##*/}) portal $(iscsi_portal_of ${b##*/}) $(cat $b/device/wwid)"
	done
}

iscsi_link() { ip link set ini$1 "$2"; }
iscsi_portal() { ip -n tgt$1 link set tgt$1 "$2"; }

iscsi_session_of() {
	local p
	p=$(readlink -f /sys/block/$1/device)
	while [ "$p" != / ]; do
		case ${p##*/} in session[0-9]*) echo "${p##*/}"; return 0 ;; esac
		p=${p%/*}
		[ -z "$p" ] && p=/
	done
	return 1
}

iscsi_portal_of() {
	local s c
	s=$(iscsi_session_of "$1") || return 1
	for c in /sys/class/iscsi_connection/connection${s#session}:*; do
		case $(cat "$c/persistent_address") in
		10.0.1.1) echo 1 ;;
		10.0.2.1) echo 2 ;;
		esac
		return 0
	done
}

iscsi_state() { cat "/sys/class/iscsi_session/$(iscsi_session_of "$1")/state"; }

iscsi_diag() {
	emit diag.iscsi "$(iscsiadm -m session -P 3 2>&1 | head -n 80)
$(for s in /sys/class/iscsi_session/session*; do echo "${s##*/} state=$(cat $s/state) recovery_tmo=$(cat $s/recovery_tmo)"; done)
$(ip -br link; ip -n tgt1 -br link; ip -n tgt2 -br link)"
}

iscsi_node_b() {
	local pn before d
	[ $# -eq 0 ] && set -- 1
	before=$(ls /sys/block | grep '^sd')
	mkdir -p /etc/iscsi/ifaces
	iscsiadm -m iface -I nodeB -o new >/tmp/iscsi.nodeb 2>&1 &&
		iscsiadm -m iface -I nodeB -o update -n iface.initiatorname -v "$ISCSI_IQN_B" >>/tmp/iscsi.nodeb 2>&1 ||
		{ fail "iface nodeB: $(cat /tmp/iscsi.nodeb)"; return 1; }
	for pn in "$@"; do
		iscsiadm -m discovery -t sendtargets -p 10.0.$pn.1 -I nodeB >>/tmp/iscsi.nodeb 2>&1 &&
			iscsiadm -m node -T "$ISCSI_IQN" -p 10.0.$pn.1:3260 -I nodeB --login >>/tmp/iscsi.nodeb 2>&1 ||
			{ fail "nodeB login on portal $pn: $(cat /tmp/iscsi.nodeb)"; return 1; }
	done
	wait_for 30 sh -c "[ \$(ls -d /sys/block/sd* | wc -l) -ge $(($(echo "$before" | grep -c .) + $#)) ]" ||
		{ fail "nodeB: its paths did not appear"; return 1; }
	for d in $(ls /sys/block | grep '^sd'); do
		echo "$before" | grep -qx "$d" || echo "$d"
	done
}

iscsi_initiator_of() { cat "/sys/class/iscsi_session/$(iscsi_session_of "$1")/initiatorname"; }

# iscsi_alua_target LUNS: TPG 2 on portal 2 with the same LUNs, and a target port group per portal
# (see ALUA above). Called by iscsi_san when ISCSI_ALUA=1, before the initiator logs in.
iscsi_alua_target() {
	local luns=$1 tpg1=$LIO/iscsi/$ISCSI_IQN/tpgt_1 tpg2=$LIO/iscsi/$ISCSI_IQN/tpgt_2 l dev pn
	mkdir -p "$tpg2" || { fail "LIO: tpgt_2"; return 1; }
	l=0
	while [ $l -lt "$luns" ]; do
		dev=$LIO/core/rd_mcp_0/lun$l
		mkdir "$tpg2/lun/lun_$l" && ln -s "$dev" "$tpg2/lun/lun_$l/rd$l" || { fail "LIO: tpgt_2 lun_$l"; return 1; }
		for pn in 1 2; do
			mkdir "$dev/alua/pg$pn" || { fail "LIO: $dev/alua/pg$pn"; return 1; }
			echo $pn > "$dev/alua/pg$pn/tg_pt_gp_id"
			echo 1 > "$dev/alua/pg$pn/alua_access_type"
			echo "pg$pn" > "$LIO/iscsi/$ISCSI_IQN/tpgt_$pn/lun/lun_$l/alua_tg_pt_gp" ||
				{ fail "LIO: lun_$l of tpgt_$pn into pg$pn"; return 1; }
		done
		l=$((l + 1))
	done
	echo 0 > "$tpg2/attrib/authentication"
	echo 1 > "$tpg2/attrib/generate_node_acls"
	echo 1 > "$tpg2/attrib/cache_dynamic_acls"
	echo 0 > "$tpg2/attrib/demo_mode_write_protect"
	nsenter --net=/run/netns/tgt2 mkdir "$tpg2/np/10.0.2.1:3260" || { fail "LIO: portal 2 in tpgt_2"; return 1; }
	echo 1 > "$tpg2/enable"
}

iscsi_alua() {
	local st d
	case $2 in
	optimized) st=0 ;; nonoptimized) st=1 ;; standby) st=2 ;; unavailable) st=3 ;;
	offline) st=14 ;; transitioning) st=15 ;;
	*) fail "iscsi_alua: unknown state $2"; return 1 ;;
	esac
	for d in $LIO/core/rd_mcp_0/lun*/alua/pg$1; do
		echo $st > "$d/alua_access_state" || { fail "iscsi_alua: $d: $st refused"; return 1; }
	done
}

iscsi_alua_state() { cat "$LIO/core/rd_mcp_0/lun0/alua/pg$1/alua_access_state"; }
