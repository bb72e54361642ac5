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
// Guest-side Go tests live beside the code they prove, named TestGuest*, and start with
// guest.Require(t) (package tests/vm/guest) so they skip on the host. A scenario names the guest
// tests it runs in WantPass ("dm.test TestGuestDM"); each must report PASS, and a binary run with
// run_gotest that has none of its tests named there fails the scenario.
//
// Environment: MPATHD_VM_ACCEL=kvm|tcg forces the accelerator (default: KVM is tried once and a guest
// that does not reach init falls back to TCG, remembered in the user cache dir); MPATHD_VM_JOBS bounds
// parallel guests (default: number of CPUs); MPATHD_VM_KERNEL picks a kernel image;
// MPATHD_VM_CONSOLE=1 with -v streams guest consoles.
package vm
