package config

import (
	"strings"
	"testing"
)

func TestMetricsListen(t *testing.T) {
	for _, tc := range []struct {
		value string
		err   string // "" when valid
	}{
		{`""`, ""},
		{`"127.0.0.1:9588"`, ""},
		{`"[::1]:9588"`, ""},
		{`"localhost:9588"`, ""},
		{`":9588"`, ""},
		{`"127.0.0.1"`, "host:port"},
		{`"127.0.0.1:0"`, "port"},
		{`"127.0.0.1:http"`, "port"},
		{`"metrics.example:9588"`, "IP address or localhost"},
		{`9588`, "string"},
	} {
		c, err := Parse([]byte("[defaults]\nmetrics_listen = "+tc.value+"\nmetrics_load = true\n"), "t.toml")
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.value, err)
		case tc.err == "" && (c.Global().MetricsListen != strings.Trim(tc.value, `"`) || !c.Global().MetricsLoad):
			t.Errorf("%s: got %q, %v", tc.value, c.Global().MetricsListen, c.Global().MetricsLoad)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "metrics_listen")):
			t.Errorf("%s: error %v, want one naming metrics_listen and %q", tc.value, err, tc.err)
		}
	}
	if g := Builtin().Global(); g.MetricsListen != "" || g.MetricsLoad {
		t.Errorf("metrics are on by default: %q %v", g.MetricsListen, g.MetricsLoad)
	}
}
