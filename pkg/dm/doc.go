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
package dm
