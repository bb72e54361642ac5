package config

// BuiltinDevices exposes the built-in hardware table to the external tests,
// which compare it with multipath-tools' through package mpconf.
func BuiltinDevices() []Device { return builtinDevices() }
