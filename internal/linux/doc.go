// Package linux runs the daemon core on a real Linux kernel: it checks paths with the bounded
// checker runner (SG_IO, O_DIRECT reads, sysfs), and pumps netlink uevents and device-mapper events
// into the core. The core itself (internal/daemon) makes no syscalls; this package is the seam.
package linux
