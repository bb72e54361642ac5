// Package version carries the build's version string, set by the Makefile with -ldflags.
package version

import "runtime/debug"

// Version is overridden at link time: -X github.com/mpathd/mpathd/internal/version.Version=v0.1.0.
var Version = ""

// String returns the link-time version, else the module version or VCS revision Go recorded.
func String() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "devel"
}
