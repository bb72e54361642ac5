package daemon

import (
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/dm"
)

func mem(dev string, minor uint32, prio int) member {
	return member{dev: dev, devt: dm.Dev{Major: 8, Minor: minor}, prio: prio, usable: true, tpg: -1}
}

func names(gs [][]member) string {
	var b []string
	for _, g := range gs {
		var n []string
		for _, m := range g {
			n = append(n, m.dev)
		}
		b = append(b, strings.Join(n, ","))
	}
	return strings.Join(b, " | ")
}

func TestGroupAndSort(t *testing.T) {
	a, b, c, d := mem("sda", 0, 50), mem("sdb", 16, 10), mem("sdc", 32, 1), mem("sdd", 48, 50)
	a.serial, b.serial, c.serial, d.serial = "s1", "s2", "s1", "s2"
	a.nodeName, b.nodeName, c.nodeName, d.nodeName = "n1", "n1", "n2", "n2"
	a.tpg, b.tpg, c.tpg, d.tpg = 1, 2, 3, 1
	ms := []member{b, c, a, d}
	tests := []struct {
		policy config.GroupingPolicy
		want   string
	}{
		{config.Failover, "sda | sdd | sdb | sdc"},
		{config.Multibus, "sdb,sdc,sda,sdd"},
		{config.GroupByPrio, "sda,sdd | sdb | sdc"},
		{config.GroupBySerial, "sdb,sdd | sdc,sda"}, // prio 30 vs 25
		{config.GroupByNodeName, "sdb,sda | sdc,sdd"},
		{config.GroupByTPG, "sda,sdd | sdb | sdc"},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			gs := groupMembers(tt.policy, ms)
			sortGroups(gs)
			if got := names(gs); got != tt.want {
				t.Errorf("groups = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSortGroupsTiesAndMarginal(t *testing.T) {
	x, y, z := mem("sdx", 1, 10), mem("sdy", 2, 10), mem("sdz", 3, 50)
	z.marginal = true
	gs := [][]member{{x}, {z}, {y, mem("sdw", 4, 10)}}
	sortGroups(gs)
	// Marginal last despite its prio; equal prio: the larger group first, then the earlier one.
	if got := names(gs); got != "sdy,sdw | sdx | sdz" {
		t.Errorf("order = %q", got)
	}
	u := mem("sdu", 5, prioUndef)
	gs = [][]member{{u}, {x}}
	sortGroups(gs)
	if got := names(gs); got != "sdx | sdu" {
		t.Errorf("undefined prio should sort after a known one: %q", got)
	}
}

func TestBestGroup(t *testing.T) {
	up := mem("a", 1, 50)
	down := mem("b", 2, 50)
	down.usable = false
	ghost := mem("c", 3, 1)
	ghost.ghost = true
	tests := []struct {
		gs   [][]member
		want int
	}{
		{[][]member{{up}, {ghost}}, 1},
		{[][]member{{down}, {up}}, 2},
		{[][]member{{down}, {ghost}}, 2},
		{[][]member{{ghost}, {up}}, 2}, // an active path beats a standby one
		{[][]member{{down}}, 0},
		{nil, 0},
	}
	for i, tt := range tests {
		if got := bestGroup(tt.gs); got != tt.want {
			t.Errorf("case %d: bestGroup = %d, want %d", i, got, tt.want)
		}
	}
}

func TestBuildTable(t *testing.T) {
	a, b, c := mem("sda", 16, 50), mem("sdb", 32, 10), mem("sdc", 48, 10)
	gs := [][]member{{a}, {b, c}}
	tests := []struct {
		name string
		p    tableParams
		want string
	}{
		{"service-time default", tableParams{selector: "service-time 0", features: "0"},
			"0 0 2 1 service-time 0 1 1 8:16 1 service-time 0 2 1 8:32 1 8:48 1"},
		{"queueing and alua", tableParams{selector: "round-robin 0", features: "2 pg_init_retries 50", hwHandler: "alua", queueing: true},
			"3 queue_if_no_path pg_init_retries 50 1 alua 2 1 round-robin 0 1 1 8:16 1 round-robin 0 2 1 8:32 1 8:48 1"},
		{"weights", tableParams{selector: "service-time 0", features: "0", weights: map[string]int{"sda": 100, "sdb": 7, "sdc": 3}},
			"0 0 2 1 service-time 0 1 2 8:16 1 100 service-time 0 2 2 8:32 1 7 8:48 1 3"},
		{"rr_weight priorities", tableParams{selector: "queue-length 0", features: "0", rrWeight: "priorities", rrMinIORq: 2},
			"0 0 2 1 queue-length 0 1 1 8:16 100 queue-length 0 2 1 8:32 20 8:48 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := buildTable(gs, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(tab.String()); got != tt.want {
				t.Errorf("table\n got %q\nwant %q", got, tt.want)
			}
		})
	}
	for _, bad := range []tableParams{{selector: "", features: "0"}, {selector: "service-time 2", features: "0"}, {selector: "round-robin 0", features: "1 bogus"}} {
		if _, err := buildTable(gs, bad); err == nil {
			t.Errorf("buildTable(%+v) accepted", bad)
		}
	}
}

func TestSameLayoutIgnoresQueueingAndCurrentGroup(t *testing.T) {
	a, b := mem("sda", 16, 50), mem("sdb", 32, 10)
	d, _ := buildTable([][]member{{a}, {b}}, tableParams{selector: "service-time 0", features: "0", queueing: true})
	live, err := dm.ParseTable("0 0 2 2 service-time 0 1 2 8:16 1 1 service-time 0 1 2 8:32 1 1 ")
	if err != nil {
		t.Fatal(err)
	}
	if !sameLayout(d, live) {
		t.Errorf("layouts should match:\n%v\n%v", d, live)
	}
	swapped, _ := dm.ParseTable("0 0 2 1 service-time 0 1 2 8:32 1 1 service-time 0 1 2 8:16 1 1")
	if sameLayout(d, swapped) {
		t.Errorf("group order change not detected")
	}
}
