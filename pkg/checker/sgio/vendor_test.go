package sgio_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
)

// A page as an E-Series controller sends it for a volume it owns, byte for byte.
var vac1Owned = []byte{
	0x00, 0xc9, 0x00, 0x2c, 'v', 'a', 'c', '1', 0x81, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
}

func TestParseVolumeAccess(t *testing.T) {
	for _, tc := range []struct {
		name string
		page []byte
		want sgio.VolumeAccess
		err  bool
	}{
		{"owned, preferred, AVT", vac1Owned, sgio.VolumeAccess{ID: "vac1", Owner: true, AVT: true, PathPriority: 1, AltState: sgio.AASNonOptimized}, false},
		{"built", sgiotest.VolumeAccess{IOShipping: true, PathPriority: 2, State: sgio.AASUnavailable, Reason: 6}.Bytes(),
			sgio.VolumeAccess{ID: "vac1", IOShipping: true, PathPriority: 2, State: sgio.AASUnavailable, Reason: 6}, false},
		{"not connected", sgiotest.VolumeAccess{PQ: 1, PDT: 0x1f}.Bytes(), sgio.VolumeAccess{ID: "vac1", PeripheralQualifier: 1, DeviceType: 0x1f}, false},
		{"other page", append([]byte{0, 0x83}, vac1Owned[2:]...), sgio.VolumeAccess{}, true},
		{"other identifier", append(append([]byte{}, vac1Owned[:4]...), append([]byte("edid"), vac1Owned[8:]...)...), sgio.VolumeAccess{}, true},
		{"cut short", vac1Owned[:12], sgio.VolumeAccess{}, true},
		{"length says short", append([]byte{0, 0xc9, 0, 6}, vac1Owned[4:]...), sgio.VolumeAccess{}, true},
	} {
		got, err := sgio.ParseVolumeAccess(tc.page)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v, error %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestParseUnitPathReport(t *testing.T) {
	h := sgiotest.Healthy(sgio.LUNOwned, 0, 0)
	got, err := sgio.ParseUnitPathReport(h.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := sgio.UnitPathReport{LUNState: 2, WWN: h.WWN, InitiatorType: 3, FailoverMode: 4, ArrayCommPath: true}
	if got != want || !got.FailoverReady() {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, tc := range []struct {
		name  string
		u     sgiotest.UnitPathReport
		ready bool
	}{
		{"ALUA failover mode", sgiotest.UnitPathReport{InitiatorType: 3, FailoverMode: 6, ArrayCommPath: true}, true},
		{"initiator type", sgiotest.UnitPathReport{InitiatorType: 1, FailoverMode: 4, ArrayCommPath: true}, false},
		{"failover mode 0", sgiotest.UnitPathReport{InitiatorType: 3, FailoverMode: 0, ArrayCommPath: true}, false},
		{"no arraycommpath", sgiotest.UnitPathReport{InitiatorType: 3, FailoverMode: 4}, false},
	} {
		u, err := sgio.ParseUnitPathReport(tc.u.Bytes())
		if err != nil || u.FailoverReady() != tc.ready {
			t.Errorf("%s: ready %v, %v; want %v", tc.name, u.FailoverReady(), err, tc.ready)
		}
	}
	if _, err := sgio.ParseUnitPathReport(h.Bytes()[:40]); err == nil {
		t.Error("a 40-byte page parsed")
	}
}

func gvaAnswer(name string) []byte {
	b := []byte{0, 0, 0, 0, 0x0a, 0x98, 0x0a, 0x01, 0x41, 0, 0, 0}
	b = append(b, name...)
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-4))
	return b
}

func TestParseGVAISCSI(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want sgio.ISCSIStack
		err  bool
	}{
		{"software (ism_sw)", gvaAnswer("ism_sw"), sgio.ISCSISoftware, false},
		{"software (iswt)", gvaAnswer("iswt"), sgio.ISCSISoftware, false},
		{"HBA", gvaAnswer("ism_sn"), sgio.ISCSIHBA, false},
		{"FCP: empty page", []byte{0, 0, 0, 4, 0x0a, 0x98, 0x0a, 0x01}, sgio.ISCSINone, false},
		{"other stack", gvaAnswer("fcp"), sgio.ISCSINone, false},
		{"no signature", []byte{0, 0, 0, 8, 1, 2, 3, 4, 0x41, 0, 0, 0}, sgio.ISCSINone, true},
		{"other page", append(gvaAnswer("ism_sw")[:8:8], 0x40, 0, 0, 0), sgio.ISCSINone, true},
	} {
		got, err := sgio.ParseGVAISCSI(tc.b)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%s: %v, %v; want %v, error %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func c1Page(flags byte) []byte {
	b := make([]byte, 24)
	b[1], b[3] = 0xc1, 20
	copy(b[4:8], "xsvd")
	b[19] = flags
	return b
}

func TestONTAPProxy(t *testing.T) {
	if p, err := sgio.ONTAPProxy(c1Page(0x02)); err != nil || !p {
		t.Errorf("proxy bit: %v, %v", p, err)
	}
	if p, err := sgio.ONTAPProxy(c1Page(0x01)); err != nil || p {
		t.Errorf("no proxy bit: %v, %v", p, err)
	}
	bad := c1Page(0x02)
	copy(bad[4:8], "abcd")
	if _, err := sgio.ONTAPProxy(bad); err == nil {
		t.Error("a page without xsvd parsed")
	}
}

func hdsInquiry(vendor, product, ldev string, ctrl byte) []byte {
	b := sgiotest.StdInquiry(vendor, product, 0)
	copy(b[44:48], ldev)
	b[49], b[50] = ctrl, 'A'
	return b
}

func TestParseHDSInquiry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		b     []byte
		owner bool
		err   bool
	}{
		{"ctrl 0 ldev even", hdsInquiry("HITACHI", "DF600F", "012A", '0'), true, false},
		{"ctrl 0 ldev odd", hdsInquiry("HITACHI", "DF600F", "012B", '0'), false, false},
		{"ctrl 1 ldev odd", hdsInquiry("HITACHI", "DF600F", "0003", '1'), true, false},
		{"ctrl 1 ldev even", hdsInquiry("HITACHI", "DF600F", "0004", '1'), false, false},
		{"lower-case hex", hdsInquiry("HITACHI", "DF600F", "000f", '3'), true, false},
		{"not DF", hdsInquiry("HITACHI", "OPEN-V", "0004", '1'), false, true},
		{"not a digit", hdsInquiry("HITACHI", "DF600F", "000G", '1'), false, true},
		{"short", hdsInquiry("HITACHI", "DF600F", "0004", '1')[:50], false, true},
	} {
		h, err := sgio.ParseHDSInquiry(tc.b)
		if (err != nil) != tc.err || (err == nil && h.Owner() != tc.owner) {
			t.Errorf("%s: %+v, %v", tc.name, h, err)
		}
	}
}

func dataCoreInquiry(sds string) []byte {
	b := make([]byte, 255)
	copy(b, sgiotest.StdInquiry("DataCore", "Virtual Disk", 0))
	copy(b[112:128], sds+"                ")
	return b
}

func TestDataCoreSDS(t *testing.T) {
	if s, err := sgio.DataCoreSDS(dataCoreInquiry("SDS-A")); err != nil || s != "SDS-A" {
		t.Errorf("%q, %v", s, err)
	}
	if _, err := sgio.DataCoreSDS(sgiotest.StdInquiry("LIO-ORG", "disk", 0)); err == nil {
		t.Error("a LIO disk read as DataCore")
	}
	if _, err := sgio.DataCoreSDS(dataCoreInquiry("x")[:100]); err == nil {
		t.Error("100 bytes read")
	}
}

func TestGVACommand(t *testing.T) {
	d := &sgiotest.Device{Handler: func(cdb []byte) sgiotest.Response {
		want := []byte{0xc0, 0, 0x01, 0x0a, 0x98, 0x0a, 0x41, 0x80, 0, 0}
		if !bytes.Equal(cdb, want) {
			t.Fatalf("CDB % x, want % x", cdb, want)
		}
		return sgiotest.Good(gvaAnswer("ism_sw"))
	}}
	b, err := sgio.GVA(d, sgio.GVAISCSIPage, 0)
	if err != nil || !bytes.Equal(b, gvaAnswer("ism_sw")) {
		t.Errorf("% x, %v", b, err)
	}
}

func FuzzParseVolumeAccess(f *testing.F) {
	f.Add(vac1Owned)
	f.Add(sgiotest.VolumeAccess{State: sgio.AASTransitioning, Reason: 7}.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := sgio.ParseVolumeAccess(b)
		if err != nil {
			return
		}
		again, err := sgio.ParseVolumeAccess(sgiotest.VolumeAccess{ID: v.ID, PQ: v.PeripheralQualifier, PDT: v.DeviceType, Owner: v.Owner,
			IOShipping: v.IOShipping, AVT: v.AVT, PathPriority: v.PathPriority, State: v.State, AltState: v.AltState, Reason: v.Reason}.Bytes())
		if err != nil || again != v {
			t.Errorf("parse → render → parse: %+v, %v; want %+v", again, err, v)
		}
	})
}

func FuzzParseUnitPathReport(f *testing.F) {
	f.Add(sgiotest.Healthy(2, 1, 1).Bytes())
	f.Add(sgiotest.Healthy(1, 0, 1).Bytes()[:49])
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := sgio.ParseUnitPathReport(b)
		if err != nil {
			return
		}
		again, err := sgio.ParseUnitPathReport(sgiotest.UnitPathReport{LUNState: u.LUNState, DefaultSP: u.DefaultSP, PathSP: u.PathSP,
			Format: u.Format, WWN: u.WWN, InitiatorType: u.InitiatorType, FailoverMode: u.FailoverMode,
			ArrayCommPath: u.ArrayCommPath, LUNOperations: u.LUNOperations}.Bytes())
		if err != nil || again != u {
			t.Errorf("parse → render → parse: %+v, %v; want %+v", again, err, u)
		}
	})
}

// The parsers without a renderer must not panic and must answer the same
// for the same bytes.
func FuzzVendorPages(f *testing.F) {
	f.Add(c1Page(2))
	f.Add(gvaAnswer("ism_sn"))
	f.Add(hdsInquiry("HITACHI", "DF600F", "0004", '1'))
	f.Add(dataCoreInquiry("SDS-A"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p1, e1 := sgio.ONTAPProxy(b)
		p2, e2 := sgio.ONTAPProxy(b)
		if p1 != p2 || (e1 == nil) != (e2 == nil) {
			t.Error("ONTAPProxy is not deterministic")
		}
		if s, err := sgio.ParseGVAISCSI(b); err != nil && s != sgio.ISCSINone {
			t.Errorf("stack %v with error %v", s, err)
		}
		if h, err := sgio.ParseHDSInquiry(b); err == nil {
			_ = h.Owner()
			if len(h.LDEV) != 4 {
				t.Errorf("LDEV %q", h.LDEV)
			}
		}
		if s, err := sgio.DataCoreSDS(b); err == nil && len(s) > 16 {
			t.Errorf("SDS name %q longer than 16 bytes", s)
		}
	})
}
