package mpathcompat

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Keyword codes. Synonyms share a code.
type code uint8

const (
	kwNone code = iota
	// verbs
	kwList
	kwAdd
	kwDel
	kwSwitch
	kwSuspend
	kwResume
	kwReinstate
	kwFail
	kwResize
	kwReset
	kwReload
	kwForceQ
	kwDisableQ
	kwRestoreQ
	kwReconfigure
	kwShutdown
	kwQuit
	kwGetPRStatus
	kwSetPRStatus
	kwUnsetPRStatus
	kwGetPRKey
	kwSetPRKey
	kwUnsetPRKey
	kwGetPRHold
	kwSetPRHold
	kwUnsetPRHold
	kwSetMarginal
	kwUnsetMarginal
	// qualifiers
	kwPaths
	kwMaps
	kwPath
	kwMap
	kwGroup
	kwDaemon
	kwStatus
	kwStats
	kwTopology
	kwConfig
	kwBlacklist
	kwDevices
	kwRaw
	kwWildcards
	kwFormat
	kwJSON
	kwLocal
	kwAll
	kwKey
	kwPathlist
)

type keyword struct {
	word  string
	code  code
	param bool // the next word is this keyword's parameter
}

// keywords is multipathd's vocabulary. A word may be shortened to any prefix
// that no other word shares.
var keywords = []keyword{
	{"list", kwList, false}, {"show", kwList, false},
	{"add", kwAdd, false},
	{"remove", kwDel, false}, {"del", kwDel, false},
	{"switch", kwSwitch, false}, {"switchgroup", kwSwitch, false},
	{"suspend", kwSuspend, false}, {"resume", kwResume, false},
	{"reinstate", kwReinstate, false}, {"fail", kwFail, false},
	{"resize", kwResize, false}, {"reset", kwReset, false}, {"reload", kwReload, false},
	{"forcequeueing", kwForceQ, false}, {"disablequeueing", kwDisableQ, false},
	{"restorequeueing", kwRestoreQ, false},
	{"reconfigure", kwReconfigure, false}, {"shutdown", kwShutdown, false},
	{"quit", kwQuit, false}, {"exit", kwQuit, false},
	{"paths", kwPaths, false},
	{"maps", kwMaps, false}, {"multipaths", kwMaps, false},
	{"path", kwPath, true},
	{"map", kwMap, true}, {"multipath", kwMap, true},
	{"group", kwGroup, true},
	{"daemon", kwDaemon, false}, {"status", kwStatus, false}, {"stats", kwStats, false},
	{"topology", kwTopology, false}, {"config", kwConfig, false}, {"blacklist", kwBlacklist, false},
	{"devices", kwDevices, false}, {"raw", kwRaw, false}, {"wildcards", kwWildcards, false},
	{"format", kwFormat, true}, {"json", kwJSON, false}, {"local", kwLocal, false}, {"all", kwAll, false},
	{"getprstatus", kwGetPRStatus, false}, {"setprstatus", kwSetPRStatus, false}, {"unsetprstatus", kwUnsetPRStatus, false},
	{"getprkey", kwGetPRKey, false}, {"setprkey", kwSetPRKey, false}, {"unsetprkey", kwUnsetPRKey, false},
	{"getprhold", kwGetPRHold, false}, {"setprhold", kwSetPRHold, false}, {"unsetprhold", kwUnsetPRHold, false},
	{"key", kwKey, true}, {"pathlist", kwPathlist, true},
	{"setmarginal", kwSetMarginal, false}, {"unsetmarginal", kwUnsetMarginal, false},
}

// findKeyword resolves a word: an exact match wins, else the one keyword the
// word is a prefix of; several is ambiguous.
func findKeyword(w string) (keyword, error) {
	var found *keyword
	for i := range keywords {
		k := &keywords[i]
		if !strings.HasPrefix(k.word, w) {
			continue
		}
		if len(k.word) == len(w) {
			return *k, nil
		}
		if found != nil && found.code != k.code {
			return keyword{}, fmt.Errorf("%w: %q (%s, %s…)", ErrAmbiguous, w, found.word, k.word)
		}
		if found == nil {
			found = k
		}
	}
	if found == nil || w == "" {
		return keyword{}, fmt.Errorf("%w: %q", ErrNotFound, w)
	}
	return *found, nil
}

// Command is a parsed request: the verb, the other keywords, and the
// parameters of those that take one.
type Command struct {
	Verb   code
	Quals  []code // sorted, without duplicates
	Params map[code]string
}

func (c *Command) has(k code) bool { _, ok := slices.BinarySearch(c.Quals, k); return ok }

// splitWords splits a command line as multipathd does: on blanks, with
// double-quoted text (quotes removed) kept as one word.
func splitWords(s string) []string {
	var words []string
	var cur strings.Builder
	in, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			in = !in
			have = true
		case !in && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			if have {
				words = append(words, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		words = append(words, cur.String())
	}
	return words
}

// Parse errors. multipathd answers a word it does not know, or a missing
// parameter, with its command reference, and an ambiguous abbreviation with
// a plain failure.
var (
	ErrNotFound        = errors.New("not found")
	ErrMissingArgument = errors.New("Missing argument")
	ErrAmbiguous       = errors.New("ambiguous keyword")
)

// ParseCommand parses one request. An error names the offending word.
func ParseCommand(s string) (Command, error) {
	words := splitWords(s)
	if len(words) == 0 {
		return Command{}, fmt.Errorf("%w: empty command", ErrNotFound)
	}
	cmd := Command{Params: map[code]string{}}
	for i := 0; i < len(words); i++ {
		k, err := findKeyword(words[i])
		if err != nil {
			return Command{}, err
		}
		if k.param {
			if i+1 >= len(words) {
				return Command{}, fmt.Errorf("%w: %s", ErrMissingArgument, k.word)
			}
			i++
			cmd.Params[k.code] = words[i]
		}
		switch {
		case cmd.Verb == kwNone:
			if k.code >= kwPaths {
				return Command{}, fmt.Errorf("%w: %q is not a command verb", ErrNotFound, k.word)
			}
			cmd.Verb = k.code
		case k.code < kwPaths:
			return Command{}, fmt.Errorf("%w: %q, a second verb", ErrNotFound, k.word)
		case slices.Contains(cmd.Quals, k.code):
			return Command{}, fmt.Errorf("%w: %q given twice", ErrNotFound, k.word)
		default:
			cmd.Quals = append(cmd.Quals, k.code)
		}
	}
	slices.Sort(cmd.Quals)
	return cmd, nil
}

// String renders the command in canonical words: the verb, then each
// qualifier in code order with its parameter, quoted when it holds a blank
// (a parameter cannot hold a double quote: the quote always delimits).
func (c Command) String() string {
	word := func(k code) string {
		for _, kw := range keywords {
			if kw.code == k {
				return kw.word
			}
		}
		return "?"
	}
	parts := []string{word(c.Verb)}
	for _, k := range c.Quals {
		parts = append(parts, word(k))
		if p, ok := c.Params[k]; ok {
			if p == "" || strings.ContainsAny(p, " \t\n\r") {
				p = `"` + p + `"`
			}
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}
