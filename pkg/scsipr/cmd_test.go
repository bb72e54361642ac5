package scsipr_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
	"github.com/mpathd/mpathd/pkg/scsipr"
	"github.com/mpathd/mpathd/pkg/scsipr/scsiprtest"
)

// A key list longer than the first allocation is read again at the length
// the ADDITIONAL LENGTH announces.
func TestReadKeysGrows(t *testing.T) {
	want := scsipr.Keys{Generation: 4}
	for i := range 600 {
		want.Keys = append(want.Keys, uint64(i+1))
	}
	data := want.Marshal()
	var allocs []int
	d := &sgiotest.Device{Handler: func(cdb []byte) sgiotest.Response {
		if cdb[0] != scsipr.OpPersistentReserveIn || cdb[1] != 0 {
			t.Fatalf("CDB % x", cdb)
		}
		alloc := int(cdb[7])<<8 | int(cdb[8])
		allocs = append(allocs, alloc)
		return sgiotest.Good(data[:min(alloc, len(data))])
	}}
	got, err := scsipr.ReadKeys(d, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(allocs, []int{2048, len(data)}) {
		t.Errorf("%d keys, allocation lengths %v", len(got.Keys), allocs)
	}
}

func TestUnitAttentionRetriedBounded(t *testing.T) {
	ua := sgiotest.Check(sgiotest.FixedSense(sgio.UnitAttention, 0x2a, 0x03))
	good := sgiotest.Good(scsipr.Reservation{Generation: 1}.Marshal())
	d := &sgiotest.Device{Handler: sgiotest.Sequence(ua, ua, good)}
	if r, err := scsipr.ReadReservation(d, 0); err != nil || r.Generation != 1 || len(d.Calls()) != 3 {
		t.Fatalf("after two UAs: %+v, %v, %d calls", r, err, len(d.Calls()))
	}
	d = &sgiotest.Device{Handler: sgiotest.Sequence(ua)}
	err := scsipr.Out(d, scsipr.Register, 0, scsipr.OutParams{SAKey: 1}, 0)
	s, ok := scsipr.Sense(err)
	if !ok || s.Key != sgio.UnitAttention || len(d.Calls()) != scsipr.Attempts {
		t.Fatalf("endless UA: %v, %d calls", err, len(d.Calls()))
	}
	// ILLEGAL REQUEST is not retried.
	d = &sgiotest.Device{Handler: sgiotest.Sequence(sgiotest.Check(sgiotest.DescriptorSense(sgio.IllegalRequest, 0x20, 0)))}
	_, err = scsipr.ReadKeys(d, 0)
	var ce *sgio.CommandError
	if !errors.As(err, &ce) || len(d.Calls()) != 1 || errors.Is(err, scsipr.ErrReservationConflict) {
		t.Fatalf("illegal request: %v, %d calls", err, len(d.Calls()))
	}
}

func TestReservationConflict(t *testing.T) {
	d := &sgiotest.Device{Handler: func([]byte) sgiotest.Response {
		return sgiotest.Response{Result: sgio.Result{Status: sgio.StatusReservationConflict}}
	}}
	err := scsipr.Out(d, scsipr.Reserve, scsipr.WriteExclusive, scsipr.OutParams{Key: 1}, 0)
	var ce *sgio.CommandError
	if !errors.Is(err, scsipr.ErrReservationConflict) || !errors.As(err, &ce) || ce.Result.Status != 0x18 {
		t.Fatalf("err = %v", err)
	}
	if len(d.Calls()) != 1 {
		t.Errorf("%d calls; a conflict is not retried", len(d.Calls()))
	}
	c := d.Calls()[0]
	if c[0] != 0x5f || c[1] != 1 || c[2] != 1 || c[8] != 24 {
		t.Errorf("CDB % x", c)
	}
}

func TestTransportErrorWrapped(t *testing.T) {
	d := &sgiotest.Device{Handler: func([]byte) sgiotest.Response {
		return sgiotest.Response{Result: sgio.Result{HostStatus: sgio.DIDTransportFailfast}}
	}}
	_, err := scsipr.ReadFullStatus(d, 0)
	var ce *sgio.CommandError
	if !errors.As(err, &ce) || ce.Result.HostStatus != sgio.DIDTransportFailfast {
		t.Fatalf("err = %v", err)
	}
	if _, ok := scsipr.Sense(err); ok {
		t.Error("sense reported for a transport error")
	}
}

// Two nodes, two paths each, on the fake target: the fence_mpath sequence.
func TestFakeTargetFencing(t *testing.T) {
	var lu scsiprtest.Target
	a1, a2 := lu.Nexus("iqn.a", 1), lu.Nexus("iqn.a", 2)
	b1 := lu.Nexus("iqn.b", 1)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []*scsiprtest.Nexus{a1, a2} {
		must(scsipr.Out(n, scsipr.Register, 0, scsipr.OutParams{SAKey: 0xa}, 0))
	}
	must(scsipr.Out(b1, scsipr.RegisterIgnore, 0, scsipr.OutParams{SAKey: 0xb}, 0))
	must(scsipr.Out(a2, scsipr.Reserve, scsipr.WriteExclusiveRegistrantsOnly, scsipr.OutParams{Key: 0xa}, 0))
	if err := scsipr.Out(b1, scsipr.Reserve, scsipr.WriteExclusiveRegistrantsOnly, scsipr.OutParams{Key: 0xa}, 0); !errors.Is(err, scsipr.ErrReservationConflict) {
		t.Fatalf("reserve with a key b1 does not hold: %v", err)
	}
	k, err := scsipr.ReadKeys(b1, 0)
	if err != nil || !reflect.DeepEqual(k.Keys, []uint64{0xa, 0xa, 0xb}) || k.Generation != 3 {
		t.Fatalf("keys %+v, %v", k, err)
	}
	if !b1.CanWrite() {
		t.Error("registered b1 cannot write under type 5")
	}
	must(scsipr.Out(a1, scsipr.PreemptAbort, scsipr.WriteExclusiveRegistrantsOnly, scsipr.OutParams{Key: 0xa, SAKey: 0xb}, 0))
	if b1.CanWrite() || !a1.CanWrite() || !a2.CanWrite() {
		t.Error("after preempt-abort b1 writes or a cannot")
	}
	fs, err := scsipr.ReadFullStatus(a1, 0)
	if err != nil || len(fs.Registrants) != 2 || !fs.Registrants[1].Holder || fs.Registrants[1].RelTgtPortID != 2 {
		t.Fatalf("full status %+v, %v", fs, err)
	}
	// The preempted nexus gets a unit attention, which ReadKeys retries.
	if k, err := scsipr.ReadKeys(b1, 0); err != nil || !reflect.DeepEqual(k.Keys, []uint64{0xa, 0xa}) {
		t.Errorf("keys after preempt-abort %+v, %v", k, err)
	}
	r, err := scsipr.ReadReservation(b1, 0)
	if err != nil || !r.Held || r.Key != 0xa || r.Type != scsipr.WriteExclusiveRegistrantsOnly {
		t.Fatalf("reservation %+v, %v", r, err)
	}
}
