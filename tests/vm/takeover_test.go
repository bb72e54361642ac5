package vm

import (
	"strings"
	"testing"
	"time"
)

// TestVMTakeoverFromMultipathd is the day an admin replaces multipathd: Debian's multipathd 0.9.4
// has built the maps (four paths a LUN grouped by ALUA priority, the two active/optimized ones in
// one group in multipathd's own order) and stops,
// leaving them; mpathd starts reading the same /etc/multipath.conf and adopts every map without a
// single table reload: dmsetup shows the same tables before and after, byte for byte.
func TestVMTakeoverFromMultipathd(t *testing.T) {
	t.Parallel()
	s := multipathTools
	s.SAN = SAN{Hosts: 4, LUNs: 2}
	s.Udev = true
	s.Commands = []string{"./cmd/mpathd", "./cmd/mpathctl"}
	s.Timeout = 6 * time.Minute
	s.Script = `
tables() { dmsetup table --target multipath 2>/dev/null | grep -v '^No devices' | sort; }
# The two active/optimized paths of the first LUN (hosts 0 and 3) leave and return host 3 first, so
# that it takes the lower of the two freed kernel names: the order multipathd keeps inside their
# group (its scan, by sysfs path: host 0 first) then differs from mpathd's (by kernel name: host 3
# first), the difference that must not cost a reload.
for h in 0 3; do echo 1 > /sys/class/scsi_device/$h:0:0:0/device/delete; done
for h in 3 0; do
	echo '0 0 0' > /sys/class/scsi_host/host$h/scan
	wait_for 30 test -e /sys/class/scsi_device/$h:0:0:0/device/block || fail "$h:0:0:0 did not return"
done
emit renamed "$(sd_of 0:0:0:0) $(sd_of 3:0:0:0)"
printf 'defaults {\n\tfind_multipaths no\n\tuser_friendly_names yes\n\tpath_grouping_policy group_by_prio\n\tpath_checker tur\n}\n' >/etc/multipath.conf
multipathd -d -s >/tmp/mt.log 2>&1 &
MT=$!
wait_for 90 sh -c '[ "$(multipathd show paths raw format "%T" | grep -cE "ready|ghost")" = 8 ]' || fail "multipathd: $(multipathd show paths raw format '%d %t %T'; tail -n 20 /tmp/mt.log)"
before=$(tables)
emit before "$before"
multipathd shutdown >/dev/null 2>&1
wait $MT
mpathd --log-format json -multipathd-socket=false >/tmp/mpathd.log 2>&1 &
wait_for 90 grep -q '"message":"ready"' /tmp/mpathd.log || fail "mpathd not ready: $(tail -n 5 /tmp/mpathd.log)"
# Let every path be checked twice (polling_interval 5 s) before the verdict.
sleep 12
emit after "$(tables)"
emit adopted "$(mpathctl show maps --json | grep -c '"name"')"
emit queueing "$(grep -E 'queueing|recovery' /tmp/mpathd.log | head -n 5)"
emit explain "$(mpathctl config explain mpatha | grep -iE 'no_path_retry|queue')"
emit reloads "$(grep -c '"message":"table reloaded"' /tmp/mpathd.log)"
`
	res := Run(t, s)
	before, after := res.Get("before"), res.Get("after")
	if n := strings.Count(before, "\n") + 1; before == "" || n != 2 {
		t.Fatalf("multipathd built %d maps, want 2:\n%s", n, before)
	}
	if before != after {
		t.Errorf("tables changed on takeover:\nmultipathd:\n%s\nmpathd:\n%s", before, after)
	}
	if r := res.Get("reloads"); r != "0" {
		t.Errorf("mpathd reloaded %s times on takeover, want 0", r)
	}
	t.Logf("0:0:0:0 and 3:0:0:0 are now %s", res.Get("renamed"))
	t.Logf("adopted maps: %s; tables:\n%s\nqueueing: %s\nexplain: %s", res.Get("adopted"), after, res.Get("queueing"), res.Get("explain"))
}
