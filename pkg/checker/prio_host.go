package checker

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// IET priorities.
const (
	IETPreferred = 20
	IETOther     = 10
)

// IET rates an iSCSI path by the portal it logs in to: 20 when the portal's
// address is the preferred one, else 10. The address comes from the path's
// /dev/disk/by-path link ("ip-ADDR:PORT-iscsi-IQN-lun-N"), as udev names it,
// else from the iSCSI connection in sysfs.
type IET struct{ PreferredIP netip.Addr }

// NewIET parses iet prio_args: "preferredip=ADDR".
func NewIET(args string) (*IET, error) {
	kv, err := parseArgs(PrioNameIET, args, "preferredip")
	if err != nil {
		return nil, err
	}
	ip, ok := kv["preferredip"]
	if !ok {
		return nil, fmt.Errorf("checker: iet: prio_args %q: preferredip=ADDR is required", args)
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil, fmt.Errorf("checker: iet: preferredip=%q: %w", ip, err)
	}
	return &IET{PreferredIP: a.Unmap()}, nil
}

// Name implements Prioritizer.
func (*IET) Name() string { return PrioNameIET }

// Prio implements Prioritizer.
func (i *IET) Prio(_ context.Context, p *Path) (int, error) {
	addr, err := portalAddr(p)
	if err != nil {
		return PrioUndefined, errf(p, "iet prio: %w", err)
	}
	if addr == i.PreferredIP {
		return IETPreferred, nil
	}
	return IETOther, nil
}

func portalAddr(p *Path) (netip.Addr, error) {
	if p.ByPathDir != "" {
		ents, err := os.ReadDir(p.ByPathDir)
		if err != nil && !os.IsNotExist(err) {
			return netip.Addr{}, err
		}
		for _, e := range ents {
			target, err := os.Readlink(filepath.Join(p.ByPathDir, e.Name()))
			if err != nil || filepath.Base(target) != p.Name {
				continue
			}
			if a, ok := ByPathPortal(e.Name()); ok {
				return a, nil
			}
		}
	}
	if p.PortalAddress != "" {
		a, err := netip.ParseAddr(strings.Trim(p.PortalAddress, "[]"))
		if err != nil {
			return netip.Addr{}, fmt.Errorf("iSCSI connection address %q: %w", p.PortalAddress, err)
		}
		return a.Unmap(), nil
	}
	return netip.Addr{}, fmt.Errorf("no iSCSI portal address (no ip-ADDR link for %s in %q, no iSCSI connection in sysfs)", p.Name, p.ByPathDir)
}

// ByPathPortal reads the portal address out of a /dev/disk/by-path name of an
// iSCSI disk: "ip-192.0.2.1:3260-iscsi-iqn...-lun-0" or "ip-[2001:db8::1]:3260-...",
// possibly after a "pci-..." prefix.
func ByPathPortal(name string) (netip.Addr, bool) {
	_, rest, ok := strings.Cut(name, "ip-")
	if !ok {
		return netip.Addr{}, false
	}
	var host string
	if strings.HasPrefix(rest, "[") {
		host, _, ok = strings.Cut(rest[1:], "]")
	} else {
		host, _, ok = strings.Cut(rest, ":")
	}
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// path_latency limits, as multipath.conf documents them: latencies are
// clamped to [1 µs, 100 s] and rated on a logarithmic scale.
const (
	latencyMin       = time.Microsecond
	latencyMax       = 100 * time.Second
	defaultIONum     = 100
	defaultBaseNum   = 1.5
	minIONum, maxIO  = 2, 200
	minBase, maxBase = 1.1, 10.0
)

// PathLatency rates a path by the latency of IONum direct reads of its first
// block: log_base(100 s) − log_base(the geometric mean latency in µs), so
// every factor of BaseNum faster is one priority step; slower than 100 s is 0.
type PathLatency struct {
	IONum   int
	BaseNum float64
	now     func() time.Time
}

// NewPathLatency parses path_latency prio_args: "io_num=N base_num=B"
// (io_num 2 to 200, base_num 1.1 to 10). Empty arguments give the defaults
// (100 reads, base 1.5).
func NewPathLatency(args string) (*PathLatency, error) {
	kv, err := parseArgs(PrioNamePathLatency, args, "io_num", "base_num")
	if err != nil {
		return nil, err
	}
	pl := &PathLatency{IONum: defaultIONum, BaseNum: defaultBaseNum, now: time.Now}
	if v, ok := kv["io_num"]; ok {
		if pl.IONum, err = argInt(PrioNamePathLatency, "io_num", v, minIONum, maxIO); err != nil {
			return nil, err
		}
	}
	if v, ok := kv["base_num"]; ok {
		b, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(b) {
			return nil, fmt.Errorf("checker: path_latency: base_num=%q is not a number", v)
		}
		if b < minBase || b > maxBase {
			return nil, fmt.Errorf("checker: path_latency: base_num=%g is outside [%g, %g]", b, minBase, maxBase)
		}
		pl.BaseNum = b
	}
	return pl, nil
}

// Name implements Prioritizer.
func (*PathLatency) Name() string { return PrioNamePathLatency }

// Prio implements Prioritizer.
func (pl *PathLatency) Prio(ctx context.Context, p *Path) (int, error) {
	if p.Direct == nil {
		return PrioUndefined, errf(p, "path_latency prio: no O_DIRECT file")
	}
	buf := alignedBuffer(p.blockSize())
	var sumLog float64
	for i := range pl.IONum {
		if err := ctx.Err(); err != nil {
			return PrioUndefined, errf(p, "path_latency prio: after %d of %d reads: %w", i, pl.IONum, err)
		}
		start := pl.now()
		n, err := p.Direct.ReadAt(buf, 0)
		if err != nil || n != len(buf) {
			return PrioUndefined, errf(p, "path_latency prio: read %d of %d: %d bytes, %v", i+1, pl.IONum, n, err)
		}
		sumLog += math.Log(micros(max(pl.now().Sub(start), latencyMin)))
	}
	return LatencyPrio(time.Duration(math.Exp(sumLog/float64(pl.IONum))*float64(time.Microsecond)), pl.BaseNum), nil
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// LatencyPrio is the priority of a path whose mean read latency is avg.
func LatencyPrio(avg time.Duration, base float64) int {
	if avg > latencyMax {
		return 0
	}
	avg = max(avg, latencyMin)
	// The epsilon keeps an exact power of base (1 ms in base 10) from
	// rounding down a step.
	return int(math.Log(micros(latencyMax)/micros(avg))/math.Log(base) + 1e-9)
}
