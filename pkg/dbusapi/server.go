package dbusapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/mpathd/mpathd/pkg/api"
)

// SystemBusSocket is where the system bus listens; its appearance triggers
// a connection attempt.
const SystemBusSocket = "/run/dbus/system_bus_socket"

// settleDelay is how long after a burst of events the export looks at the
// topology again.
const settleDelay = 200 * time.Millisecond

// Connection states reported by Server.State (and api.Status.DBus).
const (
	StateConnected    = "connected"
	StateDisconnected = "disconnected"
)

// Server keeps the Service exported on the bus while Run runs.
type Server struct {
	Service api.Service
	Log     *slog.Logger // nil: discard

	// Connect opens a connection to the bus; nil means the system bus
	// ($DBUS_SYSTEM_BUS_ADDRESS, else SocketPath). Tests pass a private bus.
	Connect func(ctx context.Context) (*dbus.Conn, error)
	// SocketPath is watched while the bus is away (default SystemBusSocket).
	SocketPath string
	// Resync is the period of a full comparison with the topology, which
	// catches changes no event announced (default 10 s).
	Resync time.Duration
	// ActionTimeout bounds one action called over the bus (default 2 min).
	ActionTimeout time.Duration

	state atomic.Value // string
	snap  atomic.Pointer[snapshot]
}

// State reports whether the server is on the bus.
func (s *Server) State() string {
	if v, ok := s.state.Load().(string); ok {
		return v
	}
	return StateDisconnected
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Run exports the service until ctx ends, connecting and reconnecting as the
// bus comes and goes (backoff from 1 s to 30 s, at once when the bus socket
// appears). It always returns nil once ctx ends; it never fails the daemon.
func (s *Server) Run(ctx context.Context) error {
	socket := s.SocketPath
	if socket == "" {
		socket = SystemBusSocket
	}
	connect := s.Connect
	if connect == nil {
		// The socket we watch is the one we dial (godbus's default goes
		// through /var/run, which an initramfs may lack).
		addr := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS")
		if addr == "" {
			addr = "unix:path=" + socket
		}
		connect = func(ctx context.Context) (*dbus.Conn, error) {
			return dbus.Connect(addr, dbus.WithContext(ctx))
		}
	}
	backoff := time.Second
	var lastErr string
	for {
		s.state.Store(StateDisconnected)
		conn, err := connect(ctx)
		if err == nil {
			var served bool
			served, err = s.serve(ctx, conn)
			conn.Close()
			if ctx.Err() != nil {
				s.state.Store(StateDisconnected)
				return nil
			}
			if served {
				backoff, lastErr = time.Second, ""
				s.log().Warn("dbus: lost the bus; reconnecting when it is back", "err", err)
			} else if err.Error() != lastErr {
				// On the bus but not exported (the name is taken): said once.
				s.log().Warn("dbus: cannot export; retrying", "err", err)
				lastErr = err.Error()
			}
		} else if ctx.Err() != nil {
			return nil
		} else if err.Error() != lastErr {
			// Said once per distinct reason, not on every retry.
			s.log().Info("dbus: no system bus; running without D-Bus until it appears", "err", err)
			lastErr = err.Error()
		}
		if !waitForBus(ctx, socket, backoff) {
			return nil
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// waitForBus sleeps up to d, returning early when the socket appears; it
// reports false when ctx ends.
func waitForBus(ctx context.Context, socket string, d time.Duration) bool {
	_, err := os.Stat(socket)
	present := err == nil
	deadline := time.After(d)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-deadline:
			return true
		case <-tick.C:
			_, err := os.Stat(socket)
			if err == nil && !present {
				return true
			}
			present = err == nil
		}
	}
}

// serve exports everything on conn and keeps it current until ctx ends or
// the connection breaks. served reports whether the name was taken.
func (s *Server) serve(ctx context.Context, conn *dbus.Conn) (served bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := s.Service.Subscribe(ctx)
	s.snap.Store(build(s.Service.Topology(), s.Service.Status(), s.Service.Stats()))

	// Export before taking the name: a client that sees the name must find
	// the objects.
	m := &manager{s: s, conn: conn, ctx: ctx}
	t := &tree{s: s}
	for _, e := range []struct {
		methods map[string]any
		iface   string
		subtree bool
	}{
		{m.methods(), ManagerIface, false},
		{map[string]any{"GetManagedObjects": m.GetManagedObjects}, objectMgrIface, false},
		{map[string]any{"Get": t.Get, "GetAll": t.GetAll, "Set": t.Set}, propertiesIface, true},
		{map[string]any{"Introspect": t.Introspect}, introspectIface, true},
	} {
		export := conn.ExportMethodTable
		if e.subtree {
			export = conn.ExportSubtreeMethodTable
		}
		if err := export(e.methods, ManagerPath, e.iface); err != nil {
			return false, fmt.Errorf("dbus: export %s: %w", e.iface, err)
		}
	}
	reply, err := conn.RequestName(BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		return false, fmt.Errorf("dbus: request name %s: %w", BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		return false, fmt.Errorf("dbus: name %s is owned by another process (another mpathd?)", BusName)
	}
	s.state.Store(StateConnected)
	s.log().Info("dbus: on the bus", "name", BusName)

	resync := s.Resync
	if resync <= 0 {
		resync = 10 * time.Second
	}
	tick := time.NewTicker(resync)
	defer tick.Stop()
	// A second look shortly after a burst catches state a service published
	// just after its events.
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			conn.ReleaseName(BusName)
			return true, ctx.Err()
		case <-conn.Context().Done():
			return true, errors.New("connection closed")
		case <-tick.C:
			s.sync(conn)
		case <-settle.C:
			s.sync(conn)
		case ev, ok := <-events:
			if !ok {
				return true, ctx.Err()
			}
			// Take the whole burst, publish the state once, then the signals,
			// so a client reacting to a signal reads the new state.
			batch := []api.Event{ev}
		drain:
			for len(batch) < 4096 {
				select {
				case ev, ok := <-events:
					if !ok {
						break drain
					}
					batch = append(batch, ev)
				default:
					break drain
				}
			}
			s.sync(conn)
			for _, ev := range batch {
				s.emitEvent(conn, ev)
			}
			settle.Reset(settleDelay)
		}
	}
}

// sync publishes a fresh snapshot and announces what changed.
func (s *Server) sync(conn *dbus.Conn) {
	next := build(s.Service.Topology(), s.Service.Status(), s.Service.Stats())
	prev := s.snap.Swap(next)
	if prev == nil {
		return
	}
	for _, c := range diff(prev, next) {
		var err error
		switch {
		case c.added:
			err = conn.Emit(ManagerPath, objectMgrIface+".InterfacesAdded", c.path,
				map[string]map[string]dbus.Variant{c.iface: c.props})
		case c.removed:
			err = conn.Emit(ManagerPath, objectMgrIface+".InterfacesRemoved", c.path, []string{c.iface})
		default:
			err = conn.Emit(c.path, propertiesIface+".PropertiesChanged", c.iface, c.props, []string{})
		}
		if err != nil {
			s.log().Debug("dbus: emit", "path", c.path, "err", err)
		}
	}
}

// emitEvent sends the specific signal for an event, and Event for all.
func (s *Server) emitEvent(conn *dbus.Conn, ev api.Event) {
	emit := func(member string, args ...any) {
		if err := conn.Emit(ManagerPath, ManagerIface+"."+member, args...); err != nil {
			s.log().Debug("dbus: emit", "signal", member, "err", err)
		}
	}
	switch ev.Type {
	case api.EventPathDown, api.EventPathUp, api.EventPathState:
		emit("PathStateChanged", PathPath(ev.Path), ev.Path, ev.Map, ev.Old, ev.New, ev.Reason)
	case api.EventGroupSwitch:
		o, _ := strconv.Atoi(ev.Old)
		n, _ := strconv.Atoi(ev.New)
		emit("GroupSwitched", MapPath(ev.Map), ev.Map, int32(o), int32(n), ev.Reason)
	case api.EventQueueingOn, api.EventQueueingOff:
		emit("QueueingChanged", MapPath(ev.Map), ev.Map, ev.Type == api.EventQueueingOn, ev.Reason)
	case api.EventMapAdded:
		emit("MapAdded", MapPath(ev.Map), ev.Map)
	case api.EventMapRemoved:
		emit("MapRemoved", MapPath(ev.Map), ev.Map)
	}
	emit("Event", ev.Type, ev.Map, ev.Path, ev.Old, ev.New, ev.Reason)
}

// tree serves Properties and Introspectable for the manager and every map and
// path object from the current snapshot.
type tree struct{ s *Server }

func msgPath(msg dbus.Message) dbus.ObjectPath {
	p, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	return p
}

func (t *tree) lookup(msg dbus.Message, iface string) (*object, *dbus.Error) {
	p := msgPath(msg)
	o := t.s.snap.Load().objects[p]
	if o == nil {
		return nil, dbus.NewError("org.freedesktop.DBus.Error.UnknownObject", []any{fmt.Sprintf("no object %s", p)})
	}
	if iface != o.iface && iface != "" { // "" is every interface; each object has one
		return nil, dbus.NewError("org.freedesktop.DBus.Error.UnknownInterface", []any{fmt.Sprintf("%s has no interface %q", p, iface)})
	}
	return o, nil
}

// Get implements org.freedesktop.DBus.Properties.Get.
func (t *tree) Get(msg dbus.Message, iface, name string) (dbus.Variant, *dbus.Error) {
	o, err := t.lookup(msg, iface)
	if err != nil {
		return dbus.Variant{}, err
	}
	props := o.props
	if volatile[name] {
		props = o.withLoad(indexLoad(t.s.Service.Stats()))
	}
	v, ok := props[name]
	if !ok {
		return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.UnknownProperty", []any{fmt.Sprintf("%s has no property %q", iface, name)})
	}
	return v, nil
}

// GetAll implements org.freedesktop.DBus.Properties.GetAll.
func (t *tree) GetAll(msg dbus.Message, iface string) (map[string]dbus.Variant, *dbus.Error) {
	o, err := t.lookup(msg, iface)
	if err != nil {
		return nil, err
	}
	if o.iface == MapIface || o.iface == PathIface {
		return o.withLoad(indexLoad(t.s.Service.Stats())), nil
	}
	return o.props, nil
}

// Set implements org.freedesktop.DBus.Properties.Set: every property is
// read-only.
func (t *tree) Set(msg dbus.Message, iface, name string, _ dbus.Variant) *dbus.Error {
	if _, err := t.lookup(msg, iface); err != nil {
		return err
	}
	return dbus.NewError("org.freedesktop.DBus.Error.PropertyReadOnly", []any{fmt.Sprintf("%s is read-only", name)})
}

// Introspect implements org.freedesktop.DBus.Introspectable.
func (t *tree) Introspect(msg dbus.Message) (string, *dbus.Error) {
	p := msgPath(msg)
	xml, ok := t.s.snap.Load().introspect(p)
	if !ok {
		return "", dbus.NewError("org.freedesktop.DBus.Error.UnknownObject", []any{fmt.Sprintf("no object %s", p)})
	}
	return xml, nil
}

// manager implements org.mpathd.Daemon1.Manager and the ObjectManager.
type manager struct {
	s    *Server
	conn *dbus.Conn
	ctx  context.Context
}

func (m *manager) methods() map[string]any {
	return map[string]any{
		"ListMaps": m.ListMaps, "ListPaths": m.ListPaths, "GetStatus": m.GetStatus, "GetTopology": m.GetTopology,
		"Reconfigure": m.Reconfigure, "FailPath": m.FailPath, "ReinstatePath": m.ReinstatePath,
		"SwitchGroup": m.SwitchGroup, "ResizeMap": m.ResizeMap, "FlushMap": m.FlushMap,
		"AddPath": m.AddPath, "DelPath": m.DelPath, "Rescan": m.Rescan,
		"GetReservation": m.GetReservation, "SetPRStatus": m.SetPRStatus, "SetPRKey": m.SetPRKey, "SetPRHold": m.SetPRHold,
	}
}

// ListMaps returns the map objects.
func (m *manager) ListMaps() ([]dbus.ObjectPath, *dbus.Error) {
	return append([]dbus.ObjectPath{}, m.s.snap.Load().maps...), nil
}

// ListPaths returns the path objects.
func (m *manager) ListPaths() ([]dbus.ObjectPath, *dbus.Error) {
	return append([]dbus.ObjectPath{}, m.s.snap.Load().paths...), nil
}

// GetStatus returns api.Status as a dictionary.
func (m *manager) GetStatus() (map[string]dbus.Variant, *dbus.Error) {
	st := m.s.Service.Status()
	counts := func(c map[string]int) map[string]uint32 {
		out := make(map[string]uint32, len(c))
		for k, v := range c {
			out[k] = uint32(v)
		}
		return out
	}
	return variants(
		"Version", st.Version,
		"PID", uint32(st.PID),
		"Started", st.Started.UTC().Format(time.RFC3339),
		"UptimeSec", st.UptimeSec,
		"ConfigFile", st.ConfigFile,
		"State", st.State,
		"Maps", uint32(st.Maps),
		"Paths", uint32(st.Paths),
		"CheckerStates", counts(st.CheckerStates),
		"MapStates", counts(st.MapStates),
	), nil
}

// GetTopology returns `mpathctl show topology --json`.
func (m *manager) GetTopology() (string, *dbus.Error) {
	b, err := json.Marshal(m.s.Service.Topology().Normalize())
	if err != nil {
		return "", dbusError(err)
	}
	return string(b), nil
}

// GetManagedObjects implements org.freedesktop.DBus.ObjectManager.
func (m *manager) GetManagedObjects() (map[dbus.ObjectPath]map[string]map[string]dbus.Variant, *dbus.Error) {
	snap := m.s.snap.Load()
	out := make(map[dbus.ObjectPath]map[string]map[string]dbus.Variant, len(snap.objects))
	for p, o := range snap.objects {
		if p != ManagerPath {
			out[p] = map[string]map[string]dbus.Variant{o.iface: o.props}
		}
	}
	return out, nil
}

// act runs an action for a caller the daemon itself authorises too: the bus
// policy is the first gate, this is the second.
func (m *manager) act(sender dbus.Sender, op string, fn func(ctx context.Context) error) *dbus.Error {
	ctx, cancel := context.WithTimeout(m.ctx, cmpOr(m.s.ActionTimeout, 2*time.Minute))
	defer cancel()
	var uid uint32
	if err := m.conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetConnectionUnixUser", 0, string(sender)).Store(&uid); err != nil {
		return dbusError(api.Errorf(api.CodePermission, "cannot tell who is calling %s: %v", op, err))
	}
	if err := api.Authorize(op, uid); err != nil {
		return dbusError(err)
	}
	if err := fn(ctx); err != nil {
		return dbusError(err)
	}
	m.s.log().Info("dbus: action done", "op", op, "uid", uid)
	return nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Reconfigure rereads the configuration.
func (m *manager) Reconfigure(sender dbus.Sender) *dbus.Error {
	return m.act(sender, api.OpReconfigure, m.s.Service.Reconfigure)
}

// FailPath fails a path.
func (m *manager) FailPath(sender dbus.Sender, dev string) *dbus.Error {
	return m.act(sender, api.OpFailPath, func(ctx context.Context) error { return m.s.Service.FailPath(ctx, dev) })
}

// ReinstatePath reinstates a path.
func (m *manager) ReinstatePath(sender dbus.Sender, dev string) *dbus.Error {
	return m.act(sender, api.OpReinstatePath, func(ctx context.Context) error { return m.s.Service.ReinstatePath(ctx, dev) })
}

// SwitchGroup activates a group.
func (m *manager) SwitchGroup(sender dbus.Sender, mapName string, group int32) *dbus.Error {
	return m.act(sender, api.OpSwitchGroup, func(ctx context.Context) error {
		if group < 1 {
			return api.Errorf(api.CodeInvalid, "group must be 1 or more, got %d", group)
		}
		return m.s.Service.SwitchGroup(ctx, mapName, int(group))
	})
}

// ResizeMap resizes a map.
func (m *manager) ResizeMap(sender dbus.Sender, mapName string) *dbus.Error {
	return m.act(sender, api.OpResizeMap, func(ctx context.Context) error { return m.s.Service.ResizeMap(ctx, mapName) })
}

// FlushMap removes an unused map.
func (m *manager) FlushMap(sender dbus.Sender, mapName string) *dbus.Error {
	return m.act(sender, api.OpFlushMap, func(ctx context.Context) error { return m.s.Service.FlushMap(ctx, mapName) })
}

// AddPath starts monitoring a path.
func (m *manager) AddPath(sender dbus.Sender, dev string) *dbus.Error {
	return m.act(sender, api.OpAddPath, func(ctx context.Context) error { return m.s.Service.AddPath(ctx, dev) })
}

// DelPath stops monitoring a path.
func (m *manager) DelPath(sender dbus.Sender, dev string) *dbus.Error {
	return m.act(sender, api.OpDelPath, func(ctx context.Context) error { return m.s.Service.DelPath(ctx, dev) })
}

// Rescan scans SCSI host N (-1: all).
func (m *manager) Rescan(sender dbus.Sender, host int32) *dbus.Error {
	return m.act(sender, api.OpRescan, func(ctx context.Context) error {
		if host < -1 {
			return api.Errorf(api.CodeInvalid, "host must be 0 or more, or -1 for all, got %d", host)
		}
		return m.s.Service.Rescan(ctx, int(host))
	})
}

// GetReservation returns a map's persistent reservation state: status and
// hold ("set", "unset", "unknown") and key ("0x…[:aptpl]", "" for none).
func (m *manager) GetReservation(mapName string) (status, hold, key string, derr *dbus.Error) {
	r, err := m.s.Service.Reservation(mapName)
	if err != nil {
		return "", "", "", dbusError(err)
	}
	return r.Status, r.Hold, r.Key, nil
}

// SetPRStatus records that the map's key is registered (multipathd's
// setprstatus) or not (unsetprstatus).
func (m *manager) SetPRStatus(sender dbus.Sender, mapName string, set bool) *dbus.Error {
	return m.act(sender, api.OpSetPRStatus, func(ctx context.Context) error { return m.s.Service.SetPRStatus(ctx, mapName, set) })
}

// SetPRKey records the map's key in the prkeys file ("" removes it).
func (m *manager) SetPRKey(sender dbus.Sender, mapName, key string) *dbus.Error {
	return m.act(sender, api.OpSetPRKey, func(ctx context.Context) error { return m.s.Service.SetPRKey(ctx, mapName, key) })
}

// SetPRHold records whether this host holds the map's reservation.
func (m *manager) SetPRHold(sender dbus.Sender, mapName string, set bool) *dbus.Error {
	return m.act(sender, api.OpSetPRHold, func(ctx context.Context) error { return m.s.Service.SetPRHold(ctx, mapName, set) })
}
