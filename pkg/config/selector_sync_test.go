package config_test

import (
	"testing"

	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/selector"
)

// The polling core's keys are consumed by pkg/selector; the built-in values
// must be its defaults.
func TestSelectorDefaultsInStep(t *testing.T) {
	s := config.Builtin().Global().Settings
	d := selector.DefaultConfig()
	got := selector.Config{
		StatsInterval:          s.StatsInterval,
		StatsHalfLife:          s.StatsHalfLife,
		Shards:                 s.Shards,
		WeightUpdate:           s.WeightUpdate,
		WeightMinInterval:      s.WeightMinInterval,
		WeightHysteresis:       s.WeightHysteresis,
		MarginalDetection:      s.MarginalDetection,
		MarginalLatencyFactor:  s.MarginalLatencyFactor,
		MarginalMinServiceTime: s.MarginalMinServiceTime,
		MarginalMinIOPS:        s.MarginalMinIOPS,
		MarginalTime:           s.MarginalTime,
		MarginalErrors:         s.MarginalErrors,
		MarginalRecoveryTime:   s.MarginalRecoveryTime,
	}
	if got != d {
		t.Errorf("config built-in:\n%+v\nselector.DefaultConfig:\n%+v", got, d)
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
}
