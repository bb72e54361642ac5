package config

import (
	_ "embed"
	"slices"
	"sync"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/mpathd/mpathd/pkg/prkeys"
)

// DefaultPath is where mpathd looks for its configuration file.
const DefaultPath = "/etc/mpathd/mpathd.toml"

// Where multipath-tools keeps its configuration: mpathd reads it when
// DefaultPath does not exist.
const (
	MultipathConfPath = "/etc/multipath.conf"
	MultipathConfDir  = "/etc/multipath/conf.d"
)

// builtinSettings are multipath-tools' upstream defaults, with one deliberate
// difference: find_multipaths is "on" rather than "strict", so that a daemon
// installed to multipath a SAN does so without a populated wwids file.
func builtinSettings() Settings {
	return Settings{
		PollingInterval:    5,
		MaxPollingInterval: 0, // 4 × PollingInterval, filled in by Resolve
		FindMultipaths:     FindOn,
		QueueWithoutDaemon: false,
		CheckerTimeout:     0,
		MarginalPathgroups: "off",
		// Polling core: the defaults of selector.DefaultConfig (a test keeps
		// them in step).
		StatsInterval:          time.Second,
		StatsHalfLife:          5 * time.Second,
		Shards:                 0,
		WeightUpdate:           true,
		WeightMinInterval:      60 * time.Second,
		WeightHysteresis:       0.2,
		MarginalDetection:      false,
		MarginalLatencyFactor:  3,
		MarginalMinServiceTime: 2 * time.Millisecond,
		MarginalMinIOPS:        1,
		MarginalTime:           60 * time.Second,
		MarginalErrors:         3,
		MarginalRecoveryTime:   300 * time.Second,
		PRKeysFile:             prkeys.DefaultPath,
		PartitionDelimiter:     "-part",

		PathChecker:             "tur",
		DetectPrio:              true,
		DetectChecker:           true,
		DetectPgpolicy:          true,
		DetectPgpolicyUseTPG:    false,
		HardwareHandler:         "",
		RetainAttachedHWHandler: true,
		FastIOFailTmo:           5,
		DevLossTmo:              TmoUnset,
		EhDeadline:              TmoUnset,
		AliasPrefix:             "mpath",
		UIDAttribute:            "ID_SERIAL",

		PathSelector:       "service-time 0",
		PathGroupingPolicy: Failover,
		Prio:               "",
		PrioArgs:           "",
		Failback:           Failback{Mode: FailbackManual},
		NoPathRetry:        NoPathRetry{Mode: RetryFail},
		RRWeight:           "uniform",
		RRMinIORq:          1,
		RRMinIO:            1000,
		FlushOnLastDel:     FlushUnused,
		Features:           "0",
		QueueMode:          "rq",
		UserFriendlyNames:  false,
		DeferredRemove:     false,
		SkipKpartx:         false,
		MaxSectorsKB:       0,
	}
}

// Default blacklist entries, as upstream: only sd, dasd and nvme devices are
// candidates, and a device with its uid property must also carry one of the
// excepted properties.
const (
	defaultDevnodeBlacklist  = "!^(sd[a-z]|dasd[a-z]|nvme[0-9])"
	defaultPropertyException = "(SCSI_IDENT_|ID_WWN)"
)

// hwtableTOML is the built-in hardware table (see the file's header).
//
//go:embed hwtable.toml
var hwtableTOML string

// builtinDevices returns the built-in hardware table, parsed once (about 3 ms,
// BenchmarkParseHWTable: too slow to repeat for every configuration read). Its
// entries' Attrs pointers are shared by every configuration: they are only
// ever read or copied by value (see keyword.merge), never written through.
var builtinDevices = sync.OnceValue(parseHWTable)

// parseHWTable parses the embedded table. The table is part of the binary, so
// a parse error is a programming error that the package's tests catch before
// it can ship.
func parseHWTable() []Device {
	var raw map[string]any
	if _, err := toml.Decode(hwtableTOML, &raw); err != nil {
		panic("config: built-in hardware table: " + err.Error())
	}
	p := &parser{file: "hwtable.toml", lines: indexLines(hwtableTOML)}
	devs := p.devices(raw["devices"])
	if len(p.errs) > 0 {
		panic("config: built-in hardware table: " + p.errs[0].Error())
	}
	return slices.Clip(devs)
}
