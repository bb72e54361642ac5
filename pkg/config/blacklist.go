package config

import (
	"fmt"
	"slices"
)

type compiledFilter struct {
	devnode, wwid, property, protocol []pattern
	device                            []devicePattern
}

type devicePattern struct {
	vendor, product *pattern // nil matches everything
	src             DeviceFilter
}

func compileList(src []string) ([]pattern, error) {
	out := make([]pattern, 0, len(src))
	for _, s := range src {
		p, err := compilePattern(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func compileFilter(fl FilterList) (compiledFilter, error) {
	var c compiledFilter
	var err error
	for _, x := range []struct {
		dst *[]pattern
		src []string
	}{{&c.devnode, fl.Devnode}, {&c.wwid, fl.WWID}, {&c.property, fl.Property}, {&c.protocol, fl.Protocol}} {
		if *x.dst, err = compileList(x.src); err != nil {
			return c, err
		}
	}
	for _, d := range fl.Device {
		dp := devicePattern{src: d}
		for _, f := range []struct {
			dst **pattern
			src string
		}{{&dp.vendor, d.Vendor}, {&dp.product, d.Product}} {
			if f.src == "" {
				continue
			}
			p, err := compilePattern(f.src)
			if err != nil {
				return c, err
			}
			*f.dst = &p
		}
		c.device = append(c.device, dp)
	}
	return c, nil
}

func firstMatch(list []pattern, s string) (string, bool) {
	for _, p := range list {
		if p.match(s) {
			return p.src, true
		}
	}
	return "", false
}

func (c *compiledFilter) matchDevice(vendor, product string) (string, bool) {
	for _, d := range c.device {
		if (d.vendor == nil || d.vendor.match(vendor)) && (d.product == nil || d.product.match(product)) {
			return fmt.Sprintf("vendor=%q product=%q", d.src.Vendor, d.src.Product), true
		}
	}
	return "", false
}

// Criterion names the blacklist criterion that decided a Verdict.
type Criterion string

// Criteria, in evaluation order.
const (
	ByProperty Criterion = "property"
	ByDevnode  Criterion = "devnode"
	ByDevice   Criterion = "device"
	ByProtocol Criterion = "protocol"
	ByWWID     Criterion = "wwid"
)

// PathInfo is what the blacklist looks at. Empty fields skip their
// criterion, so the filter can run before everything is known (e.g. on a
// uevent, before the WWID is read).
type PathInfo struct {
	Devnode  string // kernel name, e.g. "sdb"
	Vendor   string // INQUIRY vendor; the device criterion needs both
	Product  string // INQUIRY product
	Protocol string // "scsi:fcp", "scsi:iscsi", "scsi:sas", "nvme:tcp", ...; "" skips
	WWID     string
	// Properties are the udev property names of the device; nil when udev
	// data is not available, which skips the property criterion.
	Properties []string
	// UIDAttribute is the property the WWID was taken from (ID_SERIAL for
	// SCSI). A device that has it but no excepted property is blacklisted
	// ("udev property missing"); "" disables that rule.
	UIDAttribute string
}

// Verdict is the outcome of the blacklist for one path.
type Verdict struct {
	Blacklisted bool
	Criterion   Criterion // the deciding criterion; "" if nothing matched
	Exception   bool      // the deciding match was a blacklist exception
	Pattern     string    // the entry that matched; "" for a missing property
}

func (v Verdict) String() string {
	switch {
	case v.Criterion == "":
		return "not blacklisted"
	case v.Blacklisted && v.Pattern == "":
		return "blacklisted: udev property missing"
	case v.Blacklisted:
		return fmt.Sprintf("blacklisted by %s %s", v.Criterion, v.Pattern)
	}
	return fmt.Sprintf("allowed by %s exception %s", v.Criterion, v.Pattern)
}

// Filter applies [blacklist] and [blacklist_exceptions] (with multipath-tools'
// built-in entries) to a path. Criteria are evaluated in the order property,
// devnode, device, protocol, wwid; within one criterion an exception beats a
// blacklist entry, and the first blacklisting criterion decides.
func (c *Config) Filter(p PathInfo) Verdict {
	var last Verdict
	for _, step := range []func(PathInfo) Verdict{c.filterProperty, c.filterDevnode, c.filterDevice, c.filterProtocol, c.filterWWID} {
		v := step(p)
		if v.Blacklisted {
			return v
		}
		if v.Criterion != "" {
			last = v
		}
	}
	return last
}

// FilterDevnode applies only the devnode criterion, for cheap filtering of
// uevents before any device is opened.
func (c *Config) FilterDevnode(devnode string) Verdict {
	return c.filterDevnode(PathInfo{Devnode: devnode})
}

func (c *Config) filterStrings(crit Criterion, bl, el []pattern, s string) Verdict {
	if src, ok := firstMatch(el, s); ok {
		return Verdict{Criterion: crit, Exception: true, Pattern: src}
	}
	if src, ok := firstMatch(bl, s); ok {
		return Verdict{Blacklisted: true, Criterion: crit, Pattern: src}
	}
	return Verdict{}
}

func (c *Config) filterDevnode(p PathInfo) Verdict {
	if p.Devnode == "" {
		return Verdict{}
	}
	return c.filterStrings(ByDevnode, c.blist.devnode, c.elist.devnode, p.Devnode)
}

func (c *Config) filterWWID(p PathInfo) Verdict {
	if p.WWID == "" {
		return Verdict{}
	}
	return c.filterStrings(ByWWID, c.blist.wwid, c.elist.wwid, p.WWID)
}

func (c *Config) filterProtocol(p PathInfo) Verdict {
	proto := p.Protocol
	if proto == "" {
		return Verdict{}
	}
	return c.filterStrings(ByProtocol, c.blist.protocol, c.elist.protocol, proto)
}

func (c *Config) filterDevice(p PathInfo) Verdict {
	if p.Vendor == "" || p.Product == "" {
		return Verdict{}
	}
	if src, ok := c.elist.matchDevice(p.Vendor, p.Product); ok {
		return Verdict{Criterion: ByDevice, Exception: true, Pattern: src}
	}
	if src, ok := c.blist.matchDevice(p.Vendor, p.Product); ok {
		return Verdict{Blacklisted: true, Criterion: ByDevice, Pattern: src}
	}
	return Verdict{}
}

// filterProperty follows multipath-tools: properties are visited in name
// order and the first one that matches an exception or a blacklist entry
// decides. If none matches and the device has its uid property, it is
// blacklisted for a missing property: the exception list names the
// properties a real multipath candidate carries.
func (c *Config) filterProperty(p PathInfo) Verdict {
	if p.Properties == nil {
		return Verdict{}
	}
	names := slices.Clone(p.Properties)
	slices.Sort(names)
	uidSeen := false
	for _, name := range names {
		if p.UIDAttribute != "" && name == p.UIDAttribute {
			uidSeen = true
		}
		if v := c.filterStrings(ByProperty, c.blist.property, c.elist.property, name); v.Criterion != "" {
			return v
		}
	}
	if uidSeen {
		return Verdict{Blacklisted: true, Criterion: ByProperty}
	}
	return Verdict{}
}
