package vm

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestVMMultipathdClient: Debian's multipath-tools, installed only as the client, talks to mpathd's
// multipathd socket. Each command line below is what a management stack runs (os-brick, Trident,
// gobrick, HPE/IBM CSI, vdsm, monitoring), and each reply is checked the way that stack parses it.
func TestVMMultipathdClient(t *testing.T) {
	t.Parallel()
	s := multipathTools
	s.SAN = SAN{Hosts: 2, LUNs: 1}
	s.Udev = true // Debian's multipath -ll, the reference for show topology, reads udev's database
	s.Commands = []string{"./cmd/mpathd"}
	s.Script = daemonHelpers + `
M=333333330000007d0
start_mpathd
DM=dm-$(dmsetup info -c --noheadings -o minor $M)
emit dm "$DM"
P=$(path_of 0 1)
# run KEY CMD...: the command's output and exit status.
run() { k=$1; shift; out=$("$@" 2>&1); rc=$?; emit "$k" "$out"; emit "$k.rc" "$rc"; }
# say KEY CMD...: the command's output only, where the exit status is not part of the contract.
say() { k=$1; shift; emit "$k" "$("$@" 2>&1)"; }
run status multipathd show status
run daemon multipathd show daemon
run maps multipathd show maps
run maps_raw multipathd show maps raw format "%w %d %n %s"
run paths_hpe multipathd show paths raw format "%w %d %t %i %o %T %c %s %m"
run paths_gobrick multipathd show paths raw format "%d %w %m"
run paths_osbrick multipathd show paths raw format %d
run paths_monitor multipathd show paths format '%d %t %T'
run paths_wild multipathd show paths raw format "%d|%A|%k|%N|%n|%R|%r|%a|%g"
emit kb_paths "$(for d in $(san_paths | awk '{print $1}'); do echo "$d $(cat /sys/block/$d/queue/max_sectors_kb)"; done)"
run maps_wild multipathd show maps raw format "%n|%A|%k|%g"
emit kb_map "$(cat /sys/block/$DM/queue/max_sectors_kb)"
run json multipathd show maps json
run mapjson multipathd show map $M json
run config multipathd show config
run config_local multipathd show config local
# The kernel makes a group active at the map's first I/O; read once so that both listings below
# see the same state, whoever (udev's probe or nobody) read the map before; direct, so the page
# cache cannot answer it.
# The daemon's snapshot follows the kernel's group state at its next look: wait for it.
dd if=/dev/mapper/$M of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null
wait_for 30 sh -c "multipathd show topology | grep -q status=active" || fail "no active group after a read"
run topology multipathd show topology
# Debian's multipath warns on stderr that its own daemon is not running: only stdout is compared.
emit ll "$(multipath -ll 2>/dev/null)"
# vdsm wants exactly "ok\n" from resize.
multipathd resize map $DM > /tmp/resize; emit resize.rc $?
emit resize "$(od -An -c /tmp/resize | tr -s ' ')"
# os-brick: grow the LUN, rescan its paths, reconfigure, then resize the map.
echo 1 > /sys/bus/pseudo/drivers/scsi_debug/virtual_gb
for d in $(san_paths | awk '{print $1}'); do echo 1 > /sys/block/$d/device/rescan; done
run reconfigure multipathd reconfigure
run resize_grown multipathd resize map $DM
emit size "$(dmsetup table $M | awk '{print $2}')"
run delpath multipathd del path /dev/$P
emit table_del "$(dmsetup table $M)"
run addpath multipathd add path /dev/$P
wait_for 20 sh -c "[ \$(dmsetup table $M | grep -o ' [0-9]*:[0-9]* ' | wc -l) = 2 ]" || fail "path not back in the table"
emit table_add "$(dmsetup table $M)"
# Proxmox's Pure plugin: remove map, add map WWID, resize map WWID.
run delmap multipathd remove map $M
emit after_del "$(dmsetup ls --target multipath)"
say addmap multipathd add map $M
# Under a loaded TCG host the first path checks and udev can outlast the client's 4 s: the reply is
# then "timeout" (as multipathd's) and the map comes all the same.
wait_for 30 sh -c "dmsetup info $M >/dev/null 2>&1" || fail "add map: no map $M"
emit after_add "$(dmsetup ls --target multipath | awk '{print $1}')"
run resize_wwid multipathd resize map $M
say unknown multipathd show bogus
# A non-root peer (SO_PEERCRED) may list and show, nothing else.
say nobody_show su -s /bin/sh nobody -c "/sbin/multipathd show daemon"
say nobody_del su -s /bin/sh nobody -c "/sbin/multipathd del map $M"
emit nobody_map "$(dmsetup info -c --noheadings -o name $M)"
run del_busy sh -c "exec 3</dev/mapper/$M; multipathd del map $M"
`
	res := Run(t, s)
	for _, k := range []string{"status", "daemon", "maps", "paths_hpe", "topology", "ll", "resize", "reconfigure",
		"resize_grown", "size", "delpath", "addpath", "del_busy", "del_busy.rc", "nobody_show", "nobody_del", "delmap", "after_del", "addmap", "after_add", "resize_wwid"} {
		t.Logf("%s:\n%s", k, res.Get(k))
	}
	dm := res.Get("dm")
	for _, k := range []string{"status", "daemon", "maps", "maps_raw", "paths_hpe", "paths_gobrick", "paths_osbrick",
		"paths_monitor", "json", "mapjson", "config", "config_local", "topology", "reconfigure", "resize_grown",
		"delpath", "addpath", "resize", "delmap", "resize_wwid"} {
		if rc := res.Get(k + ".rc"); rc != "0" {
			t.Errorf("multipathd %s: exit %s, output %q", k, rc, res.Get(k))
		}
	}
	check := func(what, got, re string) {
		t.Helper()
		if !regexp.MustCompile(re).MatchString(got) {
			t.Errorf("%s: %q does not match %s", what, got, re)
		}
	}
	// os-brick: liveness; vdsm: busy: False.
	if st := res.Get("status"); strings.Contains(st, "error receiving packet") || !strings.Contains(st, "\nbusy: False") {
		t.Errorf("show status: %q", st)
	}
	check("show status", res.Get("status"), `^path checker states:\nup +2\n\npaths: 2\nbusy: False$`)
	// Trident.
	check("show daemon", res.Get("daemon"), `^pid \d+ (running|idle)$`)
	if !strings.Contains(res.Get("config"), "find_multipaths") || !strings.HasPrefix(res.Get("config"), "defaults {") {
		t.Errorf("show config: %.300q", res.Get("config"))
	}
	check("show config local", res.Get("config_local"), `(?s)multipaths \{\n\tmultipath \{\n\t\twwid "333333330000007d0"\n\t\}\n\}$`)
	// gobrick: name dm-N uuid.
	check("show maps", res.Get("maps"), `^name +sysfs +uuid *\n333333330000007d0 `+dm+` +333333330000007d0$`)
	check("show maps raw format", res.Get("maps_raw"), `^333333330000007d0 `+dm+` 333333330000007d0 Linux,scsi_debug$`)
	// HPE/IBM CSI: ready and the map name (or [orphan]).
	for _, l := range strings.Split(res.Get("paths_hpe"), "\n") {
		check("show paths raw format (HPE)", l, `^333333330000007d0 sd[a-z]+ active \d+:0:0:0 running ready tur Linux,scsi_debug,\S+ 333333330000007d0$`)
	}
	check("show paths raw format (gobrick)", res.Get("paths_gobrick"), `^sd[a-z]+ 333333330000007d0 333333330000007d0\nsd[a-z]+ 333333330000007d0 333333330000007d0$`)
	check("show paths raw format %d (os-brick)", res.Get("paths_osbrick"), `^sd[a-z]+\nsd[a-z]+$`)
	check("show paths format (monitoring)", res.Get("paths_monitor"), `^dev +dm_st +chk_st *\nsd[a-z]+ +active +ready *\n`)
	// The wildcards read from sysfs (%k), the TPG (%A), and those multipathd prints [undef] for off
	// Fibre Channel and without vendor VPD data.
	kb := map[string]string{}
	for _, l := range strings.Split(res.Get("kb_paths"), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			kb[f[0]] = f[1]
		}
	}
	wild := strings.Split(res.Get("paths_wild"), "\n")
	if len(wild) != 2 {
		t.Errorf("show paths raw format %%A %%k: %q, want 2 paths", res.Get("paths_wild"))
	}
	for _, l := range wild {
		check("show paths raw format %A %k and the [undef] ones", l, `^sd[a-z]+\|0x[0-9a-f]{4}\|\d+(\|\[undef\]){6}$`)
		if f := strings.Split(l, "|"); len(f) > 2 && f[2] != kb[f[0]] {
			t.Errorf("%%k of %s: %s, sysfs says %q", f[0], f[2], kb[f[0]])
		}
	}
	check("show maps raw format %A %k %g", res.Get("maps_wild"), `^333333330000007d0\|(create|reload|switchpg)\|`+res.Get("kb_map")+`\|\[undef\]$`)
	// jq over show maps json: .maps[].uuid = WWID, .path_groups[].paths[].dm_st.
	var doc struct {
		Major int `json:"major_version"`
		Minor int `json:"minor_version"`
		Maps  []struct {
			UUID   string `json:"uuid"`
			Sysfs  string `json:"sysfs"`
			Groups []struct {
				Paths []struct {
					DMSt  string `json:"dm_st"`
					ChkSt string `json:"chk_st"`
				} `json:"paths"`
			} `json:"path_groups"`
		} `json:"maps"`
	}
	if err := json.Unmarshal([]byte(res.Get("json")), &doc); err != nil {
		t.Errorf("show maps json: %v\n%s", err, res.Get("json"))
	} else if doc.Major != 0 || doc.Minor != 1 || len(doc.Maps) != 1 || doc.Maps[0].UUID != "333333330000007d0" || doc.Maps[0].Sysfs != dm {
		t.Errorf("show maps json: %+v", doc)
	} else {
		n := 0
		for _, g := range doc.Maps[0].Groups {
			for _, p := range g.Paths {
				n++
				if p.DMSt != "active" || p.ChkSt != "ready" {
					t.Errorf("show maps json path: %+v", p)
				}
			}
		}
		if n != 2 {
			t.Errorf("show maps json: %d paths, want 2", n)
		}
	}
	if !json.Valid([]byte(res.Get("mapjson"))) || !strings.Contains(res.Get("mapjson"), `"map":{`) {
		t.Errorf("show map json: %s", res.Get("mapjson"))
	}
	// multipathd's own topology and Debian's multipath -ll describe the same maps.
	if top, ll := res.Get("topology"), res.Get("ll"); fields(top) != fields(ll) {
		t.Errorf("show topology and Debian's multipath -ll differ:\n%s\n---\n%s", top, ll)
	}
	if r := res.Get("resize"); r != " o k \\n" {
		t.Errorf("resize map %s wrote %q, want exactly \"ok\\n\"", dm, r)
	}
	if got := res.Get("reconfigure"); got != "ok" {
		t.Errorf("reconfigure: %q", got)
	}
	if got := res.Get("resize_grown"); got != "ok" {
		t.Errorf("resize after growing the LUN: %q", got)
	}
	if got := res.Get("size"); got != "2097152" {
		t.Errorf("map size after resize: %s sectors, want 2097152 (1 GiB)", got)
	}
	if res.Get("delpath") != "ok" || res.Get("addpath") != "ok" {
		t.Errorf("del path / add path: %q / %q", res.Get("delpath"), res.Get("addpath"))
	}
	if strings.Count(res.Get("table_del"), ":") != 1 {
		t.Errorf("after del path the table still has both paths: %s", res.Get("table_del"))
	}
	if strings.Count(res.Get("table_add"), ":") != 2 {
		t.Errorf("after add path the table does not have both paths: %s", res.Get("table_add"))
	}
	if a := res.Get("addmap"); a == "timeout" {
		t.Logf("add map answered timeout (slow guest); the map came afterwards")
	}
	if res.Get("delmap") != "ok" || !strings.Contains(res.Get("after_del"), "No devices found") ||
		(res.Get("addmap") != "ok" && res.Get("addmap") != "timeout") || res.Get("after_add") != "333333330000007d0" ||
		res.Get("resize_wwid") != "ok" {
		t.Errorf("remove map / add map WWID / resize map WWID: %q (maps then: %q) / %q (maps then: %q) / %q",
			res.Get("delmap"), res.Get("after_del"), res.Get("addmap"), res.Get("after_add"), res.Get("resize_wwid"))
	}
	if u := res.Get("unknown"); !strings.Contains(u, "list|show paths") {
		t.Errorf("unknown command: %q, want the help text", u)
	}
	check("show daemon as nobody", res.Get("nobody_show"), `^pid \d+ (running|idle)$`)
	if got := res.Get("nobody_del"); got != "permission deny: need to be root" || res.Get("nobody_map") != "333333330000007d0" {
		t.Errorf("del map as nobody: %q, map afterwards %q", got, res.Get("nobody_map"))
	}
	// multipathd's client exits 1 only on a bare "fail".
	if got, rc := res.Get("del_busy"), res.Get("del_busy.rc"); got != "fail" || rc != "1" {
		t.Errorf("del map of an open map: %q, exit %s; want fail and exit 1", got, rc)
	}
	for _, f := range res.Failures() {
		t.Error(f)
	}
}

// fields compares texts ignoring column widths.
func fields(s string) string { return strings.Join(strings.Fields(s), " ") }
