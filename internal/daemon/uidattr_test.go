package daemon

import (
	"context"
	"testing"
)

// The topology reader asks the daemon for uid_attribute by device type: the running
// configuration's value, its device entries included, and the new one after a reconfigure.
func TestUIDAttributeFollowsReconfigure(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/mpathd.toml"
	writeFile(t, file, "")
	r := newRig(t, san(2, 1), "", nil)
	r.d.o.ConfigPath = file
	if got := r.d.UIDAttribute("Linux", "scsi_debug", "0191"); got != "ID_SERIAL" {
		t.Errorf("built-in: %q, want ID_SERIAL", got)
	}
	writeFile(t, file, "[defaults]\nuid_attribute = \"ID_WWN\"\n\n[[devices]]\nvendor = \"HP\"\nproduct = \"OPEN-\"\nuid_attribute = \"\"\n")
	if err := r.d.Reconfigure(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if got := r.d.UIDAttribute("Linux", "scsi_debug", "0191"); got != "ID_WWN" {
		t.Errorf("after reconfigure: %q, want ID_WWN", got)
	}
	if got := r.d.UIDAttribute("HP", "OPEN-V", "8001"); got != "" {
		t.Errorf("device entry: %q, want empty", got)
	}
}
