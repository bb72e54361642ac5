package dm

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSelectorLoaded(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "module", "dm_service_time"), 0o755); err != nil {
		t.Fatal(err)
	}
	for sel, want := range map[string]bool{"service-time": true, "round-robin": false} {
		if got, err := SelectorLoaded(root, sel); err != nil || got != want {
			t.Errorf("SelectorLoaded(%q) = %v, %v", sel, got, err)
		}
	}
	for _, bad := range []string{"", "../x", "a/b"} {
		if _, err := SelectorLoaded(root, bad); err == nil {
			t.Errorf("SelectorLoaded(%q) accepted", bad)
		}
	}
}
