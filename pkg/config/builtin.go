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

// builtinDevices is multipath-tools' built-in hardware table as the 0.9.4 of
// Debian 12 prints it, entry for entry and in its order. Vendor, product and
// product_blacklist are unanchored regular expressions; every matching entry
// applies, a keyword set by a later entry winning over an earlier one, and
// user [[devices]] entries win over all of them. A test compares the table
// with `multipath -t` where multipath-tools is installed.
func builtinDevices() []Device {
	return []Device{
		{
			// uid_attribute ID_WWN is not modelled: mpathd has no uid_attribute.
			Vendor: "NVM[eE]", Product: ".*",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("none"),
				Failback:           &Failback{Mode: FailbackImmediate},
			},
		},
		{
			Vendor: "APPLE", Product: "Xserve RAID",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			// vpd_vendor hp3par is not modelled: it names the volume for a
			// multipath-tools format wildcard mpathd does not print.
			Vendor: "3PARdata", Product: "VV",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 18},
				FastIOFailTmo:      ptr(Tmo(10)),
				DevLossTmo:         ptr(TmoInfinity),
			},
		},
		{
			Vendor: "NVME", Product: "HPE Alletra",
			Attrs: Attrs{
				NoPathRetry: &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "DEC", Product: "HSG80",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("hp_sw"),
				HardwareHandler:    ptr("1 hp_sw"),
				Prio:               ptr("hp_sw"),
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "HP", Product: "A6189A",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 12},
			},
		},
		{
			Vendor: "(COMPAQ|HP)", Product: "(MSA|HSV)1[01]0",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("hp_sw"),
				HardwareHandler:    ptr("1 hp_sw"),
				Prio:               ptr("hp_sw"),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 12},
			},
		},
		{
			Vendor: "(COMPAQ|HP)", Product: "MSA VOLUME",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 12},
			},
		},
		{
			Vendor: "(COMPAQ|HP)", Product: "(HSV1[01]1|HSV2[01]0|HSV3[046]0|HSV4[05]0)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 12},
			},
		},
		{
			Vendor: "HP", Product: "(MSA2[02]12fc|MSA2012i)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 18},
			},
		},
		{
			Vendor: "HP", Product: "(MSA2012sa|MSA23(12|24)(fc|i|sa)|MSA2000s VOLUME)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 18},
			},
		},
		{
			Vendor: "(HP|HPE)", Product: "MSA [12]0[456]0 (SAN|SAS|FC|iSCSI)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 18},
			},
		},
		{
			Vendor: "HP", Product: "(HSVX700|HSVX740)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 12},
			},
		},
		{
			Vendor: "HP", Product: "LOGICAL VOLUME",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 12},
			},
		},
		{
			Vendor: "HP", Product: "(P2000 G3 FC|P2000G3 FC/iSCSI|P2000 G3 SAS|P2000 G3 iSCSI)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 18},
			},
		},
		{
			Vendor: "LEFTHAND", Product: "(P4000|iSCSIDisk|FCDISK)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 18},
			},
		},
		{
			Vendor: "Nimble", Product: "Server",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "SGI", Product: "TP9100",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			Vendor: "SGI", Product: "TP9[3457]00", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "SGI", Product: "IS", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "SGI", Product: "^DD[46]A-",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "DDN", Product: "SAN DataDirector",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			Vendor: "DDN", Product: "^EF3010",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "DDN", Product: "^(EF3015|S2A|SFA)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "NEXENTA", Product: "COMSTAR",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupBySerial),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "TEGILE", Product: "(ZEBI-(FC|ISCSI)|INTELLIFLASH)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 10},
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
			Vendor: "NVME", Product: "EMC PowerMax",
			Attrs: Attrs{
				NoPathRetry: &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "^DGC", Product: "^(RAID|DISK|VRAID)", ProductBlacklist: "LUNZ",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("emc_clariion"),
				HardwareHandler:    ptr("1 emc"),
				Prio:               ptr("emc"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 60},
				DetectChecker:      ptr(false),
			},
		},
		{
			Vendor: "EMC", Product: "Invista", ProductBlacklist: "LUNZ",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 5},
			},
		},
		{
			Vendor: "XtremIO", Product: "XtremApp",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			Vendor: "COMPELNT", Product: "Compellent Vol",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "DELL", Product: "^MD3", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "DellEMC", Product: "PowerStore",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 3},
				FastIOFailTmo:      ptr(Tmo(15)),
			},
		},
		{
			Vendor: ".*", Product: "dellemc-powerstore",
			Attrs: Attrs{
				NoPathRetry: &NoPathRetry{Mode: RetryCount, Count: 3},
			},
		},
		{
			Vendor: "DellEMC", Product: "^ME",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
			},
		},
		{
			Vendor: "FSC", Product: "CentricStor",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupBySerial),
			},
		},
		{
			Vendor: "FUJITSU", Product: "ETERNUS_DX(H|L|M|400|8000)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 10},
			},
		},
		{
			Vendor: "(EUROLOGC|EuroLogc)", Product: "FC2502",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			Vendor: "FUJITSU", Product: "E[234]000",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 10},
			},
		},
		{
			Vendor: "FUJITSU", Product: "E[68]000",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 10},
			},
		},
		{
			Vendor: "FUJITSU", Product: "ETERNUS_AHB", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "(HITACHI|HP|HPE)", Product: "^OPEN-",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			Vendor: "HITACHI", Product: "^DF",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("hds"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "HITACHI", Product: "^DF600F",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			Vendor: "IBM", Product: "ProFibre 4000R",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			Vendor: "IBM", Product: "^1722-600", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "IBM", Product: "^1724", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "IBM", Product: "^1726", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "IBM", Product: "^1742", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "IBM", Product: "^1746", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "IBM", Product: "^1813", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "IBM", Product: "^1814", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "IBM", Product: "^1815", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "IBM", Product: "^1818", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "IBM", Product: "^3526", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "IBM", Product: "^(3542|3552)", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "IBM", Product: "^2105",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "IBM", Product: "^1750500",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
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
			Vendor: "IBM", Product: "^2145",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "NVME", Product: "IBM[ ]+2145",
			Attrs: Attrs{
				NoPathRetry: &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			// uid_attribute ID_UID is not modelled: mpathd has no uid_attribute.
			Vendor: "IBM", Product: "S/390 DASD ECKD", ProductBlacklist: "S/390",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				PathChecker:        ptr("directio"),
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			// uid_attribute ID_UID is not modelled: mpathd has no uid_attribute.
			Vendor: "IBM", Product: "S/390 DASD FBA", ProductBlacklist: "S/390",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				PathChecker:        ptr("directio"),
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "IBM", Product: "^IPR",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "IBM", Product: "1820N00",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "(XIV|IBM)", Product: "(NEXTRA|2810XIV)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Failback:           &Failback{Mode: FailbackDeferred, Ticks: 15},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "(TMS|IBM)", Product: "(RamSan|FlashSystem)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			Vendor: "NVMe", Product: "FlashSystem",
			Attrs: Attrs{
				NoPathRetry: &NoPathRetry{Mode: RetryFail},
			},
		},
		{
			Vendor: "IBM", Product: "^(DCS9900|2851)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "AIX", Product: "VDASD",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 60},
			},
		},
		{
			Vendor: "IBM", Product: "3303[ ]+NVDISK",
			Attrs: Attrs{
				NoPathRetry: &NoPathRetry{Mode: RetryCount, Count: 60},
			},
		},
		{
			Vendor: "AIX", Product: "NVDISK",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 60},
			},
		},
		{
			Vendor: "LENOVO", Product: "DE_Series", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "NETAPP", Product: "LUN",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Features:           ptr("2 pg_init_retries 50"),
				Prio:               ptr("ontap"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
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
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "SolidFir", Product: "SSD SAN",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 24},
			},
		},
		{
			Vendor: "NVME", Product: "^NetApp ONTAP Controller",
			Attrs: Attrs{
				NoPathRetry: &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "NEC", Product: "DISK ARRAY",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
			},
		},
		{
			Vendor: "^Pillar", Product: "^Axiom",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
			},
		},
		{
			Vendor: "^Oracle", Product: "^Oracle FS",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
			},
		},
		{
			Vendor: "STK", Product: "BladeCtlr", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "STK", Product: "OPENstorage", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "STK", Product: "FLEXLINE 380", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "SUN", Product: "StorEdge 3",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			Vendor: "SUN", Product: "STK6580_6780", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "SUN", Product: "CSM[12]00_R", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "SUN", Product: "LCSM100_[IEFS]", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "SUN", Product: "SUN_6180", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "SUN", Product: "ArrayStorage", ProductBlacklist: "Universal Xport",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathChecker:        ptr("rdac"),
				Features:           ptr("2 pg_init_retries 50"),
				HardwareHandler:    ptr("1 rdac"),
				Prio:               ptr("rdac"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "SUN", Product: "(Sun Storage|ZFS Storage|COMSTAR)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "PIVOT3", Product: "RAIGE VOLUME",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "(NexGen|Pivot3)", Product: "(TierStore|vSTAC)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "(Intel|INTEL)", Product: "Multi-Flex", ProductBlacklist: "VTrak V-LUN",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "(LIO-ORG|SUSE)", Product: ".*",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 12},
			},
		},
		{
			Vendor: "DataCore", Product: "SANmelody",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryQueue},
			},
		},
		{
			Vendor: "DataCore", Product: "Virtual Disk",
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
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				FastIOFailTmo:      ptr(Tmo(10)),
			},
		},
		{
			Vendor: "NVME", Product: "Pure Storage FlashArray",
			Attrs: Attrs{
				NoPathRetry: &NoPathRetry{Mode: RetryCount, Count: 10},
			},
		},
		{
			Vendor: "HUAWEI", Product: "XSG1",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 15},
			},
		},
		{
			Vendor: "NVM[eE]", Product: "Huawei-XSG1",
			Attrs: Attrs{
				PathChecker: ptr("directio"),
				NoPathRetry: &NoPathRetry{Mode: RetryCount, Count: 12},
			},
		},
		{
			Vendor: "KOVE", Product: "XPD",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			Vendor: "NFINIDAT", Product: "InfiniBox",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				PathSelector:       ptr("round-robin 0"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackDeferred, Ticks: 30},
				RRWeight:           ptr("priorities"),
				NoPathRetry:        &NoPathRetry{Mode: RetryFail},
				RRMinIO:            ptr(1),
				RRMinIORq:          ptr(1),
				FlushOnLastDel:     ptr(FlushAlways),
				FastIOFailTmo:      ptr(Tmo(15)),
				DevLossTmo:         ptr(Tmo(15)),
			},
		},
		{
			Vendor: "KMNRIO", Product: "K2",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
			},
		},
		{
			Vendor: "NEXSAN", Product: "NXS-B0",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 15},
			},
		},
		{
			Vendor: "NEXSAN", Product: "SATAB",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 15},
			},
		},
		{
			Vendor: "Nexsan", Product: "(NestOS|NST5000)",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "VIOLIN", Product: "SAN ARRAY$",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupBySerial),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "VIOLIN", Product: "SAN ARRAY ALUA",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "VIOLIN", Product: "CONCERTO ARRAY",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "(XIOTECH|XIOtech)", Product: "ISE",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 12},
			},
		},
		{
			Vendor: "(XIOTECH|XIOtech)", Product: "IGLU DISK",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "(XIOTECH|XIOtech)", Product: "Magnitude",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "Vexata", Product: "VX",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "Promise", Product: "VTrak", ProductBlacklist: "VTrak V-LUN",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "Promise", Product: "Vess", ProductBlacklist: "Vess V-LUN",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				HardwareHandler:    ptr("1 alua"),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "^IFT", Product: ".*",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "DotHill", Product: "SANnet",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "DotHill", Product: "R/Evo",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "DotHill", Product: "^DH",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "AStor", Product: "NeoSapphire",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(Multibus),
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
		{
			Vendor: "INSPUR", Product: "MCS",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
			},
		},
		{
			Vendor: "MacroSAN", Product: "LU",
			Attrs: Attrs{
				PathGroupingPolicy: ptr(GroupByPrio),
				Prio:               ptr("alua"),
				Failback:           &Failback{Mode: FailbackImmediate},
				NoPathRetry:        &NoPathRetry{Mode: RetryCount, Count: 30},
			},
		},
	}
}
