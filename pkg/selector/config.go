package selector

import (
	"errors"
	"fmt"
	"time"
)

// Config holds the tunables of this package. Each field is named after its
// configuration key; the config package decodes the file and passes the
// values in. Start from [DefaultConfig] so that unset keys keep their
// defaults.
type Config struct {
	// StatsInterval (stats_interval) is how often every path and map is
	// sampled. Default 1s, at least 10ms.
	StatsInterval time.Duration
	// StatsHalfLife (stats_half_life) is the time after which a sample's
	// weight in the moving averages has halved. Default 5s.
	StatsHalfLife time.Duration
	// Shards is the number of polling goroutines; 0 means GOMAXPROCS.
	Shards int

	// WeightUpdate (weight_update) turns the loading of measured
	// relative_throughput weights into service-time tables on or off.
	WeightUpdate bool
	// WeightMinInterval (weight_min_interval) is the shortest time between
	// two weight reloads of the same map. Default 60s.
	WeightMinInterval time.Duration
	// WeightHysteresis (weight_hysteresis) is the relative change of a
	// path's weight (0.2 = 20%) below which no reload is made. Default 0.2.
	WeightHysteresis float64

	// MarginalDetection (marginal_detection) turns marginal-path detection
	// on or off. Default off: acting on it regroups paths.
	MarginalDetection bool
	// MarginalLatencyFactor (marginal_latency_factor) is k: a path is slow
	// when its service time exceeds k times the median of its group's other
	// paths. Default 3.
	MarginalLatencyFactor float64
	// MarginalMinServiceTime (marginal_min_service_time) is a floor below
	// which no path counts as slow, so that 0.2ms against 0.05ms is not
	// flagged. Default 2ms.
	MarginalMinServiceTime time.Duration
	// MarginalMinIOPS (marginal_min_iops) is the I/O rate below which a
	// path's service time is not judged (too few completions to mean
	// anything). Default 1.
	MarginalMinIOPS float64
	// MarginalTime (marginal_time) is T: how long a path must stay slow, and
	// the window in which its errors must keep rising, before it is marked
	// marginal. Default 60s.
	MarginalTime time.Duration
	// MarginalErrors (marginal_errors) is how many separate rises of a
	// path's error count within MarginalTime mark it marginal. Default 3.
	MarginalErrors int
	// MarginalRecoveryTime (marginal_recovery_time) is how long a marginal
	// path must stay healthy (or idle) before it is restored. Default 300s.
	MarginalRecoveryTime time.Duration
}

// MinStatsInterval is the shortest accepted stats_interval.
const MinStatsInterval = 10 * time.Millisecond

// DefaultConfig returns the defaults documented on [Config].
func DefaultConfig() Config {
	return Config{
		StatsInterval:          time.Second,
		StatsHalfLife:          5 * time.Second,
		WeightUpdate:           true,
		WeightMinInterval:      60 * time.Second,
		WeightHysteresis:       0.2,
		MarginalLatencyFactor:  3,
		MarginalMinServiceTime: 2 * time.Millisecond,
		MarginalMinIOPS:        1,
		MarginalTime:           60 * time.Second,
		MarginalErrors:         3,
		MarginalRecoveryTime:   300 * time.Second,
	}
}

// Validate reports every out-of-range value, naming its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, want string) {
		errs = append(errs, fmt.Errorf("selector: %s = %v: %s", key, v, want))
	}
	if c.StatsInterval < MinStatsInterval {
		bad("stats_interval", c.StatsInterval, "must be at least 10ms")
	}
	if c.StatsHalfLife <= 0 {
		bad("stats_half_life", c.StatsHalfLife, "must be positive")
	}
	if c.Shards < 0 {
		bad("shards", c.Shards, "must not be negative")
	}
	if c.WeightMinInterval < 0 {
		bad("weight_min_interval", c.WeightMinInterval, "must not be negative")
	}
	if !(c.WeightHysteresis >= 0 && c.WeightHysteresis < 1) {
		bad("weight_hysteresis", c.WeightHysteresis, "must be in [0, 1)")
	}
	if !(c.MarginalLatencyFactor > 1) {
		bad("marginal_latency_factor", c.MarginalLatencyFactor, "must be greater than 1")
	}
	if c.MarginalMinServiceTime < 0 {
		bad("marginal_min_service_time", c.MarginalMinServiceTime, "must not be negative")
	}
	if !(c.MarginalMinIOPS >= 0) {
		bad("marginal_min_iops", c.MarginalMinIOPS, "must not be negative")
	}
	if c.MarginalTime <= 0 {
		bad("marginal_time", c.MarginalTime, "must be positive")
	}
	if c.MarginalErrors < 1 {
		bad("marginal_errors", c.MarginalErrors, "must be at least 1")
	}
	if c.MarginalRecoveryTime < 0 {
		bad("marginal_recovery_time", c.MarginalRecoveryTime, "must not be negative")
	}
	return errors.Join(errs...)
}
