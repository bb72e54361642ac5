// Package selector turns block-device I/O counters into load estimates, path
// weights and marginal-path decisions for dm-multipath maps.
//
// The kernel chooses a path for every request itself (round-robin,
// queue-length or service-time, see the dm-ps-* selectors); userspace can
// only choose the selector, its per-path relative_throughput, and the
// grouping and priority of paths. This package therefore computes:
//
//   - per-device estimates (IOPS, bytes/s, request size, in-flight, service
//     time, utilisation) from /sys/block/X/stat samples, as time-decayed
//     EWMAs ([Estimator]);
//   - a sharded polling core that samples every path and map through an
//     injected [Reader] and publishes the estimates without blocking readers
//     ([Poller]);
//   - per-path capacities turned into service-time relative_throughput
//     weights, and a [Planner] that rate-limits table reloads;
//   - a [MarginalDetector] that flags paths that are much slower than their
//     peers or keep failing, and the path_latency priority ([PathLatencyPrio]).
//
// Nothing here performs I/O: samples come from a [Reader] (pkg/sysfs in the
// daemon, fakes in tests), time comes from the caller.
package selector
