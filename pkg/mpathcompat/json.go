package mpathcompat

import (
	"encoding/json"
	"strconv"
	"unsafe"

	"github.com/mpathd/mpathd/pkg/api"
)

// multipathd's JSON format version.
const (
	JSONMajor = 0
	JSONMinor = 1
)

// Sizes of a rendered map and path, to allocate the reply once.
const (
	jsonMapBytes  = 900
	jsonPathBytes = 560
)

// MapsJSON renders `show maps json` in multipathd's version 0.1 schema and
// layout: maps[] with their path_groups[] and each group's paths[].
func MapsJSON(t api.Topology) string {
	n := 64 + len(t.Maps)*jsonMapBytes
	for i := range t.Maps {
		for _, g := range t.Maps[i].Groups {
			n += len(g.Paths) * jsonPathBytes
		}
	}
	// A local slice, not a strings.Builder: appends to it need no GC write barrier, which
	// dominated the cost of a large reply while the collector runs.
	b := make([]byte, 0, n)
	b = jsonHeader(b)
	b = append(b, `   "maps": [`...)
	for i := range t.Maps {
		b = appendMapJSON(b, &t.Maps[i], i == len(t.Maps)-1)
	}
	b = append(b, "]\n}\n"...)
	return bytesString(b)
}

// MapJSON renders `show map X json`: one map under "map".
func MapJSON(m *api.Map) string {
	b := make([]byte, 0, jsonMapBytes+16*jsonPathBytes)
	b = jsonHeader(b)
	b = append(b, `   "map":`...)
	b = appendMapJSON(b, m, true)
	b = append(b, "\n}\n"...)
	return bytesString(b)
}

// bytesString turns a rendered reply into a string without copying it
// again, as strings.Builder does: b is never written after this.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func jsonHeader(b []byte) []byte {
	b = append(b, "{\n   \"major_version\": "...)
	b = strconv.AppendInt(b, JSONMajor, 10)
	b = append(b, ",\n   \"minor_version\": "...)
	b = strconv.AppendInt(b, JSONMinor, 10)
	return append(b, ",\n"...)
}

// appendJSONString writes s as a JSON string. multipathd does not escape,
// but a name with a quote must not break a client's parser.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendField writes one `"key" : value` line at an indent.
func appendField(b []byte, indent, key, value string, quoted, last bool) []byte {
	b = append(b, indent...)
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, `" : `...)
	if quoted {
		b = appendJSONString(b, value)
	} else {
		b = append(b, value...)
	}
	if !last {
		b = append(b, ',')
	}
	return append(b, '\n')
}

type jsonField struct {
	key    string
	c      byte // the wildcard giving the value
	quoted bool
}

var (
	jsonMapFields = []jsonField{
		{"name", 'n', true}, {"uuid", 'w', true}, {"sysfs", 'd', true}, {"failback", 'F', true},
		{"queueing", 'Q', true}, {"paths", 'N', false}, {"write_prot", 'r', true}, {"dm_st", 't', true},
		{"features", 'f', true}, {"hwhandler", 'h', true}, {"action", 'A', true}, {"path_faults", '0', false},
		{"vend", 'v', true}, {"prod", 'p', true}, {"rev", 'e', true}, {"switch_grp", '1', false},
		{"map_loads", '2', false}, {"total_q_time", '3', false}, {"q_timeouts", '4', false},
	}
	jsonPathFields = []jsonField{
		{"dev", 'd', true}, {"dev_t", 'D', true}, {"dm_st", 't', true}, {"dev_st", 'o', true},
		{"chk_st", 'T', true}, {"checker", 'c', true}, {"pri", 'p', false},
	}
	// jsonPathTransport is the transport part of a path, the same for every path: the daemon
	// does not export host and target port names.
	jsonPathTransport = func() string {
		var b []byte
		for _, f := range []jsonField{{"host_wwnn", 'N', true}, {"target_wwnn", 'n', true},
			{"host_wwpn", 'R', true}, {"target_wwpn", 'r', true}, {"host_adapter", 'a', true}} {
			b = appendField(b, "            ", f.key, pathField(pathRow{p: &api.Path{}}, f.c), f.quoted, false)
		}
		return string(b)
	}()
)

func appendMapJSON(b []byte, m *api.Map, last bool) []byte {
	const in, gin, pin = "      ", "         ", "            "
	b = append(b, "{\n"...)
	for _, f := range jsonMapFields {
		b = appendField(b, in, f.key, mapField(m, f.c), f.quoted, false)
	}
	b = append(b, in+`"path_groups": [`...)
	for i := range m.Groups {
		g := &m.Groups[i]
		b = append(b, "{\n"...)
		b = appendField(b, gin, "selector", g.Selector, true, false)
		b = appendField(b, gin, "pri", strconv.Itoa(g.Prio), false, false)
		b = appendField(b, gin, "dm_st", groupStateWord(g.State), true, false)
		b = appendField(b, gin, "marginal_st", marginalWord(g.Marginal), true, false)
		b = appendField(b, gin, "group", strconv.Itoa(i+1), false, false)
		b = append(b, gin+`"paths": [`...)
		for k := range g.Paths {
			r := pathRow{p: &g.Paths[k], m: m, g: g}
			b = append(b, "{\n"...)
			for _, f := range jsonPathFields {
				b = appendField(b, pin, f.key, pathField(r, f.c), f.quoted, false)
			}
			b = append(b, jsonPathTransport...)
			b = appendField(b, pin, "lun_hex", pathField(r, 'L'), true, false)
			b = appendField(b, pin, "marginal_st", marginalWord(r.p.Marginal), true, true)
			b = append(b, gin+"}"...)
			if k < len(g.Paths)-1 {
				b = append(b, ',')
			}
		}
		b = append(b, "]\n"+in+"}"...)
		if i < len(m.Groups)-1 {
			b = append(b, ',')
		}
	}
	b = append(b, "]\n   }"...)
	if !last {
		b = append(b, ',')
	}
	return b
}
