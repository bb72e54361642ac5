package vm

import (
	"strconv"
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

// TestVMCreateBackoff: a path held by another user (swap on it) makes the kernel refuse the map's
// table with EBUSY. The daemon still says ready within 35 s, tries again with a doubling backoff
// instead of creating and removing the map at every check, logs the failure once at error level,
// and makes the map once the path is free. The kernel's log counts the tables it refused.
func TestVMCreateBackoff(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 1},
		Commands: []string{"./cmd/mpathd"},
		Script: daemonHelpers + `
P=$(path_of 0 1)
mkswap /dev/$P >/dev/null && swapon /dev/$P || fail "cannot hold $P"
printf '[defaults]\npolling_interval = 1\n' > /tmp/c.toml
t0=$(now)
start_mpathd --config /tmp/c.toml --log-level debug --wwids /tmp/wwids --bindings /tmp/bindings
emit ready_after "$(elapsed $t0 $(now))"
sleep 20
emit errors "$(grep '"level":"error"' /tmp/mpathd.log | grep -c 'map operation failed')"
emit refused "$(grep -c 'map creation backs off' /tmp/mpathd.log)"
emit kernel_refusals "$(dmesg | grep -c 'multipath: error getting device')"
swapoff /dev/$P
wait_for 60 sh -c "dmsetup table | grep -q ' multipath '" || fail "no map once the path was free"
emit table "$(dmsetup table 333333330000007d0)"
`,
	})
	t.Logf("ready after %s s; %s refusals logged by mpathd, %s by the kernel", res.Get("ready_after"), res.Get("refused"), res.Get("kernel_refusals"))
	// The cap counts from the daemon's start; the script's clock also counts the process start and
	// the log poll, a second or two under emulation.
	if s, err := strconv.ParseFloat(res.Get("ready_after"), 64); err != nil || s > 40 {
		t.Errorf("ready after %q s, want 35 s and the start-up around it", res.Get("ready_after"))
	}
	if res.Get("errors") != "1" {
		t.Errorf("%s error lines for the refused table, want 1", res.Get("errors"))
	}
	// About 55 s of refusals: 1+2+4+8+16 s of backoff is 6 attempts (a check every second per path
	// made one attempt each before).
	if n, err := strconv.Atoi(res.Get("kernel_refusals")); err != nil || n < 2 || n > 8 {
		t.Errorf("the kernel refused %q tables in 55 s, want a handful (and at least 2: the path was held)", res.Get("kernel_refusals"))
	}
	if res.Get("refused") != res.Get("kernel_refusals") {
		t.Errorf("mpathd logged %s refusals, the kernel %s", res.Get("refused"), res.Get("kernel_refusals"))
	}
	if !strings.Contains(res.Get("table"), " multipath ") {
		t.Errorf("no map: %q", res.Get("table"))
	}
}
