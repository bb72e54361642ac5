package checker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
)

// Vendor checker names, as in multipath.conf path_checker.
const (
	NameRDAC        = "rdac"
	NameEMCClariion = "emc_clariion"
	NameHPSW        = "hp_sw"
)

// readVPD reads a vendor VPD page for a checker, retrying UNIT ATTENTION and
// NOT READY. On failure it returns the path state the failure means: a
// device that rejects the page with ILLEGAL REQUEST is not the array this
// checker is for (Wild, so the caller falls back); any other failure is Down.
func readVPD(ctx context.Context, p *Path, page uint8) ([]byte, Result, bool) {
	if r, done := sysfsState(p); done {
		return nil, r, false
	}
	if p.SG == nil {
		return nil, result(Wild, "%s: no SG_IO device", p.Name), false
	}
	var b []byte
	err := retrySense(ctx, func() (err error) { b, err = sgio.InquiryVPD(p.SG, page, p.timeout(ctx)); return })
	if err == nil {
		return b, Result{}, true
	}
	var ce *sgio.CommandError
	if errors.As(err, &ce) {
		if s, serr := ce.Result.DecodeSense(); serr == nil && s.Key == sgio.IllegalRequest {
			return nil, result(Wild, "%s: %v (the device does not serve this vendor page)", p.Name, err), false
		}
		return nil, result(Down, "%s: %v", p.Name, err), false
	}
	return nil, errState(p, err), false
}

// RDAC reads the volume access control page (VPD 0xC9) of LSI/Engenio-class
// arrays (NetApp E-Series, IBM DS3000-5000, Dell MD3): the owning controller's
// paths are up, the other controller's are ghosts (passive), and a controller
// that is unavailable or booting is down. Before its first check of a path it
// sets the TAS bit of the control mode page, as multipath-tools does, so
// commands the array aborts end with TASK ABORTED rather than silently.
type RDAC struct {
	mu  sync.Mutex
	tas map[string]bool // path name → TAS done (set, already set, or refused)
}

// Name implements Checker.
func (*RDAC) Name() string { return NameRDAC }

// setTAS sets TAS once per path; the outcome goes into the first check's
// reason. A device that refuses is still checked.
func (c *RDAC) setTAS(ctx context.Context, p *Path) string {
	c.mu.Lock()
	done := c.tas[p.Name]
	if c.tas == nil {
		c.tas = map[string]bool{}
	}
	c.tas[p.Name] = true
	c.mu.Unlock()
	if done {
		return ""
	}
	sense, err := sgio.ModeSense10(p.SG, sgio.PageControl, p.timeout(ctx))
	if err != nil {
		return fmt.Sprintf(" (TAS not set: %v)", err)
	}
	sel, changed, err := sgio.SetControlTAS(sense)
	switch {
	case err != nil:
		return fmt.Sprintf(" (TAS not set: %v)", err)
	case !changed:
		return ""
	}
	if err := sgio.ModeSelect10(p.SG, sel, p.timeout(ctx)); err != nil {
		return fmt.Sprintf(" (TAS not set: %v)", err)
	}
	return " (TAS set in the control mode page)"
}

// rdacReasons are the vendor reason codes of an unavailable controller.
var rdacReasons = map[uint8]string{
	0x02: "controller not responding",
	0x03: "controller in reset",
	0x04: "controller firmware download",
	0x05: "controller firmware download",
	0x06: "controller quiesced",
	0x07: "controller in service mode",
}

// Check implements Checker.
func (c *RDAC) Check(ctx context.Context, p *Path) Result {
	b, r, ok := readVPD(ctx, p, sgio.VPDVolumeAccess)
	if !ok {
		return r
	}
	r = c.check(b, p)
	r.Reason += c.setTAS(ctx, p)
	return r
}

func (*RDAC) check(b []byte, p *Path) Result {
	va, err := sgio.ParseVolumeAccess(b)
	switch {
	case err != nil:
		return result(Down, "%s: rdac: %v", p.Name, err)
	case va.PeripheralQualifier == 1 || va.DeviceType == 0x1f:
		return result(Down, "%s: rdac: LUN not connected (peripheral qualifier %d, type 0x%02x)", p.Name, va.PeripheralQualifier, va.DeviceType)
	case va.State == sgio.AASTransitioning && va.AltState != sgio.AASTransitioning:
		return result(Down, "%s: rdac: controller in transition (booting) while the other is not", p.Name)
	case va.State == sgio.AASUnavailable, va.State == sgio.AASOffline:
		why := rdacReasons[va.Reason]
		if why == "" {
			why = fmt.Sprintf("reason 0x%02x", va.Reason)
		}
		return result(Down, "%s: rdac: controller %s: %s", p.Name, va.State, why)
	case va.Owner:
		return result(Up, "%s: rdac: owning controller", p.Name)
	case va.IOShipping:
		return result(Up, "%s: rdac: I/O shipping to the owning controller", p.Name)
	}
	return result(Ghost, "%s: rdac: passive controller (volume owned by the other)", p.Name)
}

// EMCClariion reads the unit path report page (VPD 0xC0) of DGC arrays
// (CLARiiON, VNX, Unity). A path to the owning storage processor also reads
// block 0, which fails with 05/25/01 on an inactive snapshot; that verdict is
// kept per LUN, so the passive paths to the same snapshot fail too.
type EMCClariion struct {
	mu  sync.Mutex
	wwn map[string][16]byte // path name → the LUN WWN it first reported
}

// Name implements Checker.
func (*EMCClariion) Name() string { return NameEMCClariion }

// inactiveSnapshots holds the LUN WWNs whose owning path found an inactive
// snapshot. It is shared by every path of every map, as a LUN WWN is.
var inactiveSnapshots sync.Map // [16]byte → struct{}

// Check implements Checker.
func (c *EMCClariion) Check(ctx context.Context, p *Path) Result {
	b, r, ok := readVPD(ctx, p, sgio.VPDUnitPathReport)
	if !ok {
		return r
	}
	u, err := sgio.ParseUnitPathReport(b)
	switch {
	case err != nil:
		return result(Down, "%s: emc_clariion: %v", p.Name, err)
	case u.Format != 0:
		return result(Down, "%s: emc_clariion: unit path report page in unknown format %d", p.Name, u.Format)
	case !u.FailoverReady():
		return result(Down, "%s: emc_clariion: path not configured for failover (initiator type %d, failover mode %d, arraycommpath %v)",
			p.Name, u.InitiatorType, u.FailoverMode, u.ArrayCommPath)
	case u.LUNOperations != 0:
		// multipath-tools' "shaky": usable for priorities only, never for I/O.
		return result(Down, "%s: emc_clariion: LUN not available for normal operations (operations byte 0x%02x)", p.Name, u.LUNOperations)
	case u.LUNState == sgio.LUNUnbound:
		return result(Down, "%s: emc_clariion: LUN unbound", p.Name)
	}
	if old, changed := c.remember(p.Name, u.WWN); changed {
		return result(Down, "%s: emc_clariion: LUN WWN changed from %x to %x", p.Name, old, u.WWN)
	}
	if u.LUNState != sgio.LUNOwned {
		if _, inactive := inactiveSnapshots.Load(u.WWN); inactive {
			return result(Down, "%s: emc_clariion: passive path to inactive snapshot %x", p.Name, u.WWN)
		}
		return result(Up, "%s: emc_clariion: passive path healthy", p.Name)
	}
	buf := make([]byte, p.blockSize())
	var v Verdict
	for range readSector0Attempts {
		res, err := sgio.Read10(p.SG, 0, buf, p.timeout(ctx))
		if err != nil {
			return errState(p, err)
		}
		if v = Classify(res); !v.Retry {
			s, _ := res.DecodeSense()
			if s.Is(sgio.IllegalRequest, 0x25, 0x01) {
				inactiveSnapshots.Store(u.WWN, struct{}{})
				return result(Down, "%s: emc_clariion: active path to inactive snapshot %x", p.Name, u.WWN)
			}
			break
		}
	}
	if v.State != Up {
		return result(Down, "%s: emc_clariion: read on the active path: %s", p.Name, v.Reason)
	}
	inactiveSnapshots.Delete(u.WWN)
	return result(Up, "%s: emc_clariion: active path healthy", p.Name)
}

// remember stores the first WWN a path reports and tells whether a later one
// differs: the path then leads to another LUN and must not carry this map's I/O.
func (c *EMCClariion) remember(name string, wwn [16]byte) ([16]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wwn == nil {
		c.wwn = map[string][16]byte{}
	}
	old, ok := c.wwn[name]
	if !ok {
		c.wwn[name] = wwn
		return wwn, false
	}
	return old, old != wwn
}

// HPSW checks HP active/passive arrays (MSA1000, HSG80, EVA in
// active/passive mode): the unit serial number page must answer, then a
// passive path fails TEST UNIT READY, which makes it a ghost.
type HPSW struct{}

// Name implements Checker.
func (HPSW) Name() string { return NameHPSW }

// Check implements Checker.
func (HPSW) Check(ctx context.Context, p *Path) Result {
	if _, r, ok := readVPD(ctx, p, sgio.VPDUnitSerial); !ok {
		return r
	}
	r := scsiCheck(ctx, p, "TEST UNIT READY", MaxAttempts, func() (sgio.Result, error) {
		return sgio.TestUnitReady(p.SG, p.timeout(ctx))
	})
	switch r.State {
	case Up, Timeout, Wild:
		return r
	}
	return result(Ghost, "%s (passive path)", r.Reason)
}
