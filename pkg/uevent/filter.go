package uevent

import (
	"path"
	"slices"
	"strings"
)

// Kind classifies block events for a multipath daemon.
type Kind uint8

const (
	KindOther Kind = 0
	KindPath  Kind = 1 << iota // a SCSI disk (sdX)
	KindDM                     // a device-mapper device (dm-N)
)

// Kind tells whether e concerns a SCSI disk, a dm device, or neither.
func (e Event) Kind() Kind {
	if e.Subsystem != "block" {
		return KindOther
	}
	name := e.DevName
	if name == "" {
		name = path.Base(e.DevPath)
	}
	name = strings.TrimPrefix(name, "/dev/") // for events not built by Parse
	switch {
	case strings.HasPrefix(name, "dm-"):
		return KindDM
	case strings.HasPrefix(name, "sd") && len(name) > 2 && isLower(name[2:]):
		return KindPath
	}
	return KindOther
}

func isLower(s string) bool {
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// Filter selects events. Empty fields match anything; set fields must all
// match. Overflow events always match: they must reach the consumer.
type Filter struct {
	Subsystems []string // "block", "scsi"
	DevTypes   []string // "disk", "partition", "scsi_device"
	Kinds      Kind     // KindPath|KindDM; 0 matches any kind
}

// PathsAndMaps is what a multipath daemon watches: whole SCSI disks and dm devices.
var PathsAndMaps = Filter{Subsystems: []string{"block"}, DevTypes: []string{"disk"}, Kinds: KindPath | KindDM}

// Match reports whether e passes the filter.
func (f Filter) Match(e Event) bool {
	if e.Overflow {
		return true
	}
	if len(f.Subsystems) > 0 && !slices.Contains(f.Subsystems, e.Subsystem) {
		return false
	}
	if len(f.DevTypes) > 0 && !slices.Contains(f.DevTypes, e.DevType) {
		return false
	}
	return f.Kinds == 0 || e.Kind()&f.Kinds != 0
}
