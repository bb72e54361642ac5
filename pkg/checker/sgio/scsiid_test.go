package sgio_test

import (
	"bytes"
	"strings"
	"syscall"
	"testing"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
)

// vpd80 builds a unit serial number page.
func vpd80(serial string) []byte {
	return append([]byte{0, 0x80, 0, byte(len(serial))}, serial...)
}

// padded is b in scsi_id's zeroed 254-byte buffer.
func padded(b []byte) []byte {
	out := make([]byte, sgio.ScsiIDBufLen)
	copy(out, b)
	return out
}

// ReadIdentityPages sends what scsi_id sends (standard INQUIRY, page 0, then
// 0x83 and 0x80 as listed; 6-byte CDBs with a 254-byte allocation) and keeps
// what scsi_id keeps: a refused or wrong page is nil, a device answering the
// page list with standard data has none.
func TestReadIdentityPages(t *testing.T) {
	std := sgiotest.StdInquiry("HP", "OPEN-V", sgio.TPGSNone)
	page83 := sgiotest.VPD83(0x60060e8007c3d800, 1, 2)
	recovered := sgiotest.Check(sgiotest.FixedSense(sgio.RecoveredError, 0x17, 0))
	recovered.Data = page83
	tests := []struct {
		name     string
		handler  func([]byte) sgiotest.Response
		want83   []byte
		want80   []byte
		wantErr  string
		wantCDBs [][]byte
	}{
		{
			name:    "both pages listed",
			handler: sgiotest.Pages(std, map[uint8][]byte{0x80: vpd80("  50 0C3D8012"), 0x83: page83}),
			want83:  padded(page83), want80: padded(vpd80("  50 0C3D8012")),
			wantCDBs: [][]byte{
				{0x12, 0, 0, 0, 254, 0}, {0x12, 1, 0, 0, 254, 0}, {0x12, 1, 0x83, 0, 254, 0}, {0x12, 1, 0x80, 0, 254, 0},
			},
		},
		{
			name:    "only 0x80 listed",
			handler: sgiotest.Pages(std, map[uint8][]byte{0x80: vpd80("X1")}),
			want80:  padded(vpd80("X1")),
			wantCDBs: [][]byte{
				{0x12, 0, 0, 0, 254, 0}, {0x12, 1, 0, 0, 254, 0}, {0x12, 1, 0x80, 0, 254, 0},
			},
		},
		{
			name: "0x83 listed but refused",
			handler: sgiotest.Pages(std, map[uint8][]byte{
				0: {0, 0, 0, 3, 0, 0x80, 0x83}, 0x80: vpd80("X1"),
			}),
			want80: padded(vpd80("X1")),
		},
		{
			name: "0x83 answered with another page",
			handler: sgiotest.Pages(std, map[uint8][]byte{
				0: {0, 0, 0, 2, 0, 0x83}, 0x83: vpd80("X1"),
			}),
			wantErr: "device returned page 0x80",
		},
		{
			name: "recovered error counts as success",
			handler: func(cdb []byte) sgiotest.Response {
				if cdb[1] == 1 && cdb[2] == 0x83 {
					return recovered
				}
				return sgiotest.Pages(std, map[uint8][]byte{0: {0, 0, 0, 1, 0x83}})(cdb)
			},
			want83: padded(page83),
		},
		{
			name:    "page list refused",
			handler: sgiotest.Pages(std, map[uint8][]byte{0: nil}),
			wantErr: "neither page 0x83 nor 0x80 listed",
		},
		{
			name:    "standard data for every INQUIRY",
			handler: func([]byte) sgiotest.Response { return sgiotest.Good(std) },
			wantErr: "neither page 0x83 nor 0x80 listed (5b 00)",
		},
		{
			name: "standard data with a long byte 3 for every INQUIRY",
			handler: func([]byte) sgiotest.Response {
				odd := bytes.Clone(std)
				odd[3] = 0x42
				return sgiotest.Good(odd)
			},
			wantErr: "standard INQUIRY data instead of the page list",
		},
		{
			name: "page list of 254 pages stays in the buffer",
			handler: sgiotest.Pages(std, map[uint8][]byte{
				0: append([]byte{0, 0, 0, 254}, bytes.Repeat([]byte{0xc0}, 250)...),
			}),
			wantErr: "neither page",
		},
		{
			name: "page list claims 255 pages",
			handler: sgiotest.Pages(std, map[uint8][]byte{
				0: append([]byte{0, 0, 0, 255}, bytes.Repeat([]byte{0x83}, 251)...),
			}),
			wantErr: "more than the buffer holds",
		},
		{
			name:    "standard INQUIRY not delivered",
			handler: func([]byte) sgiotest.Response { return sgiotest.Response{Err: syscall.ENXIO} },
			wantErr: "INQUIRY: no such device",
		},
		{
			name: "unit attention fails the page",
			handler: func(cdb []byte) sgiotest.Response {
				if cdb[1] == 1 && cdb[2] == 0x83 {
					return sgiotest.Check(sgiotest.FixedSense(sgio.UnitAttention, 0x29, 0))
				}
				return sgiotest.Pages(std, map[uint8][]byte{0x83: page83})(cdb)
			},
			wantErr: "INQUIRY VPD 0x83: status 0x02",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &sgiotest.Device{Handler: tc.handler}
			got, err := sgio.ReadIdentityPages(d, sgio.ScsiIDTimeout)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.VPD83, tc.want83) || !bytes.Equal(got.VPD80, tc.want80) {
				t.Errorf("pages 0x83 %q, 0x80 %q; want %q, %q", got.VPD83, got.VPD80, tc.want83, tc.want80)
			}
			if tc.wantErr == "" && !bytes.Equal(got.Std[8:32], std[8:32]) {
				t.Errorf("standard data %q", got.Std)
			}
			if tc.wantCDBs != nil {
				calls := d.Calls()
				if len(calls) != len(tc.wantCDBs) {
					t.Fatalf("CDBs % x, want % x", calls, tc.wantCDBs)
				}
				for i := range calls {
					if !bytes.Equal(calls[i], tc.wantCDBs[i]) {
						t.Errorf("CDB %d: % x, want % x", i, calls[i], tc.wantCDBs[i])
					}
				}
			}
		})
	}
}

// Whatever a device answers, ReadIdentityPages neither panics nor returns a
// page whose code byte is not the one asked for.
func FuzzReadIdentityPages(f *testing.F) {
	std := sgiotest.StdInquiry("HP", "OPEN-V", sgio.TPGSNone)
	f.Add([]byte{0, 0, 0, 2, 0x80, 0x83}, sgiotest.VPD83(1, 1, 1), vpd80("S"))
	f.Add([]byte{0, 0, 0, 255}, []byte{}, []byte{0, 0x80, 0, 255})
	f.Add(std, std, std)
	f.Fuzz(func(t *testing.T, page0, page83, page80 []byte) {
		d := &sgiotest.Device{Handler: sgiotest.Pages(std, map[uint8][]byte{0: page0, 0x83: page83, 0x80: page80})}
		p, err := sgio.ReadIdentityPages(d, 0)
		if p.VPD83 != nil && p.VPD83[1] != 0x83 || p.VPD80 != nil && p.VPD80[1] != 0x80 {
			t.Fatalf("pages %q %q", p.VPD83, p.VPD80)
		}
		if err == nil && p.VPD83 == nil && p.VPD80 == nil {
			t.Fatal("no page and no error")
		}
	})
}
