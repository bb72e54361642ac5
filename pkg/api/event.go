package api

import "time"

// Event types. Old and New carry the states for the *_up/_down, group and
// queueing events; Reason says why in words.
const (
	EventPathDown     = "path_down"    // checker or kernel failed the path
	EventPathUp       = "path_up"      // path usable again
	EventPathState    = "path_state"   // any other checker state change (ghost, pending, timeout…)
	EventPathAdded    = "path_added"   // path joined a map
	EventPathRemoved  = "path_removed" // path left a map
	EventGroupSwitch  = "group_switch" // active group changed; Old/New are group indexes
	EventQueueingOn   = "queueing_on"  // queue_if_no_path set
	EventQueueingOff  = "queueing_off" // queue_if_no_path cleared
	EventMapAdded     = "map_added"
	EventMapRemoved   = "map_removed"
	EventMapReloaded  = "map_reloaded" // new table loaded
	EventMapResized   = "map_resized"
	EventReconfigured = "reconfigured" // configuration reloaded
	EventReservation  = "reservation"  // persistent reservation: status changed, a registration failed; Reason says what
	EventEventsLost   = "events_lost"  // this subscriber was too slow; Reason says how many
)

// Event is one state change, as streamed by `mpathctl events`.
type Event struct {
	Time   time.Time `json:"time"`
	Type   string    `json:"type"`
	Map    string    `json:"map,omitempty"`
	Path   string    `json:"path,omitempty"`
	Old    string    `json:"old,omitempty"`
	New    string    `json:"new,omitempty"`
	Reason string    `json:"reason,omitempty"`
	// Lost is the number of events dropped before this one (events_lost only).
	Lost uint64 `json:"lost,omitempty"`
}
