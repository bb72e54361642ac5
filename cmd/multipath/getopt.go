package main

import (
	"fmt"
	"strings"
)

// option is one parsed command-line option.
type option struct {
	name   byte
	arg    string
	hasArg bool
}

// getopt parses args as POSIX getopt with GNU permutation does, for the
// option letters of spec: "x" takes no argument, "x:" requires one (attached,
// "-v2", or the next word, "-v 2"), "x::" takes an optional one that must be
// attached ("-ll", "-k'show maps'"). Options cluster ("-fv2"); operands may
// come before, between or after options; "--" ends the options.
func getopt(args []string, spec string) (opts []option, operands []string, err error) {
	kinds := map[byte]int{} // 0 flag, 1 required, 2 optional
	for i := 0; i < len(spec); i++ {
		c := spec[i]
		if c == ':' {
			continue
		}
		k := 0
		if i+1 < len(spec) && spec[i+1] == ':' {
			k = 1
			if i+2 < len(spec) && spec[i+2] == ':' {
				k = 2
			}
		}
		kinds[c] = k
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			k, ok := kinds[c]
			if !ok || c == '-' {
				return nil, nil, fmt.Errorf("invalid option -- '%s'", printable(c))
			}
			o := option{name: c}
			rest := a[j+1:]
			switch {
			case k == 0:
				opts = append(opts, o)
				continue
			case rest != "":
				o.arg, o.hasArg = rest, true
			case k == 1:
				if i+1 >= len(args) {
					return nil, nil, fmt.Errorf("option requires an argument -- '%c'", c)
				}
				i++
				o.arg, o.hasArg = args[i], true
			}
			opts = append(opts, o)
			break
		}
	}
	return opts, operands, nil
}

func printable(c byte) string {
	if c < ' ' || c > '~' {
		return fmt.Sprintf("\\x%02x", c)
	}
	return string(c)
}

// joinCommand builds a daemon command from words as multipathd's client
// does: a word with a space is double-quoted, every word is followed by a
// space, and the line ends in a newline ("show maps format "%n %w" \n").
func joinCommand(words []string) string {
	var b strings.Builder
	for _, w := range words {
		if strings.Contains(w, " ") {
			b.WriteString(`"` + w + `" `)
		} else {
			b.WriteString(w + " ")
		}
	}
	b.WriteString("\n")
	return b.String()
}
