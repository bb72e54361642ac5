package sgio_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
)

// controlPage is MODE SENSE(10) data of the control mode page as a disk
// answers with DBD: the 8-byte header and the 12-byte page (PS set, TAS clear).
var controlPage = []byte{
	0x00, 0x12, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, // mode data length 18, WP clear, no block descriptors
	0x8a, 0x0a, 0x02, 0x10, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x1e,
}

func TestSetControlTAS(t *testing.T) {
	sel, changed, err := sgio.SetControlTAS(controlPage)
	want := []byte{
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x0a, 0x0a, 0x02, 0x10, 0x00, 0x40, 0x00, 0x00, 0xff, 0xff, 0x00, 0x1e,
	}
	if err != nil || !changed || !bytes.Equal(sel, want) {
		t.Fatalf("% x, %v, %v; want % x", sel, changed, err, want)
	}
	set := append([]byte(nil), controlPage...)
	set[13] |= 0x40
	if sel, changed, err := sgio.SetControlTAS(set); err != nil || changed || sel != nil {
		t.Errorf("TAS already set: % x, %v, %v", sel, changed, err)
	}
	withBD := append(append([]byte{0, 0x1a, 0, 0, 0, 0, 0, 8}, make([]byte, 8)...), controlPage[8:]...)
	if sel, changed, err := sgio.SetControlTAS(withBD); err != nil || !changed || len(sel) != 28 || sel[21]&0x40 == 0 {
		t.Errorf("with a block descriptor: % x, %v, %v", sel, changed, err)
	}
	for name, b := range map[string][]byte{
		"short header":   controlPage[:6],
		"no page":        controlPage[:8],
		"other page":     append(append([]byte{}, controlPage[:8]...), 0x08, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		"page cut short": controlPage[:14],
	} {
		if _, _, err := sgio.SetControlTAS(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestModeCommands(t *testing.T) {
	var sent [][]byte
	d := &sgiotest.Device{Handler: func(cdb []byte) sgiotest.Response {
		sent = append(sent, cdb)
		return sgiotest.Good(controlPage)
	}}
	got, err := sgio.ModeSense10(d, sgio.PageControl, 0)
	if err != nil || !bytes.Equal(got, controlPage) {
		t.Fatalf("% x, %v", got, err)
	}
	if err := sgio.ModeSelect10(d, make([]byte, 20), 0); err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x5a, 0x08, 0x0a, 0, 0, 0, 0, 0, 0xff, 0}; !bytes.Equal(sent[0], want) {
		t.Errorf("MODE SENSE(10) CDB % x, want % x", sent[0], want)
	}
	if want := []byte{0x55, 0x10, 0, 0, 0, 0, 0, 0, 20, 0}; !bytes.Equal(sent[1], want) {
		t.Errorf("MODE SELECT(10) CDB % x, want % x", sent[1], want)
	}
}

// What SetControlTAS selects, read back as sense data, has TAS set.
func FuzzSetControlTAS(f *testing.F) {
	f.Add(controlPage)
	f.Add(append(append([]byte{0, 0x1a, 0, 0, 0, 0, 0, 8}, make([]byte, 8)...), controlPage[8:]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		sel, changed, err := sgio.SetControlTAS(b)
		if err != nil || !changed {
			return
		}
		again := append([]byte(nil), sel...)
		binary.BigEndian.PutUint16(again[0:2], uint16(len(again)-2))
		if sel2, changed, err := sgio.SetControlTAS(again); err != nil || changed || sel2 != nil {
			t.Errorf("select data % x read back: % x, %v, %v", sel, sel2, changed, err)
		}
	})
}
