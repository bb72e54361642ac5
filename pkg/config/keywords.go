package config

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/BurntSushi/toml"
)

// Settings is the fully resolved value of every keyword for one map (or, for
// global keywords, for the daemon). Zero values have the meanings documented
// per field.
type Settings struct {
	// Global: [defaults] only.
	PollingInterval    int // seconds
	MaxPollingInterval int // seconds; built-in: 4 × PollingInterval
	FindMultipaths     FindMultipaths
	QueueWithoutDaemon bool
	CheckerTimeout     int // seconds; 0: the SCSI device/timeout of each path
	MarginalPathgroups string
	// Polling core (pkg/selector); names match selector.Config.
	StatsInterval          time.Duration
	StatsHalfLife          time.Duration
	Shards                 int // 0: GOMAXPROCS
	WeightUpdate           bool
	WeightMinInterval      time.Duration
	WeightHysteresis       float64
	MarginalDetection      bool
	MarginalLatencyFactor  float64
	MarginalMinServiceTime time.Duration
	MarginalMinIOPS        float64
	MarginalTime           time.Duration
	MarginalErrors         int
	MarginalRecoveryTime   time.Duration
	// Metrics (pkg/metrics): the Prometheus listener ("" = none) and whether it shows per-path load.
	MetricsListen string
	MetricsLoad   bool
	// PRKeysFile is where reservation_key "file" keeps each map's key.
	PRKeysFile string
	// PartitionDelimiter goes between a map's name and a partition number in the names of its
	// partition maps: "-part" (built-in, the name kpartx's udev rules give) makes mpatha-part1.
	PartitionDelimiter string

	// Per path / device type: [defaults], [overrides], [[devices]].
	PathChecker             string
	DetectPrio              bool
	DetectChecker           bool
	DetectPgpolicy          bool
	DetectPgpolicyUseTPG    bool
	HardwareHandler         string // "": keep what the kernel attached, or auto-select
	RetainAttachedHWHandler bool
	FastIOFailTmo           Tmo
	DevLossTmo              Tmo
	EhDeadline              Tmo // seconds or TmoOff on the path's SCSI host; TmoUnset leaves it
	AliasPrefix             string
	// UIDAttribute is the udev property a path's WWID is read from (built-in
	// ID_SERIAL, as multipath-tools); "" derives it from the VPD pages as
	// udev's scsi_id does, ignoring the udev database.
	UIDAttribute string

	// Per map: all four layers including [[multipaths]].
	PathSelector                  string
	PathGroupingPolicy            GroupingPolicy
	Prio                          string // "": detected (detect_prio) or const
	PrioArgs                      string
	Failback                      Failback
	NoPathRetry                   NoPathRetry
	RRWeight                      string
	RRMinIORq                     int
	RRMinIO                       int
	FlushOnLastDel                FlushOnLastDel
	Features                      string
	QueueMode                     string
	UserFriendlyNames             bool
	DeferredRemove                bool
	SkipKpartx                    bool // no partition maps on the map
	MaxSectorsKB                  int  // 0: leave the kernel's value
	SanPathErrThreshold           int  // 0: off
	SanPathErrForgetRate          int
	SanPathErrRecoveryTime        int
	MarginalPathErrSampleTime     int // 0: off
	MarginalPathErrRateThreshold  int
	MarginalPathErrRecheckGapTime int
	MarginalPathDoubleFailedTime  int
	// ReservationKey is the map's persistent reservation key; AllTgPt registers it on every
	// target port of the I_T nexus (ALL_TG_PT).
	ReservationKey ReservationKey
	AllTgPt        bool
}

// Attrs is one layer of settings ([defaults], [overrides], one [[devices]] or
// one [[multipaths]] entry): a nil field is not set in that layer.
type Attrs struct {
	PollingInterval        *int
	MaxPollingInterval     *int
	FindMultipaths         *FindMultipaths
	QueueWithoutDaemon     *bool
	CheckerTimeout         *int
	MarginalPathgroups     *string
	StatsInterval          *time.Duration
	StatsHalfLife          *time.Duration
	Shards                 *int
	WeightUpdate           *bool
	WeightMinInterval      *time.Duration
	WeightHysteresis       *float64
	MarginalDetection      *bool
	MarginalLatencyFactor  *float64
	MarginalMinServiceTime *time.Duration
	MarginalMinIOPS        *float64
	MarginalTime           *time.Duration
	MarginalErrors         *int
	MarginalRecoveryTime   *time.Duration
	MetricsListen          *string
	MetricsLoad            *bool
	PRKeysFile             *string
	PartitionDelimiter     *string

	PathChecker             *string
	DetectPrio              *bool
	DetectChecker           *bool
	DetectPgpolicy          *bool
	DetectPgpolicyUseTPG    *bool
	HardwareHandler         *string
	RetainAttachedHWHandler *bool
	FastIOFailTmo           *Tmo
	DevLossTmo              *Tmo
	EhDeadline              *Tmo
	AliasPrefix             *string
	UIDAttribute            *string

	PathSelector                  *string
	PathGroupingPolicy            *GroupingPolicy
	Prio                          *string
	PrioArgs                      *string
	Failback                      *Failback
	NoPathRetry                   *NoPathRetry
	RRWeight                      *string
	RRMinIORq                     *int
	RRMinIO                       *int
	FlushOnLastDel                *FlushOnLastDel
	Features                      *string
	QueueMode                     *string
	UserFriendlyNames             *bool
	DeferredRemove                *bool
	SkipKpartx                    *bool
	MaxSectorsKB                  *int
	SanPathErrThreshold           *int
	SanPathErrForgetRate          *int
	SanPathErrRecoveryTime        *int
	MarginalPathErrSampleTime     *int
	MarginalPathErrRateThreshold  *int
	MarginalPathErrRecheckGapTime *int
	MarginalPathDoubleFailedTime  *int
	ReservationKey                *ReservationKey
	AllTgPt                       *bool

	// Src tells, per keyword set in this layer, where it was set (such as
	// "/etc/multipath.conf:12"); `config explain` prints it with the origin.
	// nil when the reader does not record positions.
	Src map[string]string
}

// scope says in which sections a keyword may appear.
type scope int

const (
	scopeGlobal scope = iota // [defaults]
	scopeDevice              // + [overrides], [[devices]]
	scopeMap                 // + [[multipaths]]
)

type section int

const (
	secDefaults section = iota
	secOverrides
	secDevices
	secMultipaths
)

func (s scope) allows(sec section) bool {
	switch sec {
	case secDefaults:
		return true
	case secOverrides, secDevices:
		return s >= scopeDevice
	}
	return s == scopeMap
}

// keyword describes one configuration key: where it is allowed, how to parse
// it, where it lives in Attrs and Settings, and how to print it.
type keyword struct {
	name  string
	scope scope
	// set parses v into the layer; it reports a valueError on bad input.
	set func(a *Attrs, v any) error
	// isSet reports whether the layer sets the keyword.
	isSet func(a *Attrs) bool
	// apply copies the layer's value into s.
	apply func(a *Attrs, s *Settings)
	// merge copies the keyword from src to dst when src sets it.
	merge func(dst, src *Attrs)
	// toml renders the Settings value as a TOML value; ok is false when the
	// value is "unset" and cannot be written.
	toml func(s *Settings) (text string, ok bool)
}

func kw[T any](name string, sc scope, parse func(any) (T, error), field func(*Attrs) **T,
	value func(*Settings) *T, render func(T) (string, bool)) keyword {
	return keyword{
		name:  name,
		scope: sc,
		set: func(a *Attrs, v any) error {
			x, err := parse(v)
			if err != nil {
				return err
			}
			*field(a) = &x
			return nil
		},
		isSet: func(a *Attrs) bool { return *field(a) != nil },
		apply: func(a *Attrs, s *Settings) { *value(s) = **field(a) },
		merge: func(dst, src *Attrs) {
			if p := *field(src); p != nil {
				x := *p
				*field(dst) = &x
			}
		},
		toml: func(s *Settings) (string, bool) { return render(*value(s)) },
	}
}

func quote(s string) (string, bool) { return tomlQuote(s), true }
func quoteNonEmpty(s string) (string, bool) {
	return tomlQuote(s), s != ""
}
func itoa(n int) (string, bool)             { return strconv.Itoa(n), true }
func itoaPositive(n int) (string, bool)     { return strconv.Itoa(n), n > 0 }
func btoa(b bool) (string, bool)            { return strconv.FormatBool(b), true }
func dtoa(d time.Duration) (string, bool)   { return tomlQuote(d.String()), true }
func ftoa(f float64) (string, bool)         { return strconv.FormatFloat(f, 'g', -1, 64), true }
func enumStr[T ~string](x T) (string, bool) { return tomlQuote(string(x)), true }

func tmoStr(t Tmo) (string, bool) {
	switch t {
	case TmoUnset:
		return "", false
	case TmoOff, TmoInfinity:
		return tomlQuote(t.String()), true
	}
	return strconv.Itoa(int(t)), true
}

func failbackStr(f Failback) (string, bool) {
	if f.Mode == FailbackDeferred {
		return strconv.Itoa(f.Ticks), true
	}
	return tomlQuote(string(f.Mode)), true
}

func noPathRetryStr(n NoPathRetry) (string, bool) {
	if n.Mode == RetryCount {
		return strconv.Itoa(n.Count), true
	}
	return tomlQuote(string(n.Mode)), true
}

const maxInt = math.MaxInt32

// keywords lists every supported keyword in the order used by Dump and the
// reference file.
var keywords = []keyword{
	kw("polling_interval", scopeGlobal, intIn(1, 3600), func(a *Attrs) **int { return &a.PollingInterval }, func(s *Settings) *int { return &s.PollingInterval }, itoa),
	kw("max_polling_interval", scopeGlobal, intIn(1, 4*3600), func(a *Attrs) **int { return &a.MaxPollingInterval }, func(s *Settings) *int { return &s.MaxPollingInterval }, itoaPositive),
	kw("find_multipaths", scopeGlobal, oneOf(map[string]FindMultipaths{"yes": FindOn, "no": FindOff}, FindOff, FindGreedy, FindOn, FindStrict), func(a *Attrs) **FindMultipaths { return &a.FindMultipaths }, func(s *Settings) *FindMultipaths { return &s.FindMultipaths }, enumStr[FindMultipaths]),
	kw("queue_without_daemon", scopeGlobal, parseBool, func(a *Attrs) **bool { return &a.QueueWithoutDaemon }, func(s *Settings) *bool { return &s.QueueWithoutDaemon }, btoa),
	kw("checker_timeout", scopeGlobal, intIn(1, 3600), func(a *Attrs) **int { return &a.CheckerTimeout }, func(s *Settings) *int { return &s.CheckerTimeout }, itoaPositive),
	kw("marginal_pathgroups", scopeGlobal, oneOf[string](nil, "off", "on", "fpin"), func(a *Attrs) **string { return &a.MarginalPathgroups }, func(s *Settings) *string { return &s.MarginalPathgroups }, quote),

	kw("stats_interval", scopeGlobal, parseDuration(10*time.Millisecond, false), func(a *Attrs) **time.Duration { return &a.StatsInterval }, func(s *Settings) *time.Duration { return &s.StatsInterval }, dtoa),
	kw("stats_half_life", scopeGlobal, parseDuration(0, true), func(a *Attrs) **time.Duration { return &a.StatsHalfLife }, func(s *Settings) *time.Duration { return &s.StatsHalfLife }, dtoa),
	kw("shards", scopeGlobal, intIn(0, 4096), func(a *Attrs) **int { return &a.Shards }, func(s *Settings) *int { return &s.Shards }, itoa),
	kw("weight_update", scopeGlobal, parseBool, func(a *Attrs) **bool { return &a.WeightUpdate }, func(s *Settings) *bool { return &s.WeightUpdate }, btoa),
	kw("weight_min_interval", scopeGlobal, parseDuration(0, false), func(a *Attrs) **time.Duration { return &a.WeightMinInterval }, func(s *Settings) *time.Duration { return &s.WeightMinInterval }, dtoa),
	kw("weight_hysteresis", scopeGlobal, parseFraction, func(a *Attrs) **float64 { return &a.WeightHysteresis }, func(s *Settings) *float64 { return &s.WeightHysteresis }, ftoa),
	kw("marginal_detection", scopeGlobal, parseBool, func(a *Attrs) **bool { return &a.MarginalDetection }, func(s *Settings) *bool { return &s.MarginalDetection }, btoa),
	kw("marginal_latency_factor", scopeGlobal, floatAbove(1), func(a *Attrs) **float64 { return &a.MarginalLatencyFactor }, func(s *Settings) *float64 { return &s.MarginalLatencyFactor }, ftoa),
	kw("marginal_min_service_time", scopeGlobal, parseDuration(0, false), func(a *Attrs) **time.Duration { return &a.MarginalMinServiceTime }, func(s *Settings) *time.Duration { return &s.MarginalMinServiceTime }, dtoa),
	kw("marginal_min_iops", scopeGlobal, floatAtLeast(0), func(a *Attrs) **float64 { return &a.MarginalMinIOPS }, func(s *Settings) *float64 { return &s.MarginalMinIOPS }, ftoa),
	kw("marginal_time", scopeGlobal, parseDuration(0, true), func(a *Attrs) **time.Duration { return &a.MarginalTime }, func(s *Settings) *time.Duration { return &s.MarginalTime }, dtoa),
	kw("marginal_errors", scopeGlobal, intIn(1, maxInt), func(a *Attrs) **int { return &a.MarginalErrors }, func(s *Settings) *int { return &s.MarginalErrors }, itoa),
	kw("marginal_recovery_time", scopeGlobal, parseDuration(0, false), func(a *Attrs) **time.Duration { return &a.MarginalRecoveryTime }, func(s *Settings) *time.Duration { return &s.MarginalRecoveryTime }, dtoa),
	kw("metrics_listen", scopeGlobal, parseListenAddr, func(a *Attrs) **string { return &a.MetricsListen }, func(s *Settings) *string { return &s.MetricsListen }, quote),
	kw("metrics_load", scopeGlobal, parseBool, func(a *Attrs) **bool { return &a.MetricsLoad }, func(s *Settings) *bool { return &s.MetricsLoad }, btoa),
	kw("prkeys_file", scopeGlobal, parseAbsPath, func(a *Attrs) **string { return &a.PRKeysFile }, func(s *Settings) *string { return &s.PRKeysFile }, quote),
	kw("partition_delimiter", scopeGlobal, parseDelimiter, func(a *Attrs) **string { return &a.PartitionDelimiter }, func(s *Settings) *string { return &s.PartitionDelimiter }, quote),
	kw("path_checker", scopeDevice, nameIn("path checker", checkers), func(a *Attrs) **string { return &a.PathChecker }, func(s *Settings) *string { return &s.PathChecker }, quote),
	kw("detect_prio", scopeDevice, parseBool, func(a *Attrs) **bool { return &a.DetectPrio }, func(s *Settings) *bool { return &s.DetectPrio }, btoa),
	kw("detect_checker", scopeDevice, parseBool, func(a *Attrs) **bool { return &a.DetectChecker }, func(s *Settings) *bool { return &s.DetectChecker }, btoa),
	kw("detect_pgpolicy", scopeDevice, parseBool, func(a *Attrs) **bool { return &a.DetectPgpolicy }, func(s *Settings) *bool { return &s.DetectPgpolicy }, btoa),
	kw("detect_pgpolicy_use_tpg", scopeDevice, parseBool, func(a *Attrs) **bool { return &a.DetectPgpolicyUseTPG }, func(s *Settings) *bool { return &s.DetectPgpolicyUseTPG }, btoa),
	kw("hardware_handler", scopeDevice, parseHWHandler, func(a *Attrs) **string { return &a.HardwareHandler }, func(s *Settings) *string { return &s.HardwareHandler }, quoteNonEmpty),
	kw("retain_attached_hw_handler", scopeDevice, parseBool, func(a *Attrs) **bool { return &a.RetainAttachedHWHandler }, func(s *Settings) *bool { return &s.RetainAttachedHWHandler }, btoa),
	kw("fast_io_fail_tmo", scopeDevice, parseTmo(TmoOff), func(a *Attrs) **Tmo { return &a.FastIOFailTmo }, func(s *Settings) *Tmo { return &s.FastIOFailTmo }, tmoStr),
	kw("dev_loss_tmo", scopeDevice, parseTmo(TmoInfinity), func(a *Attrs) **Tmo { return &a.DevLossTmo }, func(s *Settings) *Tmo { return &s.DevLossTmo }, tmoStr),
	kw("eh_deadline", scopeDevice, parseTmo(TmoOff), func(a *Attrs) **Tmo { return &a.EhDeadline }, func(s *Settings) *Tmo { return &s.EhDeadline }, tmoStr),
	kw("alias_prefix", scopeDevice, parseAliasPrefix, func(a *Attrs) **string { return &a.AliasPrefix }, func(s *Settings) *string { return &s.AliasPrefix }, quote),
	kw("uid_attribute", scopeDevice, parseUdevProperty, func(a *Attrs) **string { return &a.UIDAttribute }, func(s *Settings) *string { return &s.UIDAttribute }, quote),

	kw("path_selector", scopeMap, parseSelector, func(a *Attrs) **string { return &a.PathSelector }, func(s *Settings) *string { return &s.PathSelector }, quote),
	kw("path_grouping_policy", scopeMap, oneOf[GroupingPolicy](nil, Failover, Multibus, GroupBySerial, GroupByPrio, GroupByNodeName, GroupByTPG), func(a *Attrs) **GroupingPolicy { return &a.PathGroupingPolicy }, func(s *Settings) *GroupingPolicy { return &s.PathGroupingPolicy }, enumStr[GroupingPolicy]),
	kw("prio", scopeMap, nameIn("prioritizer", prios), func(a *Attrs) **string { return &a.Prio }, func(s *Settings) *string { return &s.Prio }, quoteNonEmpty),
	kw("prio_args", scopeMap, parseString, func(a *Attrs) **string { return &a.PrioArgs }, func(s *Settings) *string { return &s.PrioArgs }, quote),
	kw("failback", scopeMap, parseFailback, func(a *Attrs) **Failback { return &a.Failback }, func(s *Settings) *Failback { return &s.Failback }, failbackStr),
	kw("no_path_retry", scopeMap, parseNoPathRetry, func(a *Attrs) **NoPathRetry { return &a.NoPathRetry }, func(s *Settings) *NoPathRetry { return &s.NoPathRetry }, noPathRetryStr),
	kw("rr_weight", scopeMap, oneOf[string](nil, "uniform", "priorities"), func(a *Attrs) **string { return &a.RRWeight }, func(s *Settings) *string { return &s.RRWeight }, quote),
	kw("rr_min_io_rq", scopeMap, intIn(1, maxInt), func(a *Attrs) **int { return &a.RRMinIORq }, func(s *Settings) *int { return &s.RRMinIORq }, itoa),
	kw("rr_min_io", scopeMap, intIn(1, maxInt), func(a *Attrs) **int { return &a.RRMinIO }, func(s *Settings) *int { return &s.RRMinIO }, itoa),
	kw("flush_on_last_del", scopeMap, oneOf(map[string]FlushOnLastDel{"yes": FlushAlways, "no": FlushUnused}, FlushAlways, FlushUnused, FlushNever), func(a *Attrs) **FlushOnLastDel { return &a.FlushOnLastDel }, func(s *Settings) *FlushOnLastDel { return &s.FlushOnLastDel }, enumStr[FlushOnLastDel]),
	kw("features", scopeMap, parseFeatures, func(a *Attrs) **string { return &a.Features }, func(s *Settings) *string { return &s.Features }, quote),
	kw("queue_mode", scopeMap, oneOf[string](nil, "rq", "mq", "bio"), func(a *Attrs) **string { return &a.QueueMode }, func(s *Settings) *string { return &s.QueueMode }, quote),
	kw("user_friendly_names", scopeMap, parseBool, func(a *Attrs) **bool { return &a.UserFriendlyNames }, func(s *Settings) *bool { return &s.UserFriendlyNames }, btoa),
	kw("deferred_remove", scopeMap, parseBool, func(a *Attrs) **bool { return &a.DeferredRemove }, func(s *Settings) *bool { return &s.DeferredRemove }, btoa),
	kw("skip_kpartx", scopeMap, parseBool, func(a *Attrs) **bool { return &a.SkipKpartx }, func(s *Settings) *bool { return &s.SkipKpartx }, btoa),
	kw("max_sectors_kb", scopeMap, intIn(1, maxInt), func(a *Attrs) **int { return &a.MaxSectorsKB }, func(s *Settings) *int { return &s.MaxSectorsKB }, itoaPositive),
	kw("san_path_err_threshold", scopeMap, intIn(0, maxInt), func(a *Attrs) **int { return &a.SanPathErrThreshold }, func(s *Settings) *int { return &s.SanPathErrThreshold }, itoa),
	kw("san_path_err_forget_rate", scopeMap, intIn(0, maxInt), func(a *Attrs) **int { return &a.SanPathErrForgetRate }, func(s *Settings) *int { return &s.SanPathErrForgetRate }, itoa),
	kw("san_path_err_recovery_time", scopeMap, intIn(0, maxInt), func(a *Attrs) **int { return &a.SanPathErrRecoveryTime }, func(s *Settings) *int { return &s.SanPathErrRecoveryTime }, itoa),
	kw("marginal_path_err_sample_time", scopeMap, intIn(0, maxInt), func(a *Attrs) **int { return &a.MarginalPathErrSampleTime }, func(s *Settings) *int { return &s.MarginalPathErrSampleTime }, itoa),
	kw("marginal_path_err_rate_threshold", scopeMap, intIn(0, 1000), func(a *Attrs) **int { return &a.MarginalPathErrRateThreshold }, func(s *Settings) *int { return &s.MarginalPathErrRateThreshold }, itoa),
	kw("marginal_path_err_recheck_gap_time", scopeMap, intIn(0, maxInt), func(a *Attrs) **int { return &a.MarginalPathErrRecheckGapTime }, func(s *Settings) *int { return &s.MarginalPathErrRecheckGapTime }, itoa),
	kw("marginal_path_double_failed_time", scopeMap, intIn(0, maxInt), func(a *Attrs) **int { return &a.MarginalPathDoubleFailedTime }, func(s *Settings) *int { return &s.MarginalPathDoubleFailedTime }, itoa),
	kw("reservation_key", scopeMap, parseReservationKey, func(a *Attrs) **ReservationKey { return &a.ReservationKey }, func(s *Settings) *ReservationKey { return &s.ReservationKey }, reservationKeyStr),
	kw("all_tg_pt", scopeMap, parseBool, func(a *Attrs) **bool { return &a.AllTgPt }, func(s *Settings) *bool { return &s.AllTgPt }, btoa),
}

// Sections a keyword can be set in, for SetKeyword.
const (
	SectionDefaults   = "defaults"
	SectionOverrides  = "overrides"
	SectionDevices    = "devices"
	SectionMultipaths = "multipaths"
)

var sectionByName = map[string]section{
	SectionDefaults: secDefaults, SectionOverrides: secOverrides, SectionDevices: secDevices, SectionMultipaths: secMultipaths,
}

// Errors of SetKeyword besides an invalid value.
var (
	ErrUnknownKeyword = errors.New("unknown keyword")
	ErrNotInSection   = errors.New("not allowed in this section")
)

// SetKeyword sets keyword name in layer a of the given section (one of the
// Section constants) from a value typed as TOML decodes it (string, int64,
// float64, bool). It is how readers of other syntaxes fill Attrs.
func SetKeyword(a *Attrs, sectionName, name string, v any) error {
	kwd := keywordByName[name]
	if kwd == nil {
		return ErrUnknownKeyword
	}
	sec, ok := sectionByName[sectionName]
	if !ok || !kwd.scope.allows(sec) {
		return ErrNotInSection
	}
	return kwd.set(a, v)
}

// Known reports whether name is a keyword of mpathd's configuration.
func Known(name string) bool { return keywordByName[name] != nil }

// IsSet reports whether layer a sets keyword name.
func IsSet(a *Attrs, name string) bool {
	kwd := keywordByName[name]
	return kwd != nil && kwd.isSet(a)
}

// Unset clears keyword name, and its source, in layer a.
func Unset(a *Attrs, name string) {
	kwd := keywordByName[name]
	if kwd == nil || !kwd.isSet(a) {
		return
	}
	src := *a
	*a = Attrs{}
	for i := range keywords {
		if keywords[i].name != name {
			keywords[i].merge(a, &src)
		}
	}
	for k, v := range src.Src {
		if k != name {
			if a.Src == nil {
				a.Src = map[string]string{}
			}
			a.Src[k] = v
		}
	}
}

// KeyValue is one keyword set in a layer, with its value typed as SetKeyword
// takes it.
type KeyValue struct {
	Key   string
	Value any // string, int64, float64 or bool
}

// Values lists the keywords layer a sets, in reference order, so that a
// writer of another syntax can render a layer back.
func Values(a *Attrs) []KeyValue {
	var out []KeyValue
	for i := range keywords {
		k := &keywords[i]
		if !k.isSet(a) {
			continue
		}
		var s Settings
		k.apply(a, &s)
		text, ok := k.toml(&s)
		if !ok {
			continue
		}
		var v struct{ V any }
		if _, err := toml.Decode("V = "+text, &v); err != nil {
			panic("config: keyword " + k.name + " renders invalid TOML " + text) // a programming error, caught by tests
		}
		out = append(out, KeyValue{Key: k.name, Value: v.V})
	}
	return out
}

var keywordByName = func() map[string]*keyword {
	m := make(map[string]*keyword, len(keywords))
	for i := range keywords {
		m[keywords[i].name] = &keywords[i]
	}
	return m
}()

// Keywords returns the names of every supported keyword, in reference order.
func Keywords() []string {
	names := make([]string, len(keywords))
	for i := range keywords {
		names[i] = keywords[i].name
	}
	return names
}
