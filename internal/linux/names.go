package linux

import (
	"github.com/mpathd/mpathd/pkg/bindings"
)

// Names adapts the bindings file to daemon.Names.
type Names struct{ File *bindings.File }

// Alias implements daemon.Names.
func (n Names) Alias(wwid, prefix string, taken func(string) bool) (string, error) {
	return n.File.Alias(bindings.Request{WWID: wwid, Prefix: prefix, InUse: taken})
}

// WWIDs adapts the wwids file to daemon.WWIDs.
type WWIDs struct{ File *bindings.WWIDs }

// Known implements daemon.WWIDs; an unreadable file counts as not listing the WWID.
func (w WWIDs) Known(wwid string) bool {
	ok, err := w.File.Contains(wwid)
	return err == nil && ok
}

// Remember implements daemon.WWIDs.
func (w WWIDs) Remember(wwid string) error {
	_, err := w.File.Add(wwid)
	return err
}
