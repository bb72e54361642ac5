package vm

import (
	"strings"
	"testing"
)

// TestVMLifecycle: with find_multipaths "on", LUNs seen with one path at start-up get no map; the
// second path of each, from a host added later (its own uevent batch), makes the map and records
// the WWID. A configured hardware_handler (emc) that differs from the handler the kernel keeps
// attached (alua) costs no reload: the daemon asks for what the kernel will show.
func TestVMLifecycle(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 1, LUNs: 2},
		Commands: []string{"./cmd/mpathd"},
		Script: daemonHelpers + `
printf '[defaults]\npolling_interval = 1\nhardware_handler = "1 emc"\n' > /tmp/c.toml
start_mpathd --config /tmp/c.toml --wwids /tmp/wwids --bindings /tmp/bindings
emit maps_at_start "$(dmsetup table | grep -c ' multipath ')"
emit dh_state "$(cat /sys/block/$(path_of 0 0)/device/dh_state)"
echo 1 > /sys/bus/pseudo/drivers/scsi_debug/add_host
wait_for 30 sh -c "[ \$(dmsetup table | grep -c ' multipath ') -eq 2 ]" || fail "second paths made no maps"
sleep 2
before=$(dmsetup info -c --noheadings -o name,events | sort)
sleep 5
check_eq events_after_reconciles "$(dmsetup info -c --noheadings -o name,events | sort)" "$before"
emit tables "$(dmsetup table | sort)"
emit wwids "$(grep -v '^#' /tmp/wwids)"
emit reloads "$(grep -c '"message":"table reloaded"' /tmp/mpathd.log)"
`,
	})
	if got := res.Get("maps_at_start"); got != "0" {
		t.Errorf("single-path LUNs multipathed at start: %q", got)
	}
	if res.Get("dh_state") != "alua" {
		t.Fatalf("scsi_dh_alua not attached (dh_state %q): the handler check proves nothing", res.Get("dh_state"))
	}
	tables := res.Get("tables")
	if strings.Count(tables, " multipath ") != 2 || strings.Count(tables, " 1 alua ") != 2 {
		t.Errorf("want 2 maps with the attached alua handler:\n%s", tables)
	}
	for _, w := range []string{"333333330000007d0", "333333330000007d1"} {
		if !strings.Contains(res.Get("wwids"), "/"+w+"/") {
			t.Errorf("wwids file lacks %s:\n%s", w, res.Get("wwids"))
		}
	}
	if res.Get("reloads") != "0" {
		t.Errorf("%s reloads with hardware_handler emc over alua, want 0", res.Get("reloads"))
	}
}
