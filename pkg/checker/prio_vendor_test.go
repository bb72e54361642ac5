package checker

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
)

func gva(name string) sgiotest.Response {
	b := []byte{0, 0, 0, 0, 0x0a, 0x98, 0x0a, 0x01}
	if name != "" {
		b = append(b, 0x41, 0, 0, 0)
		b = append(b, name...)
	}
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-4))
	return sgiotest.Good(b)
}

func proxyPage(proxy bool) sgiotest.Response {
	b := make([]byte, 24)
	b[1], b[3] = 0xc1, 20
	copy(b[4:8], "xsvd")
	if proxy {
		b[19] = 0x02
	}
	return sgiotest.Good(b)
}

func stdRouter(b []byte) sgiotest.Router { return sgiotest.Router{Std: sgiotest.Good(b)} }

func hds(product, ldev string, ctrl byte) []byte {
	b := sgiotest.StdInquiry("HITACHI", product, 0)
	copy(b[44:48], ldev)
	b[49], b[50] = ctrl, 'A'
	return b
}

func datacore(sds string) []byte {
	b := make([]byte, 255)
	copy(b, sgiotest.StdInquiry("DataCore", "Virtual Disk", 0))
	copy(b[112:128], sds+"                ")
	return b
}

func TestVendorPrioritizers(t *testing.T) {
	ontap := func(gvaResp sgiotest.Response, c1 *sgiotest.Response) sgiotest.Router {
		rt := sgiotest.Router{Vendor: map[byte]sgiotest.Response{sgio.OpNetAppGVA: gvaResp}}
		if c1 != nil {
			rt.VPD = map[uint8]sgiotest.Response{sgio.VPDONTAPProxy: *c1}
		}
		return rt
	}
	proxy, direct := proxyPage(true), proxyPage(false)
	dc, _ := NewDataCore("preferredsds=SDS-A timeout=1000")
	for _, tc := range []struct {
		name    string
		prio    Prioritizer
		handler func([]byte) sgiotest.Response
		want    int // PrioUndefined: an error is wanted
	}{
		{"rdac owner preferred", RDACPrio{}, c9(sgiotest.VolumeAccess{Owner: true, PathPriority: 1}).Handle, 6},
		{"rdac passive secondary", RDACPrio{}, c9(sgiotest.VolumeAccess{PathPriority: 2}).Handle, 1},
		{"rdac owner secondary", RDACPrio{}, c9(sgiotest.VolumeAccess{Owner: true, PathPriority: 2}).Handle, 3},
		{"rdac I/O shipping", RDACPrio{}, c9(sgiotest.VolumeAccess{IOShipping: true, PathPriority: 1}).Handle, 12},
		{"rdac unit attention first", RDACPrio{}, first(unitAttention, c9(sgiotest.VolumeAccess{Owner: true})), 2},
		{"rdac no page", RDACPrio{}, sgiotest.Router{}.Handle, PrioUndefined},

		{"emc owned by default SP", EMCPrio{}, c0(sgiotest.Healthy(sgio.LUNOwned, 1, 1)).Handle, 4},
		{"emc owned, not default", EMCPrio{}, c0(sgiotest.Healthy(sgio.LUNOwned, 0, 1)).Handle, 2},
		{"emc bound, default SP", EMCPrio{}, c0(sgiotest.Healthy(sgio.LUNBound, 1, 1)).Handle, 3},
		{"emc bound", EMCPrio{}, c0(sgiotest.Healthy(sgio.LUNBound, 0, 1)).Handle, 1},
		{"emc not in normal operation", EMCPrio{}, c0(func() sgiotest.UnitPathReport {
			u := sgiotest.Healthy(sgio.LUNOwned, 1, 1)
			u.LUNOperations = 2
			return u
		}()).Handle, 0},
		{"emc not configured for failover", EMCPrio{}, c0(sgiotest.UnitPathReport{LUNState: 2}).Handle, PrioUndefined},
		{"emc not ready", EMCPrio{}, vpdRouter(sgio.VPDUnitPathReport, notReady).Handle, PrioUndefined},

		{"hp_sw active", HPSWPrio{}, sgiotest.Router{}.Handle, HPSWActive},
		{"hp_sw standby", HPSWPrio{}, sgiotest.Router{TUR: notReady}.Handle, HPSWStandby},
		{"hp_sw reset then standby", HPSWPrio{}, first(unitAttention, sgiotest.Router{TUR: notReady}), HPSWStandby},
		{"hp_sw becoming ready", HPSWPrio{}, sgiotest.Router{TUR: becomingReady}.Handle, HPSWFailed},
		{"hp_sw transport", HPSWPrio{}, sgiotest.Router{TUR: noConnect}.Handle, HPSWFailed},
		{"hp_sw ioctl", HPSWPrio{}, sgiotest.Router{TUR: ioctlFailed}.Handle, PrioUndefined},

		{"hds owner", HDSPrio{}, stdRouter(hds("DF600F", "0010", '0')).Handle, 1},
		{"hds other controller", HDSPrio{}, stdRouter(hds("DF600F", "0010", '1')).Handle, 0},
		{"hds not DF", HDSPrio{}, stdRouter(hds("OPEN-V", "0010", '1')).Handle, PrioUndefined},
		{"hds inquiry fails", HDSPrio{}, sgiotest.Router{Std: notReady}.Handle, PrioUndefined},
		{"hds unit attention first", HDSPrio{}, first(unitAttention, stdRouter(hds("DF600F", "0011", '1'))), 1},
		{"hds becoming ready first", HDSPrio{}, first(becomingReady, stdRouter(hds("DF600F", "0011", '0'))), 0},

		{"ontap iSCSI software", ONTAPPrio{}, ontap(gva("ism_sw"), nil).Handle, ONTAPISCSISoftware},
		{"ontap iSCSI HBA", ONTAPPrio{}, ontap(gva("ism_sn"), nil).Handle, ONTAPISCSIHBA},
		{"ontap FCP direct", ONTAPPrio{}, ontap(gva(""), &direct).Handle, ONTAPFCPDirect},
		{"ontap FCP proxy", ONTAPPrio{}, ontap(gva(""), &proxy).Handle, ONTAPFCPProxy},
		{"ontap no proxy page", ONTAPPrio{}, ontap(gva(""), nil).Handle, ONTAPFCPDirect},
		{"ontap GVA refused", ONTAPPrio{}, sgiotest.Router{}.Handle, PrioUndefined},
		{"ontap unit attention first", ONTAPPrio{}, first(unitAttention, ontap(gva("ism_sn"), nil)), ONTAPISCSIHBA},
		{"ontap not ready", ONTAPPrio{}, ontap(notReady, nil).Handle, PrioUndefined},
		{"ontap transport", ONTAPPrio{}, ontap(noConnect, nil).Handle, PrioUndefined},

		{"datacore preferred", dc, stdRouter(datacore("SDS-A")).Handle, 1},
		{"datacore other", dc, stdRouter(datacore("SDS-B")).Handle, 0},
		{"datacore not DataCore", dc, stdRouter(sgiotest.StdInquiry("LIO-ORG", "disk", 0)).Handle, PrioUndefined},
		{"datacore unit attention first", dc, first(unitAttention, stdRouter(datacore("SDS-A"))), 1},
		{"datacore not ready", dc, sgiotest.Router{Std: notReady}.Handle, PrioUndefined},
		{"emc unit attention first", EMCPrio{}, first(unitAttention, c0(sgiotest.Healthy(sgio.LUNOwned, 1, 1))), 4},
		{"rdac not ready", RDACPrio{}, vpdRouter(sgio.VPDVolumeAccess, notReady).Handle, PrioUndefined},
	} {
		d := &sgiotest.Device{Handler: tc.handler}
		got, err := tc.prio.Prio(context.Background(), &Path{Name: "sdx", SG: d})
		if got != tc.want || (err != nil) != (tc.want == PrioUndefined) {
			t.Errorf("%s: %d, %v; want %d", tc.name, got, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "sdx") {
			t.Errorf("%s: error %q does not name the path", tc.name, err)
		}
	}
}

func TestPrioArgs(t *testing.T) {
	for _, tc := range []struct {
		prio, args string
		ok         bool
	}{
		{PrioNamePathLatency, "", true},
		{PrioNamePathLatency, "io_num=20 base_num=10", true},
		{PrioNamePathLatency, "base_num=1.5 io_num=200", true},
		{PrioNamePathLatency, "io_num=1", false},
		{PrioNamePathLatency, "io_num=201", false},
		{PrioNamePathLatency, "io_num=ten", false},
		{PrioNamePathLatency, "base_num=1.0", false},
		{PrioNamePathLatency, "base_num=11", false},
		{PrioNamePathLatency, "base_num=NaN", false},
		{PrioNamePathLatency, "io_num=20 io_num=30", false},
		{PrioNamePathLatency, "20 10", false},
		{PrioNameIET, "preferredip=192.0.2.1", true},
		{PrioNameIET, "preferredip=2001:db8::1", true},
		{PrioNameIET, "", false},
		{PrioNameIET, "preferredip=", false},
		{PrioNameIET, "preferredip=192.0.2", false},
		{PrioNameIET, "preferred=192.0.2.1", false},
		{PrioNameDataCore, "preferredsds=A", true},
		{PrioNameDataCore, "timeout=500 preferredsds=SDS1", true},
		{PrioNameDataCore, "timeout=499 preferredsds=SDS1", false},
		{PrioNameDataCore, "preferredsds=SDS1 timeout=20001", false},
		{PrioNameDataCore, "timeout=1000", false},
		{PrioNameDataCore, "", false},
		{PrioNameRDAC, "", true},
		{PrioNameEMC, "", true},
		{PrioNameHPSW, "", true},
		{PrioNameHDS, "", true},
		{PrioNameONTAP, "", true},
	} {
		p, err := NewPrioritizer(tc.prio, tc.args)
		if (err == nil) != tc.ok {
			t.Errorf("%s %q: %v, want ok=%v", tc.prio, tc.args, err, tc.ok)
		}
		if err == nil && p.Name() != tc.prio {
			t.Errorf("%s: named %s", tc.prio, p.Name())
		}
		if err != nil && !strings.Contains(err.Error(), tc.prio) {
			t.Errorf("%s %q: error %q does not name the prioritizer", tc.prio, tc.args, err)
		}
	}
	for _, n := range PrioritizerNames {
		if _, err := NewPrioritizer(n, ""); err != nil && n != PrioNameIET && n != PrioNameDataCore && n != PrioNameWeightedPath {
			t.Errorf("%s: %v", n, err)
		}
	}
}

func TestIET(t *testing.T) {
	dir := t.TempDir()
	for name, target := range map[string]string{
		"ip-192.0.2.10:3260-iscsi-iqn.2003-01.org.linux-iscsi.t:sn.1-lun-0":    "../../sdb",
		"ip-198.51.100.10:3260-iscsi-iqn.2003-01.org.linux-iscsi.t:sn.1-lun-0": "../../sdc",
		"ip-[2001:db8::a]:3260-iscsi-iqn.2003-01.org.linux-iscsi.t:sn.1-lun-0": "../../sdd",
		"pci-0000:00:1f.2-ata-1": "../../sda",
		"ip-198.51.100.10:3260-iscsi-iqn.2003-01.org.linux-iscsi.t:sn.1-lun-0-part1": "../../sdc1",
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	pref, err := NewIET("preferredip=192.0.2.10")
	if err != nil {
		t.Fatal(err)
	}
	v6, _ := NewIET("preferredip=2001:db8::a")
	for _, tc := range []struct {
		iet  *IET
		p    Path
		want int
	}{
		{pref, Path{Name: "sdb", ByPathDir: dir}, IETPreferred},
		{pref, Path{Name: "sdc", ByPathDir: dir}, IETOther},
		{v6, Path{Name: "sdd", ByPathDir: dir}, IETPreferred},
		{pref, Path{Name: "sde", ByPathDir: dir, PortalAddress: "192.0.2.10"}, IETPreferred},
		{pref, Path{Name: "sde", PortalAddress: "198.51.100.10"}, IETOther},
		{pref, Path{Name: "sda", ByPathDir: dir}, PrioUndefined},
		{pref, Path{Name: "sde", ByPathDir: filepath.Join(dir, "missing")}, PrioUndefined},
		{pref, Path{Name: "sde", PortalAddress: "not-an-ip"}, PrioUndefined},
	} {
		got, err := tc.iet.Prio(context.Background(), &tc.p)
		if got != tc.want || (err != nil) != (tc.want == PrioUndefined) {
			t.Errorf("%s (%s): %d, %v; want %d", tc.p.Name, tc.iet.PreferredIP, got, err, tc.want)
		}
	}
}

func TestByPathPortal(t *testing.T) {
	for name, want := range map[string]string{
		"ip-10.0.0.1:3260-iscsi-iqn.x-lun-1":                  "10.0.0.1",
		"pci-0000:03:00.0-ip-10.0.0.2:3260-iscsi-iqn.x-lun-0": "10.0.0.2",
		"ip-[fe80::1]:3260-iscsi-iqn.x-lun-0":                 "fe80::1",
		"ip-::ffff:10.0.0.3:3260-iscsi-iqn.x-lun-0":           "",
		"pci-0000:00:1f.2-ata-1":                              "",
		"ip-10.0.0":                                           "",
	} {
		a, ok := ByPathPortal(name)
		if got := ""; ok {
			got = a.String()
			if got != want {
				t.Errorf("%s: %s, want %q", name, got, want)
			}
		} else if want != "" {
			t.Errorf("%s: no address, want %s", name, want)
		}
	}
}

func FuzzByPathPortal(f *testing.F) {
	f.Add("ip-192.0.2.1:3260-iscsi-iqn.2003-01.org.linux-iscsi.t:sn.1-lun-0")
	f.Add("ip-[2001:db8::1]:3260-iscsi-iqn.x-lun-0")
	f.Fuzz(func(t *testing.T, name string) {
		a, ok := ByPathPortal(name)
		if !ok {
			return
		}
		// The address found reads back from a by-path name built around it.
		host := a.String()
		if a.Is6() {
			host = "[" + host + "]"
		}
		b, ok := ByPathPortal("ip-" + host + ":3260-iscsi-iqn.x-lun-0")
		if !ok || b != a {
			t.Errorf("%q → %v → %v, %v", name, a, b, ok)
		}
	})
}

func FuzzPrioArgs(f *testing.F) {
	for _, s := range []string{"io_num=20 base_num=10", "preferredip=10.0.0.1", "preferredsds=A timeout=600", "x=1 x=2", "=", "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, args string) {
		for _, n := range []string{PrioNamePathLatency, PrioNameIET, PrioNameDataCore} {
			p, err := NewPrioritizer(n, args)
			if (p == nil) == (err == nil) {
				t.Errorf("%s %q: %v, %v", n, args, p, err)
			}
		}
	})
}

// fakeClock advances by step on every reading: each read then "takes" step.
type fakeClock struct {
	t    time.Time
	step time.Duration
	n    int
}

func (c *fakeClock) now() time.Time {
	c.n++
	if c.n%2 == 0 {
		c.t = c.t.Add(c.step)
	}
	return c.t
}

func TestPathLatency(t *testing.T) {
	for _, tc := range []struct {
		args string
		step time.Duration
		want int
	}{
		{"io_num=20 base_num=10", time.Millisecond, 5},      // 10^8 µs / 10^3 µs
		{"io_num=20 base_num=10", time.Microsecond, 8},      // the fastest step
		{"io_num=20 base_num=10", 0, 8},                     // below 1 µs counts as 1 µs
		{"io_num=20 base_num=10", 99 * time.Second, 0},      // within 100 s
		{"io_num=2 base_num=10", 101 * time.Second, 0},      // slower than 100 s
		{"io_num=20 base_num=2", 10 * time.Millisecond, 13}, // log2(10^4)
		{"", time.Millisecond, -1},                          // the defaults: base 1.5
	} {
		pl, err := NewPathLatency(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		clk := &fakeClock{t: time.Unix(0, 0), step: tc.step}
		pl.now = clk.now
		r := &fakeReader{n: -1}
		got, err := pl.Prio(context.Background(), &Path{Name: "sdx", Direct: r})
		want := tc.want
		if want < 0 {
			want = int(math.Log(1e5) / math.Log(1.5))
		}
		if err != nil || got != want {
			t.Errorf("%q at %v per read: %d, %v; want %d", tc.args, tc.step, got, err, want)
		}
		if n := clk.n / 2; n != pl.IONum {
			t.Errorf("%q: %d reads, want %d", tc.args, n, pl.IONum)
		}
	}
	pl, _ := NewPathLatency("")
	if _, err := pl.Prio(context.Background(), &Path{Name: "sdx", Direct: &fakeReader{n: 100}}); err == nil {
		t.Error("no error from a short read")
	}
	if _, err := pl.Prio(context.Background(), &Path{Name: "sdx", Direct: &fakeReader{n: -1, err: errors.New("EIO")}}); err == nil {
		t.Error("no error from a failing read")
	}
	if _, err := pl.Prio(context.Background(), &Path{Name: "sdx"}); err == nil {
		t.Error("no error without O_DIRECT")
	}
}
