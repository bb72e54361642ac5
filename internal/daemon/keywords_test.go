package daemon

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/prkeys"
	"github.com/mpathd/mpathd/pkg/scsipr"
	"github.com/mpathd/mpathd/pkg/scsipr/scsiprtest"

	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/config/mpconf"
	"github.com/mpathd/mpathd/pkg/dm"
)

// Nothing accepted that is not applied: every keyword either configuration syntax accepts has a
// row below that proves its effect on the daemon (a table it loads, a sysfs write, the checker and
// prioritizer it asks for, a map name, what it does when paths go or it stops), or is accepted
// without being applied and then warned about by name (config check, the log and show status
// print Config.Warnings). The keyword lists come from the parsers' own tables (config.Keywords,
// config.SectionKeys, mpconf.Keywords, mpconf.Statements), so a keyword added without a row fails
// TestEveryKeywordHasAnEffect.
//
// To add a row: a keyword of config's table gets an entry in keywordEffects (value as TOML writes
// it; what to look at; what it must read) and is checked in every section it is allowed in, in
// mpathd.toml and in multipath.conf; an entry or filter key gets one in sectionKeyEffects; a
// multipath-tools keyword mpathd reads as one of its own needs nothing more (its Sets names the
// row). A keyword accepted without effect goes into config's notApplied list and gets a row with
// warn set.

// world is the daemon after it started on a configuration: FC paths on a fake kernel, with the
// transport attributes and friendly names of fakes.
type world struct {
	t     *testing.T
	r     *rig
	attrs *fakeAttrs
	cfg   *config.Config
	pr    *fakePR // the LUN's persistent reservations: sda's nexus registered with key 0x5eed
}

// prkeysPath is a prkeys file for the prkeys_file row, in a directory of this test binary's own.
var prkeysPath = filepath.Join(os.TempDir(), fmt.Sprintf("mpathd-keywords-%d", os.Getpid()), "prkeys")

func (w *world) reservation() api.Reservation {
	res, err := w.r.d.Reservation(w.mapName())
	if err != nil {
		w.t.Fatal(err)
	}
	return res
}

// newFakeAttrs gives two FC hosts' remote ports and SCSI hosts, and every path's queue, the
// kernel's defaults.
func newFakeAttrs(topo *fakeTopo, refuse map[string]error) *fakeAttrs {
	attrs := &fakeAttrs{vals: map[string]string{}, refuse: refuse}
	for h := range 2 {
		rp := fmt.Sprintf("rport-%d:0-0", h)
		attrs.vals[rp+" fast_io_fail_tmo"], attrs.vals[rp+" dev_loss_tmo"] = "off", "30"
		attrs.vals[fmt.Sprintf("host%d eh_deadline", h)] = "off"
	}
	for n := range topo.paths {
		attrs.vals[n+" queue/max_sectors_kb"] = "1280"
	}
	return attrs
}

func newWorld(t *testing.T, cfg *config.Config, topo *fakeTopo) *world {
	attrs := newFakeAttrs(topo, nil)
	lu := &scsiprtest.Target{}
	pr := newFakePR(lu, "sda", "sdb")
	mustOut(t, pr.nexus("sda"), scsipr.Register, 0, scsipr.OutParams{SAKey: 0x5eed})
	disks := &fakeDisks{}
	disks.setTable(t, gpt([2]uint64{2048, 4096}))
	r := newRigWith(t, topo, "", func(f *dm.Fake) { attrs.dm = f }, func(o *Options) {
		o.Config, o.Transport, o.Names, o.PR, o.Disks = cfg, attrs, &fakeNames{bound: map[string]string{}}, pr, disks
	})
	r.settleParts()
	return &world{t: t, r: r, attrs: attrs, cfg: cfg, pr: pr}
}

// partitions names LUN 0's partition maps (its disk has one partition).
func (w *world) partitions() string {
	return strings.Join(slices.Sorted(maps.Keys(w.r.partTables())), " ")
}

// mapName is LUN 0's map name, "no map" when it has none.
func (w *world) mapName() string {
	if m, ok := w.r.d.Topology().Find(lun0); ok {
		return m.Name
	}
	return "no map"
}

// table is LUN 0's table as the fake kernel holds it.
func (w *world) table() dm.Table {
	name := w.mapName()
	if name == "no map" {
		w.t.Fatalf("LUN 0 has no map")
	}
	tb, _, err := w.r.dm.Table(name)
	if err != nil {
		w.t.Fatal(err)
	}
	return tb
}

func (w *world) spec(dev string) CheckSpec {
	w.r.mon.mu.Lock()
	defer w.r.mon.mu.Unlock()
	return w.r.mon.watched[dev]
}

func (w *world) attr(key string) string {
	w.attrs.mu.Lock()
	defer w.attrs.mu.Unlock()
	return w.attrs.vals[key]
}

func (w *world) groups() string { return fmt.Sprint(len(w.table().Groups)) }

// coreSetting reads a field of the polling core's settings the daemon's weight planner and marginal
// detector were made with.
func coreSetting(field string) func(*world) string {
	return func(w *world) string {
		_, _, c := w.r.d.statsTools()
		return fmt.Sprint(reflect.ValueOf(c).FieldByName(field).Interface())
	}
}

// lastPathGone: LUN 0's map is open (mounted) when its paths are removed.
func (w *world) lastPathGone() string {
	w.r.dm.SetOpenCount(lun0, 1)
	w.r.dm.ResetCalls()
	w.r.removeAll("sda", "sdb")
	info, err := w.r.dm.Info(lun0)
	switch {
	case err != nil:
		return "removed"
	case info.DeferredRemove:
		return "deferred remove"
	}
	return fmt.Sprintf("kept, %d removes", w.r.ops("DM_DEV_REMOVE", lun0))
}

// failback: the optimized path fails, the kernel moves to group 2, the path returns.
func (w *world) failback() string {
	w.r.check("sda", checker.Down)
	w.r.settle()
	if _, err := w.r.dm.Message(lun0, "switch_group 2"); err != nil {
		w.t.Fatal(err)
	}
	w.r.d.MapChanged(lun0)
	w.r.settle()
	w.r.dm.ResetCalls()
	w.r.check("sda", checker.Up)
	w.r.settle()
	if slices.Contains(w.r.messages(lun0), "switch_group 1") {
		return "failed back"
	}
	return "stayed"
}

// effect is what one keyword does.
type effect struct {
	value string      // as mpathd.toml writes it; in multipath.conf quotes stay, true/false are yes/no
	base  [][2]string // [defaults] the effect needs besides (TOML values)
	topo  func(*fakeTopo)
	see   func(*world) string
	want  string
	// conf and confWant replace value and want in multipath.conf, where multipathd's defaults
	// (find_multipaths strict, detect_pgpolicy no) make another baseline.
	conf, confWant string
	// warn: accepted without effect (config.NotAppliedKeywords): value is warned about by name,
	// quiet (the value mpathd behaves as anyway) is not.
	warn  bool
	quiet string
}

var keywordEffects = map[string]effect{
	// Daemon-wide.
	"polling_interval": {value: "10", base: [][2]string{{"no_path_retry", "12"}, {"dev_loss_tmo", "30"}},
		see: func(w *world) string { return w.attr("rport-0:0-0 dev_loss_tmo") }, want: "127"}, // 12 × 10 s + padding
	"max_polling_interval": {value: "60", see: func(w *world) string { return ProgramSettingsOf(w.cfg).MaxPollingInterval.String() }, want: "1m0s"},
	"find_multipaths":      {value: `"strict"`, see: (*world).mapName, want: "no map"},
	"queue_without_daemon": {value: "true", base: [][2]string{{"no_path_retry", `"queue"`}}, see: func(w *world) string {
		w.r.stop()
		return fmt.Sprint("queueing after stop: ", w.table().Features.QueueIfNoPath)
	}, want: "queueing after stop: true"},
	"checker_timeout":           {value: "7", see: func(w *world) string { return w.spec("sda").Timeout.String() }, want: "7s"},
	"stats_interval":            {value: `"2s"`, see: func(w *world) string { return SelectorConfig(w.cfg).StatsInterval.String() }, want: "2s"},
	"stats_half_life":           {value: `"10s"`, see: func(w *world) string { return SelectorConfig(w.cfg).StatsHalfLife.String() }, want: "10s"},
	"shards":                    {value: "3", see: func(w *world) string { return fmt.Sprint(SelectorConfig(w.cfg).Shards) }, want: "3"},
	"weight_update":             {value: "false", see: coreSetting("WeightUpdate"), want: "false"},
	"weight_min_interval":       {value: `"30s"`, see: coreSetting("WeightMinInterval"), want: "30s"},
	"weight_hysteresis":         {value: "0.5", see: coreSetting("WeightHysteresis"), want: "0.5"},
	"marginal_detection":        {value: "true", see: coreSetting("MarginalDetection"), want: "true"},
	"marginal_latency_factor":   {value: "5", see: coreSetting("MarginalLatencyFactor"), want: "5"},
	"marginal_min_service_time": {value: `"5ms"`, see: coreSetting("MarginalMinServiceTime"), want: "5ms"},
	"marginal_min_iops":         {value: "2", see: coreSetting("MarginalMinIOPS"), want: "2"},
	"marginal_time":             {value: `"30s"`, see: coreSetting("MarginalTime"), want: "30s"},
	"marginal_errors":           {value: "5", see: coreSetting("MarginalErrors"), want: "5"},
	"marginal_recovery_time":    {value: `"60s"`, see: coreSetting("MarginalRecoveryTime"), want: "1m0s"},
	"metrics_listen":            {value: `"127.0.0.1:9588"`, see: func(w *world) string { return ProgramSettingsOf(w.cfg).MetricsListen }, want: "127.0.0.1:9588"},
	"metrics_load":              {value: "true", see: func(w *world) string { return fmt.Sprint(ProgramSettingsOf(w.cfg).MetricsLoad) }, want: "true"},
	"marginal_pathgroups":       {value: `"on"`, quiet: `"off"`, warn: true},
	"prkeys_file": {value: `"` + prkeysPath + `"`, base: [][2]string{{"reservation_key", `"file"`}}, topo: func(*fakeTopo) {
		if err := prkeys.New(prkeysPath).Set(lun0, prkeys.Key{Key: 0xbeef}); err != nil {
			panic(err)
		}
	}, see: func(w *world) string {
		defer os.RemoveAll(filepath.Dir(prkeysPath))
		return w.reservation().Key
	}, want: "0xbeef"},
	"partition_delimiter": {value: `"p"`, see: (*world).partitions, want: lun0 + "p1"},

	// Per device type.
	"path_checker":   {value: `"directio"`, see: func(w *world) string { return w.spec("sda").Checker }, want: "directio"},
	"detect_prio":    {value: "false", see: func(w *world) string { return fmt.Sprint(w.spec("sda").DetectPrio) }, want: "false"},
	"detect_checker": {value: "false", see: func(w *world) string { return fmt.Sprint(w.spec("sda").DetectChecker) }, want: "false"},
	"detect_pgpolicy": {value: "false", base: [][2]string{{"path_grouping_policy", `"multibus"`}}, see: (*world).groups, want: "1",
		conf: "yes", confWant: "2"}, // multipath.conf: multipathd's default is no
	"detect_pgpolicy_use_tpg": {value: "true", base: [][2]string{{"detect_pgpolicy", "true"}}, topo: func(t *fakeTopo) {
		for n, p := range t.paths { // one target port group in two ALUA states
			p.TPG = 0x100
			t.paths[n] = p
		}
	}, see: (*world).groups, want: "1"},
	"hardware_handler": {value: `"1 emc"`, topo: func(t *fakeTopo) {
		for n, p := range t.paths { // no handler attached: the configured one applies
			p.DHState = ""
			t.paths[n] = p
		}
	}, see: func(w *world) string { return w.table().HWHandler }, want: "emc"},
	"retain_attached_hw_handler": {value: "false", quiet: "true", warn: true},
	"fast_io_fail_tmo":           {value: "10", see: func(w *world) string { return w.attr("rport-0:0-0 fast_io_fail_tmo") }, want: "10"},
	"dev_loss_tmo":               {value: "120", see: func(w *world) string { return w.attr("rport-0:0-0 dev_loss_tmo") }, want: "120"},
	"eh_deadline":                {value: "20", see: func(w *world) string { return w.attr("host0 eh_deadline") }, want: "20"},
	"alias_prefix":               {value: `"disk"`, base: [][2]string{{"user_friendly_names", "true"}}, see: (*world).mapName, want: "diska"},
	// What the topology reader (sysfs.FS.WithUIDAttribute) is told to read the path's WWID from;
	// pkg/sysfs's TestPathWWIDFromUIDAttribute and the VM's TestVMWWIDFromSg3Rules prove the read.
	"uid_attribute": {value: `"ID_WWN"`, see: func(w *world) string {
		p, err := w.r.topo.Path("sda")
		if err != nil {
			w.t.Fatal(err)
		}
		return w.r.d.UIDAttribute(p.Vendor, p.Model, p.Rev)
	}, want: "ID_WWN"},

	// Per map.
	"path_selector":        {value: `"round-robin 0"`, see: func(w *world) string { return w.table().Groups[0].Selector }, want: "round-robin"},
	"path_grouping_policy": {value: `"multibus"`, base: [][2]string{{"detect_pgpolicy", "false"}}, see: (*world).groups, want: "1"},
	"prio":                 {value: `"const"`, see: func(w *world) string { return w.spec("sda").Prio }, want: "const"},
	"prio_args":            {value: `"exclusive_pref_bit"`, base: [][2]string{{"prio", `"alua"`}}, see: func(w *world) string { return w.spec("sda").PrioArgs }, want: "exclusive_pref_bit"},
	"failback":             {value: `"immediate"`, see: (*world).failback, want: "failed back"},
	"no_path_retry":        {value: `"queue"`, see: func(w *world) string { return fmt.Sprint(w.table().Features.QueueIfNoPath) }, want: "true"},
	// The kernel forces every path's repeat count to 1 (Linux 4.6 and later).
	"rr_weight":           {value: `"priorities"`, quiet: `"uniform"`, warn: true},
	"rr_min_io_rq":        {value: "3", quiet: "1", warn: true},
	"rr_min_io":           {value: "100", warn: true},
	"flush_on_last_del":   {value: `"always"`, see: (*world).lastPathGone, want: "deferred remove"},
	"features":            {value: `"2 pg_init_retries 50"`, see: func(w *world) string { return fmt.Sprint(w.table().Features.PGInitRetries) }, want: "50"},
	"queue_mode":          {value: `"bio"`, see: func(w *world) string { return w.table().Features.QueueMode }, want: "bio"},
	"user_friendly_names": {value: "true", see: (*world).mapName, want: "mpatha"},
	"deferred_remove":     {value: "true", see: (*world).lastPathGone, want: "deferred remove"},
	"max_sectors_kb":      {value: "512", see: func(w *world) string { return w.attr("sda queue/max_sectors_kb") }, want: "512"},
	"skip_kpartx":         {value: "true", see: (*world).partitions, want: ""},
	"reservation_key":     {value: `"0x5eed"`, see: func(w *world) string { return w.reservation().Key }, want: "0x5eed"},
	// sda's nexus holds the key on the device: the daemon registers sdb's when it starts.
	"all_tg_pt": {value: "true", base: [][2]string{{"reservation_key", `"0x5eed"`}}, see: func(w *world) string {
		fs, err := scsipr.ReadFullStatus(w.pr.nexus("sdb"), time.Second)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, reg := range fs.Registrants {
			if strings.Contains(string(reg.TransportID), "host:1") {
				return fmt.Sprint("sdb registered, ALL_TG_PT ", reg.AllTgPt)
			}
		}
		return "sdb not registered"
	}, want: "sdb registered, ALL_TG_PT true"},
	// multipath-tools' shaky-path counters: only 0 (off) is what mpathd does.
	"san_path_err_threshold":             {value: "3", quiet: "0", warn: true},
	"san_path_err_forget_rate":           {value: "3", quiet: "0", warn: true},
	"san_path_err_recovery_time":         {value: "3", quiet: "0", warn: true},
	"marginal_path_err_sample_time":      {value: "200", quiet: "0", warn: true},
	"marginal_path_err_rate_threshold":   {value: "200", quiet: "0", warn: true},
	"marginal_path_err_recheck_gap_time": {value: "200", quiet: "0", warn: true},
	"marginal_path_double_failed_time":   {value: "200", quiet: "0", warn: true},
}

// sectionKeyEffect is what a key of an entry or filter section does: the configuration with on
// must show want, the one with off must not.
type sectionKeyEffect struct {
	tomlOn, tomlOff, confOn, confOff string
	see                              func(*world) string
	want                             string
	warn                             bool // accepted without effect, warned about by name
}

func devEntry(vendor, product, extra string) (string, string) {
	return fmt.Sprintf("[[devices]]\nvendor = %q\nproduct = %q\n%spath_selector = \"round-robin 0\"\n", vendor, product, extra),
		fmt.Sprintf("devices {\ndevice {\nvendor %q\nproduct %q\n%spath_selector \"round-robin 0\"\n}\n}\n", vendor, product, strings.ReplaceAll(extra, " = ", " "))
}

func devRow(on, off [3]string) sectionKeyEffect {
	var e sectionKeyEffect
	e.tomlOn, e.confOn = devEntry(on[0], on[1], on[2])
	e.tomlOff, e.confOff = devEntry(off[0], off[1], off[2])
	e.see = func(w *world) string { return w.table().Groups[0].Selector }
	e.want = "round-robin"
	return e
}

// filterRow blacklists by one key; for blacklist_exceptions it blacklists everything by that key
// and excepts (an exception only beats a blacklist entry of its own criterion).
func filterRow(section, key, on, off string) sectionKeyEffect {
	e := sectionKeyEffect{see: func(w *world) string { return fmt.Sprint(len(w.r.d.Topology().Maps)) }, want: "0"}
	tomlSec, confSec := "[blacklist]\n", "blacklist {\n"
	if section == "blacklist_exceptions" {
		tomlSec = "[blacklist]\n" + key + " = \".*\"\n[blacklist_exceptions]\n"
		confSec = "blacklist {\n" + key + " \".*\"\n}\nblacklist_exceptions {\n"
		e.want = "1"
	}
	e.tomlOn, e.tomlOff = tomlSec+key+" = "+on+"\n", tomlSec+key+" = "+off+"\n"
	e.confOn, e.confOff = confSec+key+" "+on+"\n}\n", confSec+key+" "+off+"\n}\n"
	return e
}

func filterDeviceRow(section string, on, off [2]string) sectionKeyEffect {
	e := filterRow(section, "devnode", "", "")
	tomlSec, confSec := "", "blacklist {\n"
	if section == "blacklist_exceptions" {
		tomlSec = "[[blacklist.device]]\nvendor = \".*\"\n"
		confSec = "blacklist {\ndevice {\nvendor \".*\"\n}\n}\nblacklist_exceptions {\n"
	}
	dev := func(vp [2]string) (string, string) {
		return fmt.Sprintf("%s[[%s.device]]\nvendor = %q\nproduct = %q\n", tomlSec, section, vp[0], vp[1]),
			fmt.Sprintf("%sdevice {\nvendor %q\nproduct %q\n}\n}\n", confSec, vp[0], vp[1])
	}
	e.tomlOn, e.confOn = dev(on)
	e.tomlOff, e.confOff = dev(off)
	return e
}

func protocolRow(key, val, attr, want string) sectionKeyEffect {
	typ := func(t string) (string, string) {
		return fmt.Sprintf("[[overrides.protocol]]\ntype = %q\n%s = %s\n", t, key, val),
			fmt.Sprintf("overrides {\nprotocol {\ntype %q\n%s %s\n}\n}\n", t, key, val)
	}
	var e sectionKeyEffect
	e.tomlOn, e.confOn = typ("scsi:fcp")
	e.tomlOff, e.confOff = typ("scsi:iscsi")
	if !strings.Contains(attr, " ") {
		attr = "rport-0:0-0 " + attr
	}
	e.see = func(w *world) string { return w.attr(attr) }
	e.want = want
	return e
}

// sectionKeyEffects are keyed "section.key" as config.SectionKeys names them; multipath.conf's
// statements map onto them (device → devices, multipath → multipaths, protocol →
// overrides.protocol, blacklist device → blacklist.device, in both filters).
var sectionKeyEffects = map[string]sectionKeyEffect{
	"devices.vendor":            devRow([3]string{"Linux", "scsi_debug"}, [3]string{"NOPE", "scsi_debug"}),
	"devices.product":           devRow([3]string{"Linux", "scsi_debug"}, [3]string{"Linux", "NOPE"}),
	"devices.revision":          devRow([3]string{"Linux", "scsi_debug", "revision = \"0191\"\n"}, [3]string{"Linux", "scsi_debug", "revision = \"9999\"\n"}),
	"devices.product_blacklist": {see: func(w *world) string { return w.mapName() }, want: "no map"},
	"multipaths.wwid": {
		tomlOn: "[[multipaths]]\nwwid = \"" + lun0 + "\"\nalias = \"data\"\n", tomlOff: "[[multipaths]]\nwwid = \"other\"\nalias = \"data\"\n",
		confOn: "multipaths {\nmultipath {\nwwid " + lun0 + "\nalias data\n}\n}\n", confOff: "multipaths {\nmultipath {\nwwid other\nalias data\n}\n}\n",
		see: (*world).mapName, want: "data"},
	"multipaths.alias": {
		tomlOn: "[[multipaths]]\nwwid = \"" + lun0 + "\"\nalias = \"data\"\n", tomlOff: "[[multipaths]]\nwwid = \"" + lun0 + "\"\n",
		confOn: "multipaths {\nmultipath {\nwwid " + lun0 + "\nalias data\n}\n}\n", confOff: "multipaths {\nmultipath {\nwwid " + lun0 + "\n}\n}\n",
		see: (*world).mapName, want: "data"},
	"overrides.protocol.type":             protocolRow("fast_io_fail_tmo", "9", "fast_io_fail_tmo", "9"),
	"overrides.protocol.fast_io_fail_tmo": protocolRow("fast_io_fail_tmo", "9", "fast_io_fail_tmo", "9"),
	"overrides.protocol.dev_loss_tmo":     protocolRow("dev_loss_tmo", "90", "dev_loss_tmo", "90"),
	"overrides.protocol.eh_deadline":      protocolRow("eh_deadline", "12", "host0 eh_deadline", "12"),
	"blacklist.devnode":                   filterRow("blacklist", "devnode", `"^sd[ab]$"`, `"^sdz$"`),
	"blacklist.wwid":                      filterRow("blacklist", "wwid", `"`+lun0+`"`, `"other"`),
	"blacklist.protocol":                  filterRow("blacklist", "protocol", `"scsi:fcp"`, `"scsi:iscsi"`),
	"blacklist.property":                  {warn: true, tomlOn: "[blacklist]\nproperty = \"ID_WWN\"\n", confOn: "blacklist {\nproperty \"ID_WWN\"\n}\n"},
	"blacklist.device":                    filterDeviceRow("blacklist", [2]string{"Linux", "scsi_debug"}, [2]string{"NOPE", "NOPE"}),
	"blacklist.device.vendor":             filterDeviceRow("blacklist", [2]string{"Linux", ".*"}, [2]string{"NOPE", ".*"}),
	"blacklist.device.product":            filterDeviceRow("blacklist", [2]string{".*", "scsi_debug"}, [2]string{".*", "NOPE"}),
	"blacklist_exceptions.devnode":        filterRow("blacklist_exceptions", "devnode", `"^sd[ab]$"`, `"^sdz$"`),
	"blacklist_exceptions.wwid":           filterRow("blacklist_exceptions", "wwid", `"`+lun0+`"`, `"other"`),
	"blacklist_exceptions.protocol":       filterRow("blacklist_exceptions", "protocol", `"scsi:fcp"`, `"scsi:iscsi"`),
	"blacklist_exceptions.property":       {warn: true, tomlOn: "[blacklist_exceptions]\nproperty = \"ID_WWN\"\n", confOn: "blacklist_exceptions {\nproperty \"ID_WWN\"\n}\n"},
	"blacklist_exceptions.device":         filterDeviceRow("blacklist_exceptions", [2]string{"Linux", "scsi_debug"}, [2]string{"NOPE", "NOPE"}),
	"blacklist_exceptions.device.vendor":  filterDeviceRow("blacklist_exceptions", [2]string{"Linux", ".*"}, [2]string{"NOPE", ".*"}),
	"blacklist_exceptions.device.product": filterDeviceRow("blacklist_exceptions", [2]string{".*", "scsi_debug"}, [2]string{".*", "NOPE"}),
}

func init() {
	// product_blacklist: a device entry blacklisting its own product.
	e := sectionKeyEffects["devices.product_blacklist"]
	e.tomlOn = "[[devices]]\nvendor = \"Linux\"\nproduct = \".*\"\nproduct_blacklist = \"scsi_debug\"\n"
	e.tomlOff = "[[devices]]\nvendor = \"Linux\"\nproduct = \".*\"\nproduct_blacklist = \"NOPE\"\n"
	e.confOn = "devices {\ndevice {\nvendor \"Linux\"\nproduct \".*\"\nproduct_blacklist \"scsi_debug\"\n}\n}\n"
	e.confOff = "devices {\ndevice {\nvendor \"Linux\"\nproduct \".*\"\nproduct_blacklist \"NOPE\"\n}\n}\n"
	sectionKeyEffects["devices.product_blacklist"] = e
}

// syntax writes configurations in one of the two file formats.
type syntax struct {
	name string
	// entry renders section (a config.Section* name) with the lines; kv renders one keyword.
	entry func(section string, lines []string) string
	kv    func(key, tomlValue string) string
	build func(t *testing.T, text string) *config.Config
}

var tomlSyntax = syntax{
	name: "mpathd.toml",
	entry: func(section string, lines []string) string {
		body := strings.Join(lines, "")
		switch section {
		case config.SectionDevices:
			return "[[devices]]\nvendor = \"Linux\"\nproduct = \"scsi_debug\"\n" + body
		case config.SectionMultipaths:
			return "[[multipaths]]\nwwid = \"" + lun0 + "\"\n" + body
		}
		return "[" + section + "]\n" + body
	},
	kv: func(k, v string) string { return k + " = " + v + "\n" },
	build: func(t *testing.T, text string) *config.Config {
		t.Helper()
		c, err := config.Parse([]byte(text), "test.toml")
		if err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
		return c
	},
}

var confSyntax = syntax{
	name: "multipath.conf",
	entry: func(section string, lines []string) string {
		body := strings.Join(lines, "")
		switch section {
		case config.SectionDevices:
			return "devices {\ndevice {\nvendor \"Linux\"\nproduct \"scsi_debug\"\n" + body + "}\n}\n"
		case config.SectionMultipaths:
			return "multipaths {\nmultipath {\nwwid " + lun0 + "\n" + body + "}\n}\n"
		}
		return section + " {\n" + body + "}\n"
	},
	kv: func(k, v string) string {
		switch v {
		case "true":
			v = "yes"
		case "false":
			v = "no"
		}
		return k + " " + v + "\n"
	},
	build: func(t *testing.T, text string) *config.Config {
		t.Helper()
		c, err := mpconf.Build(mpconf.Source{Name: "test.conf", Data: []byte(text)})
		if err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
		return c
	},
}

// text renders base in [defaults] (multipath.conf: with find_multipaths on, so that maps are made
// without a wwids file) and key = value in section.
func (s syntax) text(base [][2]string, section, key, value string) string {
	var defaults []string
	if s.name == confSyntax.name && key != "find_multipaths" {
		defaults = append(defaults, s.kv("find_multipaths", "on"))
	}
	for _, kv := range base {
		defaults = append(defaults, s.kv(kv[0], kv[1]))
	}
	var out string
	if key != "" && section == config.SectionDefaults {
		defaults = append(defaults, s.kv(key, value))
	} else if key != "" {
		out = s.entry(section, []string{s.kv(key, value)})
	}
	return s.entry(config.SectionDefaults, defaults) + out
}

func warned(c *config.Config, key string) bool {
	return slices.ContainsFunc(c.Warnings, func(w *config.Error) bool {
		return (w.Key == key || strings.HasSuffix(w.Key, "."+key)) && strings.Contains(w.Msg, "not implemented by mpathd")
	})
}

// statusWarns checks that the daemon running on c shows the warning about key in show status.
func statusWarns(t *testing.T, c *config.Config, key string) {
	t.Helper()
	w := newWorld(t, c, fcSAN(2, 1))
	if !slices.ContainsFunc(w.r.d.Status().ConfigWarnings, func(s string) bool {
		return strings.Contains(s, key+": not implemented by mpathd")
	}) {
		t.Errorf("show status does not carry the warning about %s: %q", key, w.r.d.Status().ConfigWarnings)
	}
}

func TestEveryKeywordHasAnEffect(t *testing.T) {
	notApplied := config.NotAppliedKeywords()
	for _, k := range config.Keywords() {
		e, ok := keywordEffects[k]
		if !ok {
			t.Errorf("keyword %s has no row in keywordEffects: prove its effect, or list it in config's notApplied", k)
			continue
		}
		if e.warn != slices.Contains(notApplied, k) {
			t.Errorf("keyword %s: row warn = %v, but config.NotAppliedKeywords has it = %v", k, e.warn, !e.warn)
		}
	}
	for k := range keywordEffects {
		if !config.Known(k) {
			t.Errorf("keywordEffects has %s, which config does not accept", k)
		}
	}
	for _, s := range []syntax{tomlSyntax, confSyntax} {
		t.Run(s.name, func(t *testing.T) {
			for _, k := range config.Keywords() {
				e, ok := keywordEffects[k]
				if !ok {
					continue
				}
				t.Run(k, func(t *testing.T) {
					sections := config.KeywordSections(k)
					if s.name == confSyntax.name {
						sections = confSections(t, k, sections)
					}
					checkKeyword(t, s, k, e, sections)
				})
			}
		})
	}
}

func checkKeyword(t *testing.T, s syntax, k string, e effect, sections []string) {
	value, want := e.value, e.want
	if s.name == confSyntax.name && e.conf != "" {
		value, want = e.conf, e.confWant
	}
	if e.warn {
		for _, sec := range sections {
			if c := s.build(t, s.text(nil, sec, k, value)); !warned(c, k) {
				t.Errorf("%s %s in %s: no warning: %v", k, value, sec, c.Warnings)
			}
			if e.quiet != "" {
				if c := s.build(t, s.text(nil, sec, k, e.quiet)); warned(c, k) {
					t.Errorf("%s %s in %s: warned, but it is what mpathd does: %v", k, e.quiet, sec, c.Warnings)
				}
			}
		}
		statusWarns(t, s.build(t, s.text(nil, sections[0], k, value)), k)
		return
	}
	run := func(text string) string {
		t.Helper()
		topo := fcSAN(2, 1)
		if e.topo != nil {
			e.topo(topo)
		}
		c := s.build(t, text)
		if slices.ContainsFunc(c.Warnings, func(w *config.Error) bool { return w.Key == k || strings.HasSuffix(w.Key, "."+k) }) {
			t.Errorf("warnings about %s: %v", k, c.Warnings)
		}
		return e.see(newWorld(t, c, topo))
	}
	baseline := run(s.text(e.base, "", "", ""))
	if baseline == want {
		t.Fatalf("%s: without the keyword the daemon already shows %q: the row proves nothing", k, want)
	}
	for _, sec := range sections {
		if got := run(s.text(e.base, sec, k, value)); got != want {
			t.Errorf("%s = %s in %s: got %q, want %q (without it: %q)", k, value, sec, got, want, baseline)
		}
	}
}

// TestEveryMultipathConfKeyword: every keyword of multipath-tools mpathd reads either sets one of
// mpathd's keywords (whose row in keywordEffects is then checked in multipath.conf syntax, in every
// section multipath-tools allows it in), or is warned about by name in every such section, and
// the warning reaches show status.
func TestEveryMultipathConfKeyword(t *testing.T) {
	for _, k := range mpconf.Keywords() {
		t.Run(k.Name, func(t *testing.T) {
			if k.Ignored == "" {
				e, ok := keywordEffects[k.Sets]
				if !ok {
					t.Fatalf("%s sets %s, which has no row in keywordEffects", k.Name, k.Sets)
				}
				if k.Name == k.Sets {
					return // checked in TestEveryKeywordHasAnEffect, in the sections mpathd allows
				}
				checkKeyword(t, confSyntax, k.Name, e, k.Sections)
				return
			}
			word := "not implemented by mpathd"
			if k.Ignored == "deprecated" {
				word = "deprecated"
			}
			for _, sec := range k.Sections {
				c := confSyntax.build(t, confSyntax.text(nil, sec, k.Name, "1"))
				if !slices.ContainsFunc(c.Warnings, func(w *config.Error) bool { return w.Key == k.Name && strings.Contains(w.Msg, word) }) {
					t.Errorf("%s in %s: no %q warning: %v", k.Name, sec, word, c.Warnings)
				}
			}
			// mpathd.toml refuses it, saying why (unless it is one of mpathd's own, prkeys_file).
			text := tomlSyntax.text(nil, k.Sections[0], k.Name, "1")
			if _, err := config.Parse([]byte(text), "test.toml"); !config.Known(k.Name) && (err == nil || !strings.Contains(err.Error(), k.Name+": "+word)) {
				t.Errorf("mpathd.toml with %s: %v", k.Name, err)
			}
			c := confSyntax.build(t, confSyntax.text(nil, k.Sections[0], k.Name, "1"))
			w := newWorld(t, c, fcSAN(2, 1))
			if !slices.ContainsFunc(w.r.d.Status().ConfigWarnings, func(s string) bool { return strings.Contains(s, k.Name+": "+word) }) {
				t.Errorf("show status does not carry the warning about %s: %q", k.Name, w.r.d.Status().ConfigWarnings)
			}
		})
	}
}

// TestEverySectionKeyHasAnEffect covers the keys of the entry and filter sections in both syntaxes.
func TestEverySectionKeyHasAnEffect(t *testing.T) {
	var names []string
	for sec, keys := range config.SectionKeys() {
		for _, k := range keys {
			names = append(names, sec+"."+k)
		}
	}
	for sec, keys := range mpconf.Statements() {
		for _, k := range keys {
			switch sec {
			case "device":
				names = append(names, "devices."+k)
			case "multipath":
				names = append(names, "multipaths."+k)
			case "protocol":
				names = append(names, "overrides.protocol."+k)
			case "blacklist":
				names = append(names, "blacklist."+k, "blacklist_exceptions."+k)
			case "blacklist device":
				names = append(names, "blacklist.device."+k, "blacklist_exceptions.device."+k)
			default:
				t.Errorf("multipath.conf section %q has no mapping here", sec)
			}
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	for _, n := range slices.Sorted(maps.Keys(sectionKeyEffects)) {
		if !slices.Contains(names, n) {
			t.Errorf("sectionKeyEffects has %s, which no parser accepts", n)
		}
	}
	for _, n := range names {
		e, ok := sectionKeyEffects[n]
		if !ok {
			t.Errorf("%s has no row in sectionKeyEffects", n)
			continue
		}
		t.Run(n, func(t *testing.T) {
			key := n[strings.LastIndex(n, ".")+1:]
			for _, s := range []syntax{tomlSyntax, confSyntax} {
				on, off := e.tomlOn, e.tomlOff
				if s.name == confSyntax.name {
					on, off = e.confOn, e.confOff
				}
				if on == "" {
					continue // not in this syntax
				}
				if e.warn {
					c := s.build(t, on)
					if !warned(c, key) {
						t.Errorf("%s: %s accepted without a warning: %v", s.name, n, c.Warnings)
					}
					w := newWorld(t, c, fcSAN(2, 1))
					if !slices.ContainsFunc(w.r.d.Status().ConfigWarnings, func(s string) bool { return strings.Contains(s, "not implemented by mpathd") }) {
						t.Errorf("%s: show status does not carry the warning about %s: %q", s.name, n, w.r.d.Status().ConfigWarnings)
					}
					continue
				}
				if s.name == confSyntax.name {
					on, off = "defaults {\nfind_multipaths on\n}\n"+on, "defaults {\nfind_multipaths on\n}\n"+off
				}
				if got := e.see(newWorld(t, s.build(t, on), fcSAN(2, 1))); got != e.want {
					t.Errorf("%s: with %s: got %q, want %q\n%s", s.name, n, got, e.want, on)
				}
				if got := e.see(newWorld(t, s.build(t, off), fcSAN(2, 1))); got == e.want {
					t.Errorf("%s: %s not matching: still %q\n%s", s.name, n, got, off)
				}
			}
		})
	}
}

// confSections are the sections where multipath.conf applies keyword k: those both
// multipath-tools and mpathd allow it in (mpathd's own keywords: mpathd's). In the others
// multipath.conf warns, as the test checks here.
func confSections(t *testing.T, k string, allowed []string) []string {
	i := slices.IndexFunc(mpconf.Keywords(), func(m mpconf.Keyword) bool { return m.Name == k })
	if i < 0 {
		return allowed
	}
	mk := mpconf.Keywords()[i]
	if mk.Sets != k {
		return nil // ignored in multipath.conf: TestEveryMultipathConfKeyword checks its warning
	}
	var out []string
	for _, sec := range mk.Sections {
		if slices.Contains(allowed, sec) {
			out = append(out, sec)
			continue
		}
		c := confSyntax.build(t, confSyntax.text(nil, sec, k, keywordEffects[k].value))
		if !warned(c, k) {
			t.Errorf("%s in %s, where mpathd does not apply it: no warning: %v", k, sec, c.Warnings)
		}
	}
	for _, sec := range allowed {
		if !slices.Contains(mk.Sections, sec) {
			c := confSyntax.build(t, confSyntax.text(nil, sec, k, keywordEffects[k].value))
			if !slices.ContainsFunc(c.Warnings, func(w *config.Error) bool { return w.Key == k }) {
				t.Errorf("%s in %s, where multipath-tools ignores it: no warning: %v", k, sec, c.Warnings)
			}
		}
	}
	return out
}

// syncBuffer is a log sink the daemon's goroutines may write to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A reconfigure logs each warning of the new configuration (mpathd logs them at start the same way)
// and show status carries them.
func TestConfigWarningsLoggedOnReconfigure(t *testing.T) {
	var log syncBuffer
	file := filepath.Join(t.TempDir(), "mpathd.toml")
	writeFile(t, file, "")
	r := newRigWith(t, san(2, 1), "", nil, func(o *Options) { o.Log, o.ConfigPath = zerolog.New(&log), file })
	writeFile(t, file, "[defaults]\nrr_min_io_rq = 5\n")
	if err := r.d.Reconfigure(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := file + ":2: defaults.rr_min_io_rq: not implemented by mpathd: ignored ("
	if !strings.Contains(log.String(), `"level":"warn"`) || !strings.Contains(log.String(), want) {
		t.Errorf("log lacks the warning %q:\n%s", want, log.String())
	}
	if st := r.d.Status(); len(st.ConfigWarnings) != 1 || !strings.HasPrefix(st.ConfigWarnings[0], want) {
		t.Errorf("status warnings %q", st.ConfigWarnings)
	}
}
