package scsipr

import (
	"bytes"
	"reflect"
	"testing"
)

// Byte layouts written out by hand from SPC-4 §6.15 (PERSISTENT RESERVE IN
// parameter data) and §6.16 (PERSISTENT RESERVE OUT parameter list).

func TestCDBs(t *testing.T) {
	if got, want := InCDB(InReadFullStatus, 0x1234), []byte{0x5e, 0x03, 0, 0, 0, 0, 0, 0x12, 0x34, 0}; !bytes.Equal(got, want) {
		t.Errorf("InCDB = % x, want % x", got, want)
	}
	if got := InCDB(InReadKeys, 1<<20); got[7] != 0xff || got[8] != 0xff {
		t.Errorf("allocation length not clamped: % x", got)
	}
	if got, want := OutCDB(Reserve, ScopeLU, WriteExclusiveRegistrantsOnly, 24), []byte{0x5f, 0x01, 0x05, 0, 0, 0, 0, 0, 24, 0}; !bytes.Equal(got, want) {
		t.Errorf("OutCDB = % x, want % x", got, want)
	}
}

func TestParseKeys(t *testing.T) {
	b := []byte{
		0, 0, 0, 0x2a, // PRGENERATION
		0, 0, 0, 16, // ADDITIONAL LENGTH
		0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
		0, 0, 0, 0, 0, 0, 0, 0x0b,
	}
	got, err := ParseKeys(b)
	want := Keys{Generation: 0x2a, Keys: []uint64{0x123456789abcdef0, 0xb}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseKeys = %+v, %v; want %+v", got, err, want)
	}
	if r := want.Marshal(); !bytes.Equal(r, b) {
		t.Errorf("Marshal = % x, want % x", r, b)
	}
	none, err := ParseKeys([]byte{0, 0, 0, 1, 0, 0, 0, 0})
	if err != nil || none.Generation != 1 || len(none.Keys) != 0 {
		t.Errorf("no keys: %+v, %v", none, err)
	}
	for name, b := range map[string][]byte{
		"short header":    {0, 0, 0, 1, 0, 0, 0},
		"length overruns": {0, 0, 0, 1, 0, 0, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8},
		"not 8-aligned":   {0, 0, 0, 1, 0, 0, 0, 4, 1, 2, 3, 4},
	} {
		if _, err := ParseKeys(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseReservation(t *testing.T) {
	b := []byte{
		0, 0, 1, 0, // PRGENERATION
		0, 0, 0, 0x10, // ADDITIONAL LENGTH
		0, 0, 0, 0, 0, 0, 0xab, 0xcd, // RESERVATION KEY
		0, 0, 0, 0, // obsolete
		0,    // reserved
		0x05, // SCOPE 0, TYPE 5
		0, 0, // obsolete
	}
	got, err := ParseReservation(b)
	want := Reservation{Generation: 0x100, Held: true, Key: 0xabcd, Type: WriteExclusiveRegistrantsOnly}
	if err != nil || got != want {
		t.Fatalf("ParseReservation = %+v, %v; want %+v", got, err, want)
	}
	if r := want.Marshal(); !bytes.Equal(r, b) {
		t.Errorf("Marshal = % x, want % x", r, b)
	}
	got, err = ParseReservation([]byte{0, 0, 0, 7, 0, 0, 0, 0})
	if err != nil || got != (Reservation{Generation: 7}) {
		t.Errorf("no reservation: %+v, %v", got, err)
	}
	if _, err := ParseReservation([]byte{0, 0, 0, 7, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}); err == nil {
		t.Error("additional length 8: no error")
	}
}

func TestParseCapabilities(t *testing.T) {
	// CRH, SIP_C, ATP_C, PTPL_C; TMV, PTPL_A; all six types in the mask.
	b := []byte{0, 8, 0x1d, 0x81, 0xea, 0x01, 0, 0}
	got, err := ParseCapabilities(b)
	want := Capabilities{Length: 8, CRH: true, SIPC: true, ATPC: true, PTPLC: true, TMV: true, PTPLA: true, TypeMask: 0xea01}
	if err != nil || got != want {
		t.Fatalf("ParseCapabilities = %+v, %v; want %+v", got, err, want)
	}
	if r := want.Marshal(); !bytes.Equal(r, b) {
		t.Errorf("Marshal = % x, want % x", r, b)
	}
	for _, ty := range []Type{WriteExclusive, ExclusiveAccess, WriteExclusiveRegistrantsOnly,
		ExclusiveAccessRegistrantsOnly, WriteExclusiveAllRegistrants, ExclusiveAccessAllRegistrants} {
		if !got.Supports(ty) {
			t.Errorf("Supports(%v) = false", ty)
		}
	}
	c := Capabilities{TMV: true, TypeMask: 0x2000, AllowCommands: 5, RLRC: true}
	if c.Supports(WriteExclusive) || !c.Supports(WriteExclusiveRegistrantsOnly) {
		t.Errorf("Supports with mask 0x2000 wrong")
	}
	if r, _ := ParseCapabilities(c.Marshal()); r != c {
		t.Errorf("round trip %+v != %+v", r, c)
	}
	if _, err := ParseCapabilities([]byte{0, 8, 0}); err == nil {
		t.Error("3 bytes: no error")
	}
}

func TestParseFullStatus(t *testing.T) {
	iqn := "iqn.2003-01.org.linux-iscsi.a,i,0x23d000000000"
	tid := append([]byte{0x45, 0, 0, 48}, iqn...) // format 01, iSCSI; 48 bytes of name
	tid = append(tid, make([]byte, 48-len(iqn))...)
	b := []byte{
		0, 0, 0, 9, // PRGENERATION
		0, 0, 0, 0, // ADDITIONAL LENGTH, set below
		// descriptor 1: holder, type 5, relative target port 1, iSCSI TransportID
		0, 0, 0, 0, 0, 0, 0, 0x0a,
		0, 0, 0, 0,
		0x01, 0x05,
		0, 0, 0, 0,
		0, 1,
		0, 0, 0, byte(len(tid)),
	}
	b = append(b, tid...)
	b = append(b,
		// descriptor 2: ALL_TG_PT, not holder, FC TransportID
		0, 0, 0, 0, 0, 0, 0, 0x0b,
		0, 0, 0, 0,
		0x02, 0x00,
		0, 0, 0, 0,
		0, 0,
		0, 0, 0, 24,
		0x00, 0, 0, 0, 0, 0, 0, 0, 0x21, 0, 0, 0x24, 0xff, 0x45, 0x67, 0x89, 0, 0, 0, 0, 0, 0, 0, 0)
	b[7] = byte(len(b) - 8)
	got, err := ParseFullStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	want := FullStatus{Generation: 9, Registrants: []Registrant{
		{Key: 0xa, Holder: true, Type: WriteExclusiveRegistrantsOnly, RelTgtPortID: 1, TransportID: tid},
		{Key: 0xb, AllTgPt: true, TransportID: b[len(b)-24:]},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseFullStatus = %+v\nwant %+v", got, want)
	}
	if r := want.Marshal(); !bytes.Equal(r, b) {
		t.Errorf("Marshal = % x\nwant % x", r, b)
	}
	t0, err := ParseTransportID(got.Registrants[0].TransportID)
	if err != nil || t0.Protocol != ProtocolISCSI || t0.Format != ISCSIPortID || t0.Name != iqn {
		t.Errorf("iSCSI TransportID %+v, %v", t0, err)
	}
	t1, err := ParseTransportID(got.Registrants[1].TransportID)
	if err != nil || t1.Protocol != ProtocolFC || !bytes.Equal(t1.Port, []byte{0x21, 0, 0, 0x24, 0xff, 0x45, 0x67, 0x89}) {
		t.Errorf("FC TransportID %+v, %v", t1, err)
	}
	for name, bad := range map[string][]byte{
		"descriptor cut": b[:8+20],
		"transport id overrun": func() []byte {
			c := append([]byte(nil), b[:8+24+8]...)
			c[7] = byte(len(c) - 8)
			return c
		}(),
	} {
		if _, err := ParseFullStatus(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestTransportIDs(t *testing.T) {
	b := ISCSITransportID("iqn.x")
	if want := append([]byte{0x05, 0, 0, 20}, append([]byte("iqn.x"), make([]byte, 15)...)...); !bytes.Equal(b, want) {
		t.Errorf("ISCSITransportID = % x, want % x", b, want)
	}
	long := TransportID{Protocol: ProtocolISCSI, Name: "iqn.2026-12.org.example:node-a-with-a-long-name"}
	lb, err := long.Marshal()
	if err != nil || len(lb)%4 != 0 || int(lb[3])+4 != len(lb) || lb[3] < byte(len(long.Name)+1) {
		t.Errorf("long iSCSI name: % x, %v", lb, err)
	}
	sas := TransportID{Protocol: ProtocolSAS, Port: []byte{0x50, 0, 0, 0, 0, 0, 0, 1}}
	sb, err := sas.Marshal()
	if err != nil || len(sb) != 24 || sb[0] != 6 || sb[4] != 0x50 || sb[11] != 1 {
		t.Errorf("SAS: % x, %v", sb, err)
	}
	if got, err := ParseTransportID(sb); err != nil || !reflect.DeepEqual(got, sas) {
		t.Errorf("SAS round trip %+v, %v", got, err)
	}
	if _, err := (TransportID{Protocol: ProtocolFC, Port: []byte{1}}).Marshal(); err == nil {
		t.Error("short FC port name: no error")
	}
	if _, err := ParseTransportID([]byte{0x05, 0, 0, 40, 'i'}); err == nil {
		t.Error("iSCSI TransportID overrun: no error")
	}
}

func TestEncodeOut(t *testing.T) {
	got, err := EncodeOut(Register, OutParams{Key: 0, SAKey: 0x123abc, APTPL: true, AllTgPt: true})
	want := []byte{
		0, 0, 0, 0, 0, 0, 0, 0, // RESERVATION KEY
		0, 0, 0, 0, 0, 0x12, 0x3a, 0xbc, // SERVICE ACTION RESERVATION KEY
		0, 0, 0, 0, // obsolete
		0x05, // ALL_TG_PT | APTPL
		0, 0, 0,
	}
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("EncodeOut = % x, %v\nwant % x", got, err, want)
	}
	tid := ISCSITransportID("iqn.b")
	got, err = EncodeOut(Register, OutParams{SAKey: 1, SpecIPT: true, TransportIDs: [][]byte{tid}})
	if err != nil || len(got) != 28+len(tid) || got[20] != 0x08 || got[27] != byte(len(tid)) || !bytes.Equal(got[28:], tid) {
		t.Fatalf("SPEC_I_PT: % x, %v", got, err)
	}
	if p, err := ParseOut(Register, got); err != nil || !reflect.DeepEqual(p, OutParams{SAKey: 1, SpecIPT: true, TransportIDs: [][]byte{tid}}) {
		t.Errorf("ParseOut SPEC_I_PT: %+v, %v", p, err)
	}
	got, err = EncodeOut(RegisterMove, OutParams{Key: 2, SAKey: 3, Unreg: true, RelTgtPortID: 7, TransportIDs: [][]byte{tid}})
	wantMove := append([]byte{
		0, 0, 0, 0, 0, 0, 0, 2,
		0, 0, 0, 0, 0, 0, 0, 3,
		0, 0x02, 0, 7,
		0, 0, 0, byte(len(tid)),
	}, tid...)
	if err != nil || !bytes.Equal(got, wantMove) {
		t.Fatalf("REGISTER AND MOVE = % x, %v\nwant % x", got, err, wantMove)
	}
	for name, p := range map[ServiceAction]OutParams{
		RegisterMove: {},
		Register:     {TransportIDs: [][]byte{tid}},
		Reserve:      {SpecIPT: true, TransportIDs: [][]byte{tid[:10]}},
	} {
		if _, err := EncodeOut(name, p); err == nil {
			t.Errorf("%v %+v: no error", name, p)
		}
	}
}

func TestTypeStrings(t *testing.T) {
	for ty, want := range map[Type]string{
		WriteExclusive: "Write Exclusive", ExclusiveAccessRegistrantsOnly: "Exclusive Access, registrants only",
		ExclusiveAccessAllRegistrants: "Exclusive Access, all registrants", 2: "obsolete [2]", 0xa: "obsolete [0xa]", 0x10: "type 0x10",
	} {
		if ty.String() != want {
			t.Errorf("%d: %q, want %q", uint8(ty), ty.String(), want)
		}
	}
	if PreemptAbort.String() != "PREEMPT AND ABORT" || InReadFullStatus.String() != "READ FULL STATUS" {
		t.Error("service action names")
	}
}

func FuzzParseKeys(f *testing.F) {
	f.Add(Keys{Generation: 3, Keys: []uint64{1, 2}}.Marshal())
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 8, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKeys(b)
		if err != nil {
			return
		}
		if k2, err := ParseKeys(k.Marshal()); err != nil || !reflect.DeepEqual(k, k2) {
			t.Fatalf("round trip %+v -> %+v, %v", k, k2, err)
		}
	})
}

func FuzzParseReservation(f *testing.F) {
	f.Add(Reservation{Generation: 1, Held: true, Key: 5, Type: 5}.Marshal())
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReservation(b)
		if err != nil {
			return
		}
		if r2, err := ParseReservation(r.Marshal()); err != nil || r != r2 {
			t.Fatalf("round trip %+v -> %+v, %v", r, r2, err)
		}
	})
}

func FuzzParseCapabilities(f *testing.F) {
	f.Add([]byte{0, 8, 0x1d, 0x81, 0xea, 0x01, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCapabilities(b)
		if err != nil {
			return
		}
		if c2, err := ParseCapabilities(c.Marshal()); err != nil || c != c2 {
			t.Fatalf("round trip %+v -> %+v, %v", c, c2, err)
		}
	})
}

func FuzzParseFullStatus(f *testing.F) {
	f.Add(FullStatus{Generation: 2, Registrants: []Registrant{
		{Key: 1, Holder: true, Type: 5, RelTgtPortID: 1, TransportID: ISCSITransportID("iqn.a")},
		{Key: 2, AllTgPt: true, TransportID: make([]byte, 24)},
	}}.Marshal())
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := ParseFullStatus(b)
		if err != nil {
			return
		}
		fs2, err := ParseFullStatus(fs.Marshal())
		if err != nil || !reflect.DeepEqual(fs, fs2) {
			t.Fatalf("round trip %+v -> %+v, %v", fs, fs2, err)
		}
		for _, r := range fs.Registrants {
			_, _ = ParseTransportID(r.TransportID)
		}
	})
}

func FuzzParseTransportID(f *testing.F) {
	f.Add(ISCSITransportID("iqn.2003-01.org.linux-iscsi.a,i,0x23d000000000"))
	f.Add(append([]byte{0x06, 0, 0, 0, 0x50}, make([]byte, 19)...))
	f.Add(append([]byte{0x04}, make([]byte, 23)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		tid, err := ParseTransportID(b)
		if err != nil {
			return
		}
		m, err := tid.Marshal()
		if err != nil {
			return // a protocol this package only passes through
		}
		if tid2, err := ParseTransportID(m); err != nil || !reflect.DeepEqual(tid, tid2) {
			t.Fatalf("round trip %+v -> %+v, %v", tid, tid2, err)
		}
	})
}

func FuzzParseOut(f *testing.F) {
	for _, sa := range []ServiceAction{Register, RegisterMove} {
		b, _ := EncodeOut(sa, OutParams{Key: 1, SAKey: 2, APTPL: true, SpecIPT: sa == Register, TransportIDs: [][]byte{ISCSITransportID("iqn.b")}})
		f.Add(uint8(sa), b)
	}
	f.Add(uint8(Reserve), make([]byte, 24))
	f.Fuzz(func(t *testing.T, sa uint8, b []byte) {
		p, err := ParseOut(ServiceAction(sa), b)
		if err != nil {
			return
		}
		m, err := EncodeOut(ServiceAction(sa), p)
		if err != nil {
			t.Fatalf("EncodeOut of parsed %+v: %v", p, err)
		}
		if p2, err := ParseOut(ServiceAction(sa), m); err != nil || !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip %+v -> %+v, %v", p, p2, err)
		}
	})
}
