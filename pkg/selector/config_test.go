package selector

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidateNamesKeys(t *testing.T) {
	cfg := DefaultConfig()
	cfg.StatsInterval = 5 * time.Millisecond
	cfg.StatsHalfLife = 0
	cfg.WeightHysteresis = 1.5
	cfg.MarginalLatencyFactor = 1
	cfg.MarginalErrors = 0
	err := cfg.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, key := range []string{"stats_interval = 5ms", "stats_half_life", "weight_hysteresis = 1.5",
		"marginal_latency_factor", "marginal_errors"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
}
