package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/api/apitest"
)

// A path mpathd holds failed says so in the topology tree; the others show nothing more.
func TestTopologyShowsHeldPaths(t *testing.T) {
	m := apitest.Generate(1, 2, 1).Maps[0]
	m.Groups[0].Paths[0].Held = api.HeldAdmin
	var b bytes.Buffer
	renderMapTree(&b, m, false)
	held := 0
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.Contains(line, " held=") {
			held++
			if !strings.HasSuffix(line, " held=admin-failed") || !strings.Contains(line, " "+m.Groups[0].Paths[0].Dev+" ") {
				t.Errorf("held path line: %q", line)
			}
		}
	}
	if held != 1 {
		t.Errorf("%d lines say held, want 1:\n%s", held, b.String())
	}
}
