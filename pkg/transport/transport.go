// Package transport decides and applies the settings a multipath daemon
// gives a path's transport: an FC remote port's fast_io_fail_tmo and
// dev_loss_tmo, an iSCSI session's recovery_tmo, a SAS end device's
// I_T_nexus_loss_timeout, the SCSI host's eh_deadline and the block queue's
// max_sectors_kb, with multipath-tools' rules.
//
// Decide is pure: configuration and path facts in, a Plan out. Apply carries
// a Plan out through an Attrs (sysfs.FS in the daemon), reading every value
// back, so a value the kernel refuses or changes is reported, never lost.
package transport

import (
	"fmt"
	"strconv"

	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// MaxDevLoss is the dev_loss_tmo written for "infinity" and for
// no_path_retry "queue": the largest value every kernel accepts (the FC
// transport refuses more than UINT_MAX, older ones more than INT_MAX).
const MaxDevLoss = 2147483647

// maxBlockTimeout is the kernel's SCSI_DEVICE_BLOCK_MAX_TIMEOUT: the FC
// transport refuses a dev_loss_tmo above it while fast_io_fail_tmo is off,
// and any fast_io_fail_tmo above it.
const maxBlockTimeout = 600

// Settings are the configuration values that decide a path's transport.
type Settings struct {
	FastIOFail      config.Tmo
	DevLoss         config.Tmo
	EhDeadline      config.Tmo
	NoPathRetry     config.NoPathRetry
	PollingInterval int // seconds
	MaxSectorsKB    int // 0: leave the kernel's value
}

// FromResolved takes the settings of a path of protocol ("scsi:fcp"…) from
// its map's resolved configuration; polling is the global polling_interval.
func FromResolved(r *config.Resolved, protocol string, polling int) Settings {
	t := r.Timeouts(protocol)
	return Settings{
		FastIOFail: t.FastIOFail, DevLoss: t.DevLoss, EhDeadline: t.EhDeadline,
		NoPathRetry: r.NoPathRetry, PollingInterval: polling, MaxSectorsKB: r.MaxSectorsKB,
	}
}

// Step is one attribute to set.
type Step struct {
	Class  string // sysfs.Class*
	Object string // "rport-2:0-0", "session3", "host2", "sdb"
	Attr   string
	Value  string
	// AtLeast: raise the kernel's value to Value, never lower it (dev_loss_tmo
	// when the configuration leaves it unset but queueing needs it).
	AtLeast bool
	// OnAdd: only when the path is added, never on a reconfigure of a live
	// map (max_sectors_kb: changing it under a live map can fail I/O).
	OnAdd bool
}

// Plan is what a path wants: the steps in order and the decisions an
// administrator should see (a raised dev_loss_tmo, a setting the transport
// cannot take).
type Plan struct {
	Steps []Step
	Notes []string
}

// Decide works out the steps for one path.
func Decide(s Settings, p sysfs.Path) Plan {
	var pl Plan
	note := func(format string, args ...any) { pl.Notes = append(pl.Notes, fmt.Sprintf(format, args...)) }
	fio, devLoss, floor := timeouts(s, note)
	t := p.Transport
	switch t.Kind {
	case sysfs.TransportFC:
		if fio > maxBlockTimeout {
			note("fast_io_fail_tmo %d limited to %d, the most the kernel allows", fio, maxBlockTimeout)
			fio = maxBlockTimeout
		}
		if devLoss > maxBlockTimeout && fio == config.TmoOff {
			note("dev_loss_tmo %d limited to %d: the kernel allows no more while fast_io_fail_tmo is off", devLoss, maxBlockTimeout)
			devLoss = maxBlockTimeout
		}
		if fio != config.TmoUnset {
			pl.add(sysfs.ClassFCRemotePort, t.RPort, "fast_io_fail_tmo", tmo(fio), false)
		}
		switch {
		case devLoss >= 0:
			pl.add(sysfs.ClassFCRemotePort, t.RPort, "dev_loss_tmo", strconv.Itoa(int(devLoss)), false)
		case floor > 0:
			pl.Steps = append(pl.Steps, Step{Class: sysfs.ClassFCRemotePort, Object: t.RPort, Attr: "dev_loss_tmo", Value: strconv.Itoa(floor), AtLeast: true})
		}
	case sysfs.TransportISCSI:
		// open-iscsi keeps a failed session and logs in again for ever, so
		// dev_loss has no meaning; fast_io_fail becomes the time I/O waits
		// on a FAILED session before it is failed to dm.
		if s.DevLoss != config.TmoUnset {
			note("dev_loss_tmo %s not applied: iSCSI sessions have none (open-iscsi keeps them)", s.DevLoss)
		}
		switch {
		case fio == config.TmoOff:
			note("fast_io_fail_tmo off not applied: an iSCSI session's recovery_tmo cannot be switched off")
		case fio == 0:
			note("fast_io_fail_tmo 0 not applied: an iSCSI session's recovery_tmo cannot be 0")
		case fio > 0:
			pl.add(sysfs.ClassISCSISession, t.Session, "recovery_tmo", tmo(fio), false)
		}
	case sysfs.TransportSAS:
		if devLoss >= 0 {
			pl.add(sysfs.ClassSASEndDevice, t.EndDevice, "I_T_nexus_loss_timeout", strconv.Itoa(int(devLoss)), false)
		}
	}
	if s.EhDeadline != config.TmoUnset {
		pl.add(sysfs.ClassSCSIHost, "host"+strconv.Itoa(p.HCTL.Host), "eh_deadline", tmo(s.EhDeadline), false)
	}
	if s.MaxSectorsKB > 0 {
		pl.add(sysfs.ClassBlock, p.Name, "queue/max_sectors_kb", strconv.Itoa(s.MaxSectorsKB), true)
	}
	return pl
}

func (pl *Plan) add(class, obj, attr, val string, onAdd bool) {
	if obj == "" {
		return
	}
	pl.Steps = append(pl.Steps, Step{Class: class, Object: obj, Attr: attr, Value: val, OnAdd: onAdd})
}

// timeouts applies multipath-tools' rules to fast_io_fail and dev_loss:
// infinity is MaxDevLoss; queueing (no_path_retry queue, or N ×
// polling_interval with padding) raises dev_loss, so the devices under
// queued I/O are not removed while the map still waits for them; a
// fast_io_fail not below dev_loss is switched off. devLoss is -1 when the
// configuration leaves it unset, and floor then is the least the kernel's
// value must be (0: none).
func timeouts(s Settings, note func(string, ...any)) (fio config.Tmo, devLoss config.Tmo, floor int) {
	fio, devLoss = s.FastIOFail, s.DevLoss
	if devLoss == config.TmoInfinity {
		devLoss = MaxDevLoss
	}
	switch s.NoPathRetry.Mode {
	case config.RetryQueue:
		floor = MaxDevLoss
	case config.RetryCount:
		q := int64(s.NoPathRetry.Count) * int64(max(s.PollingInterval, 1))
		q += 5 + q/60 // the last check, the tick that ends the count, a slow checker
		floor = int(min(q, MaxDevLoss))
	}
	if devLoss >= 0 && floor > int(devLoss) {
		note("dev_loss_tmo raised from %d to %d to cover no_path_retry %s", devLoss, floor, noPathRetry(s.NoPathRetry))
		devLoss = config.Tmo(floor)
	}
	if devLoss < 0 {
		devLoss = config.TmoUnset
	}
	limit := int(devLoss)
	if devLoss == config.TmoUnset {
		limit = floor
	}
	if fio >= 0 && limit > 0 && int(fio) >= limit {
		note("fast_io_fail_tmo %d switched off: it is not below dev_loss_tmo %d", fio, limit)
		fio = config.TmoOff
	}
	return fio, devLoss, floor
}

func tmo(t config.Tmo) string {
	if t == config.TmoOff {
		return "off"
	}
	return strconv.Itoa(int(t))
}

func noPathRetry(n config.NoPathRetry) string {
	if n.Mode == config.RetryCount {
		return strconv.Itoa(n.Count)
	}
	return string(n.Mode)
}
