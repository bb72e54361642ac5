package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/api/apitest"
)

// keys collects every JSON object key path of v, e.g. "maps[].groups[].paths[].dev".
func keys(prefix string, v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out[prefix+k] = true
			keys(prefix+k+".", e, out)
		}
	case []any:
		for _, e := range x {
			keys(prefix[:len(prefix)-1]+"[].", e, out)
		}
	}
}

// The issue fixes these names; a rename breaks every script built on them.
func TestTopologyJSONContract(t *testing.T) {
	b, err := json.Marshal(apitest.Generate(1, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	keys("", doc, got)
	want := []string{"maps"}
	for _, k := range []string{"name", "uuid", "wwid", "dm", "size_sectors", "features", "hw_handler", "groups"} {
		want = append(want, "maps[]."+k)
	}
	for _, k := range []string{"index", "state", "prio", "selector", "paths"} {
		want = append(want, "maps[].groups[]."+k)
	}
	for _, k := range []string{"dev", "dev_t", "hcil", "dm_state", "checker_state", "dev_state", "prio"} {
		want = append(want, "maps[].groups[].paths[]."+k)
	}
	for _, k := range want {
		if !got[k] {
			t.Errorf("topology JSON lacks %q", k)
		}
	}
}

func TestCountStates(t *testing.T) {
	topo := apitest.Generate(3, 2, 2)
	topo.Maps[1].Groups[0].Paths[0].CheckerState = api.CheckerDown
	topo.Maps[1].Groups[0].Paths[0].DMState = api.DMFailed
	for gi := range topo.Maps[2].Groups {
		for pi := range topo.Maps[2].Groups[gi].Paths {
			topo.Maps[2].Groups[gi].Paths[pi].DMState = api.DMFailed
			topo.Maps[2].Groups[gi].Paths[pi].CheckerState = api.CheckerTimeout
		}
	}
	topo.Maps[2].Queueing.Active = true
	var s api.Status
	s.CountStates(topo)
	if s.Maps != 3 || s.Paths != 12 {
		t.Errorf("maps, paths = %d, %d; want 3, 12", s.Maps, s.Paths)
	}
	wantC := map[string]int{"up": 7, "down": 1, "timeout": 4, "ghost": 0, "pending": 0, "disconnected": 0, "unchecked": 0}
	if !reflect.DeepEqual(s.CheckerStates, wantC) {
		t.Errorf("checker states %v, want %v", s.CheckerStates, wantC)
	}
	wantM := map[string]int{"optimal": 1, "degraded": 1, "queueing": 1, "failed": 0}
	if !reflect.DeepEqual(s.MapStates, wantM) {
		t.Errorf("map states %v, want %v", s.MapStates, wantM)
	}
}

func TestAsError(t *testing.T) {
	nf := api.Errorf(api.CodeNotFound, "no map %q", "x")
	for _, tc := range []struct {
		err       error
		code, msg string
	}{
		{nf, "not_found", `no map "x"`},
		{fmt.Errorf("flush: %w", nf), "not_found", `flush: no map "x"`},
		{fmt.Errorf("boom"), "internal", "boom"},
	} {
		e := api.AsError(tc.err)
		if e.Code != tc.code || e.Message != tc.msg {
			t.Errorf("AsError(%v) = %+v, want %s %q", tc.err, e, tc.code, tc.msg)
		}
	}
	if api.AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}
	if !api.IsCode(fmt.Errorf("x: %w", nf), api.CodeNotFound) {
		t.Error("IsCode missed a wrapped code")
	}
}

func TestPrivileged(t *testing.T) {
	for _, op := range []string{api.OpTopology, api.OpPaths, api.OpEvents, api.OpExplain, api.OpConfig} {
		if api.Privileged(op) {
			t.Errorf("%s is privileged", op)
		}
	}
	for _, op := range []string{api.OpFailPath, api.OpReconfigure, api.OpFlushMap, api.OpCheckConfig, "nonsense"} {
		if !api.Privileged(op) {
			t.Errorf("%s is not privileged", op)
		}
	}
}

func TestHubDelivers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := api.NewHub(8)
		ctx, cancel := context.WithCancel(t.Context())
		ch := h.Subscribe(ctx)
		synctest.Wait()
		for i := range 5 {
			h.Publish(api.Event{Type: api.EventPathDown, Path: fmt.Sprint(i)})
		}
		for i := range 5 {
			if ev := <-ch; ev.Path != fmt.Sprint(i) {
				t.Fatalf("event %d: got %+v", i, ev)
			}
		}
		cancel()
		if _, ok := <-ch; ok {
			t.Fatal("channel still open after cancel")
		}
		synctest.Wait()
		if n := h.Subscribers(); n != 0 {
			t.Fatalf("%d subscribers left", n)
		}
	})
}

// A reader that does not read must not block Publish; when it reads again it
// is told how many events it lost, in the right place.
func TestHubSlowReaderLoses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := api.NewHub(4)
		ch := h.Subscribe(t.Context())
		synctest.Wait()
		h.Publish(api.Event{Type: api.EventPathDown, Path: "0"})
		synctest.Wait() // the forwarder now holds event 0, blocked on the reader
		for i := 1; i < 100; i++ {
			h.Publish(api.Event{Type: api.EventPathDown, Path: fmt.Sprint(i)})
		}
		// The backlog of 4 holds 1–4, then one marker for the 95 dropped.
		var got []string
		for range 6 {
			ev := <-ch
			if ev.Type == api.EventEventsLost {
				got = append(got, fmt.Sprintf("lost %d", ev.Lost))
				if ev.Reason == "" {
					t.Error("events_lost without a reason")
				}
			} else {
				got = append(got, ev.Path)
			}
		}
		want := []string{"0", "1", "2", "3", "4", "lost 95"}
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		h.Publish(api.Event{Type: api.EventPathUp, Path: "after"})
		if ev := <-ch; ev.Path != "after" {
			t.Fatalf("after the loss: %+v", ev)
		}
	})
}

func TestFakeActionsPublish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := apitest.New(apitest.Generate(2, 2, 2))
		ch := f.Subscribe(t.Context())
		synctest.Wait()
		if err := f.FailPath(t.Context(), "sdb"); err != nil {
			t.Fatal(err)
		}
		ev := <-ch
		if ev.Type != api.EventPathDown || ev.Path != "sdb" || ev.Map != "mpatha" || ev.Old != "up" || ev.New != "down" {
			t.Errorf("event %+v", ev)
		}
		if err := f.SwitchGroup(t.Context(), "mpathb", 2); err != nil {
			t.Fatal(err)
		}
		if ev := <-ch; ev.Type != api.EventGroupSwitch || ev.Old != "1" || ev.New != "2" {
			t.Errorf("event %+v", ev)
		}
		if err := f.SwitchGroup(t.Context(), "mpathb", 9); !api.IsCode(err, api.CodeInvalid) {
			t.Errorf("switch to group 9: %v", err)
		}
		if err := f.FailPath(t.Context(), "nope"); !api.IsCode(err, api.CodeNotFound) {
			t.Errorf("fail unknown path: %v", err)
		}
		devs := []string{}
		for _, p := range f.Topology().Paths() {
			devs = append(devs, p.Dev)
		}
		sort.Strings(devs)
		if len(devs) != 8 || devs[0] != "sdb" {
			t.Errorf("paths %v", devs)
		}
	})
}

// Publishers and subscribers coming and going at once (run with -race).
func TestHubConcurrent(t *testing.T) {
	h := api.NewHub(16)
	ctx, cancel := context.WithCancel(t.Context())
	var pubs, subs sync.WaitGroup
	for range 4 {
		pubs.Go(func() {
			for ctx.Err() == nil {
				h.Publish(api.Event{Type: api.EventPathUp})
			}
		})
	}
	for range 8 {
		subs.Go(func() {
			for range 50 {
				sctx, scancel := context.WithCancel(t.Context())
				ch := h.Subscribe(sctx)
				if _, ok := <-ch; !ok {
					t.Error("closed before an event")
				}
				scancel()
				for range ch { // drains, then closes
				}
			}
		})
	}
	subs.Wait()
	cancel()
	pubs.Wait()
	for h.Subscribers() != 0 { // the last forwarders are on their way out
		runtime.Gosched()
	}
}

func TestNormalize(t *testing.T) {
	b, _ := json.Marshal(api.Topology{}.Normalize())
	if string(b) != `{"maps":[]}` {
		t.Errorf("empty topology: %s", b)
	}
	shared := api.Topology{Maps: []api.Map{{Name: "a"}, {Name: "b", Groups: []api.Group{{Index: 1}}}}}
	n := shared.Normalize()
	if shared.Maps[0].Groups != nil || shared.Maps[1].Groups[0].Paths != nil {
		t.Error("Normalize changed its receiver's arrays")
	}
	if n.Maps[0].Groups == nil || n.Maps[1].Groups[0].Paths == nil {
		t.Errorf("not normalized: %+v", n)
	}
	full := apitest.Generate(2, 1, 1)
	if got := full.Normalize(); &got.Maps[0] != &full.Maps[0] {
		t.Error("copied a topology that needed nothing")
	}
}
