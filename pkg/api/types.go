// Package api holds the types the daemon shares with its clients: the JSON
// documents of the control socket (Topology, Status, Stats, Event,
// Explanation), the request/response envelope, typed errors, and the Service
// interface the daemon core implements for the control socket and D-Bus.
//
// JSON field names are a public contract: fields may be added, never renamed
// or removed. Enumerated values are plain strings so that a newer daemon can
// add a value without breaking an older client.
package api

import (
	"cmp"
	"time"
)

// Group states, as in the dm-multipath status line (A, E, D).
const (
	GroupActive   = "active"
	GroupEnabled  = "enabled"
	GroupDisabled = "disabled"
)

// Path states in the kernel's map (the dm status line's A/F).
const (
	DMActive = "active"
	DMFailed = "failed"
)

// Checker states: the result of the last path check. A checker that cannot
// work on a device reports "unchecked".
const (
	CheckerUp           = "up"
	CheckerDown         = "down"
	CheckerGhost        = "ghost"
	CheckerPending      = "pending"
	CheckerTimeout      = "timeout"
	CheckerDisconnected = "disconnected"
	CheckerUnchecked    = "unchecked"
)

// CheckerStates lists every checker state in display order.
var CheckerStates = []string{CheckerUp, CheckerDown, CheckerGhost, CheckerPending, CheckerTimeout,
	CheckerDisconnected, CheckerUnchecked}

// Topology is the answer to `show topology`: every map the daemon owns, and
// the paths it knows but has put in no map.
type Topology struct {
	Maps []Map `json:"maps"`
	// Orphans are the paths in no map, by device name: multipathd's
	// "[orphan]" paths. Blacklisted devices and devices without a WWID are
	// not listed.
	Orphans []Orphan `json:"orphans,omitempty"`
}

// Orphan is a path the daemon knows but has put in no map, typically a
// single path that find_multipaths holds back until a second one comes.
type Orphan struct {
	Dev         string `json:"dev"`   // "sdb"
	DevT        string `json:"dev_t"` // "8:16"
	HCIL        string `json:"hcil"`  // "1:0:0:1"
	WWID        string `json:"wwid"`
	DevState    string `json:"dev_state"` // sysfs state: running, offline, blocked, transport-offline
	Vendor      string `json:"vendor"`
	Product     string `json:"product"`
	Revision    string `json:"revision,omitempty"`
	SizeSectors uint64 `json:"size_sectors"`
	// Checker is the checker the path would get in a map; orphans are not
	// checked, so CheckerState is "" unless a check result is known.
	Checker      string `json:"checker,omitempty"`
	CheckerState string `json:"checker_state,omitempty"`
	// Reason says why the path is in no map, when known.
	Reason string `json:"reason,omitempty"`
}

// Map is one multipath map. The kernel's view (groups, dm states, features)
// and the daemon's (checker states, priorities) side by side.
type Map struct {
	Name        string `json:"name"`         // alias, user-friendly name or WWID
	UUID        string `json:"uuid"`         // dm uuid, "mpath-<wwid>"
	WWID        string `json:"wwid"`         // as found in VPD page 0x83
	DM          string `json:"dm"`           // "dm-3"
	DevT        string `json:"dev_t"`        // "253:3"
	SizeSectors uint64 `json:"size_sectors"` // 512-byte sectors
	Features    string `json:"features"`     // the table's feature string, "1 queue_if_no_path"
	HWHandler   string `json:"hw_handler"`   // "1 alua" or "0"
	Vendor      string `json:"vendor"`
	Product     string `json:"product"`
	Revision    string `json:"revision,omitempty"`
	// DMState is "active" or "suspended".
	DMState  string `json:"dm_state,omitempty"`
	ReadOnly bool   `json:"read_only"`
	// Queueing tells whether I/O queues when no path is usable, and for how
	// long: see Queueing.
	Queueing Queueing `json:"queueing"`
	Failback string   `json:"failback,omitempty"` // "immediate", "manual", "followover", "15"
	Groups   []Group  `json:"groups"`
	// Partitions are the names of the map's partition maps (<name>-part1, ...), when mpathd
	// makes them.
	Partitions []string `json:"partitions,omitempty"`
	// LastAction is the last change the daemon made to the map's table: "create", "reload" or
	// "switchpg"; "" for a map adopted and not changed since (multipathd's action).
	LastAction string `json:"last_action,omitempty"`
	// Counters since the map was adopted.
	PathFaults    uint64 `json:"path_faults"`
	GroupSwitches uint64 `json:"group_switches"`
	TableLoads    uint64 `json:"table_loads"`
	// Reservation is the map's persistent reservation state; nil when the
	// map has no reservation_key.
	Reservation *Reservation `json:"reservation,omitempty"`
}

// Reservation is a map's SCSI-3 persistent reservation state, as
// multipathd's getprstatus, getprkey and getprhold report it.
type Reservation struct {
	Map string `json:"map"`
	// Status is "set" when the map's key is registered on the device (read
	// from it, or told by mpathpersist), "unset" when it is not, "unknown"
	// before any path answered: while it is set, every path that comes up
	// is registered before it is used.
	Status string `json:"status"`
	// Hold is "set" while this host holds the reservation, "unset" or
	// "unknown".
	Hold string `json:"hold"`
	// Key is the map's key, "0x…" with ":aptpl" when registered with
	// APTPL; "" when it has none.
	Key string `json:"key,omitempty"`
	// KeySource is "conf" (reservation_key in the configuration), "file"
	// (the prkeys file) or "".
	KeySource string `json:"key_source,omitempty"`
}

// NoReservation is the state of a map without a reservation key.
func NoReservation(mapName string) Reservation {
	return Reservation{Map: mapName, Status: "unset", Hold: "unset"}
}

// Queueing modes.
const (
	QueueingOff     = "off"     // no_path_retry fail: I/O fails when no path is left
	QueueingOn      = "on"      // queueing forever (no_path_retry queue)
	QueueingRetries = "retries" // queueing for a bounded number of checker intervals
)

// Queueing is the no_path_retry state of a map.
type Queueing struct {
	Mode string `json:"mode"` // off | on | retries
	// Active is true while the kernel queues I/O (queue_if_no_path set).
	Active bool `json:"active"`
	// RetriesLeft counts checker intervals left before queueing stops, when
	// Mode is "retries" and no path is usable.
	RetriesLeft int `json:"retries_left,omitempty"`
	// Configured is the no_path_retry value as written in the config.
	Configured string `json:"configured,omitempty"`
}

// Group is one priority group of a map, numbered from 1 as the kernel does.
type Group struct {
	Index    int    `json:"index"`
	State    string `json:"state"` // active | enabled | disabled
	Prio     int    `json:"prio"`
	Selector string `json:"selector"` // "service-time 0"
	Marginal bool   `json:"marginal,omitempty"`
	Paths    []Path `json:"paths"`
}

// Path is one path of a group.
type Path struct {
	Dev          string `json:"dev"`           // "sdb"
	DevT         string `json:"dev_t"`         // "8:16"
	HCIL         string `json:"hcil"`          // "1:0:0:1"
	DMState      string `json:"dm_state"`      // active | failed
	CheckerState string `json:"checker_state"` // up | down | ghost | pending | timeout | disconnected | unchecked
	DevState     string `json:"dev_state"`     // sysfs state: running, offline, blocked, transport-offline
	Prio         int    `json:"prio"`
	Checker      string `json:"checker,omitempty"` // "tur": the one in use, detected or configured
	// Prioritizer is the prioritizer in use ("alua"); Fallback says why the configured checker or
	// prioritizer is not in use, or why the prioritizer failed ("" when all is as configured).
	Prioritizer string `json:"prioritizer,omitempty"`
	Fallback    string `json:"fallback,omitempty"`
	// CheckerFrom and PrioFrom say where the checker and prioritizer in use came from:
	// "configured", "default", "fallback", or "detected: …" (detect_checker, detect_prio).
	CheckerFrom string `json:"checker_from,omitempty"`
	PrioFrom    string `json:"prio_from,omitempty"`
	FailCount   uint64 `json:"fail_count"` // from the dm status line
	Marginal    bool   `json:"marginal,omitempty"`
	// TPG is the ALUA target port group of the path's port when HasTPG: the device reports one
	// (VPD page 0x83).
	TPG    uint16 `json:"tpg,omitempty"`
	HasTPG bool   `json:"has_tpg,omitempty"`
	// Weight is the selector's current share of I/O for this path (0–100).
	Weight int `json:"weight"`
	// Held says why mpathd keeps the path failed although its check may pass: HeldAdmin until
	// "reinstate path", HeldFlapping for a while after repeated failures; "" when not held.
	Held string `json:"held,omitempty"`
}

// Path.Held values.
const (
	HeldAdmin    = "admin-failed"
	HeldFlapping = "flapping"
)

// Normalize returns t with every nil slice replaced by an empty one, so that
// JSON shows [] rather than null. It copies only what it changes: t may be a
// shared snapshot.
func (t Topology) Normalize() Topology {
	if t.Maps == nil {
		t.Maps = []Map{}
		return t
	}
	copied := false
	for i := range t.Maps {
		m := &t.Maps[i]
		need := m.Groups == nil
		for _, g := range m.Groups {
			need = need || g.Paths == nil
		}
		if !need {
			continue
		}
		if !copied {
			t.Maps = append([]Map(nil), t.Maps...)
			m = &t.Maps[i]
			copied = true
		}
		groups := make([]Group, len(m.Groups))
		copy(groups, m.Groups)
		for j := range groups {
			if groups[j].Paths == nil {
				groups[j].Paths = []Path{}
			}
		}
		m.Groups = groups
	}
	return t
}

// PathInfo is one row of `show paths`: a path with the map and group it is in.
// A path in no map (an orphan) has Map "" and Group 0, and Reason says why
// it is in none.
type PathInfo struct {
	Path
	Map    string `json:"map"`
	WWID   string `json:"wwid"`
	Group  int    `json:"group"`
	Reason string `json:"reason,omitempty"`
}

// Paths flattens a topology into path rows, in map, group, path order, then
// the orphans.
func (t Topology) Paths() []PathInfo {
	out := []PathInfo{}
	for _, m := range t.Maps {
		for _, g := range m.Groups {
			for _, p := range g.Paths {
				out = append(out, PathInfo{Path: p, Map: m.Name, WWID: m.WWID, Group: g.Index})
			}
		}
	}
	for _, o := range t.Orphans {
		out = append(out, PathInfo{Path: Path{Dev: o.Dev, DevT: o.DevT, HCIL: o.HCIL, DevState: o.DevState,
			CheckerState: o.CheckerState, Checker: o.Checker}, WWID: o.WWID, Reason: o.Reason})
	}
	return out
}

// Find returns the map whose name, WWID or dm name is target.
func (t Topology) Find(target string) (Map, bool) {
	for _, m := range t.Maps {
		if m.Name == target || m.WWID == target || m.DM == target {
			return m, true
		}
	}
	return Map{}, false
}

// PathCount counts the paths of a map and how many of them are usable (the
// kernel has them active and the checker says up or ghost).
func (m Map) PathCount() (total, usable int) {
	for _, g := range m.Groups {
		for _, p := range g.Paths {
			total++
			if p.DMState == DMActive && (p.CheckerState == CheckerUp || p.CheckerState == CheckerGhost) {
				usable++
			}
		}
	}
	return total, usable
}

// Map health for Status.MapStates.
const (
	MapOptimal  = "optimal"  // every path usable
	MapDegraded = "degraded" // some paths usable
	MapQueueing = "queueing" // no usable path, I/O queued
	MapFailed   = "failed"   // no usable path, I/O failing
)

// Health classifies a map by its usable paths.
func (m Map) Health() string {
	total, usable := m.PathCount()
	switch {
	case usable > 0 && usable == total:
		return MapOptimal
	case usable > 0:
		return MapDegraded
	case m.Queueing.Active:
		return MapQueueing
	default:
		return MapFailed
	}
}

// Status is the answer to `show status`.
type Status struct {
	Version    string    `json:"version"`
	PID        int       `json:"pid"`
	Started    time.Time `json:"started"`
	UptimeSec  float64   `json:"uptime_sec"`
	ConfigFile string    `json:"config_file"`
	// ConfigFiles lists every file read when there are several (a
	// multipath.conf and its conf.d drop-ins).
	ConfigFiles []string `json:"config_files,omitempty"`
	// ConfigWarnings are "file:line: keyword: message" lines for what the
	// configuration sets but the daemon does not apply.
	ConfigWarnings []string `json:"config_warnings,omitempty"`
	// TransportErrors are "path: object attribute value: error" lines for
	// transport settings the kernel refused or did not keep.
	TransportErrors []string `json:"transport_errors,omitempty"`
	// State is the daemon's phase: startup, configure, running, reloading, stopping.
	State string `json:"state"`
	Maps  int    `json:"maps"`
	Paths int    `json:"paths"`
	// CheckerStates counts paths per checker state; every state is present.
	CheckerStates map[string]int `json:"checker_states"`
	// MapStates counts maps per health (optimal, degraded, queueing, failed).
	MapStates map[string]int `json:"map_states"`
	// Orphans counts the paths the daemon knows but has put in no map (Topology.Orphans), and
	// OrphanCheckerStates them per checker state: unchecked unless a result is known.
	Orphans             int            `json:"orphans"`
	OrphanCheckerStates map[string]int `json:"orphan_checker_states,omitempty"`
	// LastReconfigure is the time of the last successful configuration load.
	LastReconfigure time.Time `json:"last_reconfigure,omitzero"`
	// DBus is "connected", "disconnected" or "disabled".
	DBus string `json:"dbus,omitempty"`
	// EventSubscribers counts open event streams (control socket and
	// D-Bus); a script can wait for its `mpathctl events` to be listening.
	EventSubscribers int `json:"event_subscribers"`
}

// CountStates fills the Maps, Paths, CheckerStates and MapStates fields from
// a topology, for daemons (and fakes) that build Status from a snapshot.
func (s *Status) CountStates(t Topology) {
	s.Maps = len(t.Maps)
	s.Paths = 0
	s.CheckerStates = make(map[string]int, len(CheckerStates))
	for _, c := range CheckerStates {
		s.CheckerStates[c] = 0
	}
	s.MapStates = map[string]int{MapOptimal: 0, MapDegraded: 0, MapQueueing: 0, MapFailed: 0}
	s.CountOrphans(t.Orphans)
	for _, m := range t.Maps {
		s.MapStates[m.Health()]++
		for _, g := range m.Groups {
			for _, p := range g.Paths {
				s.Paths++
				s.CheckerStates[p.CheckerState]++
			}
		}
	}
}

// CountOrphans fills Orphans and OrphanCheckerStates.
func (s *Status) CountOrphans(orphans []Orphan) {
	s.Orphans, s.OrphanCheckerStates = len(orphans), nil
	for _, o := range orphans {
		if s.OrphanCheckerStates == nil {
			s.OrphanCheckerStates = map[string]int{}
		}
		s.OrphanCheckerStates[cmp.Or(o.CheckerState, CheckerUnchecked)]++
	}
}

// Setting is one effective configuration value and the layer it came from.
type Setting struct {
	Key    string `json:"key"`
	Value  string `json:"value"`  // as written in the config file; "" when unset
	Origin string `json:"origin"` // "multipaths[wwid=…]", "overrides", "devices[…]", "defaults", "built-in"
}

// Explanation is the answer to `config explain TARGET`.
type Explanation struct {
	Target   string    `json:"target"` // as asked
	Map      string    `json:"map"`    // the map the settings apply to
	WWID     string    `json:"wwid"`
	Path     string    `json:"path,omitempty"` // set when TARGET named a path
	Settings []Setting `json:"settings"`
	// Transport lists the transport and queue attributes set on the
	// paths (all of the map's, or the one asked for), as read back.
	Transport []TransportSetting `json:"transport,omitempty"`
	// TransportNotes are the decisions behind them: a raised dev_loss_tmo,
	// a setting the transport cannot take.
	TransportNotes []string `json:"transport_notes,omitempty"`
}

// TransportSetting is one attribute mpathd set for a path: on its FC remote
// port, iSCSI session, SAS end device, SCSI host or block queue.
type TransportSetting struct {
	Path      string `json:"path"`      // "sdb"
	Object    string `json:"object"`    // "rport-2:0-0", "session3", "host2", "sdb"
	Attribute string `json:"attribute"` // "dev_loss_tmo", "recovery_tmo", "queue/max_sectors_kb", ...
	Want      string `json:"want"`      // what the configuration asks for
	Value     string `json:"value"`     // read back from the kernel
	Error     string `json:"error,omitempty"`
}

// Stats is the answer to `show stats`, the data behind `mpathctl top`.
// Rates are averages over the selector's last sampling window.
type Stats struct {
	Time      time.Time   `json:"time"`
	WindowSec float64     `json:"window_sec"`
	Maps      []MapStats  `json:"maps"`
	Paths     []PathStats `json:"paths"`
}

// IOStats are the load figures shared by maps and paths.
type IOStats struct {
	IOPS          float64 `json:"iops"`
	ReadBytesSec  float64 `json:"read_bytes_sec"`
	WriteBytesSec float64 `json:"write_bytes_sec"`
	AvgReqBytes   float64 `json:"avg_req_bytes"`
	InFlight      int     `json:"in_flight"`
	ServiceTimeMs float64 `json:"service_time_ms"` // average time per completed request
	Utilisation   float64 `json:"utilisation"`     // 0–1, share of the window with I/O in flight
}

// MapStats is the load of one map.
type MapStats struct {
	Name string `json:"name"`
	IOStats
}

// PathStats is the load of one path and its place in the selector.
type PathStats struct {
	Dev          string `json:"dev"`
	Map          string `json:"map"`
	Group        int    `json:"group"`
	DMState      string `json:"dm_state"`
	CheckerState string `json:"checker_state"`
	Weight       int    `json:"weight"` // 0–100, the selector's share for this path
	IOStats
}
