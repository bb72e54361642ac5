// Package dm drives device-mapper multipath maps through the ioctl
// interface of /dev/mapper/control, in pure Go (no libdevmapper, no
// dmsetup).
//
// The package has three layers:
//
//   - A pure layer (wire.go, table.go, status.go) that encodes and decodes
//     struct dm_ioctl buffers and the multipath table and status strings.
//     It makes no syscalls and is golden- and fuzz-tested.
//   - Control, the interface the daemon uses, implemented by *Client (the
//     kernel, through one control fd) and *Fake (in memory, for tests).
//     Helpers built on Control: CreateMap, Reload, ReloadIfChanged and the
//     target messages (FailPath, SwitchGroup, ...).
//   - Watcher, which reports maps whose event_nr changed, using poll(2) and
//     DM_DEV_ARM_POLL on its own fd.
//
// Kernel behaviours the API encodes: reloads and resumes always use
// NOFLUSH|SKIP_LOCKFS so queue_if_no_path keeps holding I/O; the table the
// kernel prints back is canonical (Equivalent compares desired and live
// tables, ignoring the initial PG which reads back as the current PG);
// queue_if_no_path in the readback follows the queue_if_no_path and
// fail_if_no_path messages; the kernel never reinstates a path itself.
//
// udev: resume, remove and rename carry DM_UDEV_* flags in the cookie.
// By default the semaphore base is zero (flags only, nobody waits). With
// Options.UdevWait and udev running, the client speaks libdevmapper's
// cookie protocol on a SysV semaphore (cookie.go, raw syscalls) and those
// calls return once the dm udev rules have run for their uevent, or after
// Options.UdevTimeout; a timeout is logged, never returned, because the dm
// operation itself succeeded. When udev does not run, Options.ManageNodes
// makes the client create and remove the /dev/mapper/<name> nodes itself.
//
// # The Fake and the kernel
//
// Fake stands in for the kernel in the daemon's tests, so where it
// differs from dm-multipath matters. The guest tests in
// fakekernel_guest_test.go run each modelled behaviour on the kernel and
// on a Fake side by side in the VM test bed (tests/vm, TestVMDMFake) and
// require the same results; fakekernel_test.go holds the shared sequences,
// which TestFakeKernelScenarios also runs on the Fake alone.
//
// Modelled, and proved on the kernel:
//
//   - Queued I/O (SubmitIO, ServedIO, QueuedIO, FailedIO): a request with
//     no usable path is held while queue_if_no_path is set and failed with
//     EIO otherwise; held requests are served when a path is reinstated,
//     failed by fail_if_no_path, held by a suspended map whatever its
//     paths and served on resume, and dispatched into the new table on a
//     reload (held or failed there by its queueing if it has no path).
//     TestGuestFakeKernel/queued_I/O, /held_while_suspended,
//     /reload_without_paths_or_queueing_fails_held_I/O.
//   - The group choice happens on the next I/O: switch_group,
//     disable_group and enable_group drop the current group, a group whose
//     paths failed stays current, and until a request arrives the status
//     shows the pending group number and no group A; queue_io reads 1 from
//     a load until the first request; the pending group is taken even when
//     bypassed; with no usable path no group is current.
//     TestGuestFakeKernel/group_switch_on_next_I/O,
//     /pending_group_taken_though_bypassed.
//   - KernelFailPath is an I/O error on a path: the kernel fails the path
//     and retries the request on another group, or holds it when no path
//     is left (the guest offlines the path's SCSI device and reads).
//     TestGuestFakeKernel/kernel_path_failure.
//   - Event counters: every step of TestGuestFakeKernel requires the
//     kernel's event_nr to equal the Fake's (a message that changes
//     nothing, like fail_path of a failed path, moves none; enable_group
//     always moves it; a reload moves none).
//   - Open counts and deferred remove: a map that holds requests is open,
//     so remove fails with EBUSY; a deferred remove waits for the last
//     opener, @cancel_deferred_remove undoes it (and succeeds when nothing
//     is pending), and a deferred remove of a closed map is immediate.
//     TestGuestFakeKernel/deferred_remove_waits_for_held_I/O,
//     /deferred_remove_of_a_closed_map_is_immediate; TestGuestDM/remove.
//   - Messages to a suspended map fail with EBUSY, and switch_group to a
//     group that does not exist with EINVAL (TestGuestFakeKernel).
//   - Tables the kernel refuses, with its errno and in the same call: a
//     0-sector target, a map larger than a path (EINVAL at load), an
//     unknown selector or hardware handler, wrong per-path argument counts
//     and values for round-robin, queue-length and service-time
//     (relative_throughput 0–100), alua's one 0/1 argument, a path token
//     that is no device (ENODEV), a MAJ:MIN that names none (ENXIO) or
//     overflows a dev_t (EOVERFLOW), a path opened exclusively elsewhere
//     (EBUSY); a bio map ignores the handler words. Selectors are modules:
//     DM_LIST_VERSIONS does not list them (SetSelectors, not SetTargets).
//     Path devices are checked only after SetPathDevices; by default any
//     MAJ:MIN (or other token) is a device of any size. TestGuestFakeRejects.
//   - Linear tables (TargetControl.LoadTargets, the partition maps kpartx
//     stacks on a map): no target, a 0-sector target, a gap between
//     targets, an argument count other than two or an offset that is not a
//     sector number fail with EINVAL, a token that is no device with
//     ENODEV, a MAJ:MIN that names none with ENXIO, and an area past the
//     end of the device with EINVAL, all at load; a loaded table (inactive
//     or live) holds the device under it open until it is replaced or its
//     device removed, so the map under a partition refuses removal with
//     EBUSY; a linear device answers Table and Status with
//     ErrNotMultipath and target messages with EINVAL.
//     TestGuestFakeLinear.
//
// Not modelled:
//
//   - Target types other than multipath and linear (LoadTargets refuses
//     them), and the logical block alignment the kernel checks for linear
//     targets on 4096-byte devices.
//   - Asynchronous event numbers: the kernel bumps event_nr from a
//     workqueue, so a status read right after a message may not show it
//     yet, and bumps queued before the work runs count once; the Fake bumps
//     at once. The daemon never reads event_nr (the Watcher only needs to
//     see that it changed), and the counters agree once the kernel's work
//     has run, which TestGuestFakeKernel waits for at every step. Removal
//     at the last close also runs from a workqueue; the Fake removes at
//     once.
//   - pg_init: with a hardware handler the kernel holds I/O (queue_io 1)
//     until scsi_dh activation ends and counts activations in
//     pg_init_count; the Fake takes activation as instant and leaves the
//     count at 0. Modelling it would need scsi_dh activation, and its
//     failures, in the Fake.
//   - Path health: a Fake path never fails I/O by itself; a test fails it
//     with KernelFailPath or fail_path. Within a group the selector's choice and its
//     load figures are not simulated: selector status words keep their
//     initial values.
//   - The kernel retries held requests every 100 ms; the Fake dispatches
//     them again after every change, which ends the same way because
//     nothing else changes a path's state. The open count of a map that
//     holds requests is at least 1 (one waiting opener), where the kernel
//     counts each opener.
//   - historical-service-time and io-affinity argument checks follow the
//     kernel source but are proved by unit tests only: the bed's guest has
//     no modprobe and loads only round-robin, queue-length and
//     service-time. emc, rdac and hp_sw parameters are not checked: on the
//     bed's scsi_debug the attached alua handler is kept instead and their
//     parameters are dropped, so no check of them could be proved there.
//   - The readback names the table's handler where, with
//     retain_attached_hw_handler, the kernel names the attached one
//     (Equivalent ignores the handler then).
//   - The dm_multipath queue_if_no_path_timeout_secs parameter (0, off,
//     unless an admin sets it).
//   - Two tables the kernel and Table disagree on never reach either:
//     the kernel accepts an initial group past the last one, which
//     Validate refuses, and refuses pg_init_retries 0, which Table cannot
//     express (0 means unset).
package dm
