package checker

import (
	"context"
	"testing"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
)

func TestDetect(t *testing.T) {
	withState := attrs(map[string]string{"access_state": "standby"})
	std := func(tpgs sgio.TPGS) sgiotest.Response {
		return sgiotest.Good(sgiotest.StdInquiry("NETAPP", "INF-01-00", tpgs))
	}
	rdac := func(tpgs sgio.TPGS, id string) sgiotest.Router {
		return sgiotest.Router{Std: std(tpgs), VPD: map[uint8]sgiotest.Response{sgio.VPDVolumeAccess: sgiotest.Good(sgiotest.VolumeAccess{ID: id}.Bytes())}}
	}
	plain := func(tpgs sgio.TPGS) sgiotest.Router { return sgiotest.Router{Std: std(tpgs)} }
	for _, tc := range []struct {
		name      string
		rt        sgiotest.Router
		attr      func(string) (string, error)
		probeRDAC bool
		checker   string
		prio      string // "" none: the configured one applies
		calls     int
	}{
		{"ALUA with scsi_dh_alua", plain(sgio.TPGSImplicit), withState, true, NameTUR, PrioNameSysfs, 2},
		{"ALUA without a handler", plain(sgio.TPGSExplicit), attrs(nil), true, NameTUR, PrioNameALUA, 2},
		{"no ALUA", plain(sgio.TPGSNone), withState, true, "", "", 2},
		{"RDAC without ALUA", rdac(sgio.TPGSNone, "vac1"), withState, true, NameRDAC, "", 2},
		{"RDAC, implicit ALUA: alua, not sysfs", rdac(sgio.TPGSImplicit, "vac1"), withState, true, NameRDAC, PrioNameALUA, 2},
		{"RDAC, explicit ALUA: sysfs", rdac(sgio.TPGSBoth, "vac1"), withState, true, NameRDAC, PrioNameSysfs, 2},
		{"older volume access page is not vac1", rdac(sgio.TPGSNone, "vac0"), withState, true, "", "", 2},
		{"table names another checker: no 0xc9 probe", rdac(sgio.TPGSNone, "vac1"), withState, false, "", "", 1},
	} {
		d := &sgiotest.Device{Handler: tc.rt.Handle}
		det, err := Detect(context.Background(), &Path{Name: "sdx", SG: d, Attr: tc.attr}, tc.probeRDAC)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		prio := ""
		if p := det.Prioritizer(); p != nil {
			prio = p.Name()
		}
		if det.Checker() != tc.checker || prio != tc.prio || len(d.Calls()) != tc.calls {
			t.Errorf("%s: checker %q prio %q after %d commands, want %q %q after %d", tc.name, det.Checker(), prio, len(d.Calls()), tc.checker, tc.prio, tc.calls)
		}
	}
	if _, err := Detect(context.Background(), &Path{Name: "sdx"}, true); err == nil {
		t.Error("no error without SG_IO")
	}
	d := &sgiotest.Device{Handler: func([]byte) sgiotest.Response { return noConnect }}
	if _, err := Detect(context.Background(), &Path{Name: "sdx", SG: d}, true); err == nil {
		t.Error("no error when INQUIRY fails")
	}
}
