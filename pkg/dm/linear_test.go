package dm

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// linearCases are partition tables loaded over a multipath map of parentSize sectors ({P} is the
// map's MAJ:MIN), with what the kernel answers: TestFakeLinear runs them on the Fake,
// TestGuestFakeLinear on the kernel and the Fake side by side.
var linearCases = []struct {
	name    string
	targets []Target
	want    string // "" or "<ioctl> <errno>"
}{
	{"one partition", []Target{{0, 1024, "linear", "{P} 2048"}}, ""},
	{"to the last sector", []Target{{0, 2048, "linear", "{P} {END-2048}"}}, ""},
	{"two targets", []Target{{0, 8, "linear", "{P} 0"}, {8, 8, "linear", "{P} 64"}}, ""},
	{"gap between targets", []Target{{0, 8, "linear", "{P} 0"}, {16, 8, "linear", "{P} 64"}}, "DM_TABLE_LOAD EINVAL"},
	{"zero length", []Target{{0, 0, "linear", "{P} 0"}}, "DM_TABLE_LOAD EINVAL"},
	{"no offset", []Target{{0, 8, "linear", "{P}"}}, "DM_TABLE_LOAD EINVAL"},
	{"three arguments", []Target{{0, 8, "linear", "{P} 0 1"}}, "DM_TABLE_LOAD EINVAL"},
	{"offset not a number", []Target{{0, 8, "linear", "{P} 0x10"}}, "DM_TABLE_LOAD EINVAL"},
	{"past the end", []Target{{0, 2048, "linear", "{P} {END-1024}"}}, "DM_TABLE_LOAD EINVAL"},
	{"not a device", []Target{{0, 8, "linear", "nodev 0"}}, "DM_TABLE_LOAD ENODEV"},
	{"no such minor", []Target{{0, 8, "linear", "253:999999 0"}}, "DM_TABLE_LOAD ENXIO"},
}

// linearOutcome creates a partition device over parent on c, loads ts and resumes, and removes
// it again: "" or the failing call and errno.
func linearOutcome(c Control, parent Dev, parentSize uint64, ts []Target) string {
	tc := c.(TargetControl)
	sub := strings.NewReplacer("{P}", parent.String(), "{END-2048}", itoa(parentSize-2048), "{END-1024}", itoa(parentSize-1024))
	ts = append([]Target(nil), ts...)
	for i := range ts {
		ts[i].Params = sub.Replace(ts[i].Params)
	}
	const name = "mpathlin-part1"
	if _, err := c.Create(name, "part1-mpath-lin"); err != nil {
		return "create: " + err.Error()
	}
	defer c.Remove(name, RemoveOptions{})
	err := tc.LoadTargets(name, ts, 0)
	if err == nil {
		_, err = c.Resume(name, 0)
	}
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Op + " " + errnoName(e.Err)
	}
	return err.Error()
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func TestFakeLinear(t *testing.T) {
	const size = 1 << 20
	f := NewFake()
	f.SetPathDevices([]PathDevice{{Dev: "8:16"}, {Dev: "8:80"}})
	if _, err := CreateMap(f, "mpathlin", "mpath-lin", size, mustTable(t, twoGroups), 0); err != nil {
		t.Fatal(err)
	}
	parent, _ := f.Info("mpathlin")
	for _, tc := range linearCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := linearOutcome(f, parent.Dev, size, tc.targets); got != tc.want {
				t.Errorf("%q, want %q", got, tc.want)
			}
		})
	}
	t.Run("holds its parent open", func(t *testing.T) { linearHolds(t, f, "mpathlin", size) })
}

// linearHolds checks that a partition's table holds the parent open from load to removal, that
// the parent cannot be removed meanwhile, and what the partition answers to multipath calls.
func linearHolds(t *testing.T, c Control, parent string, size uint64) {
	tc := c.(TargetControl)
	pi, err := c.Info(parent)
	if err != nil {
		t.Fatal(err)
	}
	base := pi.OpenCount
	open := func() int32 {
		i, err := c.Info(parent)
		if err != nil {
			t.Fatal(err)
		}
		return i.OpenCount - base
	}
	const name = "mpathlin-part9"
	if _, err := c.Create(name, "part9-mpath-lin"); err != nil {
		t.Fatal(err)
	}
	defer c.Remove(name, RemoveOptions{})
	if n := open(); n != 0 {
		t.Errorf("empty partition device: parent opened %d more times, want 0", n)
	}
	if err := tc.LoadTargets(name, Linear(8, pi.Dev, 2048), 0); err != nil {
		t.Fatal(err)
	}
	if n := open(); n != 1 {
		t.Errorf("inactive table: parent opened %d more times, want 1", n)
	}
	if _, err := c.Resume(name, 0); err != nil {
		t.Fatal(err)
	}
	if n := open(); n != 1 {
		t.Errorf("live table: parent opened %d more times, want 1", n)
	}
	if _, err := c.Remove(parent, RemoveOptions{}); !IsBusy(err) {
		t.Errorf("remove of the parent under a partition: %v, want EBUSY", err)
	}
	got, err := tc.TableTargets(name)
	if want := Linear(8, pi.Dev, 2048); err != nil || len(got) != 1 || got[0] != want[0] {
		t.Errorf("TableTargets %+v (%v), want %+v", got, err, want)
	}
	if _, _, err := c.Table(name); !errors.Is(err, ErrNotMultipath) {
		t.Errorf("Table of a partition: %v, want ErrNotMultipath", err)
	}
	if _, err := c.Message(name, "fail_if_no_path"); errnoName(err) != "EINVAL" {
		t.Errorf("message to a partition: %v, want EINVAL", err)
	}
	if deps, err := c.Deps(name); err != nil || len(deps) != 1 || deps[0] != pi.Dev {
		t.Errorf("Deps %v (%v), want [%v]", deps, err, pi.Dev)
	}
	if _, err := c.Remove(name, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := open(); n != 0 {
		t.Errorf("partition removed: parent opened %d more times, want 0", n)
	}
}
