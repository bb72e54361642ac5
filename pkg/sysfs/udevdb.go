package sysfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// UdevAttribute is the udev property multipath-tools takes a SCSI path's
// WWID from (its uid_attribute default). Where a rule other than udev's own
// 60-persistent-storage sets it (sg3_utils' 55-scsi-sg3_id.rules, SUSE's
// default), its value is what multipathd named the maps by.
const UdevAttribute = "ID_SERIAL"

// ParseUdevDB returns the properties (E:KEY=VALUE lines) of a udev database
// file, /run/udev/data/b<major>:<minor>. Other records (S: links, I:, G:,
// Q:, V:) are skipped; a property line without '=' is skipped too.
func ParseUdevDB(b []byte) map[string]string {
	props := map[string]string{}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		kv, ok := bytes.CutPrefix(line, []byte("E:"))
		if !ok {
			continue
		}
		if k, v, ok := bytes.Cut(kv, []byte("=")); ok && len(k) > 0 {
			props[string(k)] = string(v)
		}
	}
	return props
}

// UdevProperty reads one property of block device dev from the udev
// database under Root (run/udev/data). ok is false when udev has no record
// of the device or the record lacks the property: udev is not running (an
// initramfs without it), or has not processed the device yet.
func (fs FS) UdevProperty(dev DevT, key string) (value string, ok bool, err error) {
	p := filepath.Join(fs.Root(), "run", "udev", "data", fmt.Sprintf("b%d:%d", dev.Major, dev.Minor))
	b, err := os.ReadFile(p)
	if err != nil {
		if optional(err) == nil {
			return "", false, nil
		}
		return "", false, fmt.Errorf("sysfs: udev database of %s: %w", dev, err)
	}
	value, ok = ParseUdevDB(b)[key]
	return value, ok, nil
}
