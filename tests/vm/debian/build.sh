#!/bin/sh
# Builds the Debian 12 guest of the second VM tier from Debian packages, without loop mounts:
# mmdebstrap into a directory, mkfs.ext4 -d into a sparse raw image, and the kernel and initramfs
# copied out for qemu's -kernel/-initrd. Usage: build.sh OUTDIR (empty or absent). Everything the
# tests change per run (the project's binaries, units, scenario) comes on a payload disk at boot, so
# this recipe changes rarely; the harness caches its output keyed by a hash of this file.
set -eu
out=$1
# The root file system's UUID: fixed, so the kernel command line can name it (root=UUID=...)
# whichever path's sdX the initramfs finds first.
ROOT_UUID=5f1d5c2e-6a55-4d1e-9c11-6d7061746864

# Lean: systemd and udev as a server runs them, LVM and kpartx (their udev rules race for path
# devices), both initramfs generators (dracut-core coexists with initramfs-tools; the "dracut"
# package conflicts with it, so initramfs-tools builds the boot initramfs here), fio as the I/O
# oracle, multipath-tools for the migration drill (disabled below), sg3-utils, the kernel, zstd for
# initramfs-tools' default compression.
PKGS=systemd,systemd-sysv,udev,lvm2,kpartx,initramfs-tools,dracut-core,fio,multipath-tools,linux-image-amd64,e2fsprogs,util-linux,sg3-utils,kmod,procps,zstd

mkdir -p "$out"
root=$out/root
rm -rf "$root"
mkdir "$root"

# MODULES=list keeps the initramfs small (a faster boot under TCG): what the root disk needs
# (virtio-scsi, sd, ext4), the payload disk (virtio-blk), and dm-multipath for later boots from a map.
# Written before the kernel's postinst builds the first initramfs.
essential='mkdir -p "$1/etc/initramfs-tools/conf.d" &&
printf "MODULES=list\nCOMPRESS=zstd\n" >"$1/etc/initramfs-tools/conf.d/mpathd-vm.conf"'

customize='set -e
r=$1
printf "virtio_pci\nvirtio_scsi\nvirtio_blk\nsd_mod\nsg\next4\ncrc32c_generic\nscsi_dh_alua\ndm_multipath\ndm_round_robin\n" >>"$r/etc/initramfs-tools/modules"
echo mpathd-vm >"$r/etc/hostname"
printf "127.0.0.1 localhost\n127.0.1.1 mpathd-vm\n" >"$r/etc/hosts"
printf "# / is mounted rw by the initramfs (root=UUID=... rw on the kernel command line)\n" >"$r/etc/fstab"
chroot "$r" passwd -d root >/dev/null
# PID 1 until systemd: modprobe the payload disk driver, mount the payload (/dev/vda, the only
# virtio-blk disk) and run its boot.sh, which puts the project'"'"'s files into the system, then
# exec systemd, so that systemd loads the units as if a package had installed them.
mkdir -p "$r/usr/local/sbin"
cat >"$r/usr/local/sbin/mpathd-vm-init" <<'"'INIT'"'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
echo "@@mpathd-vm: init"
p=/run/mpathd-vm/payload
mkdir -p $p
modprobe virtio_blk 2>/dev/null
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if mount -o ro /dev/vda $p && [ -x $p/boot.sh ]; then
	$p/boot.sh || echo "@@mpathd-vm: payload boot.sh failed"
else
	echo "@@mpathd-vm: no payload on /dev/vda"
fi
exec /lib/systemd/systemd "$@"
INIT
chmod 0755 "$r/usr/local/sbin/mpathd-vm-init"
# multipath-tools is there for the migration drill, not running by default.
chroot "$r" systemctl disable multipathd.service multipathd.socket >/dev/null 2>&1 || true
chroot "$r" systemctl mask multipathd.service multipathd.socket >/dev/null
# Nothing periodic or interactive in a test guest.
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
	serial-getty@ttyS0.service serial-getty@ttyS1.service getty@tty1.service getty-static.service \
	getty.target dpkg-db-backup.timer; do
	chroot "$r" systemctl mask "$u" >/dev/null 2>&1 || true
done
chroot "$r" update-initramfs -u -k all
chroot "$r" dpkg-query -W -f="\${Package} \${Version}\n" >"$r/../packages.txt"
rm -rf "$r/var/cache/apt/archives"/*.deb "$r/var/lib/apt/lists"/*_Packages
'

mmdebstrap --variant=apt --mode=root --format=directory --include="$PKGS" \
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--essential-hook="$essential" --customize-hook="$customize" \
	bookworm "$root" \
	"deb http://deb.debian.org/debian bookworm main" \
	"deb http://deb.debian.org/debian bookworm-updates main" \
	"deb http://deb.debian.org/debian-security bookworm-security main"

cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
cp "$root"/boot/initrd.img-* "$out/initrd.img"
basename "$root"/boot/vmlinuz-* | sed 's/^vmlinuz-//' >"$out/release"
echo "$ROOT_UUID" >"$out/root-uuid"

# Room for the tests' files and later package installs: the tree plus 1 GiB, sparse.
used=$(du -s -B1M "$root" | cut -f1)
rm -f "$out/root.img"
mkfs.ext4 -q -F -L mpathd-root -U "$ROOT_UUID" -E root_owner=0:0 -d "$root" "$out/root.img" "$((used + 1024))M"
rm -rf "$root"
