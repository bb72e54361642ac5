package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
)

// show runs a read request and prints its result as JSON or with render.
func show[T any](op string, args func(map[string]string) api.Args, render func(*env, T)) func(context.Context, *env, map[string]string) error {
	return func(ctx context.Context, e *env, p map[string]string) error {
		var a api.Args
		if args != nil {
			a = args(p)
		}
		var v T
		if err := e.call(ctx, op, a, &v); err != nil {
			return err
		}
		if e.opts.json {
			return e.printJSON(v)
		}
		render(e, v)
		return nil
	}
}

var (
	runTopology = show(api.OpTopology, nil, func(e *env, t api.Topology) { renderTopology(e.out, t, paint(e.color)) })
	runMaps     = show(api.OpMaps, nil, func(e *env, t api.Topology) { renderMaps(e.out, t, paint(e.color)) })
	runMap      = show(api.OpMap, func(p map[string]string) api.Args { return api.Args{Map: p["NAME"]} },
		func(e *env, m api.Map) { renderMap(e.out, m, paint(e.color)) })
	runPaths       = show(api.OpPaths, nil, func(e *env, p []api.PathInfo) { renderPaths(e.out, p, paint(e.color)) })
	runStatus      = show(api.OpStatus, nil, func(e *env, s api.Status) { renderStatus(e.out, s, paint(e.color)) })
	runStats       = show(api.OpStats, nil, func(e *env, s api.Stats) { renderStats(e.out, s, paint(e.color)) })
	runConfig      = show(api.OpConfig, nil, func(e *env, c api.ConfigText) { fmt.Fprint(e.out, c.TOML) })
	runMetrics     = show(api.OpMetrics, nil, func(e *env, m api.MetricsText) { fmt.Fprint(e.out, m.Text) })
	runReservation = show(api.OpReservation, func(p map[string]string) api.Args { return api.Args{Map: p["NAME"]} },
		func(e *env, r api.Reservation) { renderReservation(e.out, r) })
	runExplain = show(api.OpExplain, func(p map[string]string) api.Args { return api.Args{Target: p["TARGET"]} },
		func(e *env, x api.Explanation) { renderExplain(e.out, x) })
)

// runCheck validates a file locally: it must work before the daemon is
// installed or while it is down.
func runCheck(ctx context.Context, e *env, p map[string]string) error {
	file := p["FILE"]
	c, err := e.load(file)
	if err != nil {
		// Each problem on its own line, file:line: key: message.
		fmt.Fprintln(e.errOut, err)
		return errors.New("the file is not valid")
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(e.errOut, "warning: %s\n", w)
	}
	fmt.Fprintf(e.out, "%s: ok\n", file)
	return nil
}

func runEvents(ctx context.Context, e *env, p map[string]string) error {
	if e.client == nil {
		if err := e.call(ctx, api.OpStatus, api.Args{}, nil); err != nil { // connect, and fail early
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := 0
	return e.client.Events(ctx, func(ev api.Event) error {
		if e.opts.json {
			if err := jsonLine(e.out, ev); err != nil {
				return err
			}
		} else {
			renderEvent(e.out, ev, paint(e.color))
		}
		if n++; e.opts.count > 0 && n >= e.opts.count {
			cancel()
		}
		return nil
	})
}

func runTop(ctx context.Context, e *env, p map[string]string) error {
	for frame := 1; ; frame++ {
		var st api.Stats
		var topo api.Topology
		if err := e.call(ctx, api.OpStats, api.Args{}, &st); err != nil {
			return err
		}
		if err := e.call(ctx, api.OpTopology, api.Args{}, &topo); err != nil {
			return err
		}
		if e.terminal {
			fmt.Fprint(e.out, "\x1b[H\x1b[2J") // home, clear: redraw in place
		} else if frame > 1 {
			fmt.Fprintln(e.out)
		}
		renderTop(e.out, st, topo, paint(e.color))
		if e.opts.count > 0 && frame >= e.opts.count {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(e.opts.interval):
		}
	}
}

func jsonLine(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

func renderReservation(w io.Writer, r api.Reservation) {
	key := r.Key
	switch {
	case key == "":
		key = "none"
	case r.KeySource != "":
		key += " (" + r.KeySource + ")"
	}
	fmt.Fprintf(w, "map:    %s\nstatus: %s\nhold:   %s\nkey:    %s\n", r.Map, r.Status, r.Hold, key)
}
