package kerneltopo

import (
	"errors"
	"testing"

	"github.com/mpathd/mpathd/pkg/sysfs"
)

func TestResolve(t *testing.T) {
	r := Reader{DM: fcKernel(t), Sys: sysfs.New("../sysfs/testdata/fc")}
	for _, tc := range []struct {
		arg, path, mapName, wwid string
	}{
		{"sda", "sda", "mpatha", wwidA},
		{"/dev/sdd", "sdd", "mpathb", wwidB}, // no node on this machine: the base name is a path in sysfs
		{"8:32", "sdc", "mpatha", wwidA},
		{"253:1", "", "mpathb", wwidB},
		{"dm-0", "", "mpatha", wwidA},
		{"/dev/dm-1", "", "mpathb", wwidB},
		{"/dev/mapper/mpatha", "", "mpatha", wwidA},
		{"mpathb", "", "mpathb", wwidB},
		{wwidA, "", "mpatha", wwidA},
		{"3600a0980383030534f2b4d3153324d99", "", "", "3600a0980383030534f2b4d3153324d99"}, // a LUN not here
	} {
		got, err := r.Resolve(tc.arg)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tc.arg, err)
			continue
		}
		var p, m string
		if got.Path != nil {
			p = got.Path.Name
		}
		if got.Map != nil {
			m = got.Map.Name
		}
		if p != tc.path || m != tc.mapName || got.WWID != tc.wwid {
			t.Errorf("Resolve(%q) = path %q map %q wwid %q; want %q %q %q", tc.arg, p, m, got.WWID, tc.path, tc.mapName, tc.wwid)
		}
	}
	for _, bad := range []string{"", "/dev/nosuch", "9:9", "dm-7", "/dev/mapper/nosuch", "a b", "vda"} {
		if got, err := r.Resolve(bad); err == nil {
			t.Errorf("Resolve(%q) = %+v, want an error", bad, got)
		} else if bad != "vda" && !errors.Is(err, ErrInvalidArg) {
			t.Errorf("Resolve(%q): %v, want ErrInvalidArg", bad, err)
		}
	}
}
