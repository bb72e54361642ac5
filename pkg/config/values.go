package config

import (
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// GroupingPolicy is a path_grouping_policy value.
type GroupingPolicy string

// Grouping policies, as in multipath.conf.
const (
	Failover        GroupingPolicy = "failover"
	Multibus        GroupingPolicy = "multibus"
	GroupBySerial   GroupingPolicy = "group_by_serial"
	GroupByPrio     GroupingPolicy = "group_by_prio"
	GroupByNodeName GroupingPolicy = "group_by_node_name"
	GroupByTPG      GroupingPolicy = "group_by_tpg"
)

// FailbackMode is the word part of a failback value.
type FailbackMode string

// Failback modes. FailbackDeferred carries a tick count in Failback.Ticks.
const (
	FailbackManual     FailbackMode = "manual"
	FailbackImmediate  FailbackMode = "immediate"
	FailbackFollowover FailbackMode = "followover"
	FailbackDeferred   FailbackMode = "deferred"
)

// Failback is a failback value: manual, immediate, followover or a number N
// (switch back N polling ticks after the better group returned).
type Failback struct {
	Mode  FailbackMode
	Ticks int // only for FailbackDeferred, > 0
}

func (f Failback) String() string {
	if f.Mode == FailbackDeferred {
		return strconv.Itoa(f.Ticks)
	}
	return string(f.Mode)
}

// NoPathRetryMode is the word part of a no_path_retry value.
type NoPathRetryMode string

// no_path_retry modes. RetryCount carries N in NoPathRetry.Count.
const (
	RetryFail  NoPathRetryMode = "fail"
	RetryQueue NoPathRetryMode = "queue"
	RetryCount NoPathRetryMode = "count"
)

// NoPathRetry is a no_path_retry value: fail, queue, or N polling intervals of
// queueing after the last path failed.
type NoPathRetry struct {
	Mode  NoPathRetryMode
	Count int // only for RetryCount, > 0
}

func (n NoPathRetry) String() string {
	if n.Mode == RetryCount {
		return strconv.Itoa(n.Count)
	}
	return string(n.Mode)
}

// FindMultipaths is a find_multipaths value.
type FindMultipaths string

// find_multipaths modes. "smart" is not supported: it needs a udev
// retrigger timer that mpathd does not run.
const (
	FindOff    FindMultipaths = "off"
	FindGreedy FindMultipaths = "greedy"
	FindOn     FindMultipaths = "on"
	FindStrict FindMultipaths = "strict"
)

// FlushOnLastDel is a flush_on_last_del value.
type FlushOnLastDel string

// flush_on_last_del values.
const (
	FlushAlways FlushOnLastDel = "always"
	FlushUnused FlushOnLastDel = "unused"
	FlushNever  FlushOnLastDel = "never"
)

// Tmo is a transport timeout in seconds (fast_io_fail_tmo, dev_loss_tmo) with
// the special values below.
type Tmo int

// Special Tmo values. TmoUnset leaves the transport's value alone.
const (
	TmoUnset    Tmo = -1
	TmoOff      Tmo = -2
	TmoInfinity Tmo = -3
)

func (t Tmo) String() string {
	switch t {
	case TmoUnset:
		return "unset"
	case TmoOff:
		return "off"
	case TmoInfinity:
		return "infinity"
	}
	return strconv.Itoa(int(t))
}

// A valueError is an invalid value; the loader adds file, line and key.
type valueError string

func (e valueError) Error() string { return string(e) }

func errf(format string, args ...any) error { return valueError(fmt.Sprintf(format, args...)) }

// tomlType names the TOML type of a decoded value for error messages.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

func wantString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", errf("must be a string, not %s", tomlType(v))
	}
	return s, nil
}

func parseBool(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		if s, isStr := v.(string); isStr && (s == "yes" || s == "no") {
			return false, errf("must be a boolean: write %v instead of %q", s == "yes", s)
		}
		return false, errf("must be a boolean (true or false), not %s", tomlType(v))
	}
	return b, nil
}

func intIn(lo, hi int64) func(any) (int, error) {
	return func(v any) (int, error) {
		n, ok := v.(int64)
		if !ok {
			return 0, errf("must be an integer, not %s", tomlType(v))
		}
		if n < lo || n > hi {
			return 0, errf("%d is out of range [%d, %d]", n, lo, hi)
		}
		return int(n), nil
	}
}

func oneOf[T ~string](aliases map[string]T, values ...T) func(any) (T, error) {
	return func(v any) (T, error) {
		s, err := wantString(v)
		if err != nil {
			return "", err
		}
		for _, x := range values {
			if s == string(x) {
				return x, nil
			}
		}
		if x, ok := aliases[s]; ok {
			return x, nil
		}
		names := make([]string, len(values))
		for i, x := range values {
			names[i] = string(x)
		}
		return "", errf("%q is not one of %s", s, strings.Join(names, ", "))
	}
}

func parseFailback(v any) (Failback, error) {
	switch x := v.(type) {
	case int64:
		if x < 1 || x > math.MaxInt32 {
			return Failback{}, errf("deferred failback %d must be at least 1", x)
		}
		return Failback{Mode: FailbackDeferred, Ticks: int(x)}, nil
	case string:
		switch FailbackMode(x) {
		case FailbackManual, FailbackImmediate, FailbackFollowover:
			return Failback{Mode: FailbackMode(x)}, nil
		}
		if n, err := strconv.ParseInt(x, 10, 32); err == nil {
			return parseFailback(n)
		}
		return Failback{}, errf("%q is not manual, immediate, followover or a number of ticks", x)
	}
	return Failback{}, errf("must be a string or an integer, not %s", tomlType(v))
}

func parseNoPathRetry(v any) (NoPathRetry, error) {
	switch x := v.(type) {
	case int64:
		if x < 1 || x > math.MaxInt32 {
			return NoPathRetry{}, errf("no_path_retry %d must be at least 1 (write \"fail\" for 0)", x)
		}
		return NoPathRetry{Mode: RetryCount, Count: int(x)}, nil
	case string:
		switch NoPathRetryMode(x) {
		case RetryFail, RetryQueue:
			return NoPathRetry{Mode: NoPathRetryMode(x)}, nil
		}
		if n, err := strconv.ParseInt(x, 10, 32); err == nil {
			return parseNoPathRetry(n)
		}
		return NoPathRetry{}, errf("%q is not fail, queue or a number of polling intervals", x)
	}
	return NoPathRetry{}, errf("must be a string or an integer, not %s", tomlType(v))
}

// parseTmo accepts seconds or the one special word the keyword allows.
func parseTmo(special Tmo) func(any) (Tmo, error) {
	return func(v any) (Tmo, error) {
		switch x := v.(type) {
		case int64:
			if x < 0 || x > math.MaxInt32 {
				return 0, errf("%d is out of range [0, %d]", x, math.MaxInt32)
			}
			return Tmo(x), nil
		case string:
			if x == special.String() {
				return special, nil
			}
			return 0, errf("%q is not a number of seconds or %q", x, special.String())
		}
		return 0, errf("must be an integer or %q, not %s", special.String(), tomlType(v))
	}
}

// Path selectors the kernel ships; each takes no selector arguments.
var selectors = []string{"service-time", "round-robin", "queue-length", "historical-service-time"}

// parseSelector accepts "name 0" or a bare name, and normalises to "name 0",
// the form written into the table.
func parseSelector(v any) (string, error) {
	s, err := wantString(v)
	if err != nil {
		return "", err
	}
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 2 || (len(f) == 2 && f[1] != "0") {
		return "", errf("%q is not \"<selector> 0\"", s)
	}
	for _, name := range selectors {
		if f[0] == name {
			return name + " 0", nil
		}
	}
	return "", errf("unknown path selector %q (known: %s)", f[0], strings.Join(selectors, ", "))
}

var checkers = []string{"tur", "directio", "readsector0", "emc_clariion", "hp_sw", "rdac", "cciss_tur", "none"}

var prios = []string{"const", "sysfs", "alua", "emc", "rdac", "hp_sw", "hds", "ontap", "ana",
	"datacore", "iet", "weightedpath", "path_latency", "random"}

func nameIn(what string, names []string) func(any) (string, error) {
	return func(v any) (string, error) {
		s, err := wantString(v)
		if err != nil {
			return "", err
		}
		for _, n := range names {
			if s == n {
				return s, nil
			}
		}
		return "", errf("unknown %s %q (known: %s)", what, s, strings.Join(names, ", "))
	}
}

// Feature words and the number of arguments each takes.
var featureArgs = map[string]int{
	"queue_if_no_path":           0,
	"retain_attached_hw_handler": 0,
	"no_partitions":              0,
	"pg_init_retries":            1,
	"pg_init_delay_msecs":        1,
	"queue_mode":                 1,
}

// parseFeatures checks a count-prefixed feature list ("2 pg_init_retries 50").
func parseFeatures(v any) (string, error) {
	s, err := wantString(v)
	if err != nil {
		return "", err
	}
	words, err := countPrefixed(s)
	if err != nil {
		return "", err
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		n, ok := featureArgs[w]
		if !ok {
			return "", errf("unknown feature %q", w)
		}
		if n == 0 {
			continue
		}
		if i+1 >= len(words) {
			return "", errf("feature %q needs an argument", w)
		}
		i++
		arg := words[i]
		if w == "queue_mode" {
			if arg != "bio" && arg != "rq" && arg != "mq" {
				return "", errf("queue_mode %q is not bio, rq or mq", arg)
			}
		} else if _, err := strconv.ParseUint(arg, 10, 31); err != nil {
			return "", errf("feature %q needs a number, not %q", w, arg)
		}
	}
	return strings.Join(append([]string{strconv.Itoa(len(words))}, words...), " "), nil
}

// parseHWHandler checks a count-prefixed hardware handler ("1 alua").
func parseHWHandler(v any) (string, error) {
	s, err := wantString(v)
	if err != nil {
		return "", err
	}
	words, err := countPrefixed(s)
	if err != nil {
		return "", err
	}
	if len(words) > 0 {
		switch words[0] {
		case "alua", "emc", "rdac", "hp_sw":
		default:
			return "", errf("unknown hardware handler %q (known: alua, emc, rdac, hp_sw)", words[0])
		}
	}
	return strings.Join(append([]string{strconv.Itoa(len(words))}, words...), " "), nil
}

func countPrefixed(s string) ([]string, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil, errf("%q must start with the number of words that follow", s)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n != len(f)-1 {
		return nil, errf("%q: the leading count must equal the number of words that follow (%d)", s, len(f)-1)
	}
	return f[1:], nil
}

// parseUdevProperty accepts a udev property name (letters, digits and '_'),
// or "" for no property.
func parseUdevProperty(v any) (string, error) {
	s, err := wantString(v)
	if err != nil {
		return "", err
	}
	for _, c := range s {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return "", errf("%q is not a udev property name (letters, digits and '_'), nor \"\"", s)
		}
	}
	return s, nil
}

func parseAliasPrefix(v any) (string, error) {
	s, err := wantString(v)
	if err != nil {
		return "", err
	}
	if s == "" || strings.ContainsAny(s, "/ \t\n#") {
		return "", errf("%q must be non-empty, without '/', '#' or whitespace", s)
	}
	return s, nil
}

// parseDelimiter accepts a partition delimiter: at most 8 bytes (kpartx's limit) that keep the
// partition's name a device-mapper name, empty included ("mpatha1").
func parseDelimiter(v any) (string, error) {
	s, err := wantString(v)
	if err != nil {
		return "", err
	}
	if len(s) > 8 || strings.ContainsAny(s, "/ \t\n#\"") {
		return "", errf("%q must be at most 8 characters, without '/', '#', quotes or whitespace", s)
	}
	return s, nil
}

// parseListenAddr accepts "" (no listener) or a TCP address with an IP literal or localhost and a
// port: "127.0.0.1:9588", "[::1]:9588". A host name other than localhost would make the listener
// depend on name resolution at boot.
func parseListenAddr(v any) (string, error) {
	s, err := wantString(v)
	if err != nil || s == "" {
		return s, err
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", errf("%q is not host:port (e.g. \"127.0.0.1:9588\")", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", errf("%q: port must be 1–65535", s)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		return "", errf("%q: host must be an IP address or localhost", s)
	}
	return s, nil
}

// parseDuration accepts a Go duration string of at least min (more than
// min when positive is set).
func parseDuration(min time.Duration, positive bool) func(any) (time.Duration, error) {
	return func(v any) (time.Duration, error) {
		s, ok := v.(string)
		if !ok {
			return 0, errf("must be a duration string such as \"1s\" or \"500ms\", not %s", tomlType(v))
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, errf("%q is not a duration (e.g. \"1s\", \"500ms\")", s)
		}
		if d < min || (positive && d <= min) {
			return 0, errf("%s is too small (minimum %s%s)", d, min, map[bool]string{true: ", exclusive"}[positive])
		}
		return d, nil
	}
}

func parseFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, errf("%v is not a finite number", x)
		}
		return x, nil
	case int64:
		return float64(x), nil
	}
	return 0, errf("must be a number, not %s", tomlType(v))
}

func floatAbove(lo float64) func(any) (float64, error) {
	return func(v any) (float64, error) {
		f, err := parseFloat(v)
		if err == nil && !(f > lo) {
			err = errf("%v must be greater than %v", f, lo)
		}
		return f, err
	}
}

func floatAtLeast(lo float64) func(any) (float64, error) {
	return func(v any) (float64, error) {
		f, err := parseFloat(v)
		if err == nil && !(f >= lo) {
			err = errf("%v must be at least %v", f, lo)
		}
		return f, err
	}
}

func parseFraction(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int64:
		f = float64(x)
	default:
		return 0, errf("must be a number between 0 and 1, not %s", tomlType(v))
	}
	if !(f >= 0 && f < 1) {
		return 0, errf("%v is not in [0, 1)", f)
	}
	return f, nil
}

func parseString(v any) (string, error) { return wantString(v) }

// pattern is a regular expression from the config with multipath.conf's
// inversion rule: a leading "!" inverts the match, "\!" is a literal "!".
type pattern struct {
	src    string
	invert bool
	re     *regexp.Regexp
}

func compilePattern(s string) (pattern, error) {
	p := pattern{src: s}
	expr := s
	switch {
	case strings.HasPrefix(s, "!"):
		p.invert, expr = true, s[1:]
	case strings.HasPrefix(s, `\!`):
		expr = s[1:]
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return pattern{}, errf("bad regular expression %q: %v", s, err)
	}
	p.re = re
	return p, nil
}

// CheckPattern reports whether s is a valid blacklist pattern (a regular
// expression, inverted by a leading "!").
func CheckPattern(s string) error {
	_, err := compilePattern(s)
	return err
}

func (p pattern) match(s string) bool { return p.re.MatchString(s) != p.invert }
