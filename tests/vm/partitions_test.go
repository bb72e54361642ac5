package vm

import (
	"strings"
	"testing"
	"time"
)

// TestVMPartitions: partition maps on a 2-path map, made by mpathd itself with no kpartx rule and
// no udev. Both scsi_debug LUNs share one store, so LUN 1's map shows the table written on LUN 0's;
// LUN 1 has skip_kpartx, and Debian's kpartx makes its partitions: the tables must equal mpathd's
// (but for the map under them). Then: a partition added (change uevent) appears, one grown past
// the LUN's end waits for the map's resize, ext4 + fio verify on a partition, flush refused while it
// is mounted, an MBR with logical partitions matches kpartx again, a read of a suspended map holds
// no request to the daemon, and a flush of the unused map removes its partitions and the map.
func TestVMPartitions(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:       SAN{Hosts: 2, LUNs: 2},
		Commands:  []string{"./cmd/mpathd", "./cmd/mpathctl", "./tests/vm/cmd/mkparts"},
		HostTools: []string{"/sbin/kpartx", "/sbin/mkfs.ext4"},
		HostFiles: []string{"/etc/mke2fs.conf"},
		Modules:   []string{"ext4"},
		Timeout:   8 * time.Minute,
		Script: daemonHelpers + `
M=333333330000007d0; K=333333330000007d1
printf '[defaults]\npolling_interval = 1\n\n[[multipaths]]\nwwid = "%s"\nskip_kpartx = true\n' $K > /tmp/c.toml
# A GPT with one partition, written on a path before the daemon starts.
mkparts /dev/$(path_of 0 0) gpt 1:2048:8192 || fail "mkparts gpt"
start_mpathd --config /tmp/c.toml --wwids /tmp/wwids --bindings /tmp/bindings
wait_for 30 dmsetup info $M-part1 || fail "no $M-part1"
dm() { dmsetup info -c --noheadings -o minor $1; }
devt() { dmsetup info -c --noheadings -o major,minor --separator : $1; }
# table NAME PARENT: the partition's table with its parent map's MAJ:MIN replaced by P.
table() { dmsetup table $1 | sed "s/ $(devt $2) / P /"; }
emit uuid1 "$(dmsetup info -c --noheadings -o uuid $M-part1)"
emit k_before "$(dmsetup ls | grep -c $K-)"
kpartx -a -n -p -part /dev/mapper/$K || fail "kpartx -a"
emit gpt_m "$(table $M-part1 $M)"
emit gpt_k "$(table $K-part1 $K)"
emit uuid1_k "$(dmsetup info -c --noheadings -o uuid $K-part1)"
kpartx -d -n -p -part /dev/mapper/$K || fail "kpartx -d"

# A second partition: the change uevent udev's watch would send after a partitioning tool.
mkparts /dev/mapper/$M gpt 1:2048:8192 2:10240:8192 || fail "mkparts 2"
echo change > /sys/block/dm-$(dm $M)/uevent
wait_for 30 dmsetup info $M-part2 || fail "no $M-part2 after the change uevent"
emit added "$(table $M-part2 $M)"

# ext4 on part1, fio write+verify on a file in it.
/sbin/mkfs.ext4 -q -F /dev/mapper/$M-part1 || fail "mkfs.ext4"
mkdir -p /mnt/p1 && mount -t ext4 /dev/mapper/$M-part1 /mnt/p1 || fail "mount"
fio --name=v --filename=/mnt/p1/f --size=2m --rw=randwrite --bs=4k --direct=1 --ioengine=psync \
	--verify=crc32c --do_verify=1 --output=/tmp/fio.out > /dev/null 2>&1
emit fio_rc $?
emit fio_err "$(grep -o 'err= *[0-9]*' /tmp/fio.out | head -1)"
mpathctl flush map $M > /tmp/flush1 2>&1; emit flush_mounted_rc $?
emit flush_mounted "$(cat /tmp/flush1)"
emit after_refused "$(dmsetup ls | awk '{print $1}' | grep -c "^$M")"
umount /mnt/p1

# The LUN grows; one path sees it first, and the table is rewritten through that path with
# partition 2 reaching past the map's end: it is left as it is until the map grows, which it does
# once the other path agrees on the size.
echo 1 > /sys/bus/pseudo/drivers/scsi_debug/virtual_gb
P0=$(path_of 0 0); P1=$(path_of 0 1)
echo 1 > /sys/block/$P0/device/rescan
mkparts /dev/$P0 gpt 1:2048:8192 2:10240:40000 || fail "mkparts grow"
echo change > /sys/block/dm-$(dm $M)/uevent
wait_for 30 grep -q 'past the end of the map' /tmp/mpathd.log || fail "grown partition not seen"
emit before_resize "$(table $M-part2 $M)"
echo 1 > /sys/block/$P1/device/rescan
mpathctl resize map $M || fail "resize"
wait_for 30 sh -c "dmsetup table $M-part2 | grep -q '^0 40000 '" || fail "part2 not grown with its map"
emit after_resize "$(table $M-part2 $M)"

# An MBR with an extended partition and two logical ones, compared with kpartx again.
mkparts /dev/mapper/$M dos 1:2048:4096 2:8192:0:ext 5:10240:2048 6:14336:2048:82 || fail "mkparts dos"
echo change > /sys/block/dm-$(dm $M)/uevent
wait_for 30 dmsetup info $M-part6 || fail "no logical partitions"
wait_for 30 sh -c "dmsetup table $M-part2 | grep -q '^0 2 '" || fail "extended partition not reloaded"
kpartx -a -n -p -part /dev/mapper/$K || fail "kpartx -a dos"
for n in 1 2 5 6; do
	emit dos_m$n "$(table $M-part$n $M)"
	emit dos_k$n "$(table $K-part$n $K)"
done
emit dos_names "$(dmsetup ls | awk '{print $1}' | grep "^$M-" | sort | tr '\n' ' ')"
kpartx -d -n -p -part /dev/mapper/$K || fail "kpartx -d dos"

# Suspended by someone else: the read the change uevent asks for waits for the resume, the daemon
# does not.
dmsetup suspend $M
echo change > /sys/block/dm-$(dm $M)/uevent
sleep 1
timeout 10 mpathctl show topology > /dev/null; emit show_suspended_rc $?
dmsetup resume $M
# The read ends with the resume: then only the four partition maps hold the map open.
wait_for 30 sh -c "[ \$(dmsetup info -c --noheadings -o open $M) = 4 ]" || fail "map still open after the resume"

# Unused: flush removes the partitions, then the map.
mpathctl flush map $M > /tmp/flush2 2>&1; emit flush_rc $?
emit left "$(dmsetup ls | awk '{print $1}' | sort | tr '\n' ' ')"
tail -5 /tmp/mpathd.log
`,
	})
	wantEq := func(key, want string) {
		t.Helper()
		if got := res.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	wantEq("uuid1", "part1-mpath-333333330000007d0")
	wantEq("uuid1_k", "part1-mpath-333333330000007d1")
	wantEq("k_before", "0") // skip_kpartx: mpathd left LUN 1 alone
	wantEq("gpt_m", "0 8192 linear P 2048")
	wantEq("gpt_k", res.Get("gpt_m"))
	wantEq("added", "0 8192 linear P 10240")
	wantEq("fio_rc", "0")
	wantEq("fio_err", "err= 0")
	if res.Get("flush_mounted_rc") == "0" || !strings.Contains(res.Get("flush_mounted"), "333333330000007d0-part1 is open") {
		t.Errorf("flush with a mounted partition: rc %s, %q", res.Get("flush_mounted_rc"), res.Get("flush_mounted"))
	}
	wantEq("after_refused", "3") // the map and its two partitions
	wantEq("before_resize", "0 8192 linear P 10240")
	wantEq("after_resize", "0 40000 linear P 10240")
	for _, n := range []string{"1", "2", "5", "6"} {
		if m, k := res.Get("dos_m"+n), res.Get("dos_k"+n); m == "" || m != k {
			t.Errorf("partition %s: mpathd %q, kpartx %q", n, m, k)
		}
	}
	wantEq("dos_m2", "0 2 linear P 8192")
	wantEq("dos_m5", "0 2048 linear P 10240")
	wantEq("dos_names", "333333330000007d0-part1 333333330000007d0-part2 333333330000007d0-part5 333333330000007d0-part6 ")
	wantEq("show_suspended_rc", "0")
	wantEq("flush_rc", "0")
	wantEq("left", "333333330000007d1 ")
}

// TestVMPartitions4K: on 4096-byte-block LUNs a GPT gives mpathd the partition maps kpartx gives;
// an MBR counts in 4096-byte blocks as the kernel reads it, and the extended partition is mapped
// over one whole block (a 2-sector target would not be aligned). multipath -f, through the daemon,
// removes the partitions and the map.
func TestVMPartitions4K(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:       SAN{Hosts: 2, LUNs: 2, Extra: "sector_size=4096"},
		Commands:  []string{"./cmd/mpathd", "./cmd/multipath", "./tests/vm/cmd/mkparts"},
		HostTools: []string{"/sbin/kpartx"},
		Timeout:   8 * time.Minute,
		Script: daemonHelpers + `
M=333333330000007d0; K=333333330000007d1
printf '[defaults]\npolling_interval = 1\n\n[[multipaths]]\nwwid = "%s"\nskip_kpartx = true\n' $K > /tmp/c.toml
mkparts /dev/$(path_of 0 0) gpt 1:2048:8192 2:10240:16384 || fail "mkparts gpt"
start_mpathd --config /tmp/c.toml --wwids /tmp/wwids --bindings /tmp/bindings
wait_for 30 dmsetup info $M-part2 || fail "no $M-part2"
dm() { dmsetup info -c --noheadings -o minor $1; }
devt() { dmsetup info -c --noheadings -o major,minor --separator : $1; }
table() { dmsetup table $1 | sed "s/ $(devt $2) / P /"; }
emit bs "$(cat /sys/block/dm-$(dm $M)/queue/logical_block_size)"
kpartx -a -n -p -part /dev/mapper/$K || fail "kpartx -a"
for n in 1 2; do
	emit gpt_m$n "$(table $M-part$n $M)"
	emit gpt_k$n "$(table $K-part$n $K)"
done
kpartx -d -n -p -part /dev/mapper/$K || fail "kpartx -d"
mkparts /dev/mapper/$M dos 1:2048:8192 2:16384:0:ext 5:16392:8192 || fail "mkparts dos"
echo change > /sys/block/dm-$(dm $M)/uevent
wait_for 30 dmsetup info $M-part5 || fail "no logical partition"
wait_for 30 sh -c "dmsetup table $M-part2 | grep -q '^0 8 '" || fail "extended partition not reloaded"
for n in 1 2 5; do emit dos_m$n "$(table $M-part$n $M)"; done
multipath -f $M; emit f_rc $?
emit left "$(dmsetup ls | awk '{print $1}' | sort | tr '\n' ' ')"
`,
	})
	wantEq := func(key, want string) {
		t.Helper()
		if got := res.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	wantEq("bs", "4096")
	wantEq("gpt_m1", "0 8192 linear P 2048")
	wantEq("gpt_m2", "0 16384 linear P 10240")
	wantEq("gpt_k1", res.Get("gpt_m1"))
	wantEq("gpt_k2", res.Get("gpt_m2"))
	wantEq("dos_m1", "0 8192 linear P 2048")
	wantEq("dos_m2", "0 8 linear P 16384")
	wantEq("dos_m5", "0 8192 linear P 16392")
	wantEq("f_rc", "0")
	wantEq("left", "333333330000007d1 ")
}

// TestVMPartitionsUdev: on a host with udevd and kpartx's udev rules installed, the rules stay away
// from mpathd's maps (with partition_delimiter "p", kpartx's rules would add <map>-part1 beside
// mpathd's <map>p1), a table written through the map reaches mpathd by udev's watch alone, udev's
// dm rules and blkid see the partition (by-id link, ID_FS_TYPE), and a partition map kpartx made
// while mpathd was stopped is adopted (renamed to mpathd's delimiter), not made again.
func TestVMPartitionsUdev(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:       SAN{Hosts: 2, LUNs: 1},
		Udev:      true,
		Commands:  []string{"./cmd/mpathd", "./tests/vm/cmd/mkparts"},
		HostTools: []string{"/sbin/kpartx", "/sbin/mkfs.ext4"},
		HostFiles: []string{"/etc/mke2fs.conf"},
		Timeout:   8 * time.Minute,
		Script: daemonHelpers + `
printf '[defaults]\npolling_interval = 1\npartition_delimiter = "p"\n' > /tmp/c.toml
mkparts /dev/$(path_of 0 0) gpt 1:2048:8192 || fail "mkparts"
start_mpathd --config /tmp/c.toml --wwids /tmp/wwids --bindings /tmp/bindings
M=$(dmsetup ls --target multipath | awk '{print $1}')
wait_for 30 test -b /dev/mapper/$M"p1" || fail "no $M"p1
udevadm settle
emit rules "$(ls /lib/udev/rules.d | grep -c kpartx)"
emit parts1 "$(dmsetup ls | awk '{print $1}' | sort | tr '\n' ' ')"
mkparts /dev/mapper/$M gpt 1:2048:8192 2:10240:8192 || fail "mkparts 2"
wait_for 60 test -b /dev/mapper/$M"p2" || fail "udev's watch did not bring "$M"p2"
udevadm settle
/sbin/mkfs.ext4 -q -F /dev/mapper/$M"p2" || fail "mkfs.ext4"
udevadm settle
emit fstype "$(udevadm info -q property -n /dev/mapper/$M"p2" | grep '^ID_FS_TYPE=')"
emit link "$( [ "$(readlink -f /dev/disk/by-id/dm-uuid-part2-mpath-$M)" = "$(readlink -f /dev/mapper/$M"p2")" ] && echo same)"
emit parts2 "$(dmsetup ls | awk '{print $1}' | sort | tr '\n' ' ')"
kill $MPATHD_PID; wait $MPATHD_PID
dmsetup remove $M"p1" || fail "dmsetup remove"
kpartx -a -p -part /dev/mapper/$M || fail "kpartx -a"
emit kpartx_uuid "$(dmsetup info -c --noheadings -o uuid $M-part1)"
: > /tmp/mpathd.log
start_mpathd --config /tmp/c.toml --wwids /tmp/wwids --bindings /tmp/bindings
wait_for 30 grep -q '"message":"partition maps"' /tmp/mpathd.log || fail "no partition scan after the restart"
emit created_again "$(grep -c 'partition map created' /tmp/mpathd.log)"
emit parts3 "$(dmsetup ls | awk '{print $1}' | sort | tr '\n' ' ')"
emit map "$M"
`,
	})
	m := res.Get("map")
	if !strings.HasPrefix(m, "3333") {
		t.Fatalf("map %q: want the WWID name", m)
	}
	for key, want := range map[string]string{
		"rules": "1", "parts1": m + " " + m + "p1 ", "fstype": "ID_FS_TYPE=ext4", "link": "same",
		"parts2":      m + " " + m + "p1 " + m + "p2 ",
		"kpartx_uuid": "part1-mpath-" + m, "created_again": "0",
		"parts3": m + " " + m + "p1 " + m + "p2 ",
	} {
		if got := res.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
}
