// Package bindings keeps the two identity files mpathd shares with
// multipath-tools, in the same formats and with the same rules:
//
//   - /etc/multipath/bindings maps user-friendly aliases (mpatha, mpathb, ...)
//     to WWIDs, so a host switching from multipathd keeps its device names;
//   - /etc/multipath/wwids lists the WWIDs that have been multipathed, which
//     find_multipaths consults.
//
// Parsers work on bytes and never fail hard on a bad line: they report it and
// skip it. Files are rewritten atomically (temporary file, fsync, rename).
package bindings

import "math"

// MaxID is the largest alias id: multipath-tools uses a C int.
const MaxID = math.MaxInt32

// EncodeID returns the alias suffix of id in bijective base 26: 1 → "a",
// 26 → "z", 27 → "aa", 702 → "zz", 703 → "aaa". It returns "" for id < 1.
func EncodeID(id int) string {
	if id < 1 {
		return ""
	}
	var buf [16]byte
	i := len(buf)
	for id > 0 {
		id--
		i--
		buf[i] = byte('a' + id%26)
		id /= 26
	}
	return string(buf[i:])
}

// maxSuffix is the length of EncodeID(MaxID), "fxshrxw".
const maxSuffix = 7

// ParseAlias returns the id of alias if it is prefix followed by 1 to 7
// lower-case letters (an alias mpathd would allocate), and ok=false
// otherwise. As in multipath-tools, the alias ends at the first space or tab.
func ParseAlias(alias, prefix string) (id int, ok bool) {
	if len(alias) <= len(prefix) || alias[:len(prefix)] != prefix {
		return 0, false
	}
	suffix := alias[len(prefix):]
	for i := 0; i < len(suffix); i++ {
		if suffix[i] == ' ' || suffix[i] == '\t' {
			suffix = suffix[:i]
			break
		}
	}
	if len(suffix) == 0 || len(suffix) > maxSuffix {
		return 0, false
	}
	// Seven letters reach 26^7+... > 2^32: sum in 64 bits so a 32-bit int
	// cannot wrap round to a small or negative id.
	var n int64
	for i := 0; i < len(suffix); i++ {
		c := suffix[i]
		if c < 'a' || c > 'z' {
			return 0, false
		}
		n = n*26 + int64(c-'a') + 1
	}
	if n > MaxID {
		return 0, false
	}
	return int(n), true
}
