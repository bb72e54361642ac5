package checker

import (
	"path/filepath"
	"testing"

	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
	"github.com/mpathd/mpathd/pkg/sysfs/sysfstest"
)

// TestCheckFCRPortStates: what the checkers say of a path on the FC fixture while its remote port
// changes state. Blocked is pending (the SCSI layer holds the I/O: neither up nor down, and no
// command is sent), fast_io_fail expired is down (transport-offline), a deleted device is down,
// and a returned port's path is checked by I/O again.
func TestCheckFCRPortStates(t *testing.T) {
	root := sysfstest.Copy(t, "fc")
	sg := &sgiotest.Device{Handler: func([]byte) sgiotest.Response { return sgiotest.Good(nil) }}
	p := &Path{Name: "sdc", Attr: SysfsAttr(filepath.Join(root, "sys"), "sdc"), SG: sg}
	for _, tc := range []struct {
		st   sysfstest.RPortState
		want State
		sent bool
	}{
		{sysfstest.Online, Up, true},
		{sysfstest.Blocked, Pending, false},
		{sysfstest.FastFailed, Down, false},
		{sysfstest.Online, Up, true},
		{sysfstest.NotPresent, Down, false},
		{sysfstest.Returned, Up, true},
	} {
		sysfstest.SetRPort(t, root, "rport-3:0-0", tc.st)
		for _, c := range []Checker{TUR{}, ReadSector0{}} {
			n := len(sg.Calls())
			r := c.Check(t.Context(), p)
			if r.State != tc.want || (len(sg.Calls()) > n) != tc.sent {
				t.Errorf("%s, %s: %s (%s), command sent %v; want %s, sent %v", tc.st, c.Name(), r.State, r.Reason, len(sg.Calls()) > n, tc.want, tc.sent)
			}
		}
	}
}
