package checker

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
)

// Canned answers of the vendor tests.
var (
	unitAttention = sgiotest.Check(sgiotest.FixedSense(sgio.UnitAttention, 0x29, 0x00))
	notReady      = sgiotest.Check(sgiotest.FixedSense(sgio.NotReady, 0x04, 0x02))
	becomingReady = sgiotest.Check(sgiotest.DescriptorSense(sgio.NotReady, 0x04, 0x01))
	illegal       = sgiotest.Check(sgiotest.FixedSense(sgio.IllegalRequest, 0x24, 0x00))
	noConnect     = sgiotest.Response{Result: sgio.Result{HostStatus: sgio.DIDNoConnect}}
	ioctlFailed   = sgiotest.Response{Err: errors.New("ENXIO")}
)

// first answers the first command with r, every later one through the router.
func first(r sgiotest.Response, rt sgiotest.Router) func([]byte) sgiotest.Response {
	n := 0
	return func(cdb []byte) sgiotest.Response {
		n++
		if n == 1 {
			return r
		}
		return rt.Handle(cdb)
	}
}

func vpdRouter(page uint8, resp sgiotest.Response) sgiotest.Router {
	return sgiotest.Router{VPD: map[uint8]sgiotest.Response{page: resp}}
}

func c9(v sgiotest.VolumeAccess) sgiotest.Router {
	return vpdRouter(sgio.VPDVolumeAccess, sgiotest.Good(v.Bytes()))
}

func c0(u sgiotest.UnitPathReport) sgiotest.Router {
	return vpdRouter(sgio.VPDUnitPathReport, sgiotest.Good(u.Bytes()))
}

func TestVendorCheckers(t *testing.T) {
	owned := sgiotest.Healthy(sgio.LUNOwned, 0, 0)
	bound := sgiotest.Healthy(sgio.LUNBound, 0, 1)
	withRead := func(rt sgiotest.Router, read sgiotest.Response) sgiotest.Router { rt.Read = read; return rt }
	serial := vpdRouter(sgio.VPDUnitSerial, sgiotest.Good([]byte{0, 0x80, 0, 4, 'S', 'N', '0', '1'}))
	withTUR := func(tur sgiotest.Response) sgiotest.Router { rt := serial; rt.TUR = tur; return rt }
	for _, tc := range []struct {
		name    string
		checker Checker
		handler func([]byte) sgiotest.Response
		want    State
		reason  string
	}{
		// rdac
		{"rdac owner", &RDAC{}, c9(sgiotest.VolumeAccess{Owner: true, PathPriority: 1}).Handle, Up, "owning controller"},
		{"rdac I/O shipping", &RDAC{}, c9(sgiotest.VolumeAccess{IOShipping: true}).Handle, Up, "I/O shipping"},
		{"rdac passive", &RDAC{}, c9(sgiotest.VolumeAccess{PathPriority: 2, State: sgio.AASStandby}).Handle, Ghost, "passive controller"},
		{"rdac unit attention, then owner", &RDAC{}, first(unitAttention, c9(sgiotest.VolumeAccess{Owner: true})), Up, "owning controller"},
		{"rdac becoming ready, then passive", &RDAC{}, first(becomingReady, c9(sgiotest.VolumeAccess{})), Ghost, "passive"},
		{"rdac quiesced", &RDAC{}, c9(sgiotest.VolumeAccess{Owner: true, State: sgio.AASUnavailable, Reason: 0x06}).Handle, Down, "quiesced"},
		{"rdac service mode", &RDAC{}, c9(sgiotest.VolumeAccess{State: sgio.AASUnavailable, Reason: 0x07}).Handle, Down, "service mode"},
		{"rdac firmware download", &RDAC{}, c9(sgiotest.VolumeAccess{State: sgio.AASUnavailable, Reason: 0x04}).Handle, Down, "firmware download"},
		{"rdac in reset", &RDAC{}, c9(sgiotest.VolumeAccess{State: sgio.AASUnavailable, Reason: 0x03}).Handle, Down, "in reset"},
		{"rdac not responding", &RDAC{}, c9(sgiotest.VolumeAccess{State: sgio.AASUnavailable, Reason: 0x02}).Handle, Down, "not responding"},
		{"rdac booting", &RDAC{}, c9(sgiotest.VolumeAccess{Owner: true, State: sgio.AASTransitioning}).Handle, Down, "booting"},
		{"rdac both transitioning", &RDAC{}, c9(sgiotest.VolumeAccess{Owner: true, State: sgio.AASTransitioning, AltState: sgio.AASTransitioning}).Handle, Up, "owning"},
		{"rdac LUN not connected", &RDAC{}, c9(sgiotest.VolumeAccess{PQ: 1, Owner: true}).Handle, Down, "not connected"},
		{"rdac no such page", &RDAC{}, sgiotest.Router{}.Handle, Wild, "does not serve"},
		{"rdac not ready persists", &RDAC{}, vpdRouter(sgio.VPDVolumeAccess, notReady).Handle, Down, "NOT READY"},
		{"rdac transport", &RDAC{}, vpdRouter(sgio.VPDVolumeAccess, noConnect).Handle, Down, "DID_NO_CONNECT"},
		{"rdac ioctl", &RDAC{}, vpdRouter(sgio.VPDVolumeAccess, ioctlFailed).Handle, Down, "ENXIO"},
		{"rdac wrong page id", &RDAC{}, c9(sgiotest.VolumeAccess{ID: "edid"}).Handle, Down, "identifier"},
		// emc_clariion
		{"emc owned, read good", &EMCClariion{}, c0(owned).Handle, Up, "active path healthy"},
		{"emc passive", &EMCClariion{}, c0(bound).Handle, Up, "passive path healthy"},
		{"emc owned, read fails", &EMCClariion{}, withRead(c0(owned), sgiotest.Check(sgiotest.FixedSense(sgio.MediumError, 0x11, 0))).Handle, Down, "read on the active path"},
		{"emc owned, read unit attention then good", &EMCClariion{}, func() func([]byte) sgiotest.Response {
			n := 0
			rt := c0(owned)
			return func(cdb []byte) sgiotest.Response {
				if cdb[0] == sgio.OpRead10 {
					if n++; n == 1 {
						return unitAttention
					}
				}
				return rt.Handle(cdb)
			}
		}(), Up, "active path healthy"},
		{"emc unit attention on the page", &EMCClariion{}, first(unitAttention, c0(bound)), Up, "passive"},
		{"emc not configured for failover", &EMCClariion{}, c0(sgiotest.UnitPathReport{LUNState: 2, InitiatorType: 3, FailoverMode: 1, ArrayCommPath: true}).Handle, Down, "not configured for failover"},
		{"emc shaky", &EMCClariion{}, c0(func() sgiotest.UnitPathReport { u := owned; u.LUNOperations = 1; return u }()).Handle, Down, "normal operations"},
		{"emc unbound", &EMCClariion{}, c0(sgiotest.Healthy(sgio.LUNUnbound, 0, 0)).Handle, Down, "unbound"},
		{"emc unknown format", &EMCClariion{}, c0(func() sgiotest.UnitPathReport { u := owned; u.Format = 1; return u }()).Handle, Down, "unknown format"},
		{"emc no page", &EMCClariion{}, sgiotest.Router{}.Handle, Wild, "does not serve"},
		{"emc not ready", &EMCClariion{}, vpdRouter(sgio.VPDUnitPathReport, notReady).Handle, Down, "NOT READY"},
		// hp_sw
		{"hp_sw active", HPSW{}, withTUR(sgiotest.Response{}).Handle, Up, "ready"},
		{"hp_sw standby", HPSW{}, withTUR(notReady).Handle, Ghost, "passive path"},
		{"hp_sw unit attention then ready", HPSW{}, func() func([]byte) sgiotest.Response {
			n := 0
			return func(cdb []byte) sgiotest.Response {
				if cdb[0] == sgio.OpTestUnitReady {
					if n++; n == 1 {
						return unitAttention
					}
				}
				return withTUR(sgiotest.Response{}).Handle(cdb)
			}
		}(), Up, "ready"},
		{"hp_sw serial refused", HPSW{}, sgiotest.Router{}.Handle, Wild, "does not serve"},
		{"hp_sw serial not ready", HPSW{}, vpdRouter(sgio.VPDUnitSerial, notReady).Handle, Down, "NOT READY"},
		{"hp_sw transport", HPSW{}, vpdRouter(sgio.VPDUnitSerial, noConnect).Handle, Down, "DID_NO_CONNECT"},
	} {
		d := &sgiotest.Device{Handler: tc.handler}
		r := tc.checker.Check(context.Background(), &Path{Name: "sdx", Attr: running, SG: d})
		if r.State != tc.want || !strings.Contains(r.Reason, tc.reason) {
			t.Errorf("%s: %v, want %v with %q", tc.name, r, tc.want, tc.reason)
		}
	}
}

func TestVendorCheckersSysfsPrecheck(t *testing.T) {
	for _, c := range []Checker{&RDAC{}, &EMCClariion{}, HPSW{}} {
		d := &sgiotest.Device{Handler: sgiotest.Router{}.Handle}
		offline := func(string) (string, error) { return "offline", nil }
		if r := c.Check(context.Background(), &Path{Name: "sdx", Attr: offline, SG: d}); r.State != Down || len(d.Calls()) != 0 {
			t.Errorf("%s: %v after %d commands on an offline device", c.Name(), r, len(d.Calls()))
		}
	}
}

// A LUN whose WWN changes under a path fails it; an inactive snapshot found
// on the owning path fails the passive paths to the same LUN too, until the
// owning path reads again.
func TestEMCClariionMemory(t *testing.T) {
	ctx := context.Background()
	c := &EMCClariion{}
	u := sgiotest.Healthy(sgio.LUNOwned, 0, 0)
	if r := c.Check(ctx, &Path{Name: "sdx", SG: &sgiotest.Device{Handler: c0(u).Handle}}); r.State != Up {
		t.Fatalf("first check: %v", r)
	}
	other := u
	other.WWN[15]++
	if r := c.Check(ctx, &Path{Name: "sdx", SG: &sgiotest.Device{Handler: c0(other).Handle}}); r.State != Down || !strings.Contains(r.Reason, "WWN changed") {
		t.Errorf("changed WWN: %v", r)
	}

	snapWWN := u
	snapWWN.WWN[0] = 0x99
	owner, passive := snapWWN, snapWWN
	passive.LUNState = sgio.LUNBound
	inactive := c0(owner)
	inactive.Read = sgiotest.Check(sgiotest.FixedSense(sgio.IllegalRequest, 0x25, 0x01))
	if r := c.Check(ctx, &Path{Name: "sdp", SG: &sgiotest.Device{Handler: c0(passive).Handle}}); r.State != Up {
		t.Fatalf("passive path before: %v", r)
	}
	if r := c.Check(ctx, &Path{Name: "sdo", SG: &sgiotest.Device{Handler: inactive.Handle}}); r.State != Down || !strings.Contains(r.Reason, "inactive snapshot") {
		t.Errorf("owning path: %v", r)
	}
	// Another checker value (another map's path) sees the same LUN's verdict.
	if r := (&EMCClariion{}).Check(ctx, &Path{Name: "sdq", SG: &sgiotest.Device{Handler: c0(passive).Handle}}); r.State != Down || !strings.Contains(r.Reason, "inactive snapshot") {
		t.Errorf("passive path: %v", r)
	}
	if r := c.Check(ctx, &Path{Name: "sdo", SG: &sgiotest.Device{Handler: c0(owner).Handle}}); r.State != Up {
		t.Errorf("owning path reads again: %v", r)
	}
	if r := c.Check(ctx, &Path{Name: "sdp", SG: &sgiotest.Device{Handler: c0(passive).Handle}}); r.State != Up {
		t.Errorf("passive path after: %v", r)
	}
}

// The rdac checker sets TAS in the control mode page once per path, before
// its first verdict; a device where it is set already gets no MODE SELECT,
// and one that refuses is checked all the same.
func TestRDACSetsTAS(t *testing.T) {
	sense := []byte{0, 0x12, 0, 0, 0, 0, 0, 0, 0x8a, 0x0a, 0x02, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0x1e}
	withTAS := append([]byte(nil), sense...)
	withTAS[13] = 0x40
	for _, tc := range []struct {
		name    string
		mode    map[byte]sgiotest.Response
		reason  string
		selects int
	}{
		{"TAS clear", map[byte]sgiotest.Response{sgio.OpModeSense10: sgiotest.Good(sense), sgio.OpModeSelect10: {}}, "TAS set", 1},
		{"TAS already set", map[byte]sgiotest.Response{sgio.OpModeSense10: sgiotest.Good(withTAS)}, "owning controller", 0},
		{"MODE SELECT refused", map[byte]sgiotest.Response{sgio.OpModeSense10: sgiotest.Good(sense)}, "TAS not set: MODE SELECT(10)", 1},
		{"MODE SENSE refused", nil, "TAS not set: MODE SENSE(10)", 0},
	} {
		rt := c9(sgiotest.VolumeAccess{Owner: true})
		rt.Vendor = tc.mode
		d := &sgiotest.Device{Handler: rt.Handle}
		c := &RDAC{}
		p := &Path{Name: "sdx", SG: d}
		first, second := c.Check(context.Background(), p), c.Check(context.Background(), p)
		if first.State != Up || second.State != Up || !strings.Contains(first.Reason, tc.reason) || strings.Contains(second.Reason, "TAS") {
			t.Errorf("%s: %v, then %v; want up, %q once", tc.name, first, second, tc.reason)
		}
		var selects [][]byte
		for _, cdb := range d.Calls() {
			if cdb[0] == sgio.OpModeSelect10 {
				selects = append(selects, cdb)
			}
		}
		if len(selects) != tc.selects {
			t.Errorf("%s: %d MODE SELECTs, want %d", tc.name, len(selects), tc.selects)
		}
	}
}
