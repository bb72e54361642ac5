package config

import "time"

func ptr[T any](v T) *T { return &v }

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

// builtinDevices is a small hardware table of well-known arrays, following
// multipath-tools' entries for them. Later entries win over earlier ones, and
// user [[devices]] entries win over all of them.
func builtinDevices() []Device {
	return []Device{
		{
			Vendor: "NVME", Product: ".*",
			Attrs: Attrs{
				PathChecker:        ptr("none"),
				PathGroupingPolicy: ptr(GroupByPrio),
				Failback:           &Failback{Mode: FailbackImmediate},
			},
		},
		{
			Vendor: "NETAPP", Product: "LUN",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("ontap"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
				Features:           ptr("2 pg_init_retries 50"),
				FlushOnLastDel:     ptr(FlushAlways),
				DevLossTmo:         ptr(TmoInfinity),
				UserFriendlyNames:  ptr(false),
			},
		},
		{
			Vendor: "(NETAPP|LSI|ENGENIO)", Product: "INF-01-00", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
				Features:           ptr("2 pg_init_retries 50"),
			},
		},
		{
			Vendor: "^DGC", Product: "^(RAID|DISK|VRAID)", ProductBlacklist: "LUNZ",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("emc_clariion"),
				DetectChecker:      ptr(false),
				Prio:               ptr("emc"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 60},
			},
		},
		{
			Vendor: "EMC", Product: "SYMMETRIX",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 6},
			},
		},
		{
			Vendor: "DellEMC", Product: "PowerStore",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 3},
				FastIOFailTmo:      ptr(Tmo(15)),
			},
		},
		{
			Vendor: "(HITACHI|HP|HPE)", Product: "^OPEN-",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			Vendor: "IBM", Product: "^2107900",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "Nimble", Product: "Server",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "PURE", Product: "FlashArray",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				DetectPrio:         ptr(false),
				Failback:           &Failback{Mode: FailbackImmediate},
				FastIOFailTmo:      ptr(Tmo(10)),
				MaxSectorsKB:       ptr(4096),
			},
		},
		{
			Vendor: "IBM", Product: "^2145",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "3PARdata", Product: "VV",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 18},
				FastIOFailTmo:      ptr(Tmo(10)),
				DevLossTmo:         ptr(TmoInfinity),
			},
		},
		{
			Vendor: "(LIO-ORG|SUSE)", Product: ".*",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				PathChecker:        ptr("directio"),
				DetectChecker:      ptr(false),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 12},
			},
		},
	}
}
