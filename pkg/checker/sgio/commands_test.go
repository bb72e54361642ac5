package sgio_test

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
)

func TestInquiry(t *testing.T) {
	d := &sgiotest.Device{Handler: func(cdb []byte) sgiotest.Response {
		if cdb[0] != sgio.OpInquiry || cdb[1] != 0 {
			t.Fatalf("CDB %x", cdb)
		}
		return sgiotest.Good(sgiotest.StdInquiry("Linux", "scsi_debug", sgio.TPGSImplicit))
	}}
	got, err := sgio.Inquiry(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := sgio.StdInquiry{TPGS: sgio.TPGSImplicit, Vendor: "Linux", Product: "scsi_debug", Revision: "0191"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestInquiryCheckCondition(t *testing.T) {
	d := &sgiotest.Device{Handler: func([]byte) sgiotest.Response {
		return sgiotest.Check(sgiotest.FixedSense(sgio.IllegalRequest, 0x24, 0))
	}}
	_, err := sgio.Inquiry(d, 0)
	var ce *sgio.CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a CommandError", err)
	}
	if s, _ := ce.Result.DecodeSense(); !s.Is(sgio.IllegalRequest, 0x24, 0) {
		t.Errorf("sense %v", s)
	}
}

// A page longer than the first 255-byte allocation is fetched again at its
// announced length.
func TestInquiryVPDGrows(t *testing.T) {
	page := make([]byte, 4+400)
	page[1] = 0x83
	binary.BigEndian.PutUint16(page[2:4], 400)
	var allocs []int
	d := &sgiotest.Device{Handler: func(cdb []byte) sgiotest.Response {
		if cdb[1] != 1 || cdb[2] != 0x83 {
			t.Fatalf("CDB %x", cdb)
		}
		allocs = append(allocs, int(binary.BigEndian.Uint16(cdb[3:5])))
		return sgiotest.Good(page)
	}}
	got, err := sgio.InquiryVPD(d, 0x83, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(page) || !reflect.DeepEqual(allocs, []int{255, 404}) {
		t.Errorf("len %d, allocation lengths %v", len(got), allocs)
	}
}

func TestInquiryVPDWrongPage(t *testing.T) {
	d := &sgiotest.Device{Handler: func([]byte) sgiotest.Response { return sgiotest.Good([]byte{0, 0x80, 0, 0}) }}
	if _, err := sgio.InquiryVPD(d, 0x83, 0); err == nil {
		t.Fatal("no error for a mismatched page code")
	}
}

func TestDeviceIDAndTPG(t *testing.T) {
	ds, err := sgio.ParseDeviceID(sgiotest.VPD83(0x33333330000007d0, 1, 0x300))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 || ds[0].Type != sgio.DesigNAA || ds[0].Association != sgio.AssocLogicalUnit {
		t.Fatalf("designators %+v", ds)
	}
	if id, ok := sgio.TargetPortGroup(ds); !ok || id != 0x300 {
		t.Errorf("TPG = %#x, %v", id, ok)
	}
	if id, ok := sgio.RelativeTargetPort(ds); !ok || id != 1 {
		t.Errorf("relative port = %d, %v", id, ok)
	}
	if _, ok := sgio.TargetPortGroup(ds[:1]); ok {
		t.Error("TPG found without a type 5 designator")
	}
}

func TestParseDeviceIDErrors(t *testing.T) {
	good := sgiotest.VPD83(1, 1, 1)
	for name, b := range map[string][]byte{
		"short":          {0, 0x83},
		"wrong page":     {0, 0x80, 0, 0},
		"length overrun": append(append([]byte(nil), good[:4]...), good[4:10]...),
		"designator cut": {0, 0x83, 0, 6, 1, 3, 0, 8, 0, 0},
		"header cut":     {0, 0x83, 0, 2, 1, 3},
	} {
		if _, err := sgio.ParseDeviceID(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestUnitSerial(t *testing.T) {
	s, err := sgio.ParseUnitSerial([]byte{0, 0x80, 0, 6, ' ', '2', '0', '0', '0', ' '})
	if err != nil || s != "2000" {
		t.Errorf("serial %q, %v", s, err)
	}
	if _, err := sgio.ParseUnitSerial([]byte{0, 0x80, 0, 9, '1'}); err == nil {
		t.Error("no error for an overrunning page length")
	}
}

func TestRTPGGrowsAndParses(t *testing.T) {
	ports := make([]uint16, 200) // 8+800 bytes: more than the first allocation
	for i := range ports {
		ports[i] = uint16(i + 1)
	}
	resp := sgiotest.RTPG(
		sgiotest.PortGroup{ID: 0x300, State: sgio.AASNonOptimized, Preferred: true, Ports: []uint16{1}},
		sgiotest.PortGroup{ID: 0x380, State: sgio.AASUnavailable, Ports: ports},
	)
	var allocs []uint32
	d := &sgiotest.Device{Handler: func(cdb []byte) sgiotest.Response {
		if len(cdb) != 12 || cdb[0] != 0xa3 || cdb[1] != 0x0a {
			t.Fatalf("CDB %x", cdb)
		}
		allocs = append(allocs, binary.BigEndian.Uint32(cdb[6:10]))
		return sgiotest.Good(resp)
	}}
	raw, err := sgio.ReportTargetPortGroups(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(allocs) != 2 || allocs[1] != uint32(len(resp)) {
		t.Errorf("allocation lengths %v, want a retry at %d", allocs, len(resp))
	}
	pgs, err := sgio.ParseRTPG(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(pgs) != 2 || pgs[0].ID != 0x300 || pgs[0].State != sgio.AASNonOptimized || !pgs[0].Preferred ||
		!reflect.DeepEqual(pgs[0].Ports, []uint16{1}) || pgs[1].State != sgio.AASUnavailable || len(pgs[1].Ports) != 200 {
		t.Errorf("parsed %+v", pgs[0])
	}
}

func TestParseRTPGExtendedHeader(t *testing.T) {
	base := sgiotest.RTPG(sgiotest.PortGroup{ID: 7, State: sgio.AASStandby, Ports: []uint16{2}})
	ext := append([]byte{0, 0, 0, 0, 0x10, 0, 0, 0}, base[4:]...)
	binary.BigEndian.PutUint32(ext[0:4], uint32(len(ext)-4))
	pgs, err := sgio.ParseRTPG(ext)
	if err != nil || len(pgs) != 1 || pgs[0].ID != 7 || pgs[0].State != sgio.AASStandby {
		t.Fatalf("got %+v, %v", pgs, err)
	}
}

func TestParseRTPGTruncated(t *testing.T) {
	b := sgiotest.RTPG(sgiotest.PortGroup{ID: 1, Ports: []uint16{1, 2}})
	for n := 5; n < len(b); n++ {
		if _, err := sgio.ParseRTPG(b[:n]); err == nil {
			t.Errorf("%d of %d bytes: no error", n, len(b))
		}
	}
}

func FuzzParseRTPG(f *testing.F) {
	f.Add(sgiotest.RTPG(sgiotest.PortGroup{ID: 0x300, Ports: []uint16{1}},
		sgiotest.PortGroup{ID: 0x380, State: sgio.AASUnavailable, Ports: []uint16{2}}))
	f.Add([]byte{0, 0, 0, 8, 0x10, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		pgs, err := sgio.ParseRTPG(b)
		if err != nil {
			return
		}
		if 8*len(pgs) > len(b) {
			t.Fatalf("%d groups from %d bytes", len(pgs), len(b))
		}
	})
}

func FuzzParseDeviceID(f *testing.F) {
	f.Add(sgiotest.VPD83(0x33333330000007d0, 1, 0x300))
	f.Add([]byte{0, 0x83, 0, 4, 1, 3, 0, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := sgio.ParseDeviceID(b)
		if err != nil {
			return
		}
		for _, d := range ds {
			if len(d.Value) > len(b) {
				t.Fatalf("designator longer than the page")
			}
		}
		sgio.TargetPortGroup(ds)
	})
}

func TestRead10CDB(t *testing.T) {
	d := &sgiotest.Device{Handler: func([]byte) sgiotest.Response { return sgiotest.Good(nil) }}
	if _, err := sgio.Read10(d, 0x01020304, make([]byte, 512), 0); err != nil {
		t.Fatal(err)
	}
	want := []byte{0x28, 0, 1, 2, 3, 4, 0, 0, 1, 0}
	if got := d.Calls()[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("CDB %x, want %x", got, want)
	}
}

func FuzzParseVPD(f *testing.F) {
	f.Add([]byte{0, 0x80, 0, 4, '2', '0', '0', '0'})
	f.Add(sgiotest.StdInquiry("Linux", "scsi_debug", sgio.TPGSBoth))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := sgio.ParseUnitSerial(b); err == nil && len(s) > len(b) {
			t.Fatalf("serial %q longer than the page", s)
		}
		if inq, err := sgio.ParseStdInquiry(b); err == nil && inq.TPGS > sgio.TPGSBoth {
			t.Fatalf("TPGS %d", inq.TPGS)
		}
	})
}
