package vm

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestVMCommandNames proves the multipath and multipathd command names (one binary, cmd/multipath)
// on a real kernel: 3 hosts x 3 LUNs, LUN 1 blacklisted so its paths are not multipath paths.
// `multipathd CMD` and `multipathd -k` reach mpathd's multipathd socket; `multipath -ll` shows every
// map, group and path as dmsetup does, while the daemon runs and after it stopped; it prints the
// same topology as Debian's multipath-tools 0.9.4 `multipath -ll` on the same maps; -a/-w edit the
// wwids file (a failed path included); -C tells a map with usable paths from one without; -u/-c answer udev for a path and a
// non-path; -f flushes a map with the daemon down and through it; multipathd -d starts mpathd; -r, -W.
func TestVMCommandNames(t *testing.T) {
	t.Parallel()
	s := Scenario{
		SAN:       SAN{Hosts: 3, LUNs: 3},
		Timeout:   6 * time.Minute,
		Udev:      true, // Debian's multipath sees a path only with udev's properties (its blacklist exceptions)
		Commands:  []string{"./cmd/mpathd", "./cmd/multipath"},
		HostTools: []string{"/sbin/multipath"}, // the reference, as /sbin/multipath; ours is /bin/multipath
		HostFiles: []string{"/lib/multipath"},  // its checker and prioritizer plugins, for -ll
		Files: map[string][]byte{
			"/etc/mpathd/mpathd.toml": []byte("[defaults]\npolling_interval = 2\n[blacklist]\nwwid = [\"333333330000007d1\"]\n"),
		},
		Script: daemonHelpers + `
ln -sf multipath /bin/multipathd
MP=/bin/multipath
MPD=/bin/multipathd
REF=/sbin/multipath
start_mpathd
wait_for 60 sh -c '[ "$(dmsetup ls --target multipath | wc -l)" = 2 ]' || fail "mpathd made no maps"
# one polling interval, so every path has been checked and the kernel's groups have settled
sleep 3
P0=$(path_of 0 0); P1=$(path_of 1 0)
M0=333333330000007d0; M2=333333330000007d2

emit status "$($MPD show status)"; emit status_rc $?
emit kmaps "$($MPD -k'show maps')"; emit kmaps_rc $?
emit interactive "$(printf 'show daemon\n\nquit\nshow maps\n' | $MPD -k)"

emit dmtable "$(dmsetup table)"
emit dmstatus "$(dmsetup status)"
emit ll "$($MP -ll 2>/tmp/ll.err)"; emit ll_rc $?
emit ll_err "$(cat /tmp/ll.err)"
emit ref_ll "$($REF -ll 2>/tmp/ref.err)"; emit ref_rc $?
emit ref_err "$(cat /tmp/ref.err)"
emit l "$($MP -l)"
emit ref_l "$($REF -l 2>/dev/null)"
emit ll_one "$($MP -ll /dev/$P0)"
emit show_topology "$($MPD show topology)"

# A failed path: the non-optimized path of LUN 0 goes offline; mpathd fails it in the kernel.
PF=$(path_of 0 1)
echo offline > /sys/block/$PF/device/state
wait_for 30 sh -c "dmsetup status $M0 | grep -q '$(devt_of $PF) F'" || fail "mpathd did not fail $PF"
emit ll_failed "$($MP -ll 2>/dev/null)"
emit ref_ll_failed "$($REF -ll 2>/dev/null)"
emit l_failed "$($MP -l 2>/dev/null)"
emit ref_l_failed "$($REF -l 2>/dev/null)"
echo running > /sys/block/$PF/device/state

emit u_path "$($MP -u $P0)"; emit u_path_rc $?
emit u_nonpath "$($MP -u $P1)"; emit u_nonpath_rc $?
emit c_nonpath_rc "$($MP -c /dev/$P1 >/dev/null; echo $?)"
emit c_path_rc "$($MP -c /dev/$P0 >/dev/null; echo $?)"
emit U_rc "$($MP -U $(basename $(readlink -f /dev/mapper/$M0)); echo $?)"
emit t_head "$($MP -t | head -n 1)"
emit t_find "$($MP -t | grep -c 'find_multipaths')"
emit a "$($MP -a /dev/$P1)"
emit wwids_after_a "$(grep '^/' /etc/multipath/wwids)"
emit w "$($MP -w 333333330000007d1)"
emit wwids_after_w "$(grep '^/' /etc/multipath/wwids)"

kill $MPATHD_PID; wait $MPATHD_PID 2>/dev/null
emit down_rc "$($MPD show status >/dev/null 2>&1; echo $?)"
emit ll_down "$($MP -ll 2>/tmp/lld.err)"; emit ll_down_rc $?
emit ll_down_err "$(cat /tmp/lld.err)"
emit ref_ll_down "$($REF -ll 2>/dev/null)"
emit C_ok "$($MP -C $M0 2>&1; echo rc=$?)"
for h in 0 1 2; do echo offline > /sys/block/$(path_of 2 $h)/device/state; done
emit C_none "$($MP -C /dev/mapper/$M2 2>&1; echo rc=$?)"
for h in 0 1 2; do echo running > /sys/block/$(path_of 2 $h)/device/state; done
$MP -f $M2; emit f_rc $?
emit maps_after_f "$(dmsetup ls --target multipath | awk '{print $1}')"

# mpathd started under multipathd's name, as multipath-tools' unit starts multipathd.
$MPD -d -v2 > /tmp/md.log 2>&1 &
MDPID=$!
wait_for 90 sh -c "$MPD show daemon 2>/dev/null | grep -q '^pid'" || fail "multipathd -d: no daemon: $(tail -n 5 /tmp/md.log)"
emit md_comm "$(cat /proc/$MDPID/comm)"
wait_for 60 sh -c '[ "$(dmsetup ls --target multipath | wc -l)" = 2 ]' || fail "maps not rebuilt after multipathd -d"
$MP -f $M2; emit fd_rc $?
emit maps_after_fd "$(dmsetup ls --target multipath | awk '{print $1}')"
$MP -r; emit r_rc $?
$MP -a 3600DEADBEEF >/dev/null
emit W "$($MP -W)"; emit W_rc $?
emit wwids_after_W "$(grep '^/' /etc/multipath/wwids | sort)"
emit maps_for_W "$(dmsetup ls --target multipath | awk '{print "/" $1 "/"}' | sort)"
$MPD shutdown
wait_for 30 sh -c "! kill -0 $MDPID 2>/dev/null" && emit md_stopped yes
`,
	}
	res := Run(t, s)

	if res.Get("status_rc") != "0" || !strings.Contains(res.Get("status"), "busy: False") {
		t.Errorf("multipathd show status: rc %s\n%s", res.Get("status_rc"), res.Get("status"))
	}
	for _, m := range []string{"333333330000007d0", "333333330000007d2"} {
		if !strings.Contains(res.Get("kmaps"), m) {
			t.Errorf("multipathd -k'show maps' lacks %s: rc %s\n%s", m, res.Get("kmaps_rc"), res.Get("kmaps"))
		}
	}
	if in := res.Get("interactive"); !strings.HasPrefix(in, "pid ") || strings.Contains(in, "333333330000007d0") {
		t.Errorf("multipathd -k session (show daemon, quit, show maps): %q", in)
	}

	ll := res.Get("ll")
	t.Logf("multipath -ll (mpathd):\n%s\nmultipath -ll (multipath-tools):\n%s", ll, res.Get("ref_ll"))
	if res.Get("ll_rc") != "0" {
		t.Errorf("multipath -ll: rc %s: %s", res.Get("ll_rc"), res.Get("ll_err"))
	}
	checkListAgainstDmsetup(t, ll, res.Get("dmtable"), res.Get("dmstatus"), true)
	// With the daemon stopped, the same topology, read from the kernel alone.
	if res.Get("ll_down_rc") != "0" || normalizeSpace(res.Get("ll_down")) != normalizeSpace(ll) {
		t.Errorf("multipath -ll with mpathd stopped: rc %s (%s)\n%s\nwant\n%s", res.Get("ll_down_rc"), res.Get("ll_down_err"), res.Get("ll_down"), ll)
	}
	if !strings.Contains(res.Get("ll_down_err"), "not running") {
		t.Errorf("multipath -ll with mpathd stopped does not warn: %q", res.Get("ll_down_err"))
	}
	// The acceptance: multipath-tools' multipath -ll on the same maps prints the same topology. Only
	// whitespace is normalised (column widths: multipath-tools pads path columns over every path
	// it discovered, the blacklisted LUN's included).
	for _, c := range []struct{ ours, ref string }{{"ll", "ref_ll"}, {"ll_down", "ref_ll_down"}, {"l", "ref_l"},
		{"ll_failed", "ref_ll_failed"}, {"l_failed", "ref_l_failed"}} {
		if a, b := normalizeSpace(res.Get(c.ours)), normalizeSpace(res.Get(c.ref)); a != b || a == "" {
			t.Errorf("%s differs from multipath-tools (rc %s, %s):\n%s", c.ours, res.Get("ref_rc"), res.Get("ref_err"), lineDiff(a, b))
		}
	}
	if one := res.Get("ll_one"); !strings.HasPrefix(one, "333333330000007d0 ") || strings.Contains(one, "333333330000007d2") {
		t.Errorf("multipath -ll /dev/sdX: want only the path's map:\n%s", one)
	}
	t.Logf("multipathd show topology:\n%s", res.Get("show_topology"))
	t.Logf("multipath -ll with a failed path (mpathd):\n%s\n(multipath-tools):\n%s", res.Get("ll_failed"), res.Get("ref_ll_failed"))
	if !strings.Contains(res.Get("ll_failed"), " failed faulty offline") {
		t.Errorf("multipath -ll does not show the offline path failed and faulty:\n%s", res.Get("ll_failed"))
	}

	if res.Get("u_path") != `DM_MULTIPATH_DEVICE_PATH="1"` || res.Get("u_path_rc") != "0" {
		t.Errorf("multipath -u of a map's path: %q rc %s", res.Get("u_path"), res.Get("u_path_rc"))
	}
	if res.Get("u_nonpath") != `DM_MULTIPATH_DEVICE_PATH="0"` || res.Get("u_nonpath_rc") != "0" || res.Get("c_nonpath_rc") != "1" {
		t.Errorf("multipath -u/-c of a blacklisted LUN's path: %q rc %s, -c rc %s", res.Get("u_nonpath"), res.Get("u_nonpath_rc"), res.Get("c_nonpath_rc"))
	}
	if res.Get("c_path_rc") != "0" || res.Get("U_rc") != "0" {
		t.Errorf("multipath -c of a map's path: rc %s; -U of its map: rc %s; want 0", res.Get("c_path_rc"), res.Get("U_rc"))
	}
	if res.Get("t_head") != "defaults {" || res.Get("t_find") == "0" {
		t.Errorf("multipath -t: first line %q, find_multipaths lines %s", res.Get("t_head"), res.Get("t_find"))
	}
	if res.Get("a") != "wwid '333333330000007d1' added" || !strings.Contains(res.Get("wwids_after_a"), "/333333330000007d1/") {
		t.Errorf("multipath -a: %q, file %q", res.Get("a"), res.Get("wwids_after_a"))
	}
	if res.Get("w") != "wwid '333333330000007d1' removed" || strings.Contains(res.Get("wwids_after_w"), "7d1") {
		t.Errorf("multipath -w: %q, file %q", res.Get("w"), res.Get("wwids_after_w"))
	}
	if res.Get("down_rc") != "1" {
		t.Errorf("multipathd show status with the daemon stopped: rc %s, want 1", res.Get("down_rc"))
	}
	if c := res.Get("C_ok"); !strings.HasSuffix(c, "rc=0") {
		t.Errorf("multipath -C of a healthy map: %q", c)
	}
	if c := res.Get("C_none"); !strings.HasSuffix(c, "rc=1") || !strings.Contains(c, "no usable paths") {
		t.Errorf("multipath -C of a map whose paths are all offline: %q", c)
	}
	if res.Get("f_rc") != "0" || res.Get("maps_after_f") != "333333330000007d0" {
		t.Errorf("multipath -f with the daemon stopped: rc %s, maps left %q", res.Get("f_rc"), res.Get("maps_after_f"))
	}
	// multipathd -d execs mpathd (same process), which serves the socket.
	if res.Get("md_comm") != "mpathd" {
		t.Errorf("multipathd -d: process is %q, want mpathd", res.Get("md_comm"))
	}
	if res.Get("fd_rc") != "0" || res.Get("maps_after_fd") != "333333330000007d0" {
		t.Errorf("multipath -f through the daemon: rc %s, maps left %q", res.Get("fd_rc"), res.Get("maps_after_fd"))
	}
	if res.Get("r_rc") != "0" {
		t.Errorf("multipath -r: rc %s", res.Get("r_rc"))
	}
	if res.Get("W") != "successfully reset wwids" || res.Get("W_rc") != "0" || res.Get("wwids_after_W") != res.Get("maps_for_W") {
		t.Errorf("multipath -W: %q rc %s, file %q, maps %q", res.Get("W"), res.Get("W_rc"), res.Get("wwids_after_W"), res.Get("maps_for_W"))
	}
	if res.Get("md_stopped") != "yes" {
		t.Errorf("multipathd shutdown did not stop the daemon started as multipathd -d")
	}
}

// normalizeSpace collapses every run of blanks to one space and drops blank lines: the column
// widths of two programs' tables are allowed to differ, nothing else.
func normalizeSpace(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, strings.Join(f, " "))
		}
	}
	return strings.Join(out, "\n")
}

func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var d strings.Builder
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		mark := " "
		if x != y {
			mark = "!"
		}
		fmt.Fprintf(&d, "%s ours: %s\n%s  ref: %s\n", mark, x, mark, y)
	}
	return d.String()
}

// checkListAgainstDmsetup checks a multipath -l/-ll listing against the kernel's own account: every
// multipath map is there, with its groups in table order, each group's state as the status line
// gives it, and each group's paths (by MAJ:MIN, in order) with their A/F state.
func checkListAgainstDmsetup(t *testing.T, list, tables, statuses string, checked bool) {
	t.Helper()
	type group struct {
		state string
		paths []string // "MAJ:MIN dmstate"
	}
	want := map[string][]group{}
	for _, line := range strings.Split(tables, "\n") {
		name, rest, ok := strings.Cut(line, ": ")
		f := strings.Fields(rest)
		if !ok || len(f) < 3 || f[2] != "multipath" {
			continue
		}
		want[name] = nil
	}
	for _, line := range strings.Split(statuses, "\n") {
		name, rest, ok := strings.Cut(line, ": ")
		if _, mp := want[name]; !ok || !mp {
			continue
		}
		f := strings.Fields(rest)[3:] // start length target
		i := 0
		next := func() string {
			if i >= len(f) {
				return ""
			}
			i++
			return f[i-1]
		}
		skip := func() { n := atoi(next()); i += n }
		skip() // features
		skip() // hw handler
		ng := atoi(next())
		next() // current group
		var gs []group
		for range ng {
			g := group{state: map[string]string{"A": "active", "E": "enabled", "D": "disabled"}[next()]}
			skip() // selector status
			np, npa := atoi(next()), atoi(next())
			for range np {
				dev, st := next(), next()
				i += 1 + npa // fail count, then the selector's words
				g.paths = append(g.paths, dev+" "+map[string]string{"A": "active", "F": "failed"}[st])
			}
			gs = append(gs, g)
		}
		want[name] = gs
	}
	got := map[string][]group{}
	var cur string
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case !strings.ContainsAny(line[:1], "|` ") && !strings.HasPrefix(line, "size="):
			cur = f[0]
			got[cur] = nil
		case strings.Contains(line, "policy="):
			st := line[strings.LastIndex(line, "status=")+len("status="):]
			got[cur] = append(got[cur], group{state: st})
		case len(f) >= 6 && strings.Contains(line, "- "):
			// "| |- 0:0:0:0 sda 8:0 active ready running": the last five fields are hcil dev devt dm chk dev
			n := len(f)
			g := &got[cur][len(got[cur])-1]
			g.paths = append(g.paths, f[n-4]+" "+f[n-3])
			if checked && (f[n-2] == "undef" || f[n-2] == "faulty") {
				t.Errorf("path %s of %s: checker state %s on a healthy SAN", f[n-5], cur, f[n-2])
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listing against dmsetup:\n got %v\nwant %v\nlisting:\n%s", got, want, list)
	}
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}
