package vm

import (
	"strings"
	"testing"
)

// TestVMWWIDFromSg3Rules: on a host where sg3_utils' 55-scsi-sg3_id.rules sets ID_SERIAL (SUSE's
// default), udev's ID_SERIAL for a scsi_debug LUN is its T10 vendor designator ("1…"), not the NAA
// scsi_id would give. Debian's multipathd (uid_attribute ID_SERIAL) names the map by it first;
// after multipathd stops and its map is removed, mpathd, reading the same multipath.conf and
// bindings file, builds the map with the same WWID and the same alias. The bindings file holds a
// foreign alias first, so multipathd's alias is mpathb and a WWID of mpathd's own would get mpathc.
func TestVMWWIDFromSg3Rules(t *testing.T) {
	t.Parallel()
	s := multipathTools
	s.HostTools = append(append([]string(nil), s.HostTools...), "/usr/bin/sg_inq", "/lib/udev/scsi_id")
	s.SAN = SAN{Hosts: 2, LUNs: 1}
	s.Udev = true
	s.Commands = []string{"./cmd/mpathd", "./cmd/mpathctl"}
	s.Script = daemonHelpers + `
[ -e /lib/udev/rules.d/55-scsi-sg3_id.rules ] || fail "no 55-scsi-sg3_id.rules in the guest (install sg3-utils-udev)"
for d in $(san_paths | awk '{print $1}'); do
	emit serial "$d $(udevadm info -q property -n /dev/$d | sed -n 's/^ID_SERIAL=//p')"
	emit scsi_id "$d $(/lib/udev/scsi_id --whitelisted --replace-whitespace --device=/dev/$d)"
done
mkdir -p /etc/multipath
printf 'mpatha 3600000000000000000000000000000ff\n' >/etc/multipath/bindings
printf 'defaults {\n\tfind_multipaths no\n\tuser_friendly_names yes\n}\n' >/etc/multipath.conf
multipathd -d -s >/tmp/multipathd.log 2>&1 &
MPD=$!
wait_for 60 sh -c '[ -n "$(multipathd show maps raw format "%n")" ]' || fail "multipathd made no map: $(tail -n 20 /tmp/multipathd.log)"
emit multipathd "$(multipathd show maps raw format '%n %w')"
kill $MPD
wait $MPD
for m in $(dmsetup ls --target multipath | awk '{print $1}'); do dmsetup remove "$m" || fail "remove $m"; done
[ "$(dmsetup ls --target multipath)" = "No devices found" ] || fail "maps left: $(dmsetup ls)"
emit bindings "$(grep -v '^#' /etc/multipath/bindings)"
start_mpathd
wait_for 30 sh -c '[ "$(dmsetup table --target multipath | grep -c " multipath ")" = 1 ]' || fail "mpathd made no map: $(tail -n 20 /tmp/mpathd.log)"
emit mpathd "$(dmsetup info -c --noheadings -o name,uuid --separator ' ' --target multipath)"
emit table "$(dmsetup table --target multipath)"
emit bindings.after "$(grep -v '^#' /etc/multipath/bindings)"
# uid_attribute names another of udev's properties: the maps follow it.
kill $MPATHD_PID
wait $MPATHD_PID
for m in $(dmsetup ls --target multipath | awk '{print $1}'); do dmsetup remove "$m" || fail "remove $m"; done
emit naa_local "$(udevadm info -q property -n /dev/sda | sed -n 's/^SCSI_IDENT_LUN_NAA_LOCAL=//p')"
printf 'defaults {\n\tfind_multipaths no\n\tuser_friendly_names no\n\tuid_attribute SCSI_IDENT_LUN_NAA_LOCAL\n}\n' >/etc/multipath.conf
mv /tmp/mpathd.log /tmp/mpathd.1.log
start_mpathd
wait_for 30 sh -c '[ "$(dmsetup table --target multipath | grep -c " multipath ")" = 1 ]' || fail "mpathd made no map: $(tail -n 20 /tmp/mpathd.log)"
emit uid_map "$(dmsetup info -c --noheadings -o name,uuid --separator ' ' --target multipath)"
emit uid_warnings "$(grep -c uid_attribute /tmp/mpathd.log)"
`
	res := Run(t, s)
	serials := map[string]bool{}
	for _, l := range res.All("serial") {
		f := strings.SplitN(l, " ", 2)
		if len(f) != 2 || f[1] == "" {
			t.Fatalf("udev ID_SERIAL %q", l)
		}
		serials[f[1]] = true
	}
	if len(serials) != 1 || len(res.All("serial")) != 2 {
		t.Fatalf("udev ID_SERIALs %q, want one for both paths", res.All("serial"))
	}
	var serial string
	for s := range serials {
		serial = s
	}
	// sg3_utils' rule picks the T10 designator; scsi_id (the rule it replaces) the NAA one.
	if !strings.HasPrefix(serial, "1") {
		t.Errorf("ID_SERIAL %q is not sg3_utils' T10 form: is 55-scsi-sg3_id.rules active?", serial)
	}
	for _, l := range res.All("scsi_id") {
		if f := strings.Fields(l); len(f) != 2 || f[1] == serial {
			t.Errorf("scsi_id %q: want a WWID other than udev's %q, or the test proves nothing", l, serial)
		}
	}
	if got, want := res.Get("multipathd"), "mpathb "+serial; got != want {
		t.Errorf("multipathd's map %q, want %q", got, want)
	}
	if got, want := res.Get("mpathd"), "mpathb mpath-"+serial; got != want {
		t.Errorf("mpathd's map %q, want %q (multipathd's name and WWID)", got, want)
	}
	if tab := res.Get("table"); strings.Count(tab, " 8:") != 2 {
		t.Errorf("mpathd's table %q, want both paths", tab)
	}
	if got, want := res.Get("bindings.after"), res.Get("bindings"); got != want {
		t.Errorf("bindings after mpathd %q, want them unchanged %q", got, want)
	}
	naa := res.Get("naa_local")
	if naa == "" || naa == serial {
		t.Errorf("udev's SCSI_IDENT_LUN_NAA_LOCAL %q: want one, other than ID_SERIAL", naa)
	}
	if got, want := res.Get("uid_map"), naa+" mpath-"+naa; got != want {
		t.Errorf("with uid_attribute SCSI_IDENT_LUN_NAA_LOCAL mpathd's map is %q, want %q", got, want)
	}
	if n := res.Get("uid_warnings"); n != "0" {
		t.Errorf("%s log lines name uid_attribute: it is applied, not warned about", n)
	}
	t.Logf("udev ID_SERIAL (sg3_utils) %q; multipathd %q; mpathd %q; scsi_id %q; with uid_attribute SCSI_IDENT_LUN_NAA_LOCAL: %q", serial, res.Get("multipathd"), res.Get("mpathd"), res.All("scsi_id"), res.Get("uid_map"))
}
