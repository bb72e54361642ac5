package vm

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVMPersistentReservationRestart proves that a map's key survives an mpathd restart on the
// LIO SAN: node A (two sessions, two I_T nexuses) registers 0xc3c3 with APTPL through mpathd's
// mpathpersist on a map with reservation_key "file" and reserves Write Exclusive – Registrants
// Only; mpathd stops; A's path on portal 2 is logged out; mpathd starts again and reads the key
// from the prkeys file and the registration from the device (getprstatus set, getprkey
// 0xc3c3:aptpl); then the path logs in again under writes through the map: mpathd registers the
// key on the new path before the reload that adds it, READ FULL STATUS lists the key on A's live
// nexuses, and no write fails or meets a reservation conflict.
func TestVMPersistentReservationRestart(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{None: true},
		ISCSI:    true,
		Commands: []string{"./cmd/mpathd", "./cmd/multipath"},
		Timeout:  10 * time.Minute,
		Script: prHelpers + `
iscsi_san 1 || return 0
ln -s /bin/multipath /bin/mpathpersist
ln -s /bin/multipath /bin/multipathd
mkdir -p /etc/mpathd /etc/multipath
printf '[defaults]\npolling_interval = 1\nreservation_key = "file"\n' > /etc/mpathd/mpathd.toml
start_mpathd --config /etc/mpathd/mpathd.toml
M=$(dmsetup ls --target multipath | awk '{ print $1; exit }')
[ -n "$M" ] || { fail "no map"; iscsi_diag; return 0; }
D=/dev/mapper/$M
/bin/mpathpersist --out --register --param-sark=0xc3c3 --param-aptpl $D; emit register_rc $?
/bin/mpathpersist --out --reserve --param-rk=0xc3c3 --prout-type=5 $D; emit reserve_rc $?
emit before "$(multipathd getprstatus map $M) $(multipathd getprkey map $M)"
kmark registered and reserved

kill -TERM $MPATHD_PID; wait $MPATHD_PID
kmark mpathd stopped
emit prkeys "$(grep -v '^#' /etc/multipath/prkeys)"
for p in $(ls /sys/block | grep '^sd'); do [ "$(iscsi_portal_of $p)" = 2 ] && OLD=$p; done
iscsiadm -m node -T $ISCSI_IQN -p 10.0.2.1:3260 -I default --logout >/dev/null 2>&1 || fail "logout"
wait_for 60 sh -c "[ ! -e /sys/block/$OLD ]" || fail "$OLD stayed after the logout"
kmark logged out
: > /tmp/mpathd.log
start_mpathd --config /etc/mpathd/mpathd.toml
kmark mpathd started again
wait_for 60 sh -c "[ \$(dmsetup deps -o devname $M | sed 's/.*://' | wc -w) = 1 ]" || {
	fail "the map kept the logged-out path"
	dmsetup table $M; ls /sys/block; grep -v '"level":"debug"' /tmp/mpathd.log | head -n 40
	return 0
}
emit after "$(multipathd getprstatus map $M) $(multipathd getprkey map $M)"
kmark path left the map

: > /tmp/wloop.err
( while [ ! -f /tmp/wloop.stop ]; do timeout 30 dd if=/dev/zero of=$D bs=4096 count=64 oflag=direct 2>>/tmp/wloop.err || echo FAILED >>/tmp/wloop.err; done ) &
WLOOP=$!
c0=$(conflicts)
L0=$(wc -l < /tmp/mpathd.log)
iscsiadm -m node -T $ISCSI_IQN -p 10.0.2.1:3260 -I default --login >/dev/null 2>&1 || fail "login"
kmark logged in
wait_for 60 sh -c "[ \$(dmsetup deps -o devname $M | sed 's/.*://' | wc -w) = 2 ]" || fail "the path never joined the map"
kmark path joined the map
sleep 3
touch /tmp/wloop.stop
wait $WLOOP
kmark writes stopped
emit write_failures "$(grep -c FAILED /tmp/wloop.err)"
emit conflicts $(($(conflicts) - c0))
emit keys_on_nexuses "$(/bin/mpathpersist -i -s $D | grep -c 'Key = 0xc3c3')"
emit reservation "$(/bin/mpathpersist -i -r $D | grep -E 'Key = |type')"
tail -n +$((L0 + 1)) /tmp/mpathd.log > /tmp/readd.log
emit registered_line "$(grep -n '"message":"persistent reservation: key registered on the path"' /tmp/readd.log | head -n 1 | cut -d: -f1)"
emit reload_line "$(grep -n '"message":"table reloaded"' /tmp/readd.log | head -n 1 | cut -d: -f1)"
grep -E 'reservation|reloaded' /tmp/readd.log | head -n 20
`,
	})
	if t.Failed() {
		return
	}
	if res.Get("register_rc") != "0" || res.Get("reserve_rc") != "0" {
		t.Fatalf("mpathpersist register exit %s, reserve exit %s", res.Get("register_rc"), res.Get("reserve_rc"))
	}
	if got := res.Get("before"); got != "set 0xc3c3:aptpl" {
		t.Errorf("before the restart: getprstatus, getprkey %q, want \"set 0xc3c3:aptpl\"", got)
	}
	if f := strings.Fields(res.Get("prkeys")); len(f) != 2 || f[0] != "0X000000000000c3c3" {
		t.Errorf("prkeys file %q, want 0X000000000000c3c3 (APTPL) and the WWID", res.Get("prkeys"))
	}
	if got := res.Get("after"); got != "set 0xc3c3:aptpl" {
		t.Errorf("after the restart: getprstatus, getprkey %q, want \"set 0xc3c3:aptpl\"", got)
	}
	// LIO keeps the logged-out session's registration (a registration outlives its I_T nexus), and
	// the new login is a nexus of its own: the key is on at least A's two live nexuses.
	if n, _ := strconv.Atoi(res.Get("keys_on_nexuses")); n < 2 {
		t.Errorf("READ FULL STATUS lists the key on %s nexuses, want A's two live ones at least", res.Get("keys_on_nexuses"))
	}
	if got := res.Get("reservation"); !strings.Contains(got, "Key = 0xc3c3") || !strings.Contains(got, "Write Exclusive, registrants only") {
		t.Errorf("reservation after the restart: %q", got)
	}
	reg, _ := strconv.Atoi(res.Get("registered_line"))
	reload, _ := strconv.Atoi(res.Get("reload_line"))
	if reg == 0 || reload == 0 || reg > reload {
		t.Errorf("daemon log after the login: key registered at line %q, first reload at line %q; want the registration first",
			res.Get("registered_line"), res.Get("reload_line"))
	}
	if res.Get("write_failures") != "0" || res.Get("conflicts") != "0" {
		t.Errorf("writes while the path came back: %s failed, %s reservation conflicts", res.Get("write_failures"), res.Get("conflicts"))
	}
}
