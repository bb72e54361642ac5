package vm

import (
	"strconv"
	"strings"
	"testing"
)

// TestVMQueueingEdges proves on the real kernel three edges of failure handling:
//   - an administrator's "fail path" stands through several checks that find the path healthy, and
//     "reinstate path" undoes it;
//   - a map that lost every path while open gets a deferred remove (deferred_remove, not queueing),
//     which mpathd cancels when the paths come back, so the map survives its last close;
//   - an open map that queues is left alone when every path is deleted, even with deferred_remove:
//     no deferred remove, queueing stays on, and the reader blocked on it completes with no error
//     once the paths come back;
//   - an open map kept after every path is deleted still follows no_path_retry N: its queued read
//     fails after N polling intervals, and the map stays.
func TestVMQueueingEdges(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:      SAN{Hosts: 2, LUNs: 1},
		Commands: []string{"./cmd/mpathd", "./cmd/mpathctl"},
		Script: daemonHelpers + `
printf '[defaults]\npolling_interval = 1\ndeferred_remove = true\n' > /tmp/c.toml
start_mpathd --config /tmp/c.toml
M=333333330000007d0
P0=$(path_of 0 0); P1=$(path_of 0 1); D1=$(devt_of $P1)
rescan() { for h in 0 1; do echo "- - -" > /sys/class/scsi_host/host$h/scan; done; }
two_paths() { [ $(dmsetup table $M | grep -o ' [0-9]*:[0-9]* ' | wc -l) -eq 2 ] && ! dmsetup status $M | grep -q ' F '; }

# An administrator's fail stands until reinstate path.
mpathctl fail path $P1 || fail "mpathctl fail path"
sleep 4
emit admin_status "$(dmsetup status $M | grep -o "$D1 [AF]")"
emit admin_held "$(mpathctl show topology --json | grep -o '"held": *"[a-z-]*"' | tr -d ' ')"
mpathctl reinstate path $P1 || fail "mpathctl reinstate path"
wait_for 10 sh -c "dmsetup status $M | grep -q '$D1 A'" && emit reinstated yes

# Every path deleted under an open, non-queueing map: a deferred remove, cancelled when they return.
exec 8< /dev/mapper/$M
echo 1 > /sys/block/$P0/device/delete
echo 1 > /sys/block/$P1/device/delete
wait_for 15 sh -c "dmsetup info $M | grep -q 'DEFERRED REMOVE'" && emit deferred yes
rescan
wait_for 20 two_paths || fail "paths did not come back"
wait_for 10 sh -c "! dmsetup info $M | grep -q 'DEFERRED REMOVE'" && emit cancelled yes
exec 8<&-
sleep 1
dmsetup info $M > /dev/null 2>&1 && emit kept_after_close yes

# Every path deleted under an open map that queues: left alone, and its reader completes.
printf '[defaults]\npolling_interval = 1\ndeferred_remove = true\nno_path_retry = "queue"\n' > /tmp/c.toml
kill -HUP $MPATHD_PID
wait_for 10 sh -c "dmsetup table $M | grep -q queue_if_no_path" || fail "no_path_retry queue not applied"
P0=$(path_of 0 0); P1=$(path_of 0 1)
exec 8< /dev/mapper/$M
echo 1 > /sys/block/$P0/device/delete
echo 1 > /sys/block/$P1/device/delete
sleep 2
( dd if=/dev/mapper/$M of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null; echo $? > /tmp/dd_rc ) &
sleep 5
emit blocked "$([ -e /tmp/dd_rc ] && echo no || echo yes)"
emit q_info "$(dmsetup info $M | grep -o 'DEFERRED REMOVE' || echo none)"
emit q_table "$(dmsetup table $M | grep -o queue_if_no_path)"
rescan
wait_for 30 sh -c "[ -e /tmp/dd_rc ]" || fail "the blocked read never completed"
emit dd_rc "$(cat /tmp/dd_rc)"
exec 8<&-

# Every path deleted under an open map with no_path_retry 2: the map is kept, and its queued read
# fails after 2 polling intervals all the same.
wait_for 20 two_paths || fail "paths did not come back"
printf '[defaults]\npolling_interval = 1\nno_path_retry = 2\n' > /tmp/c.toml
kill -HUP $MPATHD_PID
sleep 2
P0=$(path_of 0 0); P1=$(path_of 0 1)
exec 8< /dev/mapper/$M
echo 1 > /sys/block/$P0/device/delete
echo 1 > /sys/block/$P1/device/delete
t0=$(now)
( dd if=/dev/mapper/$M of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null; echo $? > /tmp/r_rc; now > /tmp/r_t ) &
wait_for 30 sh -c "[ -e /tmp/r_t ]" || fail "no_path_retry 2 never failed the read on a kept map"
emit r_rc "$(cat /tmp/r_rc)"
emit r_after "$(elapsed $t0 $(cat /tmp/r_t))"
emit r_kept "$(dmsetup info $M > /dev/null 2>&1 && echo yes || echo no)"
exec 8<&-
`,
	})
	if got := res.Get("admin_status"); !strings.HasSuffix(got, " F") {
		t.Errorf("admin-failed path in the kernel: %q, want F after 4 checks", got)
	}
	if got := res.Get("admin_held"); got != `"held":"admin-failed"` {
		t.Errorf("topology shows %q, want held admin-failed", got)
	}
	if res.Get("reinstated") != "yes" {
		t.Errorf("reinstate path did not reinstate")
	}
	if res.Get("deferred") != "yes" || res.Get("cancelled") != "yes" || res.Get("kept_after_close") != "yes" {
		t.Errorf("deferred remove %q, cancelled %q, map kept after its close %q; want yes, yes, yes",
			res.Get("deferred"), res.Get("cancelled"), res.Get("kept_after_close"))
	}
	if res.Get("blocked") != "yes" || res.Get("q_info") != "none" || res.Get("q_table") != "queue_if_no_path" {
		t.Errorf("open queueing map without paths: read blocked %q, deferred remove %q, queueing %q; want yes, none, queue_if_no_path",
			res.Get("blocked"), res.Get("q_info"), res.Get("q_table"))
	}
	if res.Get("dd_rc") != "0" {
		t.Errorf("the read queued on the map failed (rc %s)", res.Get("dd_rc"))
	}
	after, _ := strconv.ParseFloat(res.Get("r_after"), 64)
	t.Logf("kept map, no_path_retry 2 x polling_interval 1: queued read failed after %.2f s", after)
	if res.Get("r_rc") == "0" || after < 1.5 || after > 8 || res.Get("r_kept") != "yes" {
		t.Errorf("open map without paths, no_path_retry 2: read rc %s after %.2f s, map kept %q; want a failure after 2-8 s, kept",
			res.Get("r_rc"), after, res.Get("r_kept"))
	}
}
