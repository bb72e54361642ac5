package mpathvalid

import (
	"testing"

	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

type wwidSet map[string]bool

func (w wwidSet) Contains(wwid string) (bool, error) { return w[wwid], nil }

const iscsiWWID = "36001405f1c1d2a6c9e4a5b9c0e1a2b3c"

func TestCheck(t *testing.T) {
	withMap := dm.NewFake()
	if _, err := withMap.Create("lonely", "mpath-"+iscsiWWID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		fixture string
		find    string // find_multipaths; "" = built-in (on)
		extra   string // more TOML
		dev     string
		listed  string
		dm      *dm.Fake
		want    Result
		inMap   bool
	}{
		{name: "in a map", fixture: "scsi_debug", dev: "sda", want: ValidNoCheck, inMap: true},
		{name: "in a map, strict", fixture: "scsi_debug", find: "strict", dev: "sde", want: ValidNoCheck, inMap: true},
		{name: "two paths, on", fixture: "scsi_debug", dev: "sdb", want: Valid},
		{name: "two paths, strict", fixture: "scsi_debug", find: "strict", dev: "sdb", want: NotValid},
		{name: "two paths, strict, listed", fixture: "scsi_debug", find: "strict", dev: "sdb", listed: "333333330000007d2", want: ValidNoCheck},
		{name: "two paths, one blacklisted", fixture: "scsi_debug", dev: "sdb", extra: "[blacklist]\ndevnode = [\"^sdf$\"]\n", want: NotValid},
		{name: "blacklisted by wwid", fixture: "scsi_debug", dev: "sdb", extra: "[blacklist]\nwwid = [\"333333330000007d2\"]\n", want: NotValid},
		{name: "single path, on", fixture: "iscsi", dev: "sde", want: NotValid},
		{name: "single path, on, listed", fixture: "iscsi", dev: "sde", listed: iscsiWWID, want: ValidNoCheck},
		{name: "single path, on, map exists", fixture: "iscsi", dev: "sde", dm: withMap, want: Valid},
		{name: "single path, greedy", fixture: "iscsi", find: "greedy", dev: "sdf", want: Valid},
		{name: "not SCSI", fixture: "scsi_debug", dev: "dm-0", want: NotValid},
		{name: "not SCSI, fc", fixture: "fc", dev: "vda", want: NotValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			toml := tc.extra
			if tc.find != "" {
				toml = "[defaults]\nfind_multipaths = \"" + tc.find + "\"\n" + toml
			}
			cfg, err := config.Parse([]byte(toml), "test.toml")
			if err != nil {
				t.Fatal(err)
			}
			k := tc.dm
			if k == nil {
				k = dm.NewFake()
			}
			c := Checker{Config: cfg, Sys: sysfs.New("../sysfs/testdata/" + tc.fixture), DM: k, WWIDs: wwidSet{tc.listed: tc.listed != ""}}
			v, err := c.Check(tc.dev)
			if err != nil {
				t.Fatal(err)
			}
			if v.Result != tc.want || v.InMap != tc.inMap {
				t.Errorf("Check(%s) = %+v, want result %d in map %v", tc.dev, v, tc.want, tc.inMap)
			}
		})
	}
}

func TestCheckErrors(t *testing.T) {
	c := Checker{Config: config.Builtin(), Sys: sysfs.New("../sysfs/testdata/scsi_debug"), DM: dm.NewFake(), WWIDs: wwidSet{}}
	for _, dev := range []string{"sdz", "", "../sda", "."} {
		if v, err := c.Check(dev); err == nil {
			t.Errorf("Check(%q) = %+v, want an error", dev, v)
		}
	}
}

func TestForUevent(t *testing.T) {
	inMap := Verdict{Result: ValidNoCheck, InMap: true}
	listed := Verdict{Result: ValidNoCheck}
	valid := Verdict{Result: Valid}
	for _, tc := range []struct {
		v        Verdict
		daemon   bool
		previous string
		want     string
	}{
		{valid, true, "", "1"},
		{valid, true, "1", "1"},
		{valid, true, "0", "0"}, // released to the system before: not taken back
		{listed, true, "0", "1"},
		{inMap, true, "0", "1"},
		{valid, false, "", "0"}, // nobody would build the map
		{listed, false, "", "0"},
		{inMap, false, "", "1"}, // a live map holds it already
		{Verdict{}, true, "1", "0"},
	} {
		if got := ForUevent(tc.v, tc.daemon, tc.previous).Result.Property(); got != tc.want {
			t.Errorf("ForUevent(%+v, daemon %v, previous %q) = %s, want %s", tc.v, tc.daemon, tc.previous, got, tc.want)
		}
	}
}
