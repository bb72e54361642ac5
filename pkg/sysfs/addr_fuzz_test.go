package sysfs

import "testing"

// FuzzParseAddr: device addresses come from sysfs link names and uevents; a parse either fails or
// round-trips.
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"2:0:0:1", "8:16", "0:0:0:18446744073709551615", "-1:0:0:0", "8:", ":", "1:2:3", "253:0\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if h, err := ParseHCTL(s); err == nil {
			if back, err := ParseHCTL(h.String()); err != nil || back != h {
				t.Fatalf("HCTL %q → %v → %v, %v", s, h, back, err)
			}
		}
		if d, err := ParseDevT(s); err == nil {
			if back, err := ParseDevT(d.String()); err != nil || back != d {
				t.Fatalf("DevT %q → %v → %v, %v", s, d, back, err)
			}
		}
	})
}
