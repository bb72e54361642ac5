# The demo: mpathd on a simulated 3-host x 4-LUN SAN.
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
path_of() { ls /sys/class/scsi_device/$2:0:0:$1/device/block; }

say "scsi_debug made 12 paths: LUN k on every host is one logical unit; ALUA state by host number"
cat > /tmp/mpathd.toml <<'CFG'
[defaults]
user_friendly_names = true
polling_interval = 2
failback = "immediate"
no_path_retry = 6
CFG
cat /tmp/mpathd.toml
mpathd --version
mpathd --config /tmp/mpathd.toml --log-format console > /tmp/mpathd.log 2>&1 &
wait_for 60 grep -q ' ready ' /tmp/mpathd.log || { cat /tmp/mpathd.log; exit 1; }
say "mpathd started; its log"
cat /tmp/mpathd.log

say "mpathctl show topology (groups ordered by ALUA priority: 50 optimized, 10 non-optimized, 1 standby)"
mpathctl show topology

say "the kernel's own view (dmsetup, an independent oracle)"
dmsetup table
mpathctl events > /tmp/events 2>&1 &

P=$(path_of 0 0)
say "reading from /dev/mapper/mpatha while its optimized path $P goes offline"
( while :; do dd if=/dev/mapper/mpatha of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null || echo "READ ERROR"; done ) &
READER=$!
sleep 1
echo offline > /sys/block/$P/device/state
sleep 3
mpathctl show map mpatha
say "the path comes back"
echo running > /sys/block/$P/device/state
sleep 4
mpathctl show map mpatha
kill $READER
say "what mpathctl events saw"
cat /tmp/events
say "status"
mpathctl show status
