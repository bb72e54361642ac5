package vm

import (
	"strings"
	"testing"
)

// TestVMChecker4Kn proves directio and readsector0 on 4Kn LUNs: scsi_debug
// with 4096-byte logical blocks, the checkers' verdicts in
// pkg/checker/guest_test.go (TestGuest4Kn), and the daemon's own checker
// monitor: mpathd with path_checker directio makes the map with every
// accessible path up.
func TestVMChecker4Kn(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:        SAN{Hosts: 2, LUNs: 1, Extra: "sector_size=4096"},
		Commands:   []string{"./cmd/mpathd", "./cmd/mpathctl"},
		GuestTests: []string{"./pkg/checker"},
		WantPass:   []string{"checker.test TestGuest4Kn"},
		Script: `
emit lbs "$(cat /sys/block/sd*/queue/logical_block_size | sort -u)"
run_gotest /bin/checker.test -test.run '^TestGuest4Kn$'
emit summary "$(cat /tmp/checker.summary 2>/dev/null)"
mkdir -p /etc/mpathd
printf '[defaults]\npath_checker = "directio"\nfind_multipaths = "greedy"\n' > /etc/mpathd/mpathd.toml
mpathd >/tmp/mpathd.log 2>&1 &
wait_for 90 grep -q ready /tmp/mpathd.log
sleep 3
for d in /sys/block/sd*; do emit access "${d##*/} $(cat $d/device/access_state)"; done
emit paths "$(mpathctl show paths 2>&1)"
emit json "$(mpathctl --json show paths 2>&1)"
emit status "$(dmsetup status 2>&1)"
`,
	})
	t.Logf("guest summary:\n%s", res.Get("summary"))
	if got := res.Get("lbs"); got != "4096" {
		t.Errorf("logical block sizes %q, want 4096", got)
	}
	paths := res.Get("paths")
	t.Logf("mpathctl show paths:\n%s\ndmsetup status:\n%s", paths, res.Get("status"))
	if strings.Contains(res.Get("json"), "invalid argument") {
		t.Errorf("a checker read the wrong size:\n%s", res.Get("json"))
	}
	access := map[string]string{}
	for _, a := range res.All("access") {
		dev, state, _ := strings.Cut(a, " ")
		access[dev] = state
	}
	up := 0
	for _, line := range strings.Split(paths, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] == "HCIL" {
			continue
		}
		if f[3] == "" || f[3] == "-" {
			t.Errorf("path %s in no map: %s", f[1], line)
		}
		switch {
		case f[7] == "up":
			up++
		case access[f[1]] != "standby":
			t.Errorf("4Kn path %s (%s) is %s, want up: %s", f[1], access[f[1]], f[7], line)
		}
	}
	if up == 0 {
		t.Errorf("no 4Kn path up:\n%s", paths)
	}
}
