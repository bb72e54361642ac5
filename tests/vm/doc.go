// Package vm is mpathd's real-kernel test bed: it boots the host's Debian kernel under qemu with a
// simulated multipath SAN (scsi_debug), the real dm-multipath target, busybox, dmsetup and fio as
// independent oracles, and the project's static binaries, runs a scenario script as root, and hands
// the results back to a Go test.
//
// Scenarios run only when enabled (go test ./tests/vm -vm, or MPATHD_VM=1), so go test ./... stays
// fast and pure. A scenario in a few lines:
//
//	res := vm.Run(t, vm.Scenario{
//		SAN:        vm.SAN{Hosts: 2, LUNs: 4},   // scsi_debug add_host / max_luns, vpd_use_hostno=0
//		Commands:   []string{"./cmd/mpathd"},     // static builds into /bin
//		GuestTests: []string{"./pkg/dm"},         // go test -c → /bin/dm.test
//		Script: `
//			run_gotest dm.test -test.run '^TestGuest'
//			emit table "$(dmsetup table)"
//		`,
//	})
//	if res.Get("table") != want { … }
//
// Guest shell helpers: emit KEY VALUE (a result record; multi-line values are kept), fail MSG (marks
// the scenario failed and goes on), check_eq NAME GOT WANT, run_gotest BIN [ARGS] (runs a guest-side
// Go test binary with MPATHD_VM_GUEST=1 and -test.v, emits "gotest.result NAME TEST PASS|FAIL|SKIP"
// per top-level test and "gotest BIN PASS|FAIL"; a binary that ran no test or a skipped test fails the
// scenario), wait_for SECS CMD...,
// san_paths (one "sdX H:C:T:L" per line), sd_of H:C:T:L. The scenario also fails when the script's
// last command exits non-zero.
//
// Further host programs go in with HostTools (copied to the same path with the libraries ldd names,
// e.g. "/sbin/multipathd") and HostFiles (files or whole directories copied as they are, each ELF
// among them with its libraries, e.g. "/lib/multipath" for multipathd's dlopen'ed plugins).
//
// Modules loads further kernel modules (with their dependencies) at boot, e.g. "veth".
//
// ISCSI puts a real iSCSI SAN kit in the guest (iscsi.go, iscsi.sh): the kernel's LIO target
// (configfs, target_core_mod with its ramdisk backstore, iscsi_target_mod), open-iscsi's iscsid and
// iscsiadm with iscsi_tcp, iproute2's ip and veth. The script calls iscsi_san LUNS [SIZE_MB]: one
// target, TPG 1, ramdisk LUNs with fixed serials, served on two portals, each in a network namespace
// of its own (tgt1 10.0.1.1, tgt2 10.0.2.1) joined to the initiator's by a veth pair (ini1, ini2);
// the initiator logs in to both, so every LUN has two sessions = two paths with the iscsi_session
// transport class (nop-outs every 2 s, 2 s to answer; replacement_timeout open-iscsi's 120 s).
// Failures are made as they happen: iscsi_link N down|up (the initiator's link), iscsi_portal N
// down|up (the portal's own network); iscsi_session_of, iscsi_portal_of, iscsi_state and
// iscsi_diag tell what the initiator sees. With ISCSI_ALUA=1 before iscsi_san each portal is a
// target port (TPG) and an ALUA target port group of its own, implicit ALUA only, whose state
// iscsi_alua N optimized|nonoptimized|standby|unavailable|offline|transitioning sets on the target. Busybox sh runs its own ip applet before PATH: the
// library defines ip as a function for iproute2's. Debian's open-iscsi must be installed on the
// host (make deps).
//
// Guest-side Go tests live beside the code they prove, named TestGuest*, and start with
// guest.Require(t) (package tests/vm/guest) so they skip on the host. A scenario names the guest
// tests it runs in WantPass ("dm.test TestGuestDM"); each must report PASS, and a binary run with
// run_gotest that has none of its tests named there fails the scenario.
//
// The second tier, package tests/vm/debian, is a real Debian 12 system: systemd, udev, lvm2, kpartx,
// initramfs-tools, dracut-core, fio, multipath-tools (masked: there for the migration drill),
// sg3-utils and Debian's kernel, built from Debian's mirror with mmdebstrap into a directory and made
// an ext4 image with mkfs.ext4 -d (no loop mounts), cached in CacheDir under a hash of its recipe
// (build.sh and mmdebstrap's version; about 5-8 minutes to build here, 760 MB on disk, built as
// root or through password-less sudo). Each boot writes to a qcow2 overlay, runs the image's own
// kernel and initramfs, and reaches the root disk over two paths: one block node behind two
// virtio-scsi controllers as two scsi-hd devices with the same wwn and serial (share-rw, locking
// off). The project's binaries, the repository's mpathd.service (enabled) and the scenario come on
// a payload disk that the image's init copies into the system before systemd starts; the scenario
// runs as a systemd unit after multi-user.target and reports on the same result port with the same
// helpers (lib.sh), plus root_paths, root_path_del/root_path_add (QMP device_del/device_add on the
// host, on the guest's request) and data_paths. Machine and Launch are the qemu runner both tiers
// share.
//
// Environment: MPATHD_VM_ACCEL=kvm|tcg forces the accelerator (default: KVM is tried once and a guest
// that does not reach init falls back to TCG, remembered in the user cache dir); MPATHD_VM_JOBS bounds
// parallel guests (default: number of CPUs); MPATHD_VM_KERNEL picks a kernel image;
// MPATHD_VM_CONSOLE=1 with -v streams guest consoles.
package vm
