package mpathcompat

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
)

type handler struct {
	verb  code
	quals []code
	usage string
	fn    func(s *Server, ctx context.Context, c Command) (string, error)
}

// handlers lists the commands in the order the help text shows them.
var handlers = []handler{
	{kwList, q(kwPaths), "list|show paths", showPaths},
	{kwList, q(kwPaths, kwFormat), "list|show paths format $format", showPaths},
	{kwList, q(kwPaths, kwRaw, kwFormat), "list|show paths raw format $format", showPaths},
	{kwList, q(kwPath), "list|show path $path", showPath},
	{kwList, q(kwMaps), "list|show maps|multipaths", showMaps},
	{kwList, q(kwMaps, kwStatus), "list|show maps|multipaths status", showMaps},
	{kwList, q(kwMaps, kwStats), "list|show maps|multipaths stats", showMaps},
	{kwList, q(kwMaps, kwFormat), "list|show maps|multipaths format $format", showMaps},
	{kwList, q(kwMaps, kwRaw, kwFormat), "list|show maps|multipaths raw format $format", showMaps},
	{kwList, q(kwMaps, kwTopology), "list|show maps|multipaths topology", showTopology},
	{kwList, q(kwTopology), "list|show topology", showTopology},
	{kwList, q(kwMap, kwTopology), "list|show map|multipath $map topology", showTopology},
	{kwList, q(kwMap, kwFormat), "list|show map|multipath $map format $format", showMaps},
	{kwList, q(kwMap, kwRaw, kwFormat), "list|show map|multipath $map raw format $format", showMaps},
	{kwList, q(kwMaps, kwJSON), "list|show maps|multipaths json", showJSON},
	{kwList, q(kwMap, kwJSON), "list|show map|multipath $map json", showJSON},
	{kwList, q(kwConfig), "list|show config", showConfig},
	{kwList, q(kwConfig, kwLocal), "list|show config local", showConfig},
	{kwList, q(kwBlacklist), "list|show blacklist", showBlacklist},
	{kwList, q(kwDevices), "list|show devices", showDevices},
	{kwList, q(kwWildcards), "list|show wildcards", func(*Server, context.Context, Command) (string, error) { return Wildcards(), nil }},
	{kwList, q(kwStatus), "list|show status", func(s *Server, _ context.Context, _ Command) (string, error) {
		return Status(s.Service.Status()), nil
	}},
	{kwList, q(kwDaemon), "list|show daemon", func(s *Server, _ context.Context, _ Command) (string, error) {
		return Daemon(s.Service.Status()), nil
	}},
	{kwReset, q(kwMaps, kwStats), "reset maps|multipaths stats", resetStats},
	{kwReset, q(kwMap, kwStats), "reset map|multipath $map stats", resetStats},
	{kwAdd, q(kwPath), "add path $path", pathAction},
	{kwDel, q(kwPath), "remove|del path $path", pathAction},
	{kwFail, q(kwPath), "fail path $path", pathAction},
	{kwReinstate, q(kwPath), "reinstate path $path", pathAction},
	{kwSetMarginal, q(kwPath), "setmarginal path $path", setMarginal},
	{kwUnsetMarginal, q(kwPath), "unsetmarginal path $path", setMarginal},
	{kwUnsetMarginal, q(kwMap), "unsetmarginal map|multipath $map", setMarginal},
	{kwAdd, q(kwMap), "add map|multipath $map", mapAction},
	{kwDel, q(kwMap), "remove|del map|multipath $map", mapAction},
	{kwDel, q(kwMaps), "remove|del maps|multipaths", delMaps},
	{kwSwitch, q(kwMap, kwGroup), "switch|switchgroup map|multipath $map group $group", switchGroup},
	{kwResize, q(kwMap), "resize map|multipath $map", mapAction},
	{kwReload, q(kwMap), "reload map|multipath $map", mapAction},
	{kwSuspend, q(kwMap), "suspend map|multipath $map", mapAction},
	{kwResume, q(kwMap), "resume map|multipath $map", mapAction},
	{kwDisableQ, q(kwMaps), "disablequeueing maps|multipaths", queueing},
	{kwDisableQ, q(kwMap), "disablequeueing map|multipath $map", queueing},
	{kwRestoreQ, q(kwMaps), "restorequeueing maps|multipaths", queueing},
	{kwRestoreQ, q(kwMap), "restorequeueing map|multipath $map", queueing},
	{kwForceQ, q(kwDaemon), "forcequeueing daemon", queueing},
	{kwRestoreQ, q(kwDaemon), "restorequeueing daemon", queueing},
	{kwReconfigure, nil, "reconfigure", reconfigure},
	{kwReconfigure, q(kwAll), "reconfigure all", reconfigure},
	{kwShutdown, nil, "shutdown", shutdown},
	{kwGetPRStatus, q(kwMap), "getprstatus map|multipath $map", getPR},
	{kwSetPRStatus, q(kwMap), "setprstatus map|multipath $map", setPR},
	{kwSetPRStatus, q(kwMap, kwPathlist), "setprstatus map|multipath $map pathlist $pathlist", setPR},
	{kwUnsetPRStatus, q(kwMap), "unsetprstatus map|multipath $map", setPR},
	{kwGetPRKey, q(kwMap), "getprkey map|multipath $map", getPR},
	{kwSetPRKey, q(kwMap, kwKey), "setprkey map|multipath $map key $key", setPR},
	{kwUnsetPRKey, q(kwMap), "unsetprkey map|multipath $map", setPR},
	{kwGetPRHold, q(kwMap), "getprhold map|multipath $map", getPR},
	{kwSetPRHold, q(kwMap), "setprhold map|multipath $map", setPR},
	{kwUnsetPRHold, q(kwMap), "unsetprhold map|multipath $map", setPR},
}

func q(cs ...code) []code { slices.Sort(cs); return cs }

func findHandler(c Command) *handler {
	for i := range handlers {
		if h := &handlers[i]; h.verb == c.Verb && slices.Equal(h.quals, c.Quals) {
			return h
		}
	}
	return nil
}

// mapTarget names a map for the daemon: alias, WWID, dm-N, /dev/dm-N or
// /dev/mapper/alias.
func mapTarget(s string) string {
	if t, ok := strings.CutPrefix(s, "/dev/mapper/"); ok {
		return t
	}
	return strings.TrimPrefix(s, "/dev/")
}

func findMap(t api.Topology, target string) (*api.Map, error) {
	target = mapTarget(target)
	for i := range t.Maps {
		if m := &t.Maps[i]; m.Name == target || m.WWID == target || m.DM == target {
			return m, nil
		}
	}
	return nil, api.Errorf(api.CodeNotFound, "map %s not found", target)
}

func showPaths(s *Server, _ context.Context, c Command) (string, error) {
	f, ok := c.Params[kwFormat]
	if !ok {
		f = PathsFormat
	}
	t := s.Service.Topology()
	if len(pathRows(t)) == 0 {
		return "", nil
	}
	return Paths(t, f, !c.has(kwRaw), s.sysBlock()), nil
}

// showPath prints a path's device state, as multipathd does.
func showPath(s *Server, _ context.Context, c Command) (string, error) {
	dev := strings.TrimPrefix(c.Params[kwPath], "/dev/")
	t := s.Service.Topology()
	for _, r := range pathRows(t) {
		if r.p.Dev == dev {
			return pathField(r, 'o') + "\n", nil
		}
	}
	return "", api.Errorf(api.CodeNotFound, "path %s not found", dev)
}

func showMaps(s *Server, _ context.Context, c Command) (string, error) {
	t := s.Service.Topology()
	f := MapsFormat
	switch {
	case c.has(kwStatus):
		f = MapsStatusFmt
	case c.has(kwStats):
		f = MapsStatsFormat
	case c.has(kwFormat):
		f = c.Params[kwFormat]
	}
	if c.has(kwMap) {
		m, err := findMap(t, c.Params[kwMap])
		if err != nil {
			return "", err
		}
		t = api.Topology{Maps: []api.Map{*m}}
	}
	if len(t.Maps) == 0 {
		return "", nil
	}
	return Maps(t, f, !c.has(kwRaw), s.sysBlock()), nil
}

func showTopology(s *Server, _ context.Context, c Command) (string, error) {
	all := s.Service.Topology()
	maps := all
	if c.has(kwMap) {
		m, err := findMap(all, c.Params[kwMap])
		if err != nil {
			return "", err
		}
		maps = api.Topology{Maps: []api.Map{*m}}
	}
	return topology(maps, all), nil
}

func showJSON(s *Server, _ context.Context, c Command) (string, error) {
	if c.has(kwMap) {
		m, err := findMap(s.Service.Topology(), c.Params[kwMap])
		if err != nil {
			return "", err
		}
		return MapJSON(m), nil
	}
	g, ok := s.Service.(generationer)
	if !ok {
		return s.json.mapsJSON(s.Service.Topology()), nil
	}
	// The generation is read before the topology: text cached under it is never older than it.
	gen := g.TopologyGeneration()
	if text, hit := s.json.cached(gen); hit {
		return text, nil
	}
	text := s.json.mapsJSON(s.Service.Topology())
	s.json.keep(gen, text)
	return text, nil
}

// generationer is a Service whose topology has a generation: a number that changes whenever
// Topology's answer may have.
type generationer interface {
	TopologyGeneration() uint64
}

func resetStats(s *Server, ctx context.Context, c Command) (string, error) {
	name := ""
	if c.has(kwMap) {
		name = mapTarget(c.Params[kwMap])
	}
	return "", s.act(ctx, func(ctx context.Context) error { return s.Service.ResetStats(ctx, name) })
}

func pathAction(s *Server, ctx context.Context, c Command) (string, error) {
	dev := strings.TrimPrefix(c.Params[kwPath], "/dev/")
	svc := s.Service
	fn := map[code]func(context.Context, string) error{
		kwAdd: svc.AddPath, kwDel: svc.DelPath, kwFail: svc.FailPath, kwReinstate: svc.ReinstatePath,
	}[c.Verb]
	return "", s.act(ctx, func(ctx context.Context) error { return fn(ctx, dev) })
}

func mapAction(s *Server, ctx context.Context, c Command) (string, error) {
	target := mapTarget(c.Params[kwMap])
	svc := s.Service
	fn := map[code]func(context.Context, string) error{
		kwAdd: svc.AddMap, kwDel: svc.FlushMap, kwResize: svc.ResizeMap, kwReload: svc.ReloadMap,
		kwSuspend: svc.SuspendMap, kwResume: svc.ResumeMap,
	}[c.Verb]
	return "", s.act(ctx, func(ctx context.Context) error { return fn(ctx, target) })
}

func delMaps(s *Server, ctx context.Context, c Command) (string, error) {
	var errs []error
	for _, m := range s.Service.Topology().Maps {
		err := s.act(ctx, func(ctx context.Context) error { return s.Service.FlushMap(ctx, m.Name) })
		if errors.Is(err, errTimeout) {
			return "", err
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return "", errors.Join(errs...)
}

func switchGroup(s *Server, ctx context.Context, c Command) (string, error) {
	n, err := strconv.Atoi(c.Params[kwGroup])
	if err != nil || n < 1 {
		return "", api.Errorf(api.CodeInvalid, "group %q: groups are numbered from 1", c.Params[kwGroup])
	}
	target := mapTarget(c.Params[kwMap])
	return "", s.act(ctx, func(ctx context.Context) error { return s.Service.SwitchGroup(ctx, target, n) })
}

func queueing(s *Server, ctx context.Context, c Command) (string, error) {
	svc := s.Service
	return "", s.act(ctx, func(ctx context.Context) error {
		switch {
		case c.has(kwDaemon):
			return svc.ForceQueueWithoutDaemon(ctx, c.Verb == kwForceQ)
		case c.has(kwMap):
			return svc.SetQueueing(ctx, mapTarget(c.Params[kwMap]), c.Verb == kwRestoreQ)
		}
		return svc.SetQueueing(ctx, "", c.Verb == kwRestoreQ)
	})
}

// reconfigure answers within the action timeout as multipathd does, which
// only schedules the work: a reconfigure still running then is reported ok
// and finishes on its own. A configuration the daemon refuses is a failure.
func reconfigure(s *Server, ctx context.Context, _ Command) (string, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reconfigureBound)
	done := make(chan error, 1)
	go func() {
		defer cancel()
		done <- s.Service.Reconfigure(rctx)
	}()
	select {
	case err := <-done:
		return "", err
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(orDefault(s.ActionTimeout, DefaultActionTimeout)):
		s.log().Info("multipathd socket: reconfigure still running; answered ok")
		return "", nil
	}
}

func shutdown(s *Server, _ context.Context, _ Command) (string, error) {
	if s.Shutdown == nil {
		return "", api.Errorf(api.CodeInvalid, "shutdown is not available")
	}
	s.Shutdown()
	return "", nil
}

// getPR answers getprstatus and getprhold with multipathd's words ("set",
// "unset", "unknown") and getprkey with the key ("0x…", ":aptpl" when
// registered with APTPL) or "none".
func getPR(s *Server, _ context.Context, c Command) (string, error) {
	r, err := s.Service.Reservation(mapTarget(c.Params[kwMap]))
	if err != nil {
		return "", err
	}
	switch c.Verb {
	case kwGetPRStatus:
		return r.Status + "\n", nil
	case kwGetPRHold:
		return r.Hold + "\n", nil
	}
	if r.Key == "" {
		return "none\n", nil
	}
	return r.Key + "\n", nil
}

// setPR is what mpathpersist tells the daemon: the key it registers (kept in
// the prkeys file), that the key is registered or no longer (so paths that
// come up later are registered or not), and whether this host holds the
// reservation. setprstatus's pathlist (the paths mpathpersist registered) is
// accepted; the daemon registers every path that comes up anyway.
func setPR(s *Server, ctx context.Context, c Command) (string, error) {
	target := mapTarget(c.Params[kwMap])
	svc := s.Service
	return "", s.act(ctx, func(ctx context.Context) error {
		switch c.Verb {
		case kwSetPRStatus, kwUnsetPRStatus:
			return svc.SetPRStatus(ctx, target, c.Verb == kwSetPRStatus)
		case kwSetPRKey:
			return svc.SetPRKey(ctx, target, c.Params[kwKey])
		case kwUnsetPRKey:
			return svc.SetPRKey(ctx, target, "")
		}
		return svc.SetPRHold(ctx, target, c.Verb == kwSetPRHold)
	})
}

// marginaler is a Service that lets the administrator mark paths marginal: multipathd's
// setmarginal and unsetmarginal.
type marginaler interface {
	// SetMarginal marks a path marginal (on) or takes the mark off.
	SetMarginal(ctx context.Context, dev string, on bool) error
	// UnsetMarginalMap takes the mark off every path of a map.
	UnsetMarginalMap(ctx context.Context, mapName string) error
}

func setMarginal(s *Server, ctx context.Context, c Command) (string, error) {
	m, ok := s.Service.(marginaler)
	if !ok {
		return "", api.Errorf(api.CodeInvalid, "marginal paths cannot be set on this daemon")
	}
	return "", s.act(ctx, func(ctx context.Context) error {
		if c.has(kwMap) {
			return m.UnsetMarginalMap(ctx, mapTarget(c.Params[kwMap]))
		}
		return m.SetMarginal(ctx, strings.TrimPrefix(c.Params[kwPath], "/dev/"), c.Verb == kwSetMarginal)
	})
}
