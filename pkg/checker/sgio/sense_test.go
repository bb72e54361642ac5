package sgio_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
)

func TestDecodeSense(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        []byte
		want      sgio.Sense
		wantErr   error
		wantDescs int
	}{
		{"fixed 04/0b", sgiotest.FixedSense(sgio.NotReady, 0x04, 0x0b),
			sgio.Sense{ResponseCode: 0x70, Key: sgio.NotReady, ASC: 4, ASCQ: 0x0b, ASCValid: true}, nil, 0},
		{"fixed deferred, valid bit set", append([]byte{0xf1}, sgiotest.FixedSense(sgio.MediumError, 0x11, 0)[1:]...),
			sgio.Sense{ResponseCode: 0x71, Key: sgio.MediumError, ASC: 0x11, ASCValid: true}, nil, 0},
		{"descriptor 25/00", sgiotest.DescriptorSense(sgio.IllegalRequest, 0x25, 0),
			sgio.Sense{ResponseCode: 0x72, Key: sgio.IllegalRequest, ASC: 0x25, ASCValid: true}, nil, 1},
		{"descriptor header only", []byte{0x72, 0x06, 0x29, 0x00},
			sgio.Sense{ResponseCode: 0x72, Key: sgio.UnitAttention, ASC: 0x29, ASCValid: true}, nil, 0},
		{"fixed key only (8 bytes)", []byte{0x70, 0, 0x02, 0, 0, 0, 0, 0},
			sgio.Sense{ResponseCode: 0x70, Key: sgio.NotReady}, nil, 0},
		{"fixed additional length stops before asc", func() []byte {
			b := sgiotest.FixedSense(sgio.NotReady, 4, 0x0b)
			b[7] = 4
			return b
		}(), sgio.Sense{ResponseCode: 0x70, Key: sgio.NotReady}, nil, 0},
		{"fixed 13 bytes", sgiotest.FixedSense(sgio.NotReady, 4, 0x0b)[:13],
			sgio.Sense{ResponseCode: 0x70, Key: sgio.NotReady}, nil, 0},
		{"empty", nil, sgio.Sense{}, sgio.ErrNoSense, 0},
		{"fixed 2 bytes", []byte{0x70, 0}, sgio.Sense{}, sgio.ErrSenseTooShort, 0},
		{"descriptor 3 bytes", []byte{0x72, 2, 4}, sgio.Sense{}, sgio.ErrSenseTooShort, 0},
		{"vendor format", []byte{0x7f, 0, 0, 0}, sgio.Sense{}, sgio.ErrSenseFormat, 0},
		{"descriptor overruns additional length", []byte{0x72, 2, 4, 0x0b, 0, 0, 0, 4, 0x00, 0x0a, 0, 0},
			sgio.Sense{ResponseCode: 0x72, Key: sgio.NotReady, ASC: 4, ASCQ: 0x0b, ASCValid: true}, sgio.ErrSenseDescriptors, 0},
		{"descriptor header cut off", []byte{0x72, 2, 4, 0x0b, 0, 0, 0, 1, 0x00},
			sgio.Sense{ResponseCode: 0x72, Key: sgio.NotReady, ASC: 4, ASCQ: 0x0b, ASCValid: true}, sgio.ErrSenseDescriptors, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sgio.DecodeSense(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(got.Descriptors) != tc.wantDescs {
				t.Errorf("%d descriptors, want %d", len(got.Descriptors), tc.wantDescs)
			}
			got.Descriptors = nil
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSenseString(t *testing.T) {
	s, _ := sgio.DecodeSense(sgiotest.FixedSense(sgio.NotReady, 4, 0x0b))
	if got, want := s.String(), "NOT READY, asc/ascq 04/0b (target port in standby state)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func FuzzDecodeSense(f *testing.F) {
	f.Add(sgiotest.FixedSense(sgio.NotReady, 4, 0x0a))
	f.Add(sgiotest.DescriptorSense(sgio.UnitAttention, 0x2a, 0x06))
	f.Add([]byte{0x72, 2, 4, 0x0b, 0, 0, 0, 4, 0x00, 0x0a, 0, 0})
	f.Add([]byte{0x70, 0, 2, 0, 0, 0, 0, 0xff})
	f.Add([]byte{0xf0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := sgio.DecodeSense(b)
		if err != nil && s.ResponseCode == 0 && len(s.Descriptors) > 0 {
			t.Fatalf("descriptors without a response code")
		}
		total := 0
		for _, d := range s.Descriptors {
			if len(d) < 2 || len(d) != 2+int(d[1]) {
				t.Fatalf("descriptor %x has inconsistent length", d)
			}
			total += len(d)
		}
		if total > len(b) {
			t.Fatalf("descriptors cover %d bytes of %d", total, len(b))
		}
		_ = s.String()
	})
}
