package config

import (
	"maps"
	"slices"
)

// notApplied are keywords mpathd accepts, because multipath-tools' users
// carry them in working files, without applying them. A value other than the
// one mpathd behaves as anyway ("off", 0) is warned about, by name, in
// Config.Warnings: `config check`, the daemon's log and `show status`.
var notApplied = map[string]struct {
	// applied reports whether the layer's value is what mpathd does anyway;
	// nil: no value is.
	applied func(s *Settings) bool
	why     string
}{
	"marginal_pathgroups": {func(s *Settings) bool { return s.MarginalPathgroups == "off" },
		"only mpathd's marginal_detection puts paths into marginal groups"},
	"retain_attached_hw_handler": {func(s *Settings) bool { return s.RetainAttachedHWHandler },
		"the kernel keeps an attached hardware handler on every request-based map since Linux 4.3"},
	"rr_min_io": {nil,
		"bio-based dm-multipath before Linux 2.6.31 used it, and every kernel since 4.6 forces a path's repeat count to 1"},
	"rr_min_io_rq": {func(s *Settings) bool { return s.RRMinIORq == 1 },
		"every kernel since Linux 4.6 forces a path's repeat count to 1"},
	"rr_weight": {func(s *Settings) bool { return s.RRWeight == "uniform" },
		"every kernel since Linux 4.6 forces a path's repeat count to 1, whatever its priority"},
	"san_path_err_threshold":             {zero(func(s *Settings) int { return s.SanPathErrThreshold }), shakyPaths},
	"san_path_err_forget_rate":           {zero(func(s *Settings) int { return s.SanPathErrForgetRate }), shakyPaths},
	"san_path_err_recovery_time":         {zero(func(s *Settings) int { return s.SanPathErrRecoveryTime }), shakyPaths},
	"marginal_path_err_sample_time":      {zero(func(s *Settings) int { return s.MarginalPathErrSampleTime }), shakyPaths},
	"marginal_path_err_rate_threshold":   {zero(func(s *Settings) int { return s.MarginalPathErrRateThreshold }), shakyPaths},
	"marginal_path_err_recheck_gap_time": {zero(func(s *Settings) int { return s.MarginalPathErrRecheckGapTime }), shakyPaths},
	"marginal_path_double_failed_time":   {zero(func(s *Settings) int { return s.MarginalPathDoubleFailedTime }), shakyPaths},
}

const shakyPaths = "mpathd finds shaky paths with marginal_detection instead"

// PropertyNotApplied is the warning for a blacklist or exception property
// pattern: mpathd does not read udev's properties, so it matches nothing.
const PropertyNotApplied = "not implemented by mpathd (udev properties are not read): ignored"

func zero(f func(*Settings) int) func(*Settings) bool {
	return func(s *Settings) bool { return f(s) == 0 }
}

// NotApplied returns the warning for keyword name as layer a sets it, when
// mpathd accepts the keyword without applying that value; "" otherwise.
func NotApplied(a *Attrs, name string) string {
	na, ok := notApplied[name]
	kwd := keywordByName[name]
	if !ok || kwd == nil || !kwd.isSet(a) {
		return ""
	}
	var s Settings
	kwd.apply(a, &s)
	if na.applied != nil && na.applied(&s) {
		return ""
	}
	return "not implemented by mpathd: ignored (" + na.why + ")"
}

// NotAppliedKeywords lists the keywords accepted without being applied.
func NotAppliedKeywords() []string { return slices.Sorted(maps.Keys(notApplied)) }

// KeywordSections returns the sections (Section* names) keyword name may be
// set in; nil for an unknown keyword.
func KeywordSections(name string) []string {
	kwd := keywordByName[name]
	if kwd == nil {
		return nil
	}
	var out []string
	for _, s := range []string{SectionDefaults, SectionOverrides, SectionDevices, SectionMultipaths} {
		if kwd.scope.allows(sectionByName[s]) {
			out = append(out, s)
		}
	}
	return out
}

// sectionKeys are the keys of the sections that are not keyword layers, as
// the parser accepts them: a key the parser handles must be listed here.
var sectionKeys = map[string][]string{
	"devices":              {"vendor", "product", "revision", "product_blacklist"},
	"multipaths":           {"wwid", "alias"},
	"overrides.protocol":   {"type", "fast_io_fail_tmo", "dev_loss_tmo", "eh_deadline"},
	"blacklist":            filterKeys,
	"blacklist_exceptions": filterKeys,
	"blacklist.device":     {"vendor", "product"},
}

var filterKeys = []string{"devnode", "wwid", "property", "protocol", "device"}

// SectionKeys returns the keys of the entry and filter sections, by section
// ("devices", "multipaths", "overrides.protocol", "blacklist",
// "blacklist_exceptions", "blacklist.device"; the last is also the device
// entry of blacklist_exceptions).
func SectionKeys() map[string][]string {
	out := make(map[string][]string, len(sectionKeys))
	for k, v := range sectionKeys {
		out[k] = slices.Clone(v)
	}
	return out
}

// valueCheck names a value mpathd accepts without implementing it (a
// checker, a prioritizer) and what it does instead; "" for others.
var valueCheck func(keyword, value string) string

// RegisterValueCheck installs the check of values that mpathd accepts
// without implementing them (package mpconf installs the one both syntaxes
// share: package config cannot import the checkers).
func RegisterValueCheck(f func(keyword, value string) string) { valueCheck = f }

// foreignKeyword says why a keyword of multipath-tools that mpathd does not
// take is refused in mpathd.toml ("" for any other name).
var foreignKeyword func(name string) string

// RegisterForeignKeywords installs it (package mpconf, which knows
// multipath-tools' keywords, installs it).
func RegisterForeignKeywords(f func(name string) string) { foreignKeyword = f }
