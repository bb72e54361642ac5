package vm

import (
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestVMOrphanPath: a LUN seen through one path, which find_multipaths holds out of any map, is
// listed by Debian's multipathd client as an [orphan] path, as HPE and IBM PowerVS CSI expect; when
// its second path comes (a new scsi_debug host), the map is made and both paths are in it.
func TestVMOrphanPath(t *testing.T) {
	t.Parallel()
	s := multipathTools
	s.SAN = SAN{Hosts: 1, LUNs: 1}
	s.Udev = true
	s.Commands = []string{"./cmd/mpathd"}
	s.Script = daemonHelpers + `
M=333333330000007d0
start_mpathd
# run KEY CMD...: the command's output and exit status.
run() { k=$1; shift; out=$("$@" 2>&1); rc=$?; emit "$k" "$out"; emit "$k.rc" "$rc"; }
emit path "$(path_of 0 0)"
run orphan multipathd show paths raw format "%d %m"
run orphan_hpe multipathd show paths raw format "%w %d %t %i %o %T %c %s %m"
emit maps_before "$(dmsetup ls --target multipath)"
echo 1 > /sys/bus/pseudo/drivers/scsi_debug/add_host
wait_for 30 sh -c "[ \$(dmsetup table $M 2>/dev/null | grep -o ' [0-9]*:[0-9]* ' | wc -l) = 2 ]" || fail "no map of both paths after the second one came"
# The kernel has the map before the daemon publishes it: wait for the daemon's own view.
wait_for 30 sh -c "[ \$(multipathd show paths raw format '%m' | grep -c '^$M\$') = 2 ]" || fail "the daemon does not show both paths in the map"
emit path2 "$(path_of 0 1)"
run mapped multipathd show paths raw format "%d %m"
`
	res := Run(t, s)
	for _, k := range []string{"orphan", "orphan_hpe", "maps_before", "mapped"} {
		t.Logf("%s:\n%s", k, res.Get(k))
	}
	for _, k := range []string{"orphan", "orphan_hpe", "mapped"} {
		if rc := res.Get(k + ".rc"); rc != "0" {
			t.Errorf("multipathd %s: exit %s, output %q", k, rc, res.Get(k))
		}
	}
	p, p2 := res.Get("path"), res.Get("path2")
	if got, want := res.Get("orphan"), p+" [orphan]"; got != want {
		t.Errorf("show paths raw format \"%%d %%m\" with one path: %q, want %q", got, want)
	}
	re := `^333333330000007d0 ` + p + ` undef 0:0:0:0 unknown undef tur Linux,scsi_debug,\S+ \[orphan\]$`
	if got := res.Get("orphan_hpe"); !regexp.MustCompile(re).MatchString(got) {
		t.Errorf("show paths raw format (HPE) with one path: %q does not match %s", got, re)
	}
	if got := res.Get("maps_before"); got != "No devices found" {
		t.Errorf("a map was made of a single path: %q", got)
	}
	// Paths are listed in the daemon's order, which need not be the kernel names' order.
	mapped := strings.Split(res.Get("mapped"), "\n")
	sort.Strings(mapped)
	want := []string{p + " 333333330000007d0", p2 + " 333333330000007d0"}
	sort.Strings(want)
	if got := strings.Join(mapped, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("show paths raw format \"%%d %%m\" after the second path: %q, want %q", got, want)
	}
	for _, f := range res.Failures() {
		t.Error(f)
	}
}
