package mpathcompat

import (
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/api/apitest"
)

// withOrphans is a map of one group of two paths, and two paths in no map:
// a single path find_multipaths holds back, and one whose sysfs told little.
func withOrphans() api.Topology {
	t := apitest.Generate(1, 1, 2)
	t.Orphans = []api.Orphan{
		{Dev: "sdx", DevT: "65:112", HCIL: "3:0:2:7", WWID: "3624a93701c0d5a1b2c3d4e5f00011234", DevState: "running",
			Vendor: "PURE", Product: "FlashArray", Revision: "8888", SizeSectors: 20971520, Checker: "tur",
			Reason: "find_multipaths on: a single path, not in the wwids file"},
		{Dev: "sdy", DevT: "65:128", HCIL: "3:0:2:8", WWID: "3624a93701c0d5a1b2c3d4e5f00011235", DevState: "offline",
			CheckerState: api.CheckerDown},
	}
	return t
}

// HPE CSI and IBM PowerVS CSI read paths not in a map as "[orphan]" lines.
func TestShowPathsOrphans(t *testing.T) {
	s, f := rig(t)
	f.SetTopology(withOrphans())
	for _, tc := range []struct{ cmd, want string }{
		{`show paths format "%w %d %t %i %o %T %c %s %m"`,
			"uuid                              dev dm_st  hcil    dev_st  chk_st checker vend/prod/rev        multipath\n" +
				"3600a098038300000000000000000000  sdb active 1:0:0:0 running ready  tur     NETAPP,LUN C-Mode,## mpatha   \n" +
				"3600a098038300000000000000000000  sdc active 2:0:0:0 running ready  tur     NETAPP,LUN C-Mode,## mpatha   \n" +
				"3624a93701c0d5a1b2c3d4e5f00011234 sdx undef  3:0:2:7 unknown undef  tur     PURE,FlashArray,8888 [orphan] \n" +
				"3624a93701c0d5a1b2c3d4e5f00011235 sdy undef  3:0:2:8 unknown faulty         ##,##,##             [orphan] \n"},
		{`show paths raw format "%w %d %t %i %o %T %c %s %m"`,
			"3600a098038300000000000000000000 sdb active 1:0:0:0 running ready tur NETAPP,LUN C-Mode,## mpatha\n" +
				"3600a098038300000000000000000000 sdc active 2:0:0:0 running ready tur NETAPP,LUN C-Mode,## mpatha\n" +
				"3624a93701c0d5a1b2c3d4e5f00011234 sdx undef 3:0:2:7 unknown undef tur PURE,FlashArray,8888 [orphan]\n" +
				"3624a93701c0d5a1b2c3d4e5f00011235 sdy undef 3:0:2:8 unknown faulty  ##,##,## [orphan]\n"},
		{`show paths raw format "%d %m"`, "sdb mpatha\nsdc mpatha\nsdx [orphan]\nsdy [orphan]\n"},
		{`show paths raw format "%d %p %S %C %L"`, "sdb 50 100G undef 0x0000000000000000\nsdc 50 100G undef 0x0000000000000000\n" +
			"sdx -1 10G orphan 0x0007000000000000\nsdy -1 0.0K orphan 0x0008000000000000\n"},
		{"show path sdx", "unknown\n"},
	} {
		if got := s.Execute(t.Context(), tc.cmd, true); got != tc.want {
			t.Errorf("%s\n got %q\nwant %q", tc.cmd, got, tc.want)
		}
	}
}

// Orphans are no part of the topology: its lines and column widths are those
// of the maps' paths alone.
func TestTopologyLeavesOrphansOut(t *testing.T) {
	s, f := rig(t)
	top := withOrphans()
	f.SetTopology(api.Topology{Maps: top.Maps})
	want := s.Execute(t.Context(), "show topology", true)
	f.SetTopology(top)
	if got := s.Execute(t.Context(), "show topology", true); got != want {
		t.Errorf("show topology with orphans\n got %q\nwant %q", got, want)
	}
}

// show status counts every path the daemon knows, orphans too, as multipathd does; an orphan
// without a check result is unchecked.
func TestStatusCountsOrphans(t *testing.T) {
	s, f := rig(t)
	f.SetTopology(withOrphans())
	want := "path checker states:\nunchecked           1\ndown                1\nup                  2\n\npaths: 4\nbusy: False\n"
	if got := s.Execute(t.Context(), "show status", true); got != want {
		t.Errorf("show status\n got %q\nwant %q", got, want)
	}
}

// The map's last action is its %A and its JSON action, as multipathd's.
func TestMapAction(t *testing.T) {
	s, f := rig(t)
	top := apitest.Generate(2, 1, 1)
	top.Maps[0].LastAction = "reload"
	f.SetTopology(top)
	if got, want := s.Execute(t.Context(), `show maps raw format "%n %A|"`, true), "mpatha reload|\nmpathb |\n"; got != want {
		t.Errorf("%%A: got %q, want %q", got, want)
	}
	js := s.Execute(t.Context(), "show maps json", true)
	if !strings.Contains(js, `"action" : "reload",`) || !strings.Contains(js, `"action" : "",`) {
		t.Errorf("show maps json lacks the actions:\n%s", js)
	}
}
