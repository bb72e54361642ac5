package checker

import (
	"context"
	"strings"
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

// Choose: detection overrides the configured checker and prioritizer when it
// finds something and is switched on; otherwise the configured ones apply,
// and names or arguments that do not work fall back, said in Fallback.
func TestChoose(t *testing.T) {
	alua := sgiotest.Router{Std: sgiotest.Good(sgiotest.StdInquiry("NETAPP", "LUN C-Mode", sgio.TPGSImplicit))}
	plain := sgiotest.Router{Std: sgiotest.Good(sgiotest.StdInquiry("HP", "MSA1000", sgio.TPGSNone))}
	rdac := sgiotest.Router{Std: sgiotest.Good(sgiotest.StdInquiry("NETAPP", "INF-01-00", sgio.TPGSNone)),
		VPD: map[uint8]sgiotest.Response{sgio.VPDVolumeAccess: sgiotest.Good(sgiotest.VolumeAccess{}.Bytes())}}
	down := sgiotest.Router{Std: noConnect}
	withState := attrs(map[string]string{"access_state": "active/optimized"})
	for _, tc := range []struct {
		name             string
		rt               sgiotest.Router
		spec             Spec
		checker, prio    string
		ckFrom, prioFrom string
		fallback         string
		final            bool
	}{
		{"ALUA overrides ontap and directio", alua, Spec{Checker: NameDirectIO, Prio: PrioNameONTAP, DetectChecker: true, DetectPrio: true},
			NameTUR, PrioNameSysfs, "detected: ALUA (TPGS 1)", "detected: ALUA (TPGS 1)", "", true},
		{"detection off: the configured ones", alua, Spec{Checker: NameDirectIO, Prio: PrioNameONTAP},
			NameDirectIO, PrioNameONTAP, "configured", "configured", "", true},
		{"detect_prio only", alua, Spec{Checker: NameDirectIO, Prio: PrioNameONTAP, DetectPrio: true},
			NameDirectIO, PrioNameSysfs, "configured", "detected: ALUA (TPGS 1)", "", true},
		{"no ALUA: the configured ones", plain, Spec{Checker: NameHPSW, Prio: PrioNameHPSW, DetectChecker: true, DetectPrio: true},
			NameHPSW, PrioNameHPSW, "configured", "configured", "", true},
		{"no ALUA, no prio: const", plain, Spec{Checker: NameTUR, DetectPrio: true}, NameTUR, PrioNameConst, "configured", "default", "", true},
		{"RDAC array", rdac, Spec{Checker: NameTUR, Prio: PrioNameRDAC, DetectChecker: true, DetectPrio: true},
			NameRDAC, PrioNameRDAC, "detected: RDAC array (VPD 0xc9 vac1)", "configured", "", true},
		{"RDAC array, table names another checker: not probed", rdac, Spec{Checker: NameTUR, TableChecker: NameTUR, DetectChecker: true},
			NameTUR, PrioNameConst, "configured", "default", "", true},
		{"unknown checker", plain, Spec{Checker: "cciss_tur"}, NameTUR, PrioNameConst, "fallback", "default", `path_checker "cciss_tur" is unknown: using tur`, true},
		{"bad prio_args", plain, Spec{Checker: NameTUR, Prio: PrioNameIET, PrioArgs: "preferredip=x"}, NameTUR, PrioNameConst, "configured", "fallback",
			`prio iet: checker: iet: preferredip="x"`, true},
		{"device down: configured for now, choose again", down, Spec{Checker: NameHPSW, Prio: PrioNameHPSW, DetectChecker: true, DetectPrio: true},
			NameHPSW, PrioNameHPSW, "configured", "configured", "", false},
	} {
		c := Choose(context.Background(), &Path{Name: "sdx", SG: &sgiotest.Device{Handler: tc.rt.Handle}, Attr: withState}, tc.spec)
		if c.Checker.Name() != tc.checker || c.Prioritizer.Name() != tc.prio || c.CheckerSource != tc.ckFrom || c.PrioSource != tc.prioFrom ||
			!strings.Contains(c.Fallback, tc.fallback) || (tc.fallback == "") != (c.Fallback == "") || c.Final != tc.final {
			t.Errorf("%s: %s (%s), %s (%s), fallback %q, final %v; want %s (%s), %s (%s), %q, %v", tc.name,
				c.Checker.Name(), c.CheckerSource, c.Prioritizer.Name(), c.PrioSource, c.Fallback, c.Final,
				tc.checker, tc.ckFrom, tc.prio, tc.prioFrom, tc.fallback, tc.final)
		}
	}
}
