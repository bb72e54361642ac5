package dm

import (
	"strings"
	"testing"
)

// FuzzParseWords covers the small parsers fed from the kernel's status words: device numbers and
// per-path selector status. They must fail cleanly, never panic, and round-trip device numbers.
func FuzzParseWords(f *testing.F) {
	for _, s := range []string{"8:16", "4096 1", "0", "", "1 2 3", "-1 7", "8:16:3", "18446744073709551616 1"} {
		f.Add("service-time", s)
		f.Add("queue-length", s)
		f.Add("historical-service-time", s)
	}
	f.Fuzz(func(t *testing.T, selector, words string) {
		if d, err := ParseDev(words); err == nil {
			if back, err := ParseDev(d.String()); err != nil || back != d {
				t.Fatalf("ParseDev %q → %v → %v, %v", words, d, back, err)
			}
		}
		_, _ = ParsePathLoad(selector, strings.Fields(words))
	})
}
