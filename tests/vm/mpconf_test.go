package vm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/dm"
)

// mpconfCorpus is where the multipath.conf corpus lives (one directory per case, with
// multipath.conf and an optional conf.d).
const mpconfCorpus = "../../pkg/config/mpconf/testdata"

// mpconfScript runs each case in the same boot: Debian's multipathd reads the case's files and
// builds its maps; their names and tables are recorded; it stops and its maps are flushed; the
// bindings and wwids files it wrote are removed; then mpathd, with no mpathd.toml, reads the same
// files and its maps are recorded the same way.
const mpconfScript = `
tables() { dmsetup table --target multipath 2>/dev/null | grep -v '^No devices' | sort; }
# stable: print the tables once two reads a second apart agree (a daemon may still be settling).
stable() {
	prev=$(tables); i=0
	while [ $i -lt 15 ]; do
		sleep 1; cur=$(tables)
		[ "$cur" = "$prev" ] && break
		prev=$cur; i=$((i+1))
	done
	printf '%s\n' "$cur"
}
no_maps() { [ -z "$(tables)" ]; }
flush_maps() {
	multipath -F >/dev/null 2>&1
	wait_for 20 no_maps || { dmsetup remove_all >/dev/null 2>&1; wait_for 10 no_maps; } || fail "maps left after flush: $(tables)"
}
install_case() {
	rm -rf /etc/multipath /etc/multipath.conf /etc/mpathd
	mkdir -p /etc/multipath/conf.d
	cp /corpus/$1/multipath.conf /etc/multipath.conf
	for f in /corpus/$1/conf.d/*; do [ -f "$f" ] && cp "$f" /etc/multipath/conf.d/; done
}
run_case() {
	c=$1
	install_case $c
	multipathd -d -s >/tmp/mt.$c.log 2>&1 &
	MT=$!
	wait_for 90 sh -c 'multipathd show daemon 2>/dev/null | grep -q idle' || fail "$c: multipathd not idle: $(tail -n 5 /tmp/mt.$c.log)"
	emit "mt.$c" "$(stable)"
	emit "mtlog.$c" "$(grep -v '^$' /tmp/mt.$c.log | tail -n 40)"
	multipathd shutdown >/dev/null 2>&1
	wait $MT
	flush_maps
	rm -f /etc/multipath/bindings /etc/multipath/wwids
	: > /tmp/mp.$c.log
	mpathd --log-format json -multipathd-socket=false >/tmp/mp.$c.log 2>&1 &
	MP=$!
	wait_for 90 grep -q '"message":"ready"' /tmp/mp.$c.log || fail "$c: mpathd not ready: $(tail -n 5 /tmp/mp.$c.log)"
	emit "mp.$c" "$(stable)"
	emit "mpstatus.$c" "$(mpathctl show status --json)"
	for m in $(dmsetup ls --target multipath | awk '{print $1}'); do
		emit "explain.$c.$m" "$(mpathctl config explain $m)"
	done
	if [ $c = vm-scsi-debug ]; then
		# A reconfigure rereads multipath.conf (there is still no mpathd.toml).
		sed -i 's/queue-length 0/round-robin 0/' /etc/multipath.conf
		mpathctl reconfigure >/dev/null || fail "$c: reconfigure"
		wait_for 30 sh -c 'dmsetup table sd_alias | grep -q round-robin' || fail "$c: reconfigure did not apply: $(dmsetup table sd_alias)"
		emit "reconf.$c" "$(dmsetup table sd_alias)"
	fi
	kill $MP
	wait $MP
	flush_maps
}
emit vendor "$(cat /sys/block/$(san_paths | head -n 1 | cut -d' ' -f1)/device/vendor | tr -d ' ')"
for c in $CASES; do run_case $c; done
`

// TestVMMultipathConf is the acceptance of multipath.conf support: for every corpus case, mpathd
// reading /etc/multipath.conf (and conf.d) builds the same maps, under the same names and with the
// same tables, as Debian's multipathd 0.9.4 reading the same files in the same boot. The corpus is
// split over two guests to halve the wall time.
func TestVMMultipathConf(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob(filepath.Join(mpconfCorpus, "*", "multipath.conf"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no corpus in %s: %v", mpconfCorpus, err)
	}
	var cases []string
	files := map[string][]byte{}
	for _, p := range dirs {
		dir := filepath.Dir(p)
		c := filepath.Base(dir)
		cases = append(cases, c)
		matches, _ := filepath.Glob(filepath.Join(dir, "conf.d", "*"))
		for _, f := range append(matches, p) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(mpconfCorpus, f)
			files["/corpus/"+filepath.ToSlash(rel)] = data
		}
	}
	// MPATHD_MPCONF_CASES="a b" runs only those cases (while working on one).
	if only := strings.Fields(os.Getenv("MPATHD_MPCONF_CASES")); len(only) > 0 {
		cases = slices.DeleteFunc(cases, func(c string) bool { return !slices.Contains(only, c) })
	}
	half := (len(cases) + 1) / 2
	for i, part := range [][]string{cases[:half], cases[half:]} {
		t.Run([]string{"a", "b"}[i], func(t *testing.T) {
			t.Parallel()
			s := multipathTools
			s.SAN = SAN{Hosts: 2, LUNs: 4}
			s.Udev = true
			s.Commands = []string{"./cmd/mpathd", "./cmd/mpathctl"}
			s.Files = files
			s.Timeout = 25 * time.Minute
			s.Script = "CASES='" + strings.Join(part, " ") + "'\n" + mpconfScript
			if len(part) == 0 {
				t.Skip("no case selected")
			}
			res := Run(t, s)
			for _, c := range part {
				checkMpconfCase(t, res, c)
				checkMpconfReport(t, res, c)
			}
		})
	}
}

// mpconfVendors are the INQUIRY identities the vendor cases are written for: scsi_debug answers
// with them, so each file's device section and each daemon's hardware table entry apply.
var mpconfVendors = map[string][2]string{
	"netapp-ontap":     {"NETAPP", "LUN"},
	"pure-flasharray":  {"PURE", "FlashArray"},
	"dell-powerstore":  {"DellEMC", "PowerStore"},
	"dell-unity":       {"DGC", "VRAID"},
	"dell-powermax":    {"EMC", "SYMMETRIX"},
	"hpe-3par-primera": {"3PARdata", "VV"},
	"hpe-nimble":       {"Nimble", "Server"},
	"ibm-svc":          {"IBM", "2145"},
	"ibm-ds8k":         {"IBM", "2107900"},
	"hitachi-vsp":      {"HITACHI", "OPEN-V"},
	"confd-dropins":    {"PURE", "FlashArray"},
}

// TestVMMultipathConfVendors is TestVMMultipathConf with the SAN posing as each vendor's array,
// one boot per identity, so the comparison covers the device sections and the hardware tables.
func TestVMMultipathConfVendors(t *testing.T) {
	t.Parallel()
	only := strings.Fields(os.Getenv("MPATHD_MPCONF_CASES"))
	for c, id := range mpconfVendors {
		if len(only) > 0 && !slices.Contains(only, c) {
			continue
		}
		t.Run(c, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(mpconfCorpus, c)
			files := map[string][]byte{}
			matches, _ := filepath.Glob(filepath.Join(dir, "conf.d", "*"))
			for _, f := range append(matches, filepath.Join(dir, "multipath.conf")) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				rel, _ := filepath.Rel(mpconfCorpus, f)
				files["/corpus/"+filepath.ToSlash(rel)] = data
			}
			s := multipathTools
			s.SAN = SAN{Hosts: 2, LUNs: 2, Extra: "inq_vendor=" + id[0] + " inq_product=" + id[1]}
			s.Udev = true
			s.Commands = []string{"./cmd/mpathd", "./cmd/mpathctl"}
			s.Files = files
			s.Timeout = 10 * time.Minute
			s.Script = "CASES=" + c + "\n" + mpconfScript
			res := Run(t, s)
			checkMpconfCase(t, res, c)
			if got := res.Get("vendor"); got != "" && got != id[0] {
				t.Errorf("the SAN's vendor is %q, want %q", got, id[0])
			}
		})
	}
}

func checkMpconfCase(t *testing.T, res *Result, c string) {
	t.Helper()
	lines := func(key string) []string {
		var out []string
		for _, l := range strings.Split(res.Get(key), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	mt, mp := lines("mt."+c), lines("mp."+c)
	t.Logf("%s: multipathd %d maps, mpathd %d maps:\n%s", c, len(mt), len(mp), strings.Join(mp, "\n"))
	// Both daemons drive the same kernel, so the same layout gives byte-identical `dmsetup table`
	// lines (names, sizes, features, handler, groups, paths, arguments).
	if slices.Equal(mt, mp) {
		return
	}
	// One normalisation, and only when the lines differ: the order of paths inside one group.
	// multipathd keeps the order of its startup scan (udev's, by sysfs path, i.e. by H:C:T:L);
	// mpathd keeps its discovery order (by kernel name), and the kernel names sd devices in the
	// order the hosts' parallel scans finish, so the two orders differ from boot to boot. The
	// selector picks among a group's paths by its own rule (least service time, rotation), so
	// the order decides only which path takes the first I/O. The difference is logged, not hidden.
	nmt, nmp := pathOrderFree(t, mt), pathOrderFree(t, mp)
	if slices.Equal(nmt, nmp) {
		t.Logf("%s: same tables but for the order of paths inside a group:\nmultipathd:\n%s\nmpathd:\n%s",
			c, strings.Join(mt, "\n"), strings.Join(mp, "\n"))
		return
	}
	// A difference mpathd makes on purpose (README, "Differences from multipathd"): multipathd
	// orders groups by the priorities of the moment and counts a path that is down when it builds
	// the table as priority 0, so a path still failed at startup puts its group last; mpathd
	// orders by each path's known priority. Accepted only when the groups are the same and
	// multipathd's own log shows one of the map's paths reinstated after it built the table.
	if ngt, ngp := groupOrderFree(t, nmt), groupOrderFree(t, nmp); slices.Equal(ngt, ngp) && downAtAddmap(mt, mp, res.Get("mtlog."+c)) {
		t.Logf("%s: same groups in another order; multipathd built the table while a path was down (its log: %q)",
			c, res.Get("mtlog."+c))
		return
	}
	for _, l := range mt {
		if !slices.Contains(mp, l) {
			t.Errorf("%s: multipathd only: %s", c, l)
		}
	}
	for _, l := range mp {
		if !slices.Contains(mt, l) {
			t.Errorf("%s: mpathd only:     %s", c, l)
		}
	}
	t.Logf("%s: multipathd log:\n%s", c, res.Get("mtlog."+c))
}

// pathOrderFree rewrites "name: start length multipath PARAMS" lines with each group's paths
// sorted by device number.
func pathOrderFree(t *testing.T, lines []string) []string {
	var out []string
	for _, l := range lines {
		name, rest, _ := strings.Cut(l, ": ")
		f := strings.SplitN(rest, " ", 4)
		if len(f) < 4 || f[2] != "multipath" {
			out = append(out, l)
			continue
		}
		tb, err := dm.ParseTable(f[3])
		if err != nil {
			t.Errorf("dmsetup table line %q: %v", l, err)
			out = append(out, l)
			continue
		}
		for _, g := range tb.Groups {
			slices.SortFunc(g.Paths, func(a, b dm.Path) int { return strings.Compare(a.Dev, b.Dev) })
		}
		out = append(out, name+": "+strings.Join(f[:3], " ")+" "+tb.String())
	}
	slices.Sort(out)
	return out
}

// checkMpconfReport: what mpathd read is visible. Its status names the files and the warnings
// (keywords it does not implement, with file:line), and config explain gives every value's file:line.
func checkMpconfReport(t *testing.T, res *Result, c string) {
	t.Helper()
	var st struct {
		ConfigFile     string   `json:"config_file"`
		ConfigFiles    []string `json:"config_files"`
		ConfigWarnings []string `json:"config_warnings"`
	}
	if err := json.Unmarshal([]byte(res.Get("mpstatus."+c)), &st); err != nil {
		t.Errorf("%s: mpathctl show status --json: %v: %q", c, err, res.Get("mpstatus."+c))
		return
	}
	if st.ConfigFile != "/etc/multipath.conf" {
		t.Errorf("%s: status config_file %q, want /etc/multipath.conf", c, st.ConfigFile)
	}
	switch c {
	case "confd-dropins":
		want := []string{"/etc/multipath.conf", "/etc/multipath/conf.d/10-pure.conf", "/etc/multipath/conf.d/20-site.conf", "/etc/multipath/conf.d/99-blacklist.conf"}
		if !slices.Equal(st.ConfigFiles, want) {
			t.Errorf("%s: status config_files %q, want %q", c, st.ConfigFiles, want)
		}
	case "hpe-3par-primera":
		if !slices.ContainsFunc(st.ConfigWarnings, func(w string) bool {
			return strings.HasPrefix(w, "/etc/multipath.conf:") && strings.Contains(w, "vpd_vendor: not implemented by mpathd")
		}) {
			t.Errorf("%s: status warnings %q lack vpd_vendor", c, st.ConfigWarnings)
		}
	case "vm-scsi-debug":
		if r := res.Get("reconf." + c); !strings.Contains(r, " round-robin 0 ") {
			t.Errorf("%s: after editing multipath.conf and mpathctl reconfigure, sd_alias is %q, want round-robin", c, r)
		}
		ex := res.Get("explain." + c + ".sd_alias")
		for _, want := range []string{
			`path_selector  "queue-length 0"  multipaths[wwid=333333330000007d1] (/etc/multipath.conf:25)`,
			`rr_min_io_rq   3                 devices[vendor=Linux,product=scsi_debug] (/etc/multipath.conf:14)`,
		} {
			if !strings.Contains(strings.Join(strings.Fields(ex), " "), strings.Join(strings.Fields(want), " ")) {
				t.Errorf("%s: config explain sd_alias lacks %q:\n%s", c, want, ex)
			}
		}
	}
}

// groupOrderFree rewrites path-order-free lines with their groups sorted too.
func groupOrderFree(t *testing.T, lines []string) []string {
	var out []string
	for _, l := range lines {
		name, rest, _ := strings.Cut(l, ": ")
		f := strings.SplitN(rest, " ", 4)
		tb, err := dm.ParseTable(f[len(f)-1])
		if len(f) < 4 || err != nil {
			out = append(out, l)
			continue
		}
		key := func(g dm.Group) string { return fmt.Sprint(g.Selector, g.SelectorArgs, g.Paths) }
		slices.SortFunc(tb.Groups, func(a, b dm.Group) int { return strings.Compare(key(a), key(b)) })
		out = append(out, name+": "+strings.Join(f[:3], " ")+" "+tb.String())
	}
	slices.Sort(out)
	return out
}

// downAtAddmap reports whether multipathd's log shows a path of a map whose table differs
// ("8:0: reinstated") coming back after the map was built.
func downAtAddmap(mt, mp []string, log string) bool {
	for _, l := range mt {
		if slices.Contains(mp, l) {
			continue
		}
		for _, w := range strings.Fields(l) {
			if strings.Count(w, ":") == 1 && strings.Contains(log, w+": reinstated") {
				return true
			}
		}
	}
	return false
}

// TestPathOrderFree runs on the host: the normalisation equates only tables whose groups hold the
// same paths with the same arguments.
func TestPathOrderFree(t *testing.T) {
	a := []string{"mpatha: 0 32768 multipath 1 queue_if_no_path 1 alua 1 1 service-time 0 2 2 8:16 1 1 8:0 1 1"}
	b := []string{"mpatha: 0 32768 multipath 1 queue_if_no_path 1 alua 1 1 service-time 0 2 2 8:0 1 1 8:16 1 1"}
	if !slices.Equal(pathOrderFree(t, a), pathOrderFree(t, b)) {
		t.Errorf("path order not normalised: %q vs %q", pathOrderFree(t, a), pathOrderFree(t, b))
	}
	for _, other := range []string{
		"mpatha: 0 32768 multipath 1 queue_if_no_path 1 alua 2 1 service-time 0 1 2 8:0 1 1 service-time 0 1 2 8:16 1 1",
		"mpatha: 0 32768 multipath 1 queue_if_no_path 1 alua 1 1 service-time 0 2 2 8:0 1 1 8:16 2 1",
		"mpathb: 0 32768 multipath 1 queue_if_no_path 1 alua 1 1 service-time 0 2 2 8:0 1 1 8:16 1 1",
		"mpatha: 0 32768 multipath 0 1 alua 1 1 service-time 0 2 2 8:0 1 1 8:16 1 1",
	} {
		if slices.Equal(pathOrderFree(t, a), pathOrderFree(t, []string{other})) {
			t.Errorf("%q normalised equal to %q", other, a[0])
		}
	}
}

// TestGroupOrderFree runs on the host: the group-order exception needs the same groups and
// multipathd's log of a path reinstated after the table was built.
func TestGroupOrderFree(t *testing.T) {
	mt := []string{"mpatha: 0 32768 multipath 1 queue_if_no_path 1 alua 2 1 service-time 0 1 2 8:32 1 1 service-time 0 1 2 8:0 1 1"}
	mp := []string{"mpatha: 0 32768 multipath 1 queue_if_no_path 1 alua 2 1 service-time 0 1 2 8:0 1 1 service-time 0 1 2 8:32 1 1"}
	if !slices.Equal(groupOrderFree(t, mt), groupOrderFree(t, mp)) {
		t.Errorf("group order not normalised")
	}
	if !downAtAddmap(mt, mp, "mpatha: addmap [...]\n8:0: reinstated\n") {
		t.Error("reinstated path not found")
	}
	if downAtAddmap(mt, mp, "mpatha: addmap [...]\n") || downAtAddmap(mt, mt, "8:0: reinstated") {
		t.Error("exception taken without a reinstated path of a differing map")
	}
	other := []string{"mpatha: 0 32768 multipath 1 queue_if_no_path 1 alua 2 1 service-time 0 1 2 8:0 1 1 service-time 0 1 2 8:16 1 1"}
	if slices.Equal(groupOrderFree(t, mt), groupOrderFree(t, other)) {
		t.Error("different groups normalised equal")
	}
}
