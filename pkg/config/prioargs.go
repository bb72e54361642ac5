package config

import (
	"fmt"
	"slices"

	"github.com/mpathd/mpathd/pkg/checker"
)

// PrioArgsError is a layer whose prioritizer refuses the layer's prio_args.
type PrioArgsError struct {
	Layer string // "defaults", "overrides", "devices[2]", "multipaths[0]"
	Attrs *Attrs
	Err   error
}

// PrioArgsErrors checks every layer that names a prioritizer mpathd runs
// against the prio_args of the same layer (none: empty), as the daemon
// would build it for a path: a prio_args that does not fit (iet without
// preferredip=, path_latency io_num=1000) is a configuration error, found
// when the file is loaded rather than at the first path.
func (c *Config) PrioArgsErrors() []PrioArgsError {
	var out []PrioArgsError
	check := func(layer string, a *Attrs) {
		if a.Prio == nil || !slices.Contains(checker.PrioritizerNames, *a.Prio) {
			return
		}
		args := ""
		if a.PrioArgs != nil {
			args = *a.PrioArgs
		}
		if _, err := checker.NewPrioritizer(*a.Prio, args); err != nil {
			out = append(out, PrioArgsError{Layer: layer, Attrs: a, Err: err})
		}
	}
	check("defaults", &c.Defaults)
	check("overrides", &c.Overrides)
	for i := range c.Devices {
		check(fmt.Sprintf("devices[%d]", i), &c.Devices[i].Attrs)
	}
	for i := range c.Multipaths {
		check(fmt.Sprintf("multipaths[%d]", i), &c.Multipaths[i].Attrs)
	}
	return out
}
