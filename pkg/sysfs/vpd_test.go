package sysfs

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// desc builds one designation descriptor.
func desc(b0, b1 byte, val []byte) []byte {
	return append([]byte{b0, b1, 0, byte(len(val))}, val...)
}

func page83(descs ...[]byte) []byte {
	var body []byte
	for _, d := range descs {
		body = append(body, d...)
	}
	return append([]byte{0, 0x83, byte(len(body) >> 8), byte(len(body))}, body...)
}

func page80(serial string) []byte {
	return append([]byte{0, 0x80, 0, byte(len(serial))}, serial...)
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	vendor = []byte("Linux   ")
	model  = []byte("scsi_debug      ")
)

func TestUdevSerial(t *testing.T) {
	h := func(s string) []byte { return unhex(t, s) }
	// Designator byte 0/1 values: 0x01 binary, 0x02 ASCII; byte 1 = assoc<<4 | type.
	naa6 := desc(0x01, 0x03, h("600a0980383030534f2b4d3153324d70"))
	naa5 := desc(0x01, 0x03, h("50014380abcdef01"))
	naa3 := desc(0x01, 0x03, h("33333330000007d0"))
	naa2 := desc(0x01, 0x03, h("2000001b32a1b2c3"))
	eui8 := desc(0x01, 0x02, h("5000c500a1b2c3d7"))
	eui12 := desc(0x01, 0x02, h("0011223344556677 8899aabb"))
	eui16 := desc(0x01, 0x02, h("00112233445566778899aabbccddeeff"))
	t10 := desc(0x02, 0x01, []byte("Linux   scsi_debug      2000"))
	name := desc(0x53, 0x98, []byte("naa.32222220000007d0\x00\x00\x00\x00"))
	vend := desc(0x01, 0x00, h("abcd"))
	tpg := desc(0x61, 0x95, h("00000300"))
	portNAA := desc(0x61, 0x93, h("5222222000000001")) // NAA-5 of the target port: never the LU id

	tests := []struct {
		name string
		id   Identity
		want string
	}{
		{"NAA-6", Identity{VPD83: page83(t10, naa6)}, "3600a0980383030534f2b4d3153324d70"},
		{"NAA-5", Identity{VPD83: page83(naa5)}, "350014380abcdef01"},
		{"NAA-3 scsi_debug", Identity{VPD83: page83(t10, naa3, tpg, portNAA, name)}, "333333330000007d0"},
		{"NAA-2", Identity{VPD83: page83(t10, naa2)}, "32000001b32a1b2c3"},
		{"NAA-6 preferred over earlier NAA-5", Identity{VPD83: page83(naa5, naa6)}, "3600a0980383030534f2b4d3153324d70"},
		{"NAA-5 preferred over earlier NAA-3", Identity{VPD83: page83(naa3, naa5)}, "350014380abcdef01"},
		{"other NAA in page order", Identity{VPD83: page83(naa3, naa2)}, "333333330000007d0"},
		{"NAA before EUI-64", Identity{VPD83: page83(eui8, naa2)}, "32000001b32a1b2c3"},
		{"EUI-64 8 bytes", Identity{VPD83: page83(t10, eui8)}, "25000c500a1b2c3d7"},
		{"EUI-64 12 bytes", Identity{VPD83: page83(eui12)}, "200112233445566778899aabb"},
		{"EUI-64 16 bytes", Identity{VPD83: page83(eui16)}, "200112233445566778899aabbccddeeff"},
		{"T10 whitespace runs", Identity{VPD83: page83(t10, vend)}, "1Linux_scsi_debug_2000"},
		{"vendor specific gets vendor+model", Identity{VPD83: page83(vend), Vendor: vendor, Model: model}, "0Linux_scsi_debug_abcd"},
		{"target port NAA ignored", Identity{VPD83: page83(portNAA, t10)}, "1Linux_scsi_debug_2000"},
		{"SCSI name string only: page 0x80 fallback",
			Identity{VPD83: page83(name), VPD80: page80("2000"), Vendor: vendor, Model: model}, "SLinux_scsi_debug_2000"},
		{"no page 0x83", Identity{VPD80: page80("  80OS+M1S2Mq0 "), Vendor: []byte("NETAPP  "), Model: []byte("LUN C-Mode      ")},
			"SNETAPP_LUN_C-Mode_80OS+M1S2Mq0"},
		{"ASCII NAA", Identity{VPD83: page83(desc(0x02, 0x03, []byte("6abc")))}, "36abc"},
		{"disallowed characters", Identity{VPD83: page83(desc(0x02, 0x01, []byte("ACME/X  disk\x01é$")))}, "1ACME_X_disk_é_"},
		{"NUL ends the C string", Identity{VPD83: page83(desc(0x02, 0x01, []byte("ACME\x00junk")))}, "1ACME"},
		{"pre-SPC3 EMC page", Identity{VPD83: unhex(t, "00 83 00 10 60 06 04 80 00 01 02 03 04 05 06 07 08 09 0a 0b")},
			"360060480000102030405060708090a0b"},
		{"malformed 0x83 falls back to 0x80", Identity{VPD83: []byte{0, 0x83, 0, 9, 1, 3, 0, 20, 1}, VPD80: page80("x"), Vendor: vendor, Model: model},
			"SLinux_scsi_debug_x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UdevSerial(tc.id)
			if err != nil {
				t.Fatalf("UdevSerial: %v", err)
			}
			if got != tc.want {
				t.Errorf("UdevSerial = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUdevSerialErrors(t *testing.T) {
	tests := []struct {
		name string
		id   Identity
	}{
		{"nothing", Identity{}},
		{"short 0x83, no 0x80", Identity{VPD83: []byte{0, 0x83}}},
		{"wrong page codes", Identity{VPD83: page80("abc"), VPD80: page83(desc(1, 3, []byte{0x60}))}},
		{"0x80 without vendor", Identity{VPD80: page80("abc")}},
		{"vendor with NUL", Identity{VPD80: page80("abc"), Vendor: []byte("AB\x00     "), Model: model}},
		{"only SCSI name and port designators", Identity{VPD83: page83(desc(0x53, 0x98, []byte("iqn.x\x00\x00\x00")), desc(0x61, 0x95, []byte{0, 0, 0, 1}))}},
		{"0x80 length overruns", Identity{VPD80: []byte{0, 0x80, 0, 40, 'a'}, Vendor: vendor, Model: model}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UdevSerial(tc.id)
			if !errors.Is(err, ErrNoWWID) {
				t.Fatalf("UdevSerial = %q, %v; want ErrNoWWID", got, err)
			}
		})
	}
}

func TestParseVPD83(t *testing.T) {
	p := page83(desc(0x02, 0x01, []byte("VEND    id")), desc(0x61, 0x94, []byte{0, 0, 0, 2}),
		desc(0x61, 0x95, []byte{0, 0, 0x03, 0x00}), desc(0x53, 0x98, []byte("iqn.a\x00\x00\x00")))
	ds, err := ParseVPD83(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 4 {
		t.Fatalf("got %d designators, want 4", len(ds))
	}
	if d := ds[1]; d.Type != DesigRelTargetPort || d.Association != AssocTargetPort || !d.PIV || d.Protocol != 6 || d.CodeSet != CodeSetBinary {
		t.Errorf("designator 1 = %+v", d)
	}
	if d := ds[3]; d.Type != DesigSCSIName || d.CodeSet != CodeSetUTF8 || d.Protocol != 5 {
		t.Errorf("designator 3 = %+v", d)
	}
	if tpg, ok := TargetPortGroup(ds); !ok || tpg != 0x300 {
		t.Errorf("TargetPortGroup = %#x, %v; want 0x300", tpg, ok)
	}
	if _, ok := TargetPortGroup(ds[:2]); ok {
		t.Error("TargetPortGroup found a group in a page without one")
	}
}

func TestParseVPD83Malformed(t *testing.T) {
	good := desc(0x01, 0x03, []byte{0x60, 1, 2, 3, 4, 5, 6, 7})
	tests := []struct {
		name    string
		page    []byte
		partial int
	}{
		{"empty", nil, 0},
		{"short header", []byte{0, 0x83, 0}, 0},
		{"wrong page", []byte{0, 0x80, 0, 0}, 0},
		{"length beyond data", []byte{0, 0x83, 0, 20, 1, 3, 0, 0}, 0},
		{"truncated descriptor header", append(page83(good)[:4:4], append(good, 1, 3)...), 1},
		{"descriptor overruns", page83(good, []byte{1, 3, 0, 30, 1, 2}), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.page
			if tc.name == "truncated descriptor header" {
				p[3] = byte(len(p) - 4)
			}
			ds, err := ParseVPD83(p)
			if !errors.Is(err, ErrMalformedVPD) {
				t.Fatalf("err = %v, want ErrMalformedVPD", err)
			}
			if len(ds) != tc.partial {
				t.Errorf("got %d designators before the error, want %d", len(ds), tc.partial)
			}
		})
	}
}

func TestParseVPD80(t *testing.T) {
	s, err := ParseVPD80(page80("  SER 123  "))
	if err != nil || s != "SER 123" {
		t.Errorf("ParseVPD80 = %q, %v", s, err)
	}
	if _, err := ParseVPD80([]byte{0, 0x83, 0, 0}); !errors.Is(err, ErrMalformedVPD) {
		t.Errorf("wrong page: err = %v", err)
	}
}

func FuzzParseVPD83(f *testing.F) {
	f.Add(page83(desc(0x01, 0x03, []byte{0x60, 0x0a, 9, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})))
	f.Add(page83(desc(0x02, 0x01, []byte("Linux   scsi_debug      2000")), desc(0x01, 0x03, []byte{0x33, 0x33, 0x33, 0x30, 0, 0, 7, 0xd0}),
		desc(0x61, 0x95, []byte{0, 0, 3, 0})))
	f.Add([]byte{0, 0x83, 0, 0x10, 0x60, 6, 4, 0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Add([]byte{0, 0x83, 0xff, 0xff, 1, 3, 0, 8})
	f.Fuzz(func(t *testing.T, page []byte) {
		ds, err := ParseVPD83(page)
		for _, d := range ds {
			if d.Type > 0xf || d.Association > 3 || len(d.Value) > 255 {
				t.Fatalf("bad designator %+v", d)
			}
		}
		if err != nil && !errors.Is(err, ErrMalformedVPD) {
			t.Fatalf("error %v does not wrap ErrMalformedVPD", err)
		}
		TargetPortGroup(ds)
		s, err := UdevSerial(Identity{VPD83: page, VPD80: page, Vendor: vendor, Model: model})
		if err == nil && (s == "" || len(s) > udevSerialMax) {
			t.Fatalf("UdevSerial = %q", s)
		}
	})
}
