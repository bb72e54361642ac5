package mpathcompat

import (
	"os"
	"path/filepath"
	"testing"
)

// The wildcards whose datum is in sysfs, in the device's VPD or on the Fibre Channel transport,
// printed as multipathd 0.9.4 prints them: the value when known, else its placeholder for an
// unknown one ([undef] for a path not on FC or without vendor VPD data or TPG, n/a for an
// unreadable max_sectors_kb, orphan for the next check of a path in no map).
func TestWildcardsUnknownAndSysfs(t *testing.T) {
	s, f := rig(t)
	top := withOrphans()
	top.Maps[0].Groups[0].Paths[0].TPG, top.Maps[0].Groups[0].Paths[0].HasTPG = 0x100, true
	f.SetTopology(top)
	s.SysBlock = t.TempDir()
	for dev, v := range map[string]string{"sdb": "1280\n", top.Maps[0].DM: "512\n", "sdx": "garbage\n"} {
		dir := filepath.Join(s.SysBlock, dev, "queue")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "max_sectors_kb"), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ cmd, want string }{
		{`show paths raw format "%d|%N|%n|%R|%r|%a|%A|%k|%g|%C"`,
			"sdb|[undef]|[undef]|[undef]|[undef]|[undef]|0x0100|1280|[undef]|undef\n" +
				"sdc|[undef]|[undef]|[undef]|[undef]|[undef]|[undef]|n/a|[undef]|undef\n" +
				"sdx|[undef]|[undef]|[undef]|[undef]|[undef]|[undef]|n/a|[undef]|orphan\n" +
				"sdy|[undef]|[undef]|[undef]|[undef]|[undef]|[undef]|n/a|[undef]|orphan\n"},
		{`show paths format "%d %A %k"`,
			"dev TPG     max_sectors_kb\nsdb 0x0100  1280          \nsdc [undef] n/a           \n" +
				"sdx [undef] n/a           \nsdy [undef] n/a           \n"},
		{`show maps raw format "%n|%k|%g|%A|%N|%r"`, "mpatha|512|[undef]||2|rw\n"},
	} {
		if got := s.Execute(t.Context(), tc.cmd, true); got != tc.want {
			t.Errorf("%s\n got %q\nwant %q", tc.cmd, got, tc.want)
		}
	}
	s.SysBlock = filepath.Join(t.TempDir(), "none")
	if got, want := s.Execute(t.Context(), `show maps raw format "%n %k"`, true), "mpatha n/a\n"; got != want {
		t.Errorf("no sysfs: got %q, want %q", got, want)
	}
}
