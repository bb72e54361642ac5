package vm

import (
	"strings"
	"testing"
)

// multipathTools is Debian's multipath-tools as a guest needs it: the programs (their libraries come
// through ldd), the checker and prioritizer plugins it dlopens from /lib/multipath, and its udev
// rules (already in /lib/udev when udev is on).
var multipathTools = Scenario{
	HostTools: []string{"/sbin/multipathd", "/sbin/multipath"},
	HostFiles: []string{"/lib/multipath"},
}

// TestVMHostTools proves Scenario.HostTools and HostFiles with Debian's multipath-tools in the guest:
// multipath -t prints its configuration, multipathd builds a map over the SAN's two paths, and
// the paths are checked by the tur plugin (so the dlopen'ed plugins and their libraries are there).
func TestVMHostTools(t *testing.T) {
	t.Parallel()
	s := multipathTools
	s.SAN = SAN{Hosts: 2, LUNs: 1}
	s.Udev = true
	s.Script = `
emit version "$(multipath -h 2>&1 | head -n 1)"
emit conf_head "$(multipath -t 2>&1 | head -n 1)"
printf 'defaults {\n\tfind_multipaths no\n\tuser_friendly_names yes\n\tpath_checker tur\n}\n' >/etc/multipath.conf
multipathd -d -s >/tmp/multipathd.log 2>&1 &
wait_for 60 sh -c 'multipathd show maps raw format "%n" | grep -q mpatha' || fail "multipathd made no map: $(tail -n 20 /tmp/multipathd.log)"
wait_for 30 sh -c '[ "$(multipathd show paths raw format "%t %T" | grep -c "active ready")" = 2 ]' || fail "paths not both checked ready"
emit daemon "$(multipathd show daemon)"
emit maps "$(multipathd show maps raw format '%n %w %N')"
emit paths "$(multipathd show paths raw format '%d %t %T %s' | sort)"
emit target "$(dmsetup table mpatha | awk '{print $3}')"
`
	res := Run(t, s)
	if v := res.Get("version"); !strings.HasPrefix(v, "multipath-tools v0.9") {
		t.Errorf("multipath -h: %q, want multipath-tools v0.9…", v)
	}
	if c := res.Get("conf_head"); c != "defaults {" {
		t.Errorf("multipath -t first line: %q, want \"defaults {\"", c)
	}
	if d := res.Get("daemon"); !strings.HasPrefix(d, "pid ") || !strings.HasSuffix(d, " idle") {
		t.Errorf("multipathd show daemon: %q, want \"pid N idle\"", d)
	}
	if m := res.Get("maps"); m != "mpatha 333333330000007d0 2" {
		t.Errorf("multipathd show maps: %q, want \"mpatha 333333330000007d0 2\"", m)
	}
	paths := strings.Split(res.Get("paths"), "\n")
	if len(paths) != 2 {
		t.Fatalf("multipathd show paths: %q, want 2 paths", res.Get("paths"))
	}
	for _, p := range paths {
		f := strings.Fields(p)
		if len(f) < 3 || f[1] != "active" || f[2] != "ready" || !strings.HasPrefix(f[0], "sd") {
			t.Errorf("path %q, want sdX active ready", p)
		}
	}
	if tgt := res.Get("target"); tgt != "multipath" {
		t.Errorf("dmsetup table mpatha target %q, want multipath", tgt)
	}
}
