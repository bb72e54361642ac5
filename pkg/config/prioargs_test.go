package config

import (
	"strings"
	"testing"
)

func TestPrioArgsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, toml string
		err        string // "" none
	}{
		{"iet with its address", "[defaults]\nprio = \"iet\"\nprio_args = \"preferredip=192.0.2.1\"\n", ""},
		{"iet without", "[defaults]\npolling_interval = 2\nprio = \"iet\"\n", "t.toml:3: defaults.prio: checker: iet"},
		{"path_latency out of range", "[overrides]\nprio = \"path_latency\"\nprio_args = \"io_num=1000\"\n", "io_num=1000 is outside"},
		{"datacore in a device", "[[devices]]\nvendor = \"DataCore\"\nproduct = \".*\"\nprio = \"datacore\"\nprio_args = \"timeout=5\"\n", "devices[0].prio_args"},
		{"weightedpath regex", "[[multipaths]]\nwwid = \"3600a0b80000000000000000000000001\"\nprio = \"weightedpath\"\nprio_args = \"devname sd[ 1\"\n", "multipaths[0].prio_args"},
		{"prio not run by mpathd", "[defaults]\nprio = \"ana\"\nprio_args = \"whatever\"\n", ""},
		{"path_latency defaults", "[defaults]\nprio = \"path_latency\"\n", ""},
	} {
		_, err := Parse([]byte(tc.toml), "t.toml")
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.err)
		}
	}
}
