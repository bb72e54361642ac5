package debian

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mpathd/mpathd/tests/vm"
)

// checkBoot asserts the boot figures every Debian scenario reports and logs them.
func checkBoot(t *testing.T, res *Result) {
	t.Helper()
	sd, err0 := strconv.ParseFloat(res.Get("boot.systemd"), 64)
	mu, err1 := strconv.ParseFloat(res.Get("boot.multiuser"), 64)
	sc, err2 := strconv.ParseFloat(res.Get("boot.scenario"), 64)
	if err0 != nil || err1 != nil || err2 != nil || sd <= 0 || mu < sd || sc < mu {
		t.Errorf("boot figures: systemd at %q s, multi-user at %q s, scenario at %q s; want numbers in that order",
			res.Get("boot.systemd"), res.Get("boot.multiuser"), res.Get("boot.scenario"))
	}
	t.Logf("boot: systemd started at %.1f s, multi-user.target at %.1f s, scenario unit at %.1f s after the kernel started", sd, mu, sc)
	if f := res.Get("boot.failed_units"); f != "" {
		t.Errorf("failed units at boot: %s", f)
	}
}

// TestVMDebianBoot boots the Debian system with mpathd enabled by the repository's unit: systemd
// starts it, it assembles a 2-path scsi_debug map, and `multipath -ll` (mpathd's multi-call name)
// prints that map.
func TestVMDebianBoot(t *testing.T) {
	res := Run(t, Scenario{
		SAN: vm.SAN{Hosts: 2, LUNs: 1},
		Script: `
emit active "$(systemctl is-active mpathd)"
# The image: both initramfs generators installed side by side, multipath-tools there but masked.
emit dracut "$(dracut --version 2>&1 | head -n 1)"
emit initramfs_tools "$(dpkg-query -W -f '${Status}' initramfs-tools dracut-core multipath-tools)"
emit multipathd_enabled "$(systemctl is-enabled multipathd.service multipathd.socket 2>&1 | tr '\n' ' ' | sed 's/ $//')"
emit multipathd_active "$(systemctl is-active multipathd.service)"
emit unit "$(systemctl show -P FragmentPath mpathd.service)"
emit enabled "$(systemctl is-enabled mpathd.service)"
emit mainpid_exe "$(readlink /proc/$(systemctl show -P MainPID mpathd)/exe)"
emit data_paths "$(data_paths | wc -l)"
wwid=3$(cat /sys/block/$(data_paths | head -n 1 | cut -d' ' -f1)/device/wwid | sed 's/^naa\.//')
emit wwid "$wwid"
wait_for 60 sh -c "dmsetup table | grep -q ' multipath '" || fail "no multipath map within 60 s"
map=$(dmsetup ls --target multipath | awk -v w="$wwid" '{print $1}' | while read -r m; do
	[ "$(dmsetup info -c --noheadings -o uuid "$m")" = "mpath-$wwid" ] && echo "$m"; done)
emit map "$map"
emit table_paths "$(dmsetup table "$map" | grep -o ' [0-9]*:[0-9]* ' | wc -l)"
emit ll "$(multipath -ll "$map" 2>&1)"
emit ll_which "$(command -v multipath)"
# udev's side of the create: the map's node and links made by Debian's own dm rules (55-dm,
# 60-persistent-storage-dm, multipath-tools' 56-dm-mpath), all to the map's dm node.
dmnode=$(readlink -f "/dev/mapper/$map")
emit dmnode "$dmnode"
for l in "/dev/mapper/$map" "/dev/disk/by-id/dm-uuid-mpath-$wwid" "/dev/disk/by-id/dm-name-$map" "/dev/disk/by-id/scsi-$wwid"; do
	wait_for 60 test -L "$l" || { emit link_missing "$l"; continue; }
	[ "$(readlink -f "$l")" = "$dmnode" ] || emit link_wrong "$l -> $(readlink -f "$l")"
done
# The cookie's semaphore is shared with udevd's workers only in one IPC namespace.
emit ipcns "$(readlink /proc/$(systemctl show -P MainPID mpathd)/ns/ipc) $(readlink /proc/$(systemctl show -P MainPID systemd-udevd)/ns/ipc)"
emit cookie_sems "$(ipcs -s | awk '$1 ~ /^0x0d4d/' | wc -l)"
# How long udev took: the create's cookie wait as mpathd logged it, and when the rules made the link.
emit cookie_timeouts "$(journalctl -b -u mpathd --no-pager -o short-unix | grep 'udev did not confirm' | sed 's/ mpathd-vm mpathd\[[0-9]*\]:.*waited=/ waited=/')"
emit link_made "$(find /dev/mapper -maxdepth 1 -name "$map" -printf '%C@')"
multipath -ll
journalctl -b -u mpathd --no-pager | tail -n 20
`,
	})
	checkBoot(t, res)
	if a := res.Get("active"); a != "active" {
		t.Errorf("systemctl is-active mpathd = %q, want active", a)
	}
	if d := res.Get("dracut"); !strings.HasPrefix(d, "dracut 059") {
		t.Errorf("dracut --version = %q, want dracut 059 (dracut-core) beside initramfs-tools", d)
	}
	if st := res.Get("initramfs_tools"); st != strings.Repeat("install ok installed", 3) {
		t.Errorf("initramfs-tools, dracut-core, multipath-tools status %q, want all installed", st)
	}
	if e := res.Get("multipathd_enabled"); e != "masked masked" {
		t.Errorf("multipathd.service/.socket %q, want masked masked (there for the migration drill, off by default)", e)
	}
	if a := res.Get("multipathd_active"); a != "inactive" {
		t.Errorf("multipathd.service is %q, want inactive", a)
	}
	if u := res.Get("unit"); !strings.HasSuffix(u, "/systemd/system/mpathd.service") {
		t.Errorf("mpathd.service comes from %q, want the repository's unit in /lib/systemd/system", u)
	}
	if e := res.Get("enabled"); e != "enabled" {
		t.Errorf("systemctl is-enabled mpathd = %q, want enabled", e)
	}
	if e := res.Get("mainpid_exe"); e != "/usr/sbin/mpathd" {
		t.Errorf("mpathd.service main process runs %q, want /usr/sbin/mpathd", e)
	}
	if n := res.Get("data_paths"); n != "2" {
		t.Errorf("scsi_debug paths = %q, want 2", n)
	}
	m := res.Get("map")
	if m == "" {
		t.Fatalf("no multipath map with uuid mpath-%s", res.Get("wwid"))
	}
	if n := res.Get("table_paths"); n != "2" {
		t.Errorf("map %s has %s paths in its table, want 2", m, n)
	}
	if w := res.Get("ll_which"); w != "/usr/local/sbin/multipath" {
		t.Errorf("multipath resolves to %q, want mpathd's /usr/local/sbin/multipath", w)
	}
	// multipath -ll names the WWID in parentheses only when the map has another name.
	head := m + " (" + res.Get("wwid") + ") dm-"
	if m == res.Get("wwid") {
		head = m + " dm-"
	}
	ll := strings.Split(res.Get("ll"), "\n")
	if !strings.HasPrefix(ll[0], head) || !strings.HasSuffix(ll[0], " Linux,scsi_debug") {
		t.Errorf("multipath -ll header %q, want %q", ll[0], head+"N Linux,scsi_debug")
	}
	if d := res.Get("dmnode"); !strings.HasPrefix(d, "/dev/dm-") {
		t.Errorf("/dev/mapper/%s resolves to %q, want a /dev/dm-N node made by udev", m, d)
	}
	for _, k := range []string{"link_missing", "link_wrong"} {
		if v := res.Get(k); v != "" {
			t.Errorf("%s: %s", k, v)
		}
	}
	if ns := strings.Fields(res.Get("ipcns")); len(ns) != 2 || ns[0] != ns[1] || !strings.HasPrefix(ns[0], "ipc:[") {
		t.Errorf("IPC namespaces of mpathd and systemd-udevd %q, want one shared namespace (the cookie semaphore lives there)", res.Get("ipcns"))
	}
	if n := res.Get("cookie_sems"); n != "0" {
		t.Errorf("%s cookie semaphores (key 0x0d4d....) left after the create, want 0", n)
	}
	// Not an error: under TCG on a loaded host the real Debian rules (dmsetup udevflags, multipath -U,
	// kpartx_id, blkid, dmsetup udevcomplete, each a process start of seconds) can take longer than
	// mpathd's 10 s bound; the map and its links are right either way (checked above).
	if c := res.Get("cookie_timeouts"); c != "" {
		t.Logf("mpathd's wait for udev's cookie ran out (link made at %s): %s", res.Get("link_made"), c)
	} else {
		t.Logf("udev confirmed the create's cookie within mpathd's bound (link made at %s)", res.Get("link_made"))
	}
	paths := 0
	for _, l := range ll {
		if strings.Contains(l, " sd") && strings.Contains(l, "active") {
			paths++
		}
	}
	if paths != 2 {
		t.Errorf("multipath -ll shows %d active paths, want 2:\n%s", paths, res.Get("ll"))
	}
}

// TestVMDebianRootPathPull pulls the root disk path that / is not mounted through (QMP device_del)
// while fio writes and verifies a file on the root file system, and plugs it back (device_add):
// mpathd, started by systemd, sees the root disk's path go and come back, and fio reports no error.
// Root itself stays on a plain sd device at this stage (no boot from a map yet).
func TestVMDebianRootPathPull(t *testing.T) {
	res := Run(t, Scenario{
		SAN: vm.SAN{None: true},
		Script: `
rwwid=3${ROOT_WWID#naa.}
# The root disk's paths as mpathd sees them: "sdX checker-state" per line.
daemon_root_paths() {
	multipathd show paths raw format "%d %w %T" 2>/dev/null | awk -v w="$rwwid" '$2 == w { print $1, $3 }' | sort
}
daemon_root_count() { [ "$(daemon_root_paths | grep -c ' ready$')" = "$1" ] && [ "$(daemon_root_paths | wc -l)" = "$1" ]; }
mounted=$(root_mounted)
pull=$(root_paths | awk -v m="$mounted" '$1 != m { print $2 }')
pulldev=$(root_paths | awk -v m="$mounted" '$1 != m { print $1 }')
emit root_paths "$(root_paths | wc -l)"
emit pull "$pull"
wait_for 60 daemon_root_count 2 || fail "mpathd does not show the root disk's 2 paths ready: $(multipathd show paths raw format '%d %w %t %T' 2>&1)"
emit before "$(daemon_root_paths | wc -l)"
fio --name=rootpull --filename=/var/tmp/rootpull.fio --size=16M --rw=randwrite --bs=4k \
	--ioengine=libaio --iodepth=4 --direct=1 --verify=crc32c --verify_backlog=64 --verify_fatal=1 \
	--time_based --runtime=40 --output=/tmp/fio.out &
fpid=$!
sleep 3
root_path_del "$pull"
wait_for 60 daemon_root_count 1 || fail "mpathd still shows: $(daemon_root_paths | tr '\n' ' ')"
emit during "$(daemon_root_paths | wc -l)"
emit during_gone "$(daemon_root_paths | grep -c "^$pulldev ")"
emit fio_running "$(kill -0 $fpid 2>/dev/null && echo yes || echo no)"
root_path_add "$pull"
wait_for 60 daemon_root_count 2 || fail "mpathd does not show 2 root paths ready after the replug: $(daemon_root_paths | tr '\n' ' ')"
emit after "$(daemon_root_paths | wc -l)"
wait $fpid
emit fio_rc "$?"
emit fio_errs "$(grep -o 'err= *[0-9]*' /tmp/fio.out | tr -d ' ' | sort -u | tr '\n' ' ' | sed 's/ $//')"
cat /tmp/fio.out
emit mpathd_active "$(systemctl is-active mpathd)"
journalctl -b -u mpathd --no-pager | tail -n 30
`,
	})
	checkBoot(t, res)
	if n := res.Get("root_paths"); n != "2" {
		t.Fatalf("the guest sees %s root disk paths, want 2", n)
	}
	pull := res.Get("pull")
	if pull != "root0" && pull != "root1" {
		t.Fatalf("path to pull = %q, want root0 or root1", pull)
	}
	for _, c := range []struct{ key, want string }{
		{"before", "2"}, {"during", "1"}, {"during_gone", "0"}, {"after", "2"},
		{"fio_running", "yes"}, {"fio_rc", "0"}, {"fio_errs", "err=0"}, {"mpathd_active", "active"},
	} {
		if got := res.Get(c.key); got != c.want {
			t.Errorf("%s = %q, want %q", c.key, got, c.want)
		}
	}
	want := []string{"device_del " + pull + " ok", "device_add " + pull + " ok"}
	if strings.Join(res.QMP, "; ") != strings.Join(want, "; ") {
		t.Errorf("host QMP actions %q, want %q", res.QMP, want)
	}
}
