package config

import (
	"strconv"
	"strings"
)

// The TOML decoder reports lines for syntax errors only; it keeps key
// positions private. lineIndex recovers them from the text, which the decoder
// has already accepted as valid TOML, so a light scan is enough: table
// headers, "key =" lines, and skipping of multi-line strings and arrays.
//
// Paths use the walker's spelling: "defaults.failback", "devices[1].vendor".
type lineIndex map[string]int

func indexLines(text string) lineIndex {
	idx := lineIndex{}
	counts := map[string]int{} // array-of-tables path -> entries seen
	cur := ""
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.HasPrefix(line, "[[") {
			end := strings.Index(line, "]]")
			if end < 0 {
				continue
			}
			base := resolveArrays(splitKey(line[2:end]), counts)
			n := counts[base]
			counts[base] = n + 1
			cur = base + "[" + strconv.Itoa(n) + "]"
			setFirst(idx, cur, i+1)
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				continue
			}
			cur = resolveArrays(splitKey(line[1:end]), counts)
			setFirst(idx, cur, i+1)
			continue
		}
		eq := keyEnd(line)
		if eq < 0 {
			continue
		}
		path := strings.Join(splitKey(line[:eq]), ".")
		if cur != "" {
			path = cur + "." + path
		}
		setFirst(idx, path, i+1)
		i = skipValue(lines, i, line[eq+1:])
	}
	return idx
}

func setFirst(idx lineIndex, path string, line int) {
	if _, ok := idx[path]; !ok {
		idx[path] = line
	}
}

// line returns the line of path, or of its nearest located ancestor, or 0.
func (idx lineIndex) line(path string) int {
	for path != "" {
		if n, ok := idx[path]; ok {
			return n
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			break
		}
		path = path[:cut]
	}
	return 0
}

// resolveArrays joins header components, giving each prefix that names an
// array of tables the index of its current (last) entry.
func resolveArrays(parts []string, counts map[string]int) string {
	path := ""
	for i, p := range parts {
		if path != "" {
			path += "."
		}
		path += p
		if n, ok := counts[path]; ok && i < len(parts)-1 {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	return path
}

// splitKey splits a dotted key, honouring quoted components.
func splitKey(s string) []string {
	var parts []string
	var b strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else if c == quote {
				quote = 0
			} else {
				b.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(b.String()))
			b.Reset()
		case c == ' ' || c == '\t':
		default:
			b.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(b.String()))
}

// keyEnd returns the index of the '=' that ends the key of a key/value line.
func keyEnd(line string) int {
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '=':
			return i
		}
	}
	return -1
}

// skipValue returns the index of the last line of a value that starts on
// line i with text rest, following multi-line strings and brackets.
func skipValue(lines []string, i int, rest string) int {
	depth := 0
	inML := ""
	for {
		s := rest
		for j := 0; j < len(s); j++ {
			if inML != "" {
				if strings.HasPrefix(s[j:], inML) {
					j += len(inML) - 1
					inML = ""
				} else if s[j] == '\\' && inML == `"""` {
					j++
				}
				continue
			}
			switch c := s[j]; c {
			case '#':
				j = len(s)
			case '"', '\'':
				delim := string([]byte{c, c, c})
				if strings.HasPrefix(s[j:], delim) {
					inML = delim
					j += 2
					continue
				}
				for j++; j < len(s) && s[j] != c; j++ {
					if s[j] == '\\' && c == '"' {
						j++
					}
				}
			case '[', '{':
				depth++
			case ']', '}':
				depth--
			}
		}
		if (depth <= 0 && inML == "") || i+1 >= len(lines) {
			return i
		}
		i++
		rest = lines[i]
	}
}
