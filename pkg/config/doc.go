// Package config loads, validates and resolves mpathd's configuration.
//
// The file is TOML with multipath.conf's section and keyword names
// ([defaults], [blacklist], [blacklist_exceptions], [[devices]],
// [[multipaths]], [overrides]); configs/mpathd.toml documents every key.
// Loading is strict: an unknown key, a wrong type or an invalid value is an
// *Error naming file, line and key, and all problems are reported at once.
//
// A Config is immutable. Resolve gives the effective settings of one map with
// the origin of each value (multipaths → overrides → devices → defaults →
// built-in), Filter applies the blacklist, ShouldMultipath applies
// find_multipaths, and Dump renders the effective configuration as TOML.
package config
