package daemon

import (
	"time"

	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// Topology is the daemon's view of sysfs: which SCSI paths exist and what they look like.
// sysfs.FS implements it; tests use fixture trees or a fake.
type Topology interface {
	Paths() ([]sysfs.Path, error)
	Path(name string) (sysfs.Path, error)
	ScanHost(host int, a sysfs.ScanAddr) error
	Hosts() ([]sysfs.Host, error)
}

// Monitor checks paths asynchronously: every watched path is checked on its own adaptive interval
// and each result comes back through Daemon.PathChecked. Watch replaces an earlier spec for the
// same path. No method may block.
type Monitor interface {
	Watch(p sysfs.Path, spec CheckSpec)
	Unwatch(dev string)
	CheckNow(dev string)
}

// CheckSpec says how to check one path and how to rate it: the configured checker and
// prioritizer with the detection switches (checker.Choose applies them), and the command timeout.
type CheckSpec struct {
	checker.Spec
	Timeout time.Duration // 0: the device's SCSI timeout
}

// CheckResult is one path check with the path's priority measured alongside.
type CheckResult struct {
	State    checker.State
	Reason   string
	Prio     int    // checker.PrioUndefined when it could not be read
	PrioName string // the prioritizer actually used
	// Checker is the checker actually used; Fallback says why the
	// configured checker or prioritizer is not ("" when they are).
	Checker  string
	Fallback string
	// CheckerSource and PrioSource say where the checker and prioritizer in use came from:
	// "configured", "default", "fallback", or "detected: ALUA (TPGS 1)" and the like.
	CheckerSource, PrioSource string
	// Took is how long the check and the prioritizer took; 0 when not measured.
	Took time.Duration
}

// Names gives maps their names: the user_friendly_names bindings. Alias returns the alias bound to
// wwid, allocating the lowest free one with prefix when there is none; taken reports aliases used
// by live maps of other WWIDs, which must not be handed out.
type Names interface {
	Alias(wwid, prefix string, taken func(alias string) bool) (string, error)
}

// WWIDs is the find_multipaths memory (/etc/multipath/wwids).
type WWIDs interface {
	Known(wwid string) bool
	Remember(wwid string) error
}
