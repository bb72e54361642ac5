package api

import "context"

// Service is what the daemon core offers its clients. The control socket and
// the D-Bus export call it from many goroutines at once, so every method must
// be safe for concurrent use. Read methods return immutable snapshots and
// must never wait on a checker, a reload or a udev cookie. Action methods
// honour ctx (the client's deadline) and return an *Error (any other error is
// reported as "internal").
type Service interface {
	Topology() Topology
	Status() Status
	Stats() Stats
	// EffectiveConfig renders the configuration in force as TOML text.
	EffectiveConfig() (string, error)
	// Explain lists the effective settings of a map (name or WWID) or of the
	// map a path (device name) belongs to, each with its origin.
	Explain(target string) (Explanation, error)
	// CheckConfig validates a configuration file without applying it.
	CheckConfig(path string) error

	FailPath(ctx context.Context, dev string) error
	ReinstatePath(ctx context.Context, dev string) error
	// SwitchGroup makes group (numbered from 1) the active group of a map.
	SwitchGroup(ctx context.Context, mapName string, group int) error
	Reconfigure(ctx context.Context) error
	ResizeMap(ctx context.Context, mapName string) error
	FlushMap(ctx context.Context, mapName string) error
	AddPath(ctx context.Context, dev string) error
	DelPath(ctx context.Context, dev string) error
	// Rescan asks SCSI host N (-1: every host) to scan for new LUNs.
	Rescan(ctx context.Context, host int) error

	// AddMap builds, or takes over, the map of a WWID, a map name or a dm
	// device name from the paths the daemon can see, whatever
	// find_multipaths says, and remembers the WWID in the wwids file.
	AddMap(ctx context.Context, target string) error
	// SuspendMap suspends a map without flushing: I/O queues until
	// ResumeMap.
	SuspendMap(ctx context.Context, mapName string) error
	ResumeMap(ctx context.Context, mapName string) error
	// ReloadMap loads a map's table again even when it has not changed.
	ReloadMap(ctx context.Context, mapName string) error
	// SetQueueing with on=false stops queueing on a map ("" = every map)
	// until it is restored with on=true or the configuration is reloaded;
	// on=true restores the configured no_path_retry.
	SetQueueing(ctx context.Context, mapName string, on bool) error
	// ForceQueueWithoutDaemon(true) keeps queueing on when the daemon stops,
	// whatever queue_without_daemon says; false restores the configured
	// value.
	ForceQueueWithoutDaemon(ctx context.Context, force bool) error
	// ResetStats zeroes a map's counters (path faults, group switches,
	// table loads); "" = every map.
	ResetStats(ctx context.Context, mapName string) error

	// Reservation is a map's persistent reservation state (getprstatus,
	// getprkey, getprhold), from the snapshot.
	Reservation(mapName string) (Reservation, error)
	// SetPRStatus records that mpathpersist registered (true) or
	// unregistered the map's key (setprstatus, unsetprstatus).
	SetPRStatus(ctx context.Context, mapName string, set bool) error
	// SetPRKey records the map's key in the prkeys file ("" removes it);
	// only for reservation_key "file" (setprkey, unsetprkey).
	SetPRKey(ctx context.Context, mapName, key string) error
	// SetPRHold records whether this host holds the reservation
	// (setprhold, unsetprhold).
	SetPRHold(ctx context.Context, mapName string, set bool) error

	// Subscribe streams state changes until ctx ends, then closes the
	// channel. A slow reader loses events, never blocks the daemon; it is
	// told with an events_lost event. Hub implements this. Publish an
	// event after Topology reflects it: clients (the D-Bus export, scripts
	// running `mpathctl show` on an event) read the state when told.
	Subscribe(ctx context.Context) <-chan Event
}
