package api

import "encoding/json"

// ProtocolVersion is the control socket protocol version. A request with any
// other version is refused with an "invalid" error naming the versions the
// daemon speaks, so an old mpathctl fails clearly against a new daemon.
const ProtocolVersion = 1

// Operations of the control socket. Read operations are open to every local
// user; the others need root (see Op.Privileged).
const (
	OpTopology      = "topology"       // -> Topology
	OpMaps          = "maps"           // -> Topology (the same document; clients render a summary)
	OpMap           = "map"            // Args.Map -> Map
	OpPaths         = "paths"          // -> []PathInfo
	OpStatus        = "status"         // -> Status
	OpStats         = "stats"          // -> Stats
	OpConfig        = "config"         // -> ConfigText
	OpExplain       = "explain"        // Args.Target -> Explanation
	OpCheckConfig   = "check_config"   // Args.File -> nothing (root: the daemon reads the file)
	OpFailPath      = "fail_path"      // Args.Path
	OpReinstatePath = "reinstate_path" // Args.Path
	OpSwitchGroup   = "switch_group"   // Args.Map, Args.Group
	OpReconfigure   = "reconfigure"
	OpResizeMap     = "resize_map" // Args.Map
	OpFlushMap      = "flush_map"  // Args.Map
	OpAddPath       = "add_path"   // Args.Path
	OpDelPath       = "del_path"   // Args.Path
	OpRescan        = "rescan"     // Args.Host (nil or -1: all hosts)
	OpEvents        = "events"     // -> a stream of Event lines until the client hangs up
	OpMetrics       = "metrics"    // -> MetricsText
	// Persistent reservations (multipathd's getpr*/setpr*/unsetpr*).
	OpReservation = "reservation"  // Args.Map -> Reservation
	OpSetPRStatus = "set_prstatus" // Args.Map, Args.On
	OpSetPRKey    = "set_prkey"    // Args.Map, Args.Key ("" removes it)
	OpSetPRHold   = "set_prhold"   // Args.Map, Args.On
)

var readOps = map[string]bool{
	OpTopology: true, OpMaps: true, OpMap: true, OpPaths: true, OpStatus: true, OpStats: true,
	OpConfig: true, OpExplain: true, OpEvents: true, OpMetrics: true, OpReservation: true,
}

var writeOps = map[string]bool{
	OpCheckConfig: true, OpFailPath: true, OpReinstatePath: true, OpSwitchGroup: true,
	OpReconfigure: true, OpResizeMap: true, OpFlushMap: true, OpAddPath: true, OpDelPath: true,
	OpRescan: true, OpSetPRStatus: true, OpSetPRKey: true, OpSetPRHold: true,
}

// KnownOp reports whether op is an operation of this protocol version.
func KnownOp(op string) bool { return readOps[op] || writeOps[op] }

// Privileged reports whether op needs root. Unknown operations count as
// privileged, so a typo never widens access.
func Privileged(op string) bool { return !readOps[op] }

// Authorize decides whether a caller with this uid may run op: root may run
// everything, other users only read operations. The control socket and the
// D-Bus export share it.
func Authorize(op string, uid uint32) error {
	if uid == 0 || !Privileged(op) {
		return nil
	}
	return Errorf(CodePermission, "%s changes the daemon's state and needs root (you are uid %d); read commands such as show work for everyone", op, uid)
}

// Request is one line a client sends.
type Request struct {
	V    int    `json:"v"`
	ID   uint64 `json:"id,omitempty"` // echoed in the response
	Op   string `json:"op"`
	Args Args   `json:"args,omitzero"`
}

// Args are the parameters of a request; each operation reads the ones it
// documents and ignores the rest.
type Args struct {
	Map    string `json:"map,omitempty"`
	Path   string `json:"path,omitempty"`
	Group  int    `json:"group,omitempty"`
	Host   *int   `json:"host,omitempty"`
	Target string `json:"target,omitempty"`
	File   string `json:"file,omitempty"`
	Key    string `json:"key,omitempty"`
	On     *bool  `json:"on,omitempty"`
}

// Response is one line the daemon sends: either Result or Error is set. In
// an events stream the first response acknowledges the subscription and every
// later line carries one Event.
type Response struct {
	V      int             `json:"v"`
	ID     uint64          `json:"id,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Event  *Event          `json:"event,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// MetricsText is the result of OpMetrics: the Prometheus exposition in the text format, as
// node_exporter's textfile collector reads it.
type MetricsText struct {
	Text string `json:"text"`
}

// ConfigText is the result of OpConfig.
type ConfigText struct {
	TOML string `json:"toml"`
}
