package mpathcompat

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/mpathd/mpathd/pkg/api"
)

// multipathd's JSON format version.
const (
	JSONMajor = 0
	JSONMinor = 1
)

// MapsJSON renders `show maps json` in multipathd's version 0.1 schema and
// layout: maps[] with their path_groups[] and each group's paths[].
func MapsJSON(t api.Topology) string {
	var b strings.Builder
	b.Grow(len(t.Maps) * 2048)
	jsonHeader(&b)
	b.WriteString(`   "maps": [`)
	for i := range t.Maps {
		mapJSON(&b, &t.Maps[i], i == len(t.Maps)-1)
	}
	b.WriteString("]\n}\n")
	return b.String()
}

// MapJSON renders `show map X json`: one map under "map".
func MapJSON(m *api.Map) string {
	var b strings.Builder
	jsonHeader(&b)
	b.WriteString(`   "map":`)
	mapJSON(&b, m, true)
	b.WriteString("\n}\n")
	return b.String()
}

func jsonHeader(b *strings.Builder) {
	b.WriteString("{\n   \"major_version\": " + strconv.Itoa(JSONMajor) + ",\n   \"minor_version\": " + strconv.Itoa(JSONMinor) + ",\n")
}

// jstr writes s as a JSON string; multipathd does not escape, but a name
// with a quote must not break a client's parser.
func jstr(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			b.Write(q)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

func field(b *strings.Builder, indent, key, value string, quoted bool, last bool) {
	b.WriteString(indent)
	b.WriteByte('"')
	b.WriteString(key)
	b.WriteString(`" : `)
	if quoted {
		jstr(b, value)
	} else {
		b.WriteString(value)
	}
	if !last {
		b.WriteByte(',')
	}
	b.WriteByte('\n')
}

func mapJSON(b *strings.Builder, m *api.Map, last bool) {
	const in = "      "
	b.WriteString("{\n")
	for _, f := range []struct {
		key    string
		c      byte
		quoted bool
	}{
		{"name", 'n', true}, {"uuid", 'w', true}, {"sysfs", 'd', true}, {"failback", 'F', true},
		{"queueing", 'Q', true}, {"paths", 'N', false}, {"write_prot", 'r', true}, {"dm_st", 't', true},
		{"features", 'f', true}, {"hwhandler", 'h', true}, {"action", 'A', true}, {"path_faults", '0', false},
		{"vend", 'v', true}, {"prod", 'p', true}, {"rev", 'e', true}, {"switch_grp", '1', false},
		{"map_loads", '2', false}, {"total_q_time", '3', false}, {"q_timeouts", '4', false},
	} {
		field(b, in, f.key, mapField(m, f.c), f.quoted, false)
	}
	b.WriteString(in + `"path_groups": [`)
	for i := range m.Groups {
		g := &m.Groups[i]
		const gin = "         "
		b.WriteString("{\n")
		field(b, gin, "selector", g.Selector, true, false)
		field(b, gin, "pri", strconv.Itoa(g.Prio), false, false)
		field(b, gin, "dm_st", groupStateWord(g.State), true, false)
		field(b, gin, "marginal_st", marginalWord(g.Marginal), true, false)
		field(b, gin, "group", strconv.Itoa(i+1), false, false)
		b.WriteString(gin + `"paths": [`)
		for k := range g.Paths {
			r := pathRow{p: &g.Paths[k], m: m, g: g}
			const pin = "            "
			b.WriteString("{\n")
			for _, f := range []struct {
				key    string
				c      byte
				quoted bool
			}{
				{"dev", 'd', true}, {"dev_t", 'D', true}, {"dm_st", 't', true}, {"dev_st", 'o', true},
				{"chk_st", 'T', true}, {"checker", 'c', true}, {"pri", 'p', false}, {"host_wwnn", 'N', true},
				{"target_wwnn", 'n', true}, {"host_wwpn", 'R', true}, {"target_wwpn", 'r', true},
				{"host_adapter", 'a', true}, {"lun_hex", 'L', true},
			} {
				field(b, pin, f.key, pathField(r, f.c), f.quoted, false)
			}
			field(b, pin, "marginal_st", marginalWord(r.p.Marginal), true, true)
			b.WriteString(gin)
			if k == len(g.Paths)-1 {
				b.WriteString("}")
			} else {
				b.WriteString("},")
			}
		}
		b.WriteString("]\n")
		b.WriteString(in)
		if i == len(m.Groups)-1 {
			b.WriteString("}")
		} else {
			b.WriteString("},")
		}
	}
	b.WriteString("]\n   }")
	if !last {
		b.WriteByte(',')
	}
}
