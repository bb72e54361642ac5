// Package daemon is mpathd's core: it turns discovered paths into request-based dm-multipath maps and
// keeps the kernel's maps matching the truth as paths fail, return, appear and vanish.
//
// The core makes no syscalls of its own. It sees the kernel through narrow ports — Topology (sysfs
// discovery), Monitor (the asynchronous path checker and prioritizer), dm.Control (device-mapper) and
// a Binder for names — so the whole daemon runs against a fake kernel in unit tests and against the
// real one in the VM test bed.
//
// State is sharded by WWID. Each shard is one goroutine that owns its maps: every change to a map
// (a uevent batch, a checker result, a dm event, a tick, an admin request) is a message to that
// shard, so work on one map is serialised and work on different maps never waits on a shared lock.
// After each change a shard publishes an immutable snapshot of its maps; readers (the control
// socket, D-Bus) merge the shards' snapshots and never wait for a checker, a reload or udev.
//
// Decisions follow multipath-tools where users depend on them (grouping policies, group order,
// failback, no_path_retry, names) and are documented where they differ:
//   - Group order is computed from each path's last known priority, whether the path is up or down
//     at that moment, so a path failure never reorders groups and never costs a table reload; the
//     choice of the group to use (initial PG, failback) does look at path states.
//   - queue_if_no_path is kept out of the table comparison and managed with messages, so turning
//     queueing off (no_path_retry expiry, daemon stop) and on again never reloads a map.
//   - A path is in use only while it is in the live table, not failed by the kernel, not held out
//     and passed by its checker; no_path_retry counts only such paths. A path the kernel failed
//     stays out until a fresh check, and a reload, which starts every path active, fails again at
//     once the paths that are out.
//   - Flap damping (a path that passes its check but keeps failing I/O is held out for a doubling
//     interval) never costs a map its last path: with no other path in use, the held path with the
//     best priority is released at once, and while a path is held the map queues, so the moment
//     before the release fails no I/O. A failure whose fresh check finds the path down is an
//     outage, not a flap. An administrator's "fail path" is not a hold: it stands until "reinstate
//     path", as in multipathd.
package daemon
