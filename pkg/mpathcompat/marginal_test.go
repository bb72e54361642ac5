package mpathcompat

import (
	"context"
	"fmt"
	"testing"

	"github.com/mpathd/mpathd/pkg/api/apitest"
)

// marginalFake records the marginal marks asked for.
type marginalFake struct {
	*apitest.Fake
	calls []string
}

func (m *marginalFake) SetMarginal(_ context.Context, dev string, on bool) error {
	m.calls = append(m.calls, fmt.Sprintf("path %s %v", dev, on))
	return nil
}

func (m *marginalFake) UnsetMarginalMap(_ context.Context, name string) error {
	m.calls = append(m.calls, "map "+name)
	return nil
}

func TestMarginalCommands(t *testing.T) {
	f := &marginalFake{Fake: apitest.New(apitest.Generate(1, 1, 2))}
	s := &Server{Service: f}
	for _, tc := range []struct{ cmd, reply, call string }{
		{"setmarginal path sdb", "ok\n", "path sdb true"},
		{"unsetmarginal path /dev/sdb", "ok\n", "path sdb false"},
		{"unsetmarginal map mpatha", "ok\n", "map mpatha"},
		{"unsetmarginal multipath /dev/dm-0", "ok\n", "map dm-0"},
	} {
		f.calls = nil
		if got := s.Execute(t.Context(), tc.cmd, true); got != tc.reply || len(f.calls) != 1 || f.calls[0] != tc.call {
			t.Errorf("%s: reply %q calls %q, want %q and %q", tc.cmd, got, f.calls, tc.reply, tc.call)
		}
	}
	if got := s.Execute(t.Context(), "setmarginal path sdb", false); got != replyPermission {
		t.Errorf("setmarginal by a non-root peer: %q", got)
	}
	// A service without marginal marks refuses, as multipathd does where it cannot set them.
	plain := &Server{Service: apitest.New(apitest.Generate(1, 1, 2))}
	if got := plain.Execute(t.Context(), "setmarginal path sdb", true); got != replyFail {
		t.Errorf("setmarginal without support: %q", got)
	}
}
