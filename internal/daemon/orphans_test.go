package daemon

import (
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
)

// A single path under find_multipaths on is published as an orphan, with what sysfs told of it
// and why it is in no map; once its second path comes it is in the map and no orphan any more.
// Blacklisted devices are never orphans.
func TestOrphansFindMultipaths(t *testing.T) {
	topo := san(2, 2) // sda, sdb: LUNs 0 and 1 on host 0; sdc, sdd on host 1
	sdc, _ := topo.Path("sdc")
	topo.del("sdc")
	topo.del("sdd")
	r := newRig(t, topo, "[blacklist]\nwwid = [\"333333330000007d1\"]\n", nil)
	r.settle()
	top := r.d.Topology()
	if len(top.Maps) != 0 {
		t.Fatalf("%d maps, want none", len(top.Maps))
	}
	if len(top.Orphans) != 1 {
		t.Fatalf("orphans = %+v, want sda alone (sdb is blacklisted)", top.Orphans)
	}
	o := top.Orphans[0]
	want := api.Orphan{Dev: "sda", DevT: "8:0", HCIL: "0:0:0:0", WWID: lun0, DevState: "running",
		Vendor: "Linux", Product: "scsi_debug", Revision: "0191", SizeSectors: 32768, Checker: o.Checker, Reason: o.Reason}
	if o != want {
		t.Errorf("orphan = %+v\nwant     %+v", o, want)
	}
	if o.Checker == "" || !strings.Contains(o.Reason, "single path") {
		t.Errorf("checker %q, reason %q: want the checker and find_multipaths' reason", o.Checker, o.Reason)
	}

	topo.set(sdc)
	r.d.PathsAdded([]string{"sdc"})
	r.settle()
	top = r.d.Topology()
	if len(top.Maps) != 1 {
		t.Fatalf("after the second path: %d maps, want 1", len(top.Maps))
	}
	if n, _ := top.Maps[0].PathCount(); n != 2 {
		t.Fatalf("after the second path: maps %+v, want one map of sda and sdc", top.Maps)
	}
	if len(top.Orphans) != 0 {
		t.Errorf("orphans = %+v, want none", top.Orphans)
	}
}

// An orphan that goes away is no orphan any more.
func TestOrphanRemoved(t *testing.T) {
	topo := san(1, 1)
	r := newRig(t, topo, "", nil)
	r.settle()
	if n := len(r.d.Topology().Orphans); n != 1 {
		t.Fatalf("%d orphans, want 1", n)
	}
	topo.del("sda")
	r.d.PathsRemoved([]string{"sda"})
	r.settle()
	if o := r.d.Topology().Orphans; len(o) != 0 {
		t.Errorf("orphans after removal = %+v", o)
	}
}

func TestCompareDevNames(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"sda", "sdb", -1}, {"sdz", "sdaa", -1}, {"sdab", "sdaa", 1}, {"sdc", "sdc", 0}} {
		if got := compareDevNames(c.a, c.b); got < 0 != (c.want < 0) || got > 0 != (c.want > 0) {
			t.Errorf("compareDevNames(%q, %q) = %d, want sign of %d", c.a, c.b, got, c.want)
		}
	}
}
