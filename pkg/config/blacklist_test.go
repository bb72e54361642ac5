package config

import "testing"

func TestFilter(t *testing.T) {
	c := mustParse(t, `
[blacklist]
devnode = ["^sdb$", "!^sd[a-d]$"]
wwid = ["^3600bad"]
protocol = ["scsi:iscsi"]
property = ["ID_ATA"]
[[blacklist.device]]
vendor = "ACME"
product = "^Tape"
[[blacklist.device]]
product = "^Floppy"

[blacklist_exceptions]
devnode = ["^sdb$"]
wwid = ["^3600bad1"]
[[blacklist_exceptions.device]]
vendor = "ACME"
product = "Tape X"
`)
	props := []string{"ID_SERIAL", "ID_WWN"}
	tests := []struct {
		name      string
		p         PathInfo
		blacklist bool
		crit      Criterion
		exception bool
	}{
		{"nothing known", PathInfo{}, false, "", false},
		{"devnode excepted", PathInfo{Devnode: "sdb"}, false, ByDevnode, true},
		{"inverted regex blacklists others", PathInfo{Devnode: "sde"}, true, ByDevnode, false},
		{"inverted regex spares its match", PathInfo{Devnode: "sdc"}, false, "", false},
		{"default devnode: hda", PathInfo{Devnode: "hda"}, true, ByDevnode, false},
		{"user inverted regex blocks sdaa", PathInfo{Devnode: "sdaa"}, true, ByDevnode, false},
		{"device blacklisted", PathInfo{Devnode: "sdc", Vendor: "ACME", Product: "Tape 9"}, true, ByDevice, false},
		{"device excepted", PathInfo{Devnode: "sdc", Vendor: "ACME", Product: "Tape X"}, false, ByDevice, true},
		{"product-only entry", PathInfo{Devnode: "sdc", Vendor: "Any", Product: "Floppy"}, true, ByDevice, false},
		{"built-in product_blacklist", PathInfo{Devnode: "sdc", Vendor: "DGC", Product: "LUNZ"}, true, ByDevice, false},
		{"protocol", PathInfo{Devnode: "sdc", Protocol: "scsi:iscsi"}, true, ByProtocol, false},
		{"wwid", PathInfo{Devnode: "sdc", WWID: "3600bad2"}, true, ByWWID, false},
		{"wwid excepted", PathInfo{Devnode: "sdc", WWID: "3600bad1"}, false, ByWWID, true},
		{"property blacklisted", PathInfo{Devnode: "sdc", Properties: []string{"ID_ATA", "ID_SERIAL"}, UIDAttribute: "ID_SERIAL"}, true, ByProperty, false},
		{"property excepted, last exception reported", PathInfo{Devnode: "sdc", WWID: "3600bad1", Properties: props, UIDAttribute: "ID_SERIAL"}, false, ByWWID, true},
		{"order: property before devnode", PathInfo{Devnode: "sde", Properties: []string{"ID_ATA"}}, true, ByProperty, false},
		{"order: devnode before wwid", PathInfo{Devnode: "sde", WWID: "3600bad2"}, true, ByDevnode, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := c.Filter(tt.p)
			if v.Blacklisted != tt.blacklist || v.Criterion != tt.crit || v.Exception != tt.exception {
				t.Errorf("%+v: got %+v (%s)", tt.p, v, v)
			}
		})
	}
}

func TestFilterDefaults(t *testing.T) {
	c := Builtin()
	for dev, black := range map[string]bool{"sda": false, "sdaa": false, "dasda": false, "nvme0n1": false, "hda": true, "loop0": true, "dm-0": true} {
		if v := c.FilterDevnode(dev); v.Blacklisted != black {
			t.Errorf("%s: %s", dev, v)
		}
	}
}

// The udev property rule, as multipath-tools tests it.
func TestFilterPropertyMissing(t *testing.T) {
	c := mustParse(t, "[blacklist]\nproperty = [\"ID_WWN\"]\n[blacklist_exceptions]\nproperty = [\"^ID_WWX\"]\n")
	props := []string{"ID_FOO", "ID_BAZ", "ID_BAR", "ID_SERIAL"}
	tests := []struct {
		uid       string
		blacklist bool
	}{
		{"ID_SERIAL", true},
		{"ID_BLAH", false},
		{"", false},
	}
	for _, tt := range tests {
		v := c.Filter(PathInfo{Devnode: "sdb", Properties: props, UIDAttribute: tt.uid})
		if v.Blacklisted != tt.blacklist {
			t.Errorf("uid %q: %s", tt.uid, v)
		}
		if tt.blacklist && (v.Criterion != ByProperty || v.Pattern != "" || v.String() != "blacklisted: udev property missing") {
			t.Errorf("uid %q: %+v", tt.uid, v)
		}
	}
	// Nil properties (no udev data) skip the criterion.
	if v := c.Filter(PathInfo{Devnode: "sdb", UIDAttribute: "ID_SERIAL"}); v.Blacklisted {
		t.Errorf("no udev data: %s", v)
	}
}

func TestEscapedBang(t *testing.T) {
	c := mustParse(t, "[blacklist]\nwwid = [\"\\\\!x\"]\n")
	if v := c.Filter(PathInfo{WWID: "a!x"}); !v.Blacklisted {
		t.Errorf(`\!x should match a literal "!x": %s`, v)
	}
	if v := c.Filter(PathInfo{WWID: "y"}); v.Blacklisted {
		t.Errorf(`\!x must not invert: %s`, v)
	}
}
