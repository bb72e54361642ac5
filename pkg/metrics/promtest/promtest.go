// Package promtest checks expositions with the programs of Debian's
// prometheus package, for the tests of the metrics and the daemon.
package promtest

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// RequireTool finds a program of Debian's prometheus package (`make test`
// installs it). Without it the test is skipped, except under CI, where it
// must run.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed (Debian package prometheus): %v", name, err)
		}
		t.Skipf("%s not installed (Debian package prometheus)", name)
	}
	return p
}

// Check runs `promtool check metrics` on an exposition in the text format:
// it must find nothing to say.
func Check(t testing.TB, text []byte) {
	t.Helper()
	cmd := exec.Command(RequireTool(t, "promtool"), "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
