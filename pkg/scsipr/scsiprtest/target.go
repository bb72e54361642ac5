// Package scsiprtest is a fake logical unit that keeps SCSI-3 persistent
// reservation state across several I_T nexuses, each an sgio.Device, for
// tests of code that registers, reserves and preempts down several paths.
// It follows SPC-4 §5.13 for the cases multipath code meets; it is not a
// complete device server.
package scsiprtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/scsipr"
)

// ErrPathDown is returned by SGIO of a nexus whose Down is set, as the
// ioctl fails on a path whose transport is gone.
var ErrPathDown = errors.New("scsiprtest: path down")

// Target is one logical unit.
type Target struct {
	mu         sync.Mutex
	generation uint32
	holder     *Nexus // nil: no reservation
	resType    scsipr.Type
	nexuses    []*Nexus // in the order they were added, which is the order PR IN lists registrations in
	log        []string
}

// Nexus is one I_T nexus (initiator port, target port) to the Target. It
// implements sgio.Device.
type Nexus struct {
	t         *Target
	Initiator string // iSCSI initiator name, the TransportID
	Port      uint16 // relative target port identifier

	key     uint64
	allTgPt bool
	ua      int // pending unit attentions

	// Down makes every command fail to be delivered.
	Down bool
}

// Nexus adds an I_T nexus for initiator through relative target port port.
func (t *Target) Nexus(initiator string, port uint16) *Nexus {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &Nexus{t: t, Initiator: initiator, Port: port}
	t.nexuses = append(t.nexuses, n)
	return n
}

// UnitAttention makes the next k commands on n end with UNIT ATTENTION.
func (n *Nexus) UnitAttention(k int) {
	n.t.mu.Lock()
	n.ua = k
	n.t.mu.Unlock()
}

// Key returns n's registered key (0: not registered).
func (n *Nexus) Key() uint64 {
	n.t.mu.Lock()
	defer n.t.mu.Unlock()
	return n.key
}

// CanWrite reports whether a WRITE through n would succeed under the
// current reservation (false: RESERVATION CONFLICT).
func (n *Nexus) CanWrite() bool {
	n.t.mu.Lock()
	defer n.t.mu.Unlock()
	t := n.t
	switch {
	case t.holder == nil:
		return true
	case t.resType == scsipr.WriteExclusive || t.resType == scsipr.ExclusiveAccess:
		return t.holder == n
	default:
		return n.key != 0
	}
}

// Log returns the PR OUT commands the target completed, as
// "INITIATOR/PORT SERVICE-ACTION key=K sakey=S" lines, and those it
// refused, with " -> conflict" or " -> illegal".
func (t *Target) Log() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.log)
}

// Generation returns the PRgeneration.
func (t *Target) Generation() uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.generation
}

func (n *Nexus) String() string { return fmt.Sprintf("%s/%d", n.Initiator, n.Port) }

// SGIO implements sgio.Device for PERSISTENT RESERVE IN and OUT.
func (n *Nexus) SGIO(cdb []byte, _ sgio.Direction, buf []byte, _ time.Duration) (sgio.Result, error) {
	t := n.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if n.Down {
		return sgio.Result{}, ErrPathDown
	}
	if n.ua > 0 {
		n.ua--
		return check(sgio.UnitAttention, 0x2a, 0x03), nil // reservations preempted
	}
	switch cdb[0] {
	case scsipr.OpPersistentReserveIn:
		data := t.in(scsipr.InAction(cdb[1] & 0x1f))
		if data == nil {
			return check(sgio.IllegalRequest, 0x24, 0), nil
		}
		alloc := int(cdb[7])<<8 | int(cdb[8])
		c := copy(buf[:min(alloc, len(buf))], data)
		return sgio.Result{Resid: int32(len(buf) - c)}, nil
	case scsipr.OpPersistentReserveOut:
		sa := scsipr.ServiceAction(cdb[1] & 0x1f)
		p, err := scsipr.ParseOut(sa, buf)
		if err != nil {
			return check(sgio.IllegalRequest, 0x26, 0), nil
		}
		r := t.out(n, sa, scsipr.Type(cdb[2]&0x0f), p)
		entry := fmt.Sprintf("%s %s key=%#x sakey=%#x", n, sa, p.Key, p.SAKey)
		switch {
		case r.Status == sgio.StatusReservationConflict:
			entry += " -> conflict"
		case !r.OK():
			entry += " -> illegal"
		}
		t.log = append(t.log, entry)
		return r, nil
	}
	return check(sgio.IllegalRequest, 0x20, 0), nil
}

func check(k sgio.SenseKey, asc, ascq uint8) sgio.Result {
	s := make([]byte, 18)
	s[0], s[2], s[7], s[12], s[13] = 0x70, byte(k), 10, asc, ascq
	return sgio.Result{Status: sgio.StatusCheckCondition, DriverStatus: 0x08, Sense: s}
}

var conflict = sgio.Result{Status: sgio.StatusReservationConflict}

func (t *Target) in(sa scsipr.InAction) []byte {
	switch sa {
	case scsipr.InReadKeys:
		k := scsipr.Keys{Generation: t.generation, Keys: []uint64{}}
		for _, r := range t.registered() {
			k.Keys = append(k.Keys, r.key)
		}
		return k.Marshal()
	case scsipr.InReadReservation:
		r := scsipr.Reservation{Generation: t.generation}
		if t.holder != nil {
			r.Held, r.Type = true, t.resType
			if !t.resType.AllRegistrants() {
				r.Key = t.holder.key
			}
		}
		return r.Marshal()
	case scsipr.InReportCapabilities:
		return scsipr.Capabilities{Length: 8, CRH: true, SIPC: true, ATPC: true, PTPLC: true, TMV: true,
			AllowCommands: 1, TypeMask: 0xea01}.Marshal()
	case scsipr.InReadFullStatus:
		fs := scsipr.FullStatus{Generation: t.generation}
		for _, r := range t.registered() {
			holder := r == t.holder || (t.holder != nil && t.resType.AllRegistrants())
			reg := scsipr.Registrant{Key: r.key, AllTgPt: r.allTgPt, Holder: holder,
				RelTgtPortID: r.Port, TransportID: scsipr.ISCSITransportID(r.Initiator)}
			if holder {
				reg.Type = t.resType
			}
			fs.Registrants = append(fs.Registrants, reg)
		}
		return fs.Marshal()
	}
	return nil
}

func (t *Target) registered() []*Nexus {
	var rs []*Nexus
	for _, n := range t.nexuses {
		if n.key != 0 {
			rs = append(rs, n)
		}
	}
	return rs
}

func (t *Target) unregister(n *Nexus) {
	n.key, n.allTgPt = 0, false
	if t.holder == n && !t.resType.AllRegistrants() || len(t.registered()) == 0 {
		t.holder = nil
	}
}

func (t *Target) out(n *Nexus, sa scsipr.ServiceAction, typ scsipr.Type, p scsipr.OutParams) sgio.Result {
	switch sa {
	case scsipr.Register, scsipr.RegisterIgnore:
		if sa == scsipr.Register && n.key != p.Key {
			return conflict
		}
		switch {
		case p.SAKey == 0 && n.key != 0:
			t.unregister(n)
		case p.SAKey == 0:
		case n.key == 0:
			n.key, n.allTgPt = p.SAKey, p.AllTgPt
		default:
			n.key = p.SAKey
		}
		t.generation++
		return sgio.Result{}
	}
	if n.key == 0 || n.key != p.Key {
		return conflict
	}
	switch sa {
	case scsipr.Reserve:
		if t.holder == nil {
			t.holder, t.resType = n, typ
			return sgio.Result{}
		}
		if (t.holder == n || t.resType.AllRegistrants()) && t.resType == typ {
			return sgio.Result{}
		}
		return conflict
	case scsipr.Release:
		if t.holder == nil || (t.holder != n && !t.resType.AllRegistrants()) {
			return sgio.Result{}
		}
		if t.resType != typ {
			return check(sgio.IllegalRequest, 0x26, 0x04)
		}
		t.holder = nil
		return sgio.Result{}
	case scsipr.Clear:
		for _, r := range t.registered() {
			t.unregister(r)
		}
		t.holder = nil
		t.generation++
		return sgio.Result{}
	case scsipr.Preempt, scsipr.PreemptAbort:
		if p.SAKey == 0 {
			return check(sgio.IllegalRequest, 0x26, 0)
		}
		var victims []*Nexus
		for _, r := range t.registered() {
			if r.key == p.SAKey && r != n {
				victims = append(victims, r)
			}
		}
		heldBy := t.holder != nil && !t.resType.AllRegistrants() && t.holder.key == p.SAKey
		if len(victims) == 0 && !heldBy {
			return conflict
		}
		for _, v := range victims {
			t.unregister(v)
			v.ua = 1
		}
		if heldBy {
			t.holder, t.resType = n, typ
		}
		t.generation++
		return sgio.Result{}
	}
	return check(sgio.IllegalRequest, 0x24, 0)
}
