package checker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
)

func attrs(m map[string]string) func(string) (string, error) {
	return func(a string) (string, error) {
		if v, ok := m[a]; ok {
			return v, nil
		}
		return "", fs.ErrNotExist
	}
}

func TestSysfsPrio(t *testing.T) {
	for _, tc := range []struct {
		state, pref string
		exclusive   bool
		want        int
	}{
		{"active/optimized", "0", false, 50},
		{"active/non-optimized", "0", false, 10},
		{"lba-dependent", "0", false, 5},
		{"standby", "0", false, 1},
		{"unavailable", "0", false, 0},
		{"offline", "0", false, 0},
		{"transitioning", "0", false, 0},
		{"unknown", "0", false, 0},
		{"active/optimized", "1", false, 50},
		{"active/optimized", "1", true, 130},
		{"active/non-optimized", "1", false, 90},
		{"standby", "1", false, 81},
	} {
		t.Run(fmt.Sprintf("%s pref=%s excl=%v", tc.state, tc.pref, tc.exclusive), func(t *testing.T) {
			p := &Path{Name: "sdx", Attr: attrs(map[string]string{"access_state": tc.state, "preferred_path": tc.pref})}
			got, err := Sysfs{ExclusivePrefBit: tc.exclusive}.Prio(context.Background(), p)
			if err != nil || got != tc.want {
				t.Errorf("prio %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	if got, err := (Sysfs{}).Prio(context.Background(), &Path{Name: "sdx", Attr: attrs(nil)}); err == nil || got != PrioUndefined {
		t.Errorf("no access_state: %d, %v", got, err)
	}
}

// aluaDevice answers like scsi_debug with vpd_use_hostno=0: group A (this
// host's TPG) in the given state, group B = A|0x80 unavailable.
func aluaDevice(tpgs sgio.TPGS, tpg uint16, state sgio.AccessState, pref bool) *sgiotest.Device {
	return &sgiotest.Device{Handler: func(cdb []byte) sgiotest.Response {
		switch {
		case cdb[0] == sgio.OpInquiry && cdb[1] == 0:
			return sgiotest.Good(sgiotest.StdInquiry("Linux", "scsi_debug", tpgs))
		case cdb[0] == sgio.OpInquiry && cdb[2] == 0x83:
			return sgiotest.Good(sgiotest.VPD83(0x33333330000007d0, 1, tpg))
		case cdb[0] == sgio.OpMaintenanceIn:
			return sgiotest.Good(sgiotest.RTPG(
				sgiotest.PortGroup{ID: tpg | 0x80, State: sgio.AASUnavailable, Ports: []uint16{2}},
				sgiotest.PortGroup{ID: tpg, State: state, Preferred: pref, Ports: []uint16{1}},
			))
		}
		return sgiotest.Check(sgiotest.FixedSense(sgio.IllegalRequest, 0x20, 0))
	}}
}

func TestALUAPrio(t *testing.T) {
	for _, tc := range []struct {
		state sgio.AccessState
		pref  bool
		want  int
	}{
		{sgio.AASOptimized, false, 50},
		{sgio.AASNonOptimized, false, 10},
		{sgio.AASStandby, false, 1},
		{sgio.AASLBADependent, false, 5},
		{sgio.AASUnavailable, false, 0},
		{sgio.AASTransitioning, false, 0},
		{sgio.AASNonOptimized, true, 90},
		{sgio.AASOptimized, true, 50},
	} {
		t.Run(fmt.Sprintf("%v pref=%v", tc.state, tc.pref), func(t *testing.T) {
			p := &Path{Name: "sdx", SG: aluaDevice(sgio.TPGSImplicit, 0x300, tc.state, tc.pref)}
			got, err := ALUA{}.Prio(context.Background(), p)
			if err != nil || got != tc.want {
				t.Errorf("prio %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	info, err := ReadALUA(context.Background(), &Path{Name: "sdx", SG: aluaDevice(sgio.TPGSImplicit, 0x400, sgio.AASStandby, false)})
	if err != nil || info.GroupID != 0x400 || info.State != sgio.AASStandby || info.TPGS != sgio.TPGSImplicit {
		t.Errorf("ReadALUA = %+v, %v", info, err)
	}
}

func TestALUAErrors(t *testing.T) {
	_, err := ALUA{}.Prio(context.Background(), &Path{Name: "sdx", SG: aluaDevice(sgio.TPGSNone, 1, 0, false)})
	if !errors.Is(err, ErrNoALUA) {
		t.Errorf("TPGS=0: %v", err)
	}
	// VPD 0x83 without a TPG designator.
	d := aluaDevice(sgio.TPGSImplicit, 1, 0, false)
	inner := d.Handler
	d.Handler = func(cdb []byte) sgiotest.Response {
		if cdb[0] == sgio.OpInquiry && cdb[2] == 0x83 {
			return sgiotest.Good(sgiotest.VPD83(1, 1, 1)[:16])
		}
		return inner(cdb)
	}
	if got, err := (ALUA{}).Prio(context.Background(), &Path{Name: "sdx", SG: d}); err == nil || got != PrioUndefined {
		t.Errorf("no TPG designator: %d, %v", got, err)
	}
	if _, err := (ALUA{}).Prio(context.Background(), &Path{Name: "sdx"}); err == nil {
		t.Error("no SG device: no error")
	}
}

// UNIT ATTENTION (e.g. 2A/06 after a state change) is retried.
func TestALUARetriesUnitAttention(t *testing.T) {
	base := aluaDevice(sgio.TPGSImplicit, 0x300, sgio.AASNonOptimized, false)
	uaLeft := 2
	d := &sgiotest.Device{Handler: func(cdb []byte) sgiotest.Response {
		if cdb[0] == sgio.OpMaintenanceIn && uaLeft > 0 {
			uaLeft--
			return sgiotest.Check(sgiotest.DescriptorSense(sgio.UnitAttention, 0x2a, 0x06))
		}
		return base.Handler(cdb)
	}}
	if got, err := (ALUA{}).Prio(context.Background(), &Path{Name: "sdx", SG: d}); err != nil || got != 10 {
		t.Errorf("prio %d, %v; want 10", got, err)
	}
}

func TestWeightedPath(t *testing.T) {
	p := &Path{Name: "sdc", HBTL: "3:0:0:1", Serial: "2000", WWN: "0x1:0x2:0x3:0x4"}
	for _, tc := range []struct {
		args string
		want int
	}{
		{"hbtl 2:.:.:. 10 3:.:.:. 20", 20},
		{"hbtl ^3:0:0:0$ 10", 0},
		{"devname sd[a-b] 5 sd[c-d] 7", 7},
		{"serial 2000 3", 3},
		{"wwn 0x3 4", 4},
		{"devname sd. 1 sdc 9", 1},
	} {
		w, err := NewWeightedPath(tc.args)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if got, _ := w.Prio(context.Background(), p); got != tc.want {
			t.Errorf("%q: prio %d, want %d", tc.args, got, tc.want)
		}
	}
	for _, bad := range []string{"", "hbtl", "hbtl 1:.* ", "uuid x 1", "devname sd[ 1", "devname sda x"} {
		if _, err := NewWeightedPath(bad); err == nil && bad != "hbtl" {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestNewPrioritizer(t *testing.T) {
	for _, n := range []string{PrioNameConst, PrioNameSysfs, PrioNameALUA, PrioNameRandom} {
		p, err := NewPrioritizer(n, "")
		if err != nil || p.Name() != n {
			t.Errorf("NewPrioritizer(%q) = %v, %v", n, p, err)
		}
	}
	if p, err := NewPrioritizer(PrioNameWeightedPath, "devname sda 2"); err != nil || p.Name() != PrioNameWeightedPath {
		t.Errorf("weightedpath: %v, %v", p, err)
	}
	if p, _ := NewPrioritizer(PrioNameALUA, "exclusive_pref_bit"); !p.(ALUA).ExclusivePrefBit {
		t.Error("exclusive_pref_bit ignored")
	}
	if _, err := NewPrioritizer("nosuch", ""); err == nil {
		t.Error("no error for an unknown prioritizer")
	}
	for range 100 {
		if v, _ := (Random{}).Prio(context.Background(), nil); v < 1 || v > 10 {
			t.Fatalf("random prio %d", v)
		}
	}
	if v, _ := (Const{}).Prio(context.Background(), nil); v != 1 {
		t.Errorf("const prio %d", v)
	}
}
