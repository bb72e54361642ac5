package config_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/config/mpconf"
)

// multipathTools is Debian's multipath-tools' multipath (make deps installs
// it); its -t prints the effective configuration, hardware table included,
// in multipath.conf syntax.
const multipathTools = "/usr/sbin/multipath"

// notModelled are the keywords of multipath-tools' table entries that mpathd
// has no keyword for, by entry, with why leaving them out changes nothing
// mpathd does.
var notModelled = map[[3]string]string{
	{"3PARdata", "VV", "vpd_vendor"}: "it selects the 3PAR volume name (VPD page 0xc0) for multipath-tools' %g format " +
		"wildcard, which mpathd does not print",
}

// notRun are values the table sets that mpathd's configuration takes (so the
// entries compare equal) but the daemon does not run: mpconf warns about them
// in a multipath.conf. Empty: every checker and prioritizer of the table runs.
var notRun = map[string]string{}

// TestHWTableEqualsMultipathTools compares mpathd's built-in hardware table
// with multipath-tools', entry by entry in order: the same vendor, product,
// revision and product_blacklist patterns and, for every keyword mpathd
// models, the same value set or the same keyword left unset. Keywords mpathd
// does not model are listed in notModelled, values it does not run yet in
// notRun; both lists must be exact.
func TestHWTableEqualsMultipathTools(t *testing.T) {
	if _, err := os.Stat(multipathTools); err != nil {
		t.Skipf("multipath-tools is not installed (make deps installs it): %v", err)
	}
	// -t merges the host's own device entries into the table it prints.
	host, err := mpconf.Load(config.MultipathConfPath, config.MultipathConfDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		t.Skipf("the host's multipath.conf: %v", err)
	case len(host.Devices) > 0:
		t.Skipf("%s or %s has device entries, which multipath -t would print as part of the table", config.MultipathConfPath, config.MultipathConfDir)
	}
	out, err := exec.Command(multipathTools, "-t").Output()
	if err != nil {
		t.Fatalf("%s -t: %v", multipathTools, err)
	}
	const name = "multipath -t"
	oracle, err := mpconf.Build(mpconf.Source{Name: name, Data: out})
	if err != nil {
		t.Fatalf("%s does not parse: %v", name, err)
	}
	raw := rawDevices(t, out, name)
	if len(raw) != len(oracle.Devices) {
		t.Fatalf("%s: %d device sections, %d entries built (merged or dropped)", name, len(raw), len(oracle.Devices))
	}

	builtin := config.BuiltinDevices()
	key := func(d config.Device) [3]string { return [3]string{d.Vendor, d.Product, d.Revision} }
	byKey := map[[3]string]config.Device{}
	for _, d := range builtin {
		byKey[key(d)] = d
	}
	usedNotModelled := map[[3]string]bool{}
	usedNotRun := map[string]bool{}
	equal := 0
	for i, want := range oracle.Devices {
		id := fmt.Sprintf("entry %d (vendor %q product %q revision %q)", i+1, want.Vendor, want.Product, want.Revision)
		got, ok := byKey[key(want)]
		delete(byKey, key(want))
		switch {
		case !ok:
			t.Errorf("%s: missing from mpathd's table", id)
		case got.ProductBlacklist != want.ProductBlacklist:
			t.Errorf("%s: product_blacklist %q, want %q", id, got.ProductBlacklist, want.ProductBlacklist)
		default:
			if diff := diffAttrs(&got.Attrs, &want.Attrs); diff != "" {
				t.Errorf("%s differs:%s", id, diff)
			} else {
				equal++
			}
		}
		for _, n := range raw[i].Children {
			switch {
			case n.Key == "vendor" || n.Key == "product" || n.Key == "revision" || n.Key == "product_blacklist":
			case !config.Known(n.Key):
				k := [3]string{want.Vendor, want.Product, n.Key}
				if _, ok := notModelled[k]; !ok {
					t.Errorf("%s: %s %q is not modelled by mpathd and not listed in notModelled", id, n.Key, n.Value)
				}
				usedNotModelled[k] = true
			case n.Key == "path_checker" || n.Key == "prio":
				if kv := n.Key + " " + n.Value; notRun[kv] != "" {
					usedNotRun[kv] = true
				}
			}
		}
	}
	for _, d := range byKey {
		t.Errorf("mpathd's entry vendor %q product %q revision %q is not in multipath-tools' table", d.Vendor, d.Product, d.Revision)
	}
	// Later entries win: the order must be the same too.
	for i := 0; i < len(builtin) && i < len(oracle.Devices); i++ {
		if key(builtin[i]) != key(oracle.Devices[i]) {
			t.Errorf("entry %d is %q in mpathd's table, %q in multipath-tools'", i+1, key(builtin[i]), key(oracle.Devices[i]))
			break
		}
	}
	for k := range notModelled {
		if !usedNotModelled[k] {
			t.Errorf("notModelled lists %q, which multipath-tools' table does not set", k)
		}
	}

	// Every warning mpconf gives about the device sections is accounted for.
	lo, hi := devicesLines(t, out, name)
	for _, w := range oracle.Warnings {
		if w.Line < lo || w.Line > hi {
			continue
		}
		n := nodeAt(raw, w.Line)
		switch {
		case n == nil:
			t.Errorf("unexpected warning: %v", w)
		case !config.Known(n.Key):
			// Listed in notModelled, checked above.
		case notRun[n.Key+" "+n.Value] != "":
		case slices.Contains(config.NotAppliedKeywords(), n.Key):
			// Accepted, not applied, and warned about by name (rr_min_io).
		default:
			t.Errorf("unexpected warning about a device entry: %v", w)
		}
	}
	for kv, why := range notRun {
		if !usedNotRun[kv] {
			t.Errorf("notRun lists %q, which multipath-tools' table does not use", kv)
			continue
		}
		key, value, _ := strings.Cut(kv, " ")
		warned := false
		for _, w := range oracle.Warnings {
			if w.Key == key && strings.Contains(w.Msg, " "+value+" ") {
				warned = true
			}
		}
		if !warned {
			t.Errorf("notRun lists %q (%s) but mpathd's configuration no longer warns about it: drop it from the list", kv, why)
		}
	}

	// The product_blacklist patterns make the same device blacklist entries.
	want := map[config.DeviceFilter]bool{}
	for _, d := range oracle.Blacklist.Device {
		want[d] = true
	}
	got := map[config.DeviceFilter]bool{}
	for _, d := range builtin {
		if d.ProductBlacklist != "" {
			got[config.DeviceFilter{Vendor: d.Vendor, Product: d.ProductBlacklist}] = true
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("built-in device blacklist\n%v\nmultipath-tools'\n%v", got, want)
	}
	t.Logf("%d of %d entries equal; keywords not modelled: %d; values not run yet: %d", equal, len(oracle.Devices), len(notModelled), len(notRun))
}

// diffAttrs lists the keywords whose values differ between two layers.
func diffAttrs(got, want *config.Attrs) string {
	g, w := map[string]any{}, map[string]any{}
	for _, kv := range config.Values(got) {
		g[kv.Key] = kv.Value
	}
	for _, kv := range config.Values(want) {
		w[kv.Key] = kv.Value
	}
	var b strings.Builder
	for _, k := range config.Keywords() {
		gv, gok := g[k]
		wv, wok := w[k]
		if gok != wok || !reflect.DeepEqual(gv, wv) {
			fmt.Fprintf(&b, "\n\t%s: mpathd %s, multipath-tools %s", k, show(gv, gok), show(wv, wok))
		}
	}
	return b.String()
}

func show(v any, ok bool) string {
	if !ok {
		return "unset"
	}
	return fmt.Sprintf("%#v", v)
}

// rawDevices returns the device sections of the devices section, as written.
func rawDevices(t *testing.T, data []byte, name string) []*mpconf.Node {
	t.Helper()
	nodes, err := mpconf.Parse(data, name)
	if err != nil {
		t.Fatal(err)
	}
	var out []*mpconf.Node
	for _, n := range nodes {
		if n.Key == "devices" && n.Section {
			for _, c := range n.Children {
				if c.Key == "device" && c.Section {
					out = append(out, c)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s prints no device sections", name)
	}
	return out
}

// devicesLines is the line range of the devices section.
func devicesLines(t *testing.T, data []byte, name string) (lo, hi int) {
	t.Helper()
	nodes, err := mpconf.Parse(data, name)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		if n.Key == "devices" && n.Section {
			hi = strings.Count(string(data), "\n") + 1
			if i+1 < len(nodes) {
				hi = nodes[i+1].Line - 1
			}
			return n.Line, hi
		}
	}
	t.Fatalf("%s prints no devices section", name)
	return 0, 0
}

func nodeAt(devs []*mpconf.Node, line int) *mpconf.Node {
	for _, d := range devs {
		for _, n := range d.Children {
			if n.Line == line {
				return n
			}
		}
	}
	return nil
}
