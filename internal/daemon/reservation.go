package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/prkeys"
	"github.com/mpathd/mpathd/pkg/scsipr"
)

// SCSI-3 persistent reservations (multipath-tools' §1.17 behaviour). A reservation is held per
// I_T nexus, so every path of a map must carry the map's key: a path that comes up, is added or is
// reinstated while the map's reservation is active is registered (REGISTER, and REGISTER AND
// IGNORE EXISTING KEY when the nexus holds another registration) before the kernel may send I/O
// down it. Whether the reservation is active is read from the device (READ KEYS through the path
// being registered), never only remembered: a key another node preempted is not put back.
//
// The registration is REGISTER AND IGNORE EXISTING KEY, as multipathd's: it registers the nexus
// whether it holds no key, this key or an older one. A plain REGISTER first would end with
// RESERVATION CONFLICT on every nexus that kept its registration (a path back from a link loss),
// which the kernel logs as "reservation conflict" and monitoring counts as fencing.

// PRDevices opens a path's device for persistent reservation commands.
type PRDevices interface {
	Open(dev string) (PRDevice, error)
}

// PRDevice is one path's device node, open for SG_IO.
type PRDevice interface {
	sgio.Device
	Close() error
}

// prFlag is one of multipathd's three-valued reservation flags (prflag, prhold).
type prFlag uint8

const (
	prUnknown prFlag = iota
	prUnset
	prSet
)

func (f prFlag) String() string {
	switch f {
	case prUnset:
		return "unset"
	case prSet:
		return "set"
	}
	return "unknown"
}

// prState is a map's reservation state. flag says whether the map's key is registered on the
// device ("prstatus"): unknown until a path's READ KEYS answers, set by mpathpersist after it
// registers, unset when the key was found missing or mpathpersist unregistered. While it is unset
// the daemon registers nothing, as multipathd: a key another node removed stays removed.
type prState struct {
	key  prkeys.Key // the map's key; 0: none
	src  config.PRKeySource
	flag prFlag
	hold prFlag // whether this host holds the reservation ("prhold")
	// regKey is the key last known registered on the device; when mpathpersist changes the key, the
	// old key's registrations on paths it could not reach are preempted (see prKeyChanged).
	regKey uint64
}

// prTimeout bounds each PR command when the path has no checker timeout.
const prTimeout = 30 * time.Second

// prSlots bounds the registrations in flight at once, each a goroutine in an SG_IO ioctl.
const prSlots = 32

// prWanted reports whether a path of m coming up must be registered first.
func (d *Daemon) prWanted(m *mpath) bool {
	return d.o.PR != nil && m.pr.key.Key != 0 && m.pr.flag != prUnset
}

// prKeysFile is the prkeys file in force.
func (d *Daemon) prKeysFile() *prkeys.File {
	if d.o.PRKeys != nil {
		return d.o.PRKeys
	}
	return prkeys.New(d.cfg().Global().PRKeysFile)
}

// prLoad sets m's key from its settings: the configured key, or the prkeys file's line for its
// WWID when reservation_key is "file" (read again at every start and reconfigure, so keys set
// with mpathpersist survive a restart).
func (s *shard) prLoad(m *mpath) {
	d := s.d
	rk := m.res.ReservationKey
	var k prkeys.Key
	switch rk.Source {
	case config.PRKeyConfig:
		k = prkeys.Key{Key: rk.Key, APTPL: rk.APTPL}
	case config.PRKeyFile:
		f := d.prKeysFile()
		got, _, warn, err := f.Get(m.wwid)
		if err != nil {
			d.log.Warn().Err(err).Str("map", m.name).Msg("cannot read the prkeys file: no reservation key")
		} else if warn != nil {
			d.log.Warn().Err(warn).Msg("prkeys file has bad lines (skipped)")
		}
		k = got
	}
	if k != m.pr.key || rk.Source != m.pr.src {
		m.dirty = true
	}
	m.pr.key, m.pr.src = k, rk.Source
	if k.Key == 0 {
		m.pr.flag, m.pr.hold = prUnset, prUnset
	}
}

// prResult is what one registration job found.
type prResult struct {
	readErr error // READ KEYS failed: the device's state is not known
	// unsupported: READ KEYS was refused with ILLEGAL REQUEST: the device has no persistent
	// reservations, and multipathd stops asking (prstatus unset).
	unsupported bool
	found       bool  // the map's key is registered on the logical unit
	regErr      error // registering this path failed
	hold        prFlag
}

// prRegister reads the keys through dev and, when the key is registered on the logical unit,
// registers dev's I_T nexus with it (REGISTER AND IGNORE EXISTING KEY). It runs off the shard,
// bounded by timeout per command.
func prRegister(devs PRDevices, dev string, k prkeys.Key, allTgPt bool, timeout time.Duration) (r prResult) {
	dv, err := devs.Open(dev)
	if err != nil {
		r.readErr = err
		return r
	}
	defer dv.Close()
	keys, err := scsipr.ReadKeys(dv, timeout)
	if err != nil {
		r.readErr = fmt.Errorf("READ KEYS: %w", err)
		if sense, ok := scsipr.Sense(err); ok && sense.Key == sgio.IllegalRequest {
			r.unsupported = true
		}
		return r
	}
	r.found = slices.Contains(keys.Keys, k.Key)
	if !r.found {
		return r
	}
	p := scsipr.OutParams{SAKey: k.Key, APTPL: k.APTPL, AllTgPt: allTgPt}
	if err := scsipr.Out(dv, scsipr.RegisterIgnore, 0, p, timeout); err != nil {
		r.regErr = fmt.Errorf("REGISTER AND IGNORE EXISTING KEY: %w", err)
		return r
	}
	if res, err := scsipr.ReadReservation(dv, timeout); err == nil {
		r.hold = holdOf(res, k.Key)
	}
	return r
}

// holdOf says whether key holds the reservation res describes: an all-registrants reservation is
// held by every registrant (its key reads as 0), any other by the key that reserved.
func holdOf(res scsipr.Reservation, key uint64) prFlag {
	if res.Held && (res.Key == key || res.Type.AllRegistrants()) {
		return prSet
	}
	return prUnset
}

// prGate holds back a check result that would put a path in use until the path is registered: it
// reports true when it took the result (a registration is in flight). The result is applied when
// the registration is done (prRegistered).
func (s *shard) prGate(m *mpath, p *path, r CheckResult) bool {
	d := s.d
	if p.prBusy {
		p.prStash = r // the newest verdict is the one to apply afterwards
		return true
	}
	if !r.State.Usable() {
		return false
	}
	if p.prDone || !d.prWanted(m) {
		return false
	}
	p.prBusy, p.prStash = true, r
	s.prStart(m, p, true)
	return true
}

// prStart runs a registration job for p off the shard. gate says whether p's held check result is
// applied when it is done.
func (s *shard) prStart(m *mpath, p *path, gate bool) {
	d := s.d
	wwid, dev, gen := m.wwid, p.info.Name, p.gen
	key, allTgPt := m.pr.key, m.res.AllTgPt
	timeout := p.spec.Timeout
	if timeout <= 0 {
		timeout = prTimeout
	}
	devs := d.o.PR
	d.prJobs.Add(1)
	go func() {
		defer d.prJobs.Add(-1)
		d.prSem <- struct{}{}
		res := prRegister(devs, dev, key, allTgPt, timeout)
		<-d.prSem
		s.post(func() { s.prRegistered(wwid, dev, gen, key.Key, gate, res) })
	}()
}

// prRegistered takes a registration job's result on the shard and lets the held check result
// through. A registration that failed is logged with the path, and the path is used anyway, as
// multipath-tools does: keeping it out could leave the map without a path, and a path without the
// key still reads (only writes meet RESERVATION CONFLICT under a registrants-only reservation).
func (s *shard) prRegistered(wwid, dev string, gen, key uint64, gate bool, res prResult) {
	d := s.d
	m := s.maps[wwid]
	if m == nil {
		return
	}
	p := m.path(dev)
	if p == nil || p.gen != gen {
		return
	}
	log := d.log.With().Str("map", m.name).Str("path", dev).Logger()
	switch {
	case key != m.pr.key.Key:
		// The key changed meanwhile (setprkey): the next check registers the new one.
	case res.readErr != nil:
		log.Warn().Err(res.readErr).Msg("persistent reservation: cannot read the registered keys; path not registered")
		if res.unsupported {
			s.prSetFlag(m, prUnset, "the device refuses PERSISTENT RESERVE IN")
		}
	case !res.found:
		s.prSetFlag(m, prUnset, "key "+m.pr.key.String()+" not registered on the device: registering no path")
	default:
		s.prSetFlag(m, prSet, "key "+m.pr.key.String()+" registered on the device: registering every path that comes up")
		m.pr.regKey = key
		if res.hold != prUnknown {
			m.pr.hold = res.hold
		}
		if res.regErr != nil {
			log.Error().Err(res.regErr).Str("key", m.pr.key.String()).
				Msg("persistent reservation: registering the key on the path failed; the path is used anyway, as multipath-tools does")
			s.emit(api.Event{Type: api.EventReservation, Map: m.name, Path: dev, Reason: "registration failed: " + res.regErr.Error()})
		} else {
			log.Info().Str("key", m.pr.key.String()).Msg("persistent reservation: key registered on the path")
		}
	}
	if !gate {
		return
	}
	p.prBusy, p.prDone = false, true
	r := p.prStash
	p.prStash = CheckResult{}
	s.applyCheck(m, p, r)
}

// prSetFlag changes the map's prstatus, telling why.
func (s *shard) prSetFlag(m *mpath, f prFlag, why string) {
	if m.pr.flag == f {
		return
	}
	old := m.pr.flag
	m.pr.flag, m.dirty = f, true
	s.d.log.Info().Str("map", m.name).Str("status", f.String()).Msg("persistent reservation: " + why)
	s.emit(api.Event{Type: api.EventReservation, Map: m.name, Old: old.String(), New: f.String(), Reason: why})
}

// prLeft forgets p's registration for this period of use: it left use (down, or failed by the
// kernel), so it is registered again before it returns, as multipathd does on every path up.
func (p *path) prLeft() { p.prDone = false }

// prInfo is the map's persistent reservation state, as multipathd's getprstatus, getprkey and
// getprhold answer it.
func (m *mpath) prInfo() api.Reservation {
	r := api.Reservation{Map: m.name, Status: m.pr.flag.String(), Hold: m.pr.hold.String(), KeySource: string(m.pr.src)}
	if m.pr.key.Key != 0 {
		r.Key = m.pr.key.String()
	}
	return r
}

// Reservation answers getprstatus, getprkey and getprhold for a map, from its snapshot.
func (d *Daemon) Reservation(mapName string) (api.Reservation, error) {
	m, ok := d.Topology().Find(strings.TrimPrefix(mapName, "/dev/"))
	if !ok {
		return api.Reservation{}, api.Errorf(api.CodeNotFound, "no map %q", mapName)
	}
	if m.Reservation != nil {
		return *m.Reservation, nil
	}
	return api.NoReservation(m.Name), nil
}

// SetPRStatus is multipathd's setprstatus / unsetprstatus: mpathpersist tells the daemon it
// registered the map's key (so paths that come up later get it) or unregistered it. On set, when
// the key differs from the one last registered and this host held the reservation with the old
// key, the old key's registrations on paths mpathpersist could not reach (down or gone) are
// preempted, moving the reservation to the new key, as multipath-tools 0.13's mpathpersist does.
func (d *Daemon) SetPRStatus(ctx context.Context, mapName string, set bool) error {
	return d.onMap(ctx, mapName, func(s *shard, m *mpath) error {
		if !set {
			s.prSetFlag(m, prUnset, "unsetprstatus: the key is no longer registered")
			m.pr.hold = prUnset
			return nil
		}
		if m.pr.key.Key == 0 {
			return api.Errorf(api.CodeInvalid, "map %s has no reservation key", m.name)
		}
		s.prSetFlag(m, prSet, "setprstatus: key "+m.pr.key.String()+" registered")
		old := m.pr.regKey
		m.pr.regKey = m.pr.key.Key
		if old != 0 && old != m.pr.key.Key && m.pr.hold != prUnset {
			s.prPreemptOld(m, old)
		}
		return nil
	})
}

// prPreemptOld moves a reservation held by the map's old key to its new key through a usable path
// (PREEMPT with the new key, the old one as service action key), which also drops the old key's
// registrations left on paths that were down or gone when the key changed. It runs off the shard.
func (s *shard) prPreemptOld(m *mpath, old uint64) {
	d := s.d
	var dev string
	var timeout time.Duration
	for _, p := range m.paths {
		if m.inUse(p, d.now()) {
			dev, timeout = p.info.Name, p.spec.Timeout
			break
		}
	}
	if dev == "" || d.o.PR == nil {
		d.log.Warn().Str("map", m.name).Msg("persistent reservation: no usable path to preempt the old key's registrations")
		return
	}
	if timeout <= 0 {
		timeout = prTimeout
	}
	name, key, devs := m.name, m.pr.key.Key, d.o.PR
	d.prJobs.Add(1)
	go func() {
		defer d.prJobs.Add(-1)
		d.prSem <- struct{}{}
		defer func() { <-d.prSem }()
		err := prPreempt(devs, dev, key, old, timeout)
		log := d.log.With().Str("map", name).Str("path", dev).Logger()
		if err != nil {
			log.Error().Err(err).Msg("persistent reservation: preempting the old key failed")
			return
		}
		log.Info().Str("old", fmt.Sprintf("0x%x", old)).Str("new", fmt.Sprintf("0x%x", key)).
			Msg("persistent reservation: the old key's reservation and registrations preempted")
	}()
}

// prPreempt preempts the reservation old holds, keeping its type and scope, when old still holds
// it; a reservation of another key (another node's) is left alone.
func prPreempt(devs PRDevices, dev string, key, old uint64, timeout time.Duration) error {
	dv, err := devs.Open(dev)
	if err != nil {
		return err
	}
	defer dv.Close()
	res, err := scsipr.ReadReservation(dv, timeout)
	if err != nil {
		return fmt.Errorf("READ RESERVATION: %w", err)
	}
	if !res.Held || res.Key != old {
		return nil
	}
	if err := scsipr.Out(dv, scsipr.Preempt, res.Type, scsipr.OutParams{Key: key, SAKey: old}, timeout); err != nil {
		return fmt.Errorf("PREEMPT: %w", err)
	}
	return nil
}

// SetPRKey is multipathd's setprkey / unsetprkey (k.Key 0): it records the map's key in the prkeys
// file. As in multipath-tools, only a map whose reservation_key is "file" takes a key this way.
func (d *Daemon) SetPRKey(ctx context.Context, mapName, key string) error {
	var k prkeys.Key
	if key != "" {
		var err error
		if k, err = prkeys.ParseKeyFlags(key); err != nil {
			return api.Errorf(api.CodeInvalid, "%v", err)
		}
	}
	return d.onMap(ctx, mapName, func(s *shard, m *mpath) error {
		if m.res.ReservationKey.Source != config.PRKeyFile {
			return api.Errorf(api.CodeInvalid, "map %s: reservation_key is not \"file\" in the configuration", m.name)
		}
		if err := d.prKeysFile().Set(m.wwid, k); err != nil {
			return api.Errorf(api.CodeInternal, "map %s: %v", m.name, err)
		}
		s.prLoad(m)
		d.log.Info().Str("map", m.name).Str("key", k.String()).Msg("persistent reservation: key recorded in the prkeys file")
		return nil
	})
}

// SetPRHold is multipathd's setprhold / unsetprhold: mpathpersist tells the daemon this host now
// holds (RESERVE, PREEMPT of the holder) or no longer holds (RELEASE) the reservation.
func (d *Daemon) SetPRHold(ctx context.Context, mapName string, set bool) error {
	return d.onMap(ctx, mapName, func(s *shard, m *mpath) error {
		h := prUnset
		if set {
			h = prSet
		}
		m.pr.hold, m.dirty = h, true
		return nil
	})
}
