package mpathcompat

import (
	"sync/atomic"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/api/apitest"
)

// genFake is a service with a topology generation that counts the topologies read.
type genFake struct {
	*apitest.Fake
	gen   atomic.Uint64
	reads atomic.Int64
}

func (g *genFake) TopologyGeneration() uint64 { return g.gen.Load() }
func (g *genFake) Topology() api.Topology {
	g.reads.Add(1)
	return g.Fake.Topology()
}

// show maps json is rendered once per topology generation; a new generation renders the new
// topology, and its text equals a fresh rendering.
func TestMapsJSONGeneration(t *testing.T) {
	f := &genFake{Fake: apitest.New(apitest.Generate(3, 2, 2))}
	s := &Server{Service: f}
	first := s.Execute(t.Context(), "show maps json", true)
	if again := s.Execute(t.Context(), "show maps json", true); again != first || f.reads.Load() != 1 {
		t.Fatalf("same generation: reads = %d, same text %v; want 1 read and the same text", f.reads.Load(), again == first)
	}

	top := apitest.Generate(3, 2, 2)
	top.Maps[1].Groups = append([]api.Group(nil), top.Maps[1].Groups...)
	top.Maps[1].Groups[0].Paths = append([]api.Path(nil), top.Maps[1].Groups[0].Paths...)
	top.Maps[1].Groups[0].Paths[0].CheckerState = api.CheckerDown
	top.Maps = top.Maps[:2]
	f.SetTopology(top)
	if got := s.Execute(t.Context(), "show maps json", true); got != first {
		t.Fatalf("a topology changed without a new generation was read: the cache was not used")
	}
	f.gen.Add(1)
	got := s.Execute(t.Context(), "show maps json", true)
	if want := MapsJSON(top); got != want {
		t.Errorf("after a new generation\n got %s\nwant %s", got, want)
	}
	if f.reads.Load() != 2 {
		t.Errorf("reads = %d, want 2", f.reads.Load())
	}
}

// Maps that share their groups with the snapshot rendered last are reused; a map with new groups
// of equal content too, and one that differs is rendered again.
func TestMapsJSONReuse(t *testing.T) {
	var c jsonCache
	top := apitest.Generate(4, 2, 2)
	if got, want := c.mapsJSON(top), MapsJSON(top); got != want {
		t.Fatalf("first rendering differs from MapsJSON")
	}
	next := api.Topology{Maps: append([]api.Map(nil), top.Maps...)}
	next.Maps[2].Groups = append([]api.Group(nil), next.Maps[2].Groups...)
	next.Maps[2].Groups[1].Paths = append([]api.Path(nil), next.Maps[2].Groups[1].Paths...)
	next.Maps[2].Groups[1].Paths[1].DMState = api.DMFailed
	next.Maps[0].TableLoads++
	next.Maps = append(next.Maps[:3:3], apitest.Generate(5, 1, 1).Maps[4])
	if got, want := c.mapsJSON(next), MapsJSON(next); got != want {
		t.Errorf("after changes\n got %s\nwant %s", got, want)
	}
	if len(c.entries) != 4 {
		t.Errorf("cache entries = %d, want 4 (the map gone dropped)", len(c.entries))
	}
}
