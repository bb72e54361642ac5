package vm

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// prHelpers run Debian's mpathpersist and mpathd's on the same LUN state: both emits NAME_ours,
// NAME_deb and their exit statuses.
const prHelpers = iscsiHelpers + `
both() {
	local name=$1
	shift
	local out rc
	out=$(/bin/mpathpersist "$@" 2>>/tmp/pr.err); rc=$?
	emit ${name}_ours "$out"
	emit ${name}_ours_rc $rc
	out=$(/sbin/mpathpersist "$@" 2>>/tmp/pr.err); rc=$?
	emit ${name}_deb "$out"
	emit ${name}_deb_rc $rc
}
# settle DEV: wait until READ FULL STATUS stays the same for 2 s (mpathd registers the key on the
# map's paths after setprstatus, which moves the PR generation), so both tools read one state.
settle() {
	local a b i=0
	b=$(/bin/mpathpersist -i -s $1 2>&1)
	while [ $i -lt 20 ]; do
		sleep 2
		a=$b
		b=$(/bin/mpathpersist -i -s $1 2>&1)
		[ "$a" = "$b" ] && return 0
		i=$((i + 1))
	done
	fail "PR state of $1 never settled"
}
# write_rc DEV: a direct 64 KiB write to DEV, its exit status.
write_rc() { dd if=/dev/zero of=$1 bs=4096 count=16 oflag=direct 2>/dev/null; echo $?; }
conflicts() { dmesg | grep -c 'reservation conflict'; }
`

// TestVMPersistentReservation proves mpathpersist on a real SAN with persistent reservations: LIO
// serving one LUN on two portals, node A = open-iscsi's default iface logged in to both (two
// paths, two I_T nexuses, one map built by mpathd), node B = a second iface with its own initiator
// name logged in to portal 1 (one raw path, blacklisted from the map).
//
//   - Debian's mpathpersist 0.9.4 and mpathd's print the same output (and exit status) for read
//     keys, read reservation, read full status and report capabilities, on an empty LUN, with A
//     registered and reserving, with B registered too, and after B is fenced;
//   - A registers through mpathd's mpathpersist on the map: the key is on both of A's nexuses
//     (READ FULL STATUS lists both, with their relative port ids); A reserves Write Exclusive –
//     Registrants Only;
//   - A's writes through the map succeed; B's direct writes on its raw path fail with RESERVATION
//     CONFLICT (the kernel logs it) while B is not registered, and succeed once B registers;
//   - fence_mpath's sequence against mpathd's mpathpersist: A registers its key with REGISTER AND
//     IGNORE, reads the keys, preempts-and-aborts B's key; B is fenced (its key gone, its writes
//     conflict), A keeps the reservation and writes;
//   - with reservation_key "file", the key A registers reaches mpathd (prkeys file, getprstatus);
//     A's path on portal 2 is removed (sd deleted) and a path of A comes back through a new session
//     on portal 2 (a new I_T nexus) while A writes through the map: mpathd registers the key on
//     the new path before the reload that adds it (its log), READ FULL STATUS shows A's key on the
//     new nexus as soon as the path is in the map, and no write fails or meets a reservation
//     conflict.
func TestVMPersistentReservation(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:       SAN{None: true},
		ISCSI:     true,
		Udev:      true, // Debian's mpathpersist finds the map's paths through udev
		Commands:  []string{"./cmd/mpathd", "./cmd/multipath"},
		HostTools: []string{"/sbin/mpathpersist", "/usr/bin/sg_persist"},
		HostFiles: []string{"/lib/multipath"},
		Timeout:   7 * time.Minute,
		Script: prHelpers + `
iscsi_san 1 || return 0
set -- $(ls /sys/block | grep '^sd')
PA1=$1 PA2=$2
PB=$(iscsi_node_b 1) || return 0
echo "@@mpathd-vm: node B logged in at $(now)"
emit initiators "$(iscsi_initiator_of $PA1) $(iscsi_initiator_of $PA2) $(iscsi_initiator_of $PB)"
ln -s /bin/multipath /bin/mpathpersist
printf 'defaults {\n\tfind_multipaths no\n\tuser_friendly_names yes\n}\nblacklist {\n\tdevnode "^%s$"\n}\n' $PB > /etc/multipath.conf
mkdir -p /etc/mpathd /etc/multipath
printf '[defaults]\npolling_interval = 1\nreservation_key = "file"\n[blacklist]\ndevnode = ["^%s$"]\n' $PB > /etc/mpathd/mpathd.toml
ln -s /bin/multipath /bin/multipathd
start_mpathd --config /etc/mpathd/mpathd.toml
echo "@@mpathd-vm: mpathd ready at $(now)"
M=$(dmsetup ls --target multipath | awk '{ print $1; exit }')
[ -n "$M" ] || { fail "no map"; iscsi_diag; return 0; }
emit map_paths "$(dmsetup deps -o devname $M | sed 's/.*: //')"
D=/dev/mapper/$M

both keys0 --in --read-keys $D
both res0 --in --read-reservation $D
both fs0 --in --read-full-status $D
both cap0 --in --report-capabilities $D
echo "@@mpathd-vm: empty LUN compared at $(now)"

# Node A registers on the map and reserves, Write Exclusive - Registrants Only.
/bin/mpathpersist --out --register --param-sark=0xa1a1 $D; emit a_register_rc $?
emit prkeys "$(grep -v '^#' /etc/multipath/prkeys)"
emit getprstatus "$(multipathd getprstatus map $M) $(multipathd getprkey map $M)"
echo "@@mpathd-vm: A registered at $(now)"
/bin/mpathpersist --out --reserve --param-rk=0xa1a1 --prout-type=5 $D; emit a_reserve_rc $?
settle $D
both keys1 -i -k $D
both res1 -i -r $D
both fs1 -i -s $D
emit a_write_rc "$(write_rc $D)"
c0=$(conflicts)
emit b_write_unregistered_rc "$(write_rc /dev/$PB)"
emit b_write_unregistered_conflicts $(($(conflicts) - c0))

# Node B registers (as its fence_mpath "on" would, on its own device).
sg_persist --out --register-ignore --param-sark=0xb2b2 /dev/$PB >/dev/null 2>&1; emit b_register_rc $?
emit b_write_registered_rc "$(write_rc /dev/$PB)"
settle $D
both keys2 -i -k $D
both fs2 -i -s $D
echo "@@mpathd-vm: B registered at $(now)"

# fence_mpath on A fences B: register own key (register-ignore), read keys, preempt-abort B's key.
/bin/mpathpersist -o -I -S 0xa1a1 -d $D; emit fence_register_rc $?
emit fence_keys "$(/bin/mpathpersist -i -k -d $D)"
/bin/mpathpersist -o -A -K 0xa1a1 -S 0xb2b2 -T 5 -d $D; emit fence_preempt_rc $?
c0=$(conflicts)
emit b_write_fenced_rc "$(write_rc /dev/$PB)"
emit b_write_fenced_conflicts $(($(conflicts) - c0))
emit a_write_fenced_rc "$(write_rc $D)"
settle $D
both keys3 -i -k $D
both res3 -i -r $D
both fs3 -i -s $D
echo "@@mpathd-vm: B fenced at $(now)"

# A's path on portal 2 removed (its sd deleted) and a path of A added again through a new
# session on portal 2 (iface nodeA2, A's initiator name, a new ISID: a new I_T nexus), while A
# writes through the map: mpathd registers the key on the new path before the path carries I/O.
for p in $PA1 $PA2; do [ "$(iscsi_portal_of $p)" = 2 ] && OLD=$p; done
echo "@@mpathd-vm: delete $OLD $(iscsi_session_of $OLD) at $(now)"
R0=$(grep -c '"message":"table reloaded"' /tmp/mpathd.log)
echo 1 > /sys/block/$OLD/device/delete
wait_for 60 sh -c "[ \$(dmsetup deps -o devname $M | sed 's/.*://' | wc -w) = 1 ]" || { fail "the map kept $OLD"; return 0; }
# The log line of the reload that dropped it, so that the log read below starts after it.
wait_for 30 sh -c "[ \$(grep -c '\"message\":\"table reloaded\"' /tmp/mpathd.log) -gt $R0 ]" || fail "no reload logged for $OLD"
echo "@@mpathd-vm: path removed at $(now)"
: > /tmp/wloop.err
( while [ ! -f /tmp/wloop.stop ]; do dd if=/dev/zero of=$D bs=4096 count=64 oflag=direct 2>>/tmp/wloop.err || echo FAILED >>/tmp/wloop.err; done ) &
WLOOP=$!
c0=$(conflicts)
L0=$(wc -l < /tmp/mpathd.log)
before=$(ls /sys/block | grep '^sd')
iscsiadm -m iface -I nodeA2 -o new >/tmp/iscsi.a2 2>&1 &&
	iscsiadm -m discovery -t sendtargets -p 10.0.2.1 -I nodeA2 >>/tmp/iscsi.a2 2>&1 &&
	iscsiadm -m node -T $ISCSI_IQN -p 10.0.2.1:3260 -I nodeA2 --login >>/tmp/iscsi.a2 2>&1 || { fail "nodeA2 login: $(cat /tmp/iscsi.a2)"; return 0; }
wait_for 60 sh -c "[ \$(dmsetup deps -o devname $M | sed 's/.*://' | wc -w) = 2 ]" || { fail "the new path never joined the map"; return 0; }
both fs4 -i -s $D
echo "@@mpathd-vm: path back at $(now)"
for p in $(ls /sys/block | grep '^sd'); do echo "$before" | grep -qx $p || NEW=$p; done
emit new_path "$NEW $(iscsi_session_of $NEW) $(iscsi_initiator_of $NEW)"
sleep 4
touch /tmp/wloop.stop
wait $WLOOP
emit readd_write_failures "$(grep -c FAILED /tmp/wloop.err)"
emit readd_conflicts $(($(conflicts) - c0))
tail -n +$((L0 + 1)) /tmp/mpathd.log > /tmp/readd.log
emit readd_registered_line "$(grep -n '"message":"persistent reservation: key registered on the path"' /tmp/readd.log | grep "\"path\":\"$NEW\"" | head -n 1 | cut -d: -f1)"
emit readd_reload_line "$(grep -n '"message":"table reloaded"' /tmp/readd.log | head -n 1 | cut -d: -f1)"
grep -E 'reservation|reloaded' /tmp/readd.log | head -n 20
`,
	})
	if t.Failed() {
		return
	}
	ini := strings.Fields(res.Get("initiators"))
	if len(ini) != 3 || ini[0] != ini[1] || ini[0] == ini[2] {
		t.Fatalf("initiators of A's two paths and B's: %v, want A's twice and B's different", ini)
	}
	if n := len(strings.Fields(res.Get("map_paths"))); n != 2 {
		t.Fatalf("map over %q, want A's two paths only", res.Get("map_paths"))
	}
	for _, step := range []string{"keys0", "res0", "fs0", "cap0", "keys1", "res1", "fs1", "keys2", "fs2", "keys3", "res3", "fs3", "fs4"} {
		ours, deb := res.Get(step+"_ours"), res.Get(step+"_deb")
		// The generation is compared as a number that exists, not its value: the daemon's own
		// REGISTER AND IGNORE on a path moves it between the two tools' reads.
		if prGeneration.ReplaceAllString(ours, "$1") != prGeneration.ReplaceAllString(deb, "$1") ||
			res.Get(step+"_ours_rc") != res.Get(step+"_deb_rc") {
			t.Errorf("%s: mpathd's mpathpersist (exit %s):\n%s\nDebian's (exit %s):\n%s", step,
				res.Get(step+"_ours_rc"), ours, res.Get(step+"_deb_rc"), deb)
		}
		if res.Get(step+"_ours_rc") != "0" {
			t.Errorf("%s: exit %s", step, res.Get(step+"_ours_rc"))
		}
	}
	t.Logf("read full status with A registered and reserving:\n%s", res.Get("fs1_ours"))
	t.Logf("report capabilities:\n%s", res.Get("cap0_ours"))
	want := map[string]string{
		"a_register_rc": "0", "a_reserve_rc": "0", "a_write_rc": "0",
		"b_register_rc": "0", "b_write_registered_rc": "0",
		"fence_register_rc": "0", "fence_preempt_rc": "0", "a_write_fenced_rc": "0",
	}
	for k, v := range want {
		if got := res.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"b_write_unregistered", "b_write_fenced"} {
		if rc := res.Get(k + "_rc"); rc == "0" || rc == "" {
			t.Errorf("%s_rc = %q: B wrote through a reservation it is not registered for", k, rc)
		}
		if n, _ := strconv.Atoi(res.Get(k + "_conflicts")); n < 1 {
			t.Errorf("%s: %q kernel reports of a reservation conflict, want at least 1", k, res.Get(k+"_conflicts"))
		}
	}
	if got := res.Get("keys0_ours"); !regexp.MustCompile(`^  PR generation=0x[0-9a-f]+, \t0 registered reservation key\.$`).MatchString(got) {
		t.Errorf("keys on the fresh LUN: %q", got)
	}
	if got := res.Get("keys1_ours"); !strings.Contains(got, "2 registered reservation keys follow:\n    0xa1a1\n    0xa1a1") {
		t.Errorf("after A registered on the map: %q, want 0xa1a1 on both of A's nexuses", got)
	}
	if got := res.Get("res1_ours"); !strings.Contains(got, "Key = 0xa1a1\n  scope = LU_SCOPE, type = Write Exclusive, registrants only") {
		t.Errorf("reservation: %q", got)
	}
	// Both portals are in one target portal group, so one target port: A's two nexuses differ by
	// their initiator ports, the ISIDs in the iSCSI TransportIDs.
	fs1 := res.Get("fs1_ours")
	ids := regexp.MustCompile(`(?m)^   iSCSI world wide unique port id: (\S+)$`).FindAllStringSubmatch(fs1, -1)
	if strings.Count(fs1, "Key = 0xa1a1") != 2 || strings.Count(fs1, "<< Reservation holder >>") != 1 ||
		len(ids) != 2 || ids[0][1] == ids[1][1] || !strings.HasPrefix(ids[0][1], ini[0]+",i,0x") || !strings.HasPrefix(ids[1][1], ini[0]+",i,0x") {
		t.Errorf("full status does not show A's key on both of A's nexuses:\n%s", fs1)
	}
	if got := res.Get("keys2_ours"); !strings.Contains(got, "3 registered reservation keys follow:") || !strings.Contains(got, "0xb2b2") {
		t.Errorf("after B registered: %q", got)
	}
	if got := res.Get("fence_keys"); !strings.Contains(got, "0xb2b2") || strings.Count(got, "0xa1a1") != 2 {
		t.Errorf("fence_mpath's read keys: %q", got)
	}
	if got := res.Get("keys3_ours"); strings.Contains(got, "0xb2b2") || !strings.Contains(got, "2 registered reservation keys follow:") {
		t.Errorf("after preempt-abort: %q, want only A's two registrations", got)
	}
	if got := res.Get("res3_ours"); !strings.Contains(got, "Key = 0xa1a1") {
		t.Errorf("A lost the reservation fencing B: %q", got)
	}
	// multipath-tools' prkeys format: the key in 16 hex digits, then the WWID.
	if f := strings.Fields(res.Get("prkeys")); len(f) != 2 || f[0] != "0x000000000000a1a1" || !strings.HasPrefix(f[1], "36001405") {
		t.Errorf("prkeys file after A registered: %q, want 0xa1a1 for the map's WWID", res.Get("prkeys"))
	}
	if got := res.Get("getprstatus"); got != "set 0xa1a1" {
		t.Errorf("multipathd getprstatus, getprkey: %q, want \"set 0xa1a1\"", got)
	}

	// The path re-added: the key is on its new nexus before the path carries I/O.
	fs4 := res.Get("fs4_ours")
	ids4 := regexp.MustCompile(`(?m)^   iSCSI world wide unique port id: (\S+)$`).FindAllStringSubmatch(fs4, -1)
	old := map[string]bool{}
	for _, id := range ids {
		old[id[1]] = true
	}
	fresh := 0
	for _, id := range ids4 {
		if !old[id[1]] && strings.HasPrefix(id[1], ini[0]+",i,0x") {
			fresh++
		}
	}
	// The deleted sd's session stays logged in, so its nexus keeps its registration: three.
	if strings.Count(fs4, "Key = 0xa1a1") != 3 || len(ids4) != 3 || fresh != 1 {
		t.Errorf("once the new path joined the map, full status does not show A's key on its new nexus (before: %v):\n%s", ids, fs4)
	}
	if f := strings.Fields(res.Get("new_path")); len(f) != 3 || f[2] != ini[0] {
		t.Errorf("new path %q, want a session of A's initiator", res.Get("new_path"))
	}
	t.Logf("re-added path %s; full status once it joined the map:\n%s", res.Get("new_path"), fs4)
	reg, _ := strconv.Atoi(res.Get("readd_registered_line"))
	reload, _ := strconv.Atoi(res.Get("readd_reload_line"))
	if reg == 0 || reload == 0 || reg > reload {
		t.Errorf("daemon log after the login: key registered on the new path at line %q, first table reload at line %q; want the registration first",
			res.Get("readd_registered_line"), res.Get("readd_reload_line"))
	}
	if res.Get("readd_write_failures") != "0" || res.Get("readd_conflicts") != "0" {
		t.Errorf("A's writes while its path came back: %s failed, %s reservation conflicts", res.Get("readd_write_failures"), res.Get("readd_conflicts"))
	}
}

// prGeneration matches the PR generation in mpathpersist's output.
var prGeneration = regexp.MustCompile(`(PR generation=)0x[0-9a-f]+`)
