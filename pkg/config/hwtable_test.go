package config

import (
	"testing"
)

// TestBuiltinHWTable pins well-known entries of the built-in hardware table
// (multipath-tools 0.9.4's values) without needing multipath-tools: for an
// INQUIRY identity each array reports, the keywords the table sets and the
// entry each comes from; every other keyword keeps its default.
func TestBuiltinHWTable(t *testing.T) {
	const (
		netapp     = "devices[vendor=NETAPP,product=LUN] (built-in)"
		pure       = "devices[vendor=PURE,product=FlashArray] (built-in)"
		powerstore = "devices[vendor=DellEMC,product=PowerStore] (built-in)"
		hitachi    = "devices[vendor=(HITACHI|HP|HPE),product=^OPEN-] (built-in)"
		svc        = "devices[vendor=IBM,product=^2145] (built-in)"
		threePAR   = "devices[vendor=3PARdata,product=VV] (built-in)"
		nimble     = "devices[vendor=Nimble,product=Server] (built-in)"
		huawei     = "devices[vendor=HUAWEI,product=XSG1] (built-in)"
		infinidat  = "devices[vendor=NFINIDAT,product=InfiniBox] (built-in)"
		eternus    = "devices[vendor=FUJITSU,product=ETERNUS_DX(H|L|M|400|8000)] (built-in)"
		nvme       = "devices[vendor=NVM[eE],product=.*] (built-in)"
		alletra    = "devices[vendor=NVME,product=HPE Alletra] (built-in)"
	)
	type set struct{ value, from string }
	tests := []struct {
		vendor, product string
		want            map[string]set
	}{
		{"NETAPP", "LUN C-Mode", map[string]set{
			"path_grouping_policy": {`"group_by_prio"`, netapp},
			"features":             {`"2 pg_init_retries 50"`, netapp},
			"prio":                 {`"ontap"`, netapp},
			"failback":             {`"immediate"`, netapp},
			"no_path_retry":        {`"queue"`, netapp},
			"flush_on_last_del":    {`"always"`, netapp},
			"dev_loss_tmo":         {`"infinity"`, netapp},
			"user_friendly_names":  {"false", netapp},
		}},
		{"PURE", "FlashArray", map[string]set{
			"path_grouping_policy": {`"group_by_prio"`, pure},
			"hardware_handler":     {`"1 alua"`, pure},
			"prio":                 {`"alua"`, pure},
			"failback":             {`"immediate"`, pure},
			"fast_io_fail_tmo":     {"10", pure},
		}},
		{"DellEMC", "PowerStore", map[string]set{
			"path_grouping_policy": {`"group_by_prio"`, powerstore},
			"hardware_handler":     {`"1 alua"`, powerstore},
			"prio":                 {`"alua"`, powerstore},
			"failback":             {`"immediate"`, powerstore},
			"no_path_retry":        {"3", powerstore},
			"fast_io_fail_tmo":     {"15", powerstore},
		}},
		{"HITACHI", "OPEN-V", map[string]set{
			"path_grouping_policy": {`"multibus"`, hitachi},
		}},
		{"HPE", "OPEN-V", map[string]set{
			"path_grouping_policy": {`"multibus"`, hitachi},
		}},
		{"IBM", "2145", map[string]set{
			"path_grouping_policy": {`"group_by_prio"`, svc},
			"prio":                 {`"alua"`, svc},
			"failback":             {`"immediate"`, svc},
			"no_path_retry":        {`"queue"`, svc},
		}},
		{"3PARdata", "VV", map[string]set{
			"path_grouping_policy": {`"group_by_prio"`, threePAR},
			"hardware_handler":     {`"1 alua"`, threePAR},
			"prio":                 {`"alua"`, threePAR},
			"failback":             {`"immediate"`, threePAR},
			"no_path_retry":        {"18", threePAR},
			"fast_io_fail_tmo":     {"10", threePAR},
			"dev_loss_tmo":         {`"infinity"`, threePAR},
		}},
		{"Nimble", "Server", map[string]set{
			"path_grouping_policy": {`"group_by_prio"`, nimble},
			"hardware_handler":     {`"1 alua"`, nimble},
			"prio":                 {`"alua"`, nimble},
			"failback":             {`"immediate"`, nimble},
			"no_path_retry":        {`"queue"`, nimble},
		}},
		{"HUAWEI", "XSG1", map[string]set{
			"path_grouping_policy": {`"group_by_prio"`, huawei},
			"failback":             {`"immediate"`, huawei},
			"no_path_retry":        {"15", huawei},
		}},
		{"NFINIDAT", "InfiniBox", map[string]set{
			"path_grouping_policy": {`"group_by_prio"`, infinidat},
			"path_selector":        {`"round-robin 0"`, infinidat},
			"prio":                 {`"alua"`, infinidat},
			"failback":             {"30", infinidat},
			"rr_weight":            {`"priorities"`, infinidat},
			"no_path_retry":        {`"fail"`, infinidat},
			"rr_min_io":            {"1", infinidat},
			"rr_min_io_rq":         {"1", infinidat},
			"flush_on_last_del":    {`"always"`, infinidat},
			"fast_io_fail_tmo":     {"15", infinidat},
			"dev_loss_tmo":         {"15", infinidat},
		}},
		{"FUJITSU", "ETERNUS_DXM", map[string]set{
			"path_grouping_policy": {`"group_by_prio"`, eternus},
			"prio":                 {`"alua"`, eternus},
			"failback":             {`"immediate"`, eternus},
			"no_path_retry":        {"10", eternus},
		}},
		// Two entries match: each keyword comes from the later entry that
		// sets it, as in multipath-tools.
		{"NVME", "HPE Alletra 9060", map[string]set{
			"path_grouping_policy": {`"group_by_prio"`, nvme},
			"path_checker":         {`"none"`, nvme},
			"failback":             {`"immediate"`, nvme},
			"uid_attribute":        {`"ID_WWN"`, nvme},
			"no_path_retry":        {`"queue"`, alletra},
		}},
		// Matching is case-sensitive: the entry for "dellemc-powerstore"
		// (any vendor) does not apply to this product.
		{"DellEMC", "powerstore", nil},
	}
	c := Builtin()
	for _, tt := range tests {
		r := c.Resolve("w", tt.vendor, tt.product, "")
		got := map[string]set{}
		for _, s := range r.Explain() {
			if s.Origin != OriginBuiltin && s.Origin != OriginBuiltin+" (4 × polling_interval)" {
				got[s.Key] = set{s.Value, s.Origin}
			}
		}
		for k, w := range tt.want {
			if got[k] != w {
				t.Errorf("%s %s: %s = %s from %s, want %s from %s", tt.vendor, tt.product, k, got[k].value, got[k].from, w.value, w.from)
			}
		}
		for k, g := range got {
			if _, ok := tt.want[k]; !ok {
				t.Errorf("%s %s: %s = %s from %s, want the default", tt.vendor, tt.product, k, g.value, g.from)
			}
		}
	}
}

// TestBuiltinHWTableShape checks what the comparison with multipath-tools
// relies on everywhere: the size of 0.9.4's table, and no two entries with
// the same vendor, product and revision (multipath-tools would merge them).
func TestBuiltinHWTableShape(t *testing.T) {
	devs := builtinDevices()
	if len(devs) != 123 {
		t.Errorf("%d built-in entries, multipath-tools 0.9.4 has 123", len(devs))
	}
	seen := map[[3]string]bool{}
	for _, d := range devs {
		k := [3]string{d.Vendor, d.Product, d.Revision}
		if seen[k] {
			t.Errorf("duplicate entry %q", k)
		}
		seen[k] = true
	}
}

// BenchmarkParseHWTable measures one parse of the embedded hardware table, the cost builtinDevices
// pays once per process.
func BenchmarkParseHWTable(b *testing.B) {
	for b.Loop() {
		parseHWTable()
	}
}
