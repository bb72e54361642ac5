package vm

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Guest shell helpers of the selector scenario.
const selectorHelpers = `
start_mpathd() {
	mpathd --log-format json "$@" >> /tmp/mpathd.log 2>&1 &
	MPATHD_PID=$!
	wait_for 90 grep -q '"message":"ready"' /tmp/mpathd.log || fail "mpathd did not get ready"
}
now() { cut -d' ' -f1 /proc/uptime; }
path_of() { sd_of "$2:0:0:$1"; }
reads() { awk '{print $1}' /sys/block/$1/stat; }
# conf SELECTOR WEIGHT_UPDATE: one group of both paths, fast ticks, weights at most every 5 s.
conf() {
	printf '[defaults]\npolling_interval = 1\ndetect_pgpolicy = false\npath_grouping_policy = "multibus"\npath_selector = "%s"\nweight_update = %s\nweight_min_interval = "5s"\n' "$1" "$2" > /tmp/sel.toml
}
# phase NAME: the map's read workload, 12 s warm-up then 36 s measured by fio, by the block
# layer's own counters (read I/Os of the idle path and of the map) and by mpathctl every 3 s (each
# mpathctl run costs the TCG guest CPU the workload would use, so not more often) until fio's
# window closes.
phase() {
	fio --name=map --filename=/dev/mapper/$M --direct=1 --rw=randread --bs=4k --iodepth=2 --ioengine=libaio \
		--time_based --ramp_time=12 --runtime=36 --output-format=json > /tmp/$1.json 2>/tmp/$1.err &
	F=$!
	end=$(awk -v t="$(now)" 'BEGIN { print t + 47 }')
	sleep 12
	i1=$(reads $P1); id=$(reads $DM); t0=$(now)
	for i in 1 2 3 4 5 6 7 8 9 10; do
		sleep 3
		# Only samples inside fio's measured window count: on a loaded host the mpathctl runs
		# stretch the loop past it, and a sample of the idle map would dilute the comparison.
		awk -v t="$(now)" -v e="$end" 'BEGIN { exit !(t < e) }' && [ ! -s /tmp/$1.json ] || break
		emit "stats.$1" "$(mpathctl show stats --json)"
		emit "raw.$1" "$(now) $(reads $P0) $(reads $P1) $(reads $DM)"
	done
	wait $F || fail "fio on the map ($1): $(cat /tmp/$1.err)"
	emit "delta.$1" "$(($(reads $P1) - i1)) $(($(reads $DM) - id))"
	emit "fio.$1" "$(cat /tmp/$1.json)"
}
`

// TestVMSelector proves the polling core on kernel 6.1 with a busy cable: one of the map's two
// paths (P0) also carries another read workload (16 deep) issued on the path device itself, and
// P0's shallow device queue (queue_depth 4, scsi_debug answering in 1 ms) is what that workload
// keeps full. The map's own workload is latency-bound (2 deep), the case where measured weights
// matter most in pkg/selector's simulator. The map runs with round-robin, then (configuration
// change and SIGHUP) with the kernel's service-time alone (weight_update off, every weight 1), then
// with service-time and measured weights (weight_update on).
//
// Oracles independent of mpathd: the block layer's read counters of the idle path and of the map,
// fio's own IOPS, dmsetup table. The busy path's share of the map's I/O is 1 − idle/map: the busy
// path's own counters cannot be used, because the request-based clones the kernel fails to issue
// on a full queue (and requeues) are counted there as completed reads. The test checks that the
// share falls under service-time with weights, that mpathctl's map IOPS agree with fio within 10%, that weights
// reach the live table only weight_min_interval after the switch and no more often than that, and
// that a restart of the daemon reloads nothing.
func TestVMSelector(t *testing.T) {
	// Not parallel: it measures throughput, and another emulated guest on the same cores would skew
	// fio's figures against the daemon's.
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 1, Extra: "ndelay=1000000"},
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Timeout:  5 * time.Minute,
		Script: selectorHelpers + `
M=333333330000007d0
P0=$(path_of 0 0); P1=$(path_of 0 1)
echo 4 > /sys/block/$P0/device/queue_depth
conf "round-robin 0" true
start_mpathd --config /tmp/sel.toml
DM=dm-$(dmsetup info -c --noheadings -o minor $M | tr -d ' ')
emit devs "$P0 $P1 $DM $(cat /sys/block/$P0/dev) $(cat /sys/block/$P1/dev)"
emit table.rr "$(dmsetup table $M)"
fio --name=busy --filename=/dev/$P0 --direct=1 --rw=randread --bs=4k --iodepth=16 --ioengine=libaio \
	--time_based --runtime=600 --output-format=json > /tmp/busy.json 2>&1 &
B=$!
phase rr

( while :; do echo "$(now) $(dmsetup table $M)"; sleep 1; done ) > /tmp/tables &
T=$!
# The kernel's service-time alone (every weight 1), then with measured weights.
conf "service-time 0" false
kill -HUP $MPATHD_PID
wait_for 10 sh -c "dmsetup table $M | grep -q service-time" || fail "SIGHUP did not switch the map to service-time"
phase st1
conf "service-time 0" true
emit hup "$(now)"
kill -HUP $MPATHD_PID
phase st
kill $T
emit tables "$(cat /tmp/tables)"
emit weight_log "$(grep '"path weights changed"' /tmp/mpathd.log)"
kill $B; wait $B
emit busy "$(grep -m1 '"iops"' /tmp/busy.json)"

# A restart adopts the weighted map and reloads nothing.
before="$(dmsetup table $M)"
kill $MPATHD_PID; wait $MPATHD_PID
: > /tmp/mpathd.log
start_mpathd --config /tmp/sel.toml
check_eq table_after_restart "$(dmsetup table $M)" "$before"
emit reloads_after_restart "$(grep -c '"table reloaded"' /tmp/mpathd.log)"
# Later, the planner may push weights measured since the restart (the partition-table read on
# adoption is I/O): a change then must be the planner's, logged as such.
sleep 8
if [ "$(dmsetup table $M)" != "$before" ]; then
	grep -q '"path weights changed"' /tmp/mpathd.log || fail "table changed after the restart without a weight plan: $(dmsetup table $M)"
fi
`,
	})
	devs := strings.Fields(res.Get("devs"))
	if len(devs) != 5 {
		t.Fatalf("devs = %q", res.Get("devs"))
	}
	p0, p1, dmDev, devt0, devt1 := devs[0], devs[1], devs[2], devs[3], devs[4]
	t.Logf("busy path %s, idle path %s, map %s", p0, p1, dmDev)
	// The first phase runs round-robin over one group of both paths.
	if rr := res.Get("table.rr"); !strings.Contains(rr, " 1 round-robin 0 2 1 ") ||
		!strings.Contains(rr, " "+devt0+" ") || !strings.Contains(rr, " "+devt1+" ") {
		t.Errorf("round-robin table %q, want one round-robin group of %s and %s", rr, devt0, devt1)
	}
	// The busy workload on P0 ran through all three phases: without it there is no busy cable.
	if iops := atof(strings.Trim(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(res.Get("busy")), `"iops" :`)), ",")); iops <= 0 {
		t.Errorf("the busy path's own fio did no I/O: %q", res.Get("busy"))
	}

	for _, ph := range []string{"rr", "st1", "st"} {
		var prev []float64
		for _, line := range res.All("raw." + ph) {
			f := strings.Fields(line)
			cur := make([]float64, len(f))
			for i := range f {
				cur[i] = atof(f[i])
			}
			if len(cur) != 4 {
				t.Fatalf("raw.%s sample %q, want: uptime busy idle map", ph, line)
			}
			if prev != nil {
				dt := cur[0] - prev[0]
				t.Logf("%s raw: dt %.2fs busy %.0f/s idle %.0f/s map %.0f/s", ph, dt, (cur[1]-prev[1])/dt, (cur[2]-prev[2])/dt, (cur[3]-prev[3])/dt)
				// The map's workload runs through every 3 s sample of the measured window.
				if cur[3] <= prev[3] {
					t.Errorf("%s: the map's read count did not grow in %.2f s (%v → %v)", ph, dt, prev, cur)
				}
			}
			prev = cur
		}
		if n := len(res.All("raw." + ph)); n < 5 {
			t.Errorf("%s: %d samples inside fio's window, want at least 5", ph, n)
		}
	}
	t.Logf("busy fio: %s", res.Get("busy"))
	share := map[string]float64{}
	for _, ph := range []string{"rr", "st1", "st"} {
		d := strings.Fields(res.Get("delta." + ph))
		if len(d) != 2 {
			t.Fatalf("delta.%s = %q", ph, res.Get("delta."+ph))
		}
		idle, all := atof(d[0]), atof(d[1])
		if all == 0 {
			t.Fatalf("%s: no I/O through the map", ph)
		}
		share[ph] = 1 - idle/all
		fioIOPS := fioReadIOPS(t, res.Get("fio."+ph))
		var sum float64
		var n int
		for _, js := range res.All("stats." + ph) {
			var st struct {
				Maps []struct {
					Name string
					IOPS float64
				}
			}
			if err := json.Unmarshal([]byte(js), &st); err != nil {
				t.Fatalf("show stats --json: %v\n%s", err, js)
			}
			for _, m := range st.Maps {
				if m.Name == "333333330000007d0" {
					sum += m.IOPS
					n++
				}
			}
		}
		if n == 0 {
			t.Fatalf("%s: no map in show stats", ph)
		}
		ours := sum / float64(n)
		diff := (ours - fioIOPS) / fioIOPS
		t.Logf("%s: busy path share %.1f%% (idle path %.0f of %.0f map reads); map IOPS fio %.1f, mpathctl %.1f (mean of %d), %+.1f%%",
			ph, 100*share[ph], idle, all, fioIOPS, ours, n, 100*diff)
		if diff > 0.10 || diff < -0.10 {
			t.Errorf("%s: mpathctl map IOPS %.1f differ from fio's %.1f by %.1f%% (> 10%%)", ph, ours, fioIOPS, 100*diff)
		}
	}
	if share["st"] >= share["rr"] {
		t.Errorf("busy path share did not fall with service-time: round-robin %.1f%%, service-time %.1f%%", 100*share["rr"], 100*share["st"])
	}

	// Weights in the live table: none right after the switch; the first weighted table no sooner
	// than weight_min_interval after the SIGHUP, and changes at least that far apart.
	hup := atof(res.Get("hup"))
	rtRe := regexp.MustCompile(`(\d+:\d+) 1 (\d+)`)
	var changes []float64
	last := ""
	for _, line := range strings.Split(res.Get("tables"), "\n") {
		at, table, ok := strings.Cut(line, " ")
		if !ok || !strings.Contains(table, "service-time") {
			continue
		}
		var ws []string
		for _, m := range rtRe.FindAllStringSubmatch(table, -1) {
			ws = append(ws, m[1]+"="+m[2])
		}
		w := strings.Join(ws, " ")
		if atof(at) < hup {
			for _, m := range rtRe.FindAllStringSubmatch(table, -1) {
				if m[2] != "1" {
					t.Errorf("weights in the table while weight_update was off: %s", table)
				}
			}
			continue
		}
		if w != last {
			t.Logf("t=+%.2fs table weights %s", atof(at)-hup, w)
			if last != "" {
				changes = append(changes, atof(at))
			}
			last = w
		}
	}
	t.Logf("planner log:\n%s", res.Get("weight_log"))
	// Every weight change in the table was logged by the planner (one more may be logged after the
	// table sampling stopped).
	var logged int
	for _, l := range strings.Split(res.Get("weight_log"), "\n") {
		if strings.Contains(l, `"path weights changed"`) {
			logged++
			if !strings.Contains(l, `"map":"333333330000007d0"`) {
				t.Errorf("weight change logged without its map: %s", l)
			}
		}
	}
	if logged < len(changes) || logged > len(changes)+1 || logged == 0 {
		t.Errorf("%d weight changes logged, %d seen in the table", logged, len(changes))
	}
	if len(changes) == 0 {
		t.Errorf("no measured weights reached the table:\n%s", res.Get("tables"))
	} else if changes[0]-hup < 5 {
		t.Errorf("weights reached the table %.2f s after the switch, before weight_min_interval (5 s)", changes[0]-hup)
	}
	for i := 1; i < len(changes); i++ {
		if changes[i]-changes[i-1] < 4 { // 1 s sampling
			t.Errorf("weight reloads %.2f s apart, weight_min_interval is 5 s", changes[i]-changes[i-1])
		}
	}
	if !strings.Contains(last, devt1+"=100") {
		t.Errorf("final weights %q: the idle path %s should have the largest weight", last, p1)
	}
	if got := res.Get("reloads_after_restart"); got != "0" {
		t.Errorf("restart reloaded the map %s times", got)
	}
}

func atof(s string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f
}

// fioReadIOPS reads the read IOPS of fio's first job from its JSON output.
func fioReadIOPS(t *testing.T, js string) float64 {
	t.Helper()
	var out struct {
		Jobs []struct {
			Read struct {
				IOPS float64 `json:"iops"`
			} `json:"read"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(js), &out); err != nil || len(out.Jobs) == 0 {
		t.Fatalf("fio output: %v\n%s", err, js)
	}
	return out.Jobs[0].Read.IOPS
}
