# The demo: what mpathd sees in a simulated 3-host x 4-LUN SAN.
echo
echo "Each LUN is reachable through one path per scsi_debug host; scsi_debug's ALUA puts"
echo "host_no%3==0 at active/optimized, 1 at active/non-optimized, 2 at standby."
echo
if command -v mpathd >/dev/null; then
	mpathd --version
fi
echo
echo "LUNs by WWID (what device-mapper maps will be built from):"
for w in $(cat /sys/block/sd*/device/wwid | sort -u); do
	echo "  $w"
	for b in /sys/block/sd*; do
		[ "$(cat $b/device/wwid)" = "$w" ] || continue
		d=$b/device
		printf '    %-4s %-8s %-22s %s sectors\n' "${b##*/}" "$(basename "$(readlink $d)")" \
			"$(cat $d/access_state)" "$(cat $b/size)"
	done
done
echo
