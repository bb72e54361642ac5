package checker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
)

// Vendor prioritizer names, as in multipath.conf prio.
const (
	PrioNameRDAC        = "rdac"
	PrioNameEMC         = "emc"
	PrioNameHPSW        = "hp_sw"
	PrioNameHDS         = "hds"
	PrioNameONTAP       = "ontap"
	PrioNameDataCore    = "datacore"
	PrioNameIET         = "iet"
	PrioNamePathLatency = "path_latency"
)

// vpd reads a vendor VPD page for a prioritizer.
func vpd(ctx context.Context, p *Path, prio string, page uint8) ([]byte, error) {
	if p.SG == nil {
		return nil, errf(p, "%s prio: no SG_IO device", prio)
	}
	var b []byte
	if err := retrySense(ctx, func() (err error) { b, err = sgio.InquiryVPD(p.SG, page, p.timeout(ctx)); return }); err != nil {
		return nil, errf(p, "%s prio: %w", prio, err)
	}
	return b, nil
}

// inquiry reads n bytes of standard INQUIRY data for a prioritizer.
func inquiry(ctx context.Context, p *Path, prio string, n int, timeout time.Duration) ([]byte, error) {
	if p.SG == nil {
		return nil, errf(p, "%s prio: no SG_IO device", prio)
	}
	if timeout == 0 {
		timeout = p.timeout(ctx)
	}
	var b []byte
	if err := retrySense(ctx, func() (err error) { b, err = sgio.InquiryData(p.SG, n, timeout); return }); err != nil {
		return nil, errf(p, "%s prio: %w", prio, err)
	}
	return b, nil
}

// RDACPrio rates a path of an RDAC array from VPD 0xC9 as a bit field:
// I/O shipping 8, preferred path 4, owning controller 2, secondary path 1.
type RDACPrio struct{}

// Name implements Prioritizer.
func (RDACPrio) Name() string { return PrioNameRDAC }

// Prio implements Prioritizer.
func (RDACPrio) Prio(ctx context.Context, p *Path) (int, error) {
	b, err := vpd(ctx, p, PrioNameRDAC, sgio.VPDVolumeAccess)
	if err != nil {
		return PrioUndefined, err
	}
	va, err := sgio.ParseVolumeAccess(b)
	if err != nil {
		return PrioUndefined, errf(p, "rdac prio: %w", err)
	}
	prio := 0
	if va.IOShipping {
		prio |= 0x08
	}
	switch va.PathPriority {
	case sgio.RDACPreferred:
		prio |= 0x04
	case sgio.RDACSecondary:
		prio |= 0x01
	}
	if va.Owner {
		prio |= 0x02
	}
	return prio, nil
}

// EMCPrio rates a path of a DGC array from VPD 0xC0: the LUN state (0
// unbound, 1 bound, 2 owned by this path's SP), plus 2 when this path reaches
// the LUN's default owner.
type EMCPrio struct{}

// Name implements Prioritizer.
func (EMCPrio) Name() string { return PrioNameEMC }

// Prio implements Prioritizer.
func (EMCPrio) Prio(ctx context.Context, p *Path) (int, error) {
	b, err := vpd(ctx, p, PrioNameEMC, sgio.VPDUnitPathReport)
	if err != nil {
		return PrioUndefined, err
	}
	u, err := sgio.ParseUnitPathReport(b)
	switch {
	case err != nil:
		return PrioUndefined, errf(p, "emc prio: %w", err)
	case u.Format != 0:
		return PrioUndefined, errf(p, "emc prio: unit path report page in unknown format %d", u.Format)
	case !u.FailoverReady():
		return PrioUndefined, errf(p, "emc prio: path not configured for failover (initiator type %d, failover mode %d, arraycommpath %v)",
			u.InitiatorType, u.FailoverMode, u.ArrayCommPath)
	case u.LUNOperations != 0:
		return 0, nil // not in normal operation: the lowest priority
	}
	prio := int(u.LUNState)
	if u.DefaultSP == u.PathSP {
		prio += 2
	}
	return prio, nil
}

// HP active/passive priorities.
const (
	HPSWActive  = 4
	HPSWStandby = 2
	HPSWFailed  = 0
)

// HPSWPrio rates a path of an HP active/passive array by TEST UNIT READY:
// 4 active, 2 standby (NOT READY 04/02), 0 anything else. A reset (UNIT
// ATTENTION 29/xx) is retried.
type HPSWPrio struct{}

// Name implements Prioritizer.
func (HPSWPrio) Name() string { return PrioNameHPSW }

// Prio implements Prioritizer.
func (HPSWPrio) Prio(ctx context.Context, p *Path) (int, error) {
	if p.SG == nil {
		return PrioUndefined, errf(p, "hp_sw prio: no SG_IO device")
	}
	for range MaxAttempts {
		if err := ctx.Err(); err != nil {
			return PrioUndefined, errf(p, "hp_sw prio: %w", err)
		}
		r, err := sgio.TestUnitReady(p.SG, p.timeout(ctx))
		if err != nil {
			return PrioUndefined, errf(p, "hp_sw prio: %w", err)
		}
		if r.OK() {
			return HPSWActive, nil
		}
		s, err := r.DecodeSense()
		switch {
		case err != nil:
			return HPSWFailed, nil
		case s.Is(sgio.NotReady, 0x04, 0x02):
			return HPSWStandby, nil
		case s.Key == sgio.UnitAttention && s.ASCValid && s.ASC == 0x29:
			continue
		}
		return HPSWFailed, nil
	}
	return HPSWFailed, nil
}

// HDSPrio rates a path of a Hitachi DF (AMS/WMS) array: 1 when the
// controller it reaches owns the LDEV (their numbers' parities agree), else 0.
type HDSPrio struct{}

// Name implements Prioritizer.
func (HDSPrio) Name() string { return PrioNameHDS }

// Prio implements Prioritizer.
func (HDSPrio) Prio(ctx context.Context, p *Path) (int, error) {
	b, err := inquiry(ctx, p, PrioNameHDS, 96, 0)
	if err != nil {
		return PrioUndefined, err
	}
	h, err := sgio.ParseHDSInquiry(b)
	if err != nil {
		return PrioUndefined, errf(p, "hds prio: %w", err)
	}
	if h.Owner() {
		return 1, nil
	}
	return 0, nil
}

// ONTAP priorities.
const (
	ONTAPFCPDirect     = 4
	ONTAPISCSIHBA      = 3
	ONTAPISCSISoftware = 2
	ONTAPFCPProxy      = 1
)

// ONTAPPrio rates a path of a NetApp ONTAP LUN: iSCSI through an HBA 3,
// through the software initiator 2; FCP direct 4, through the partner
// controller (proxy) 1. It asks NetApp's GVA command for the iSCSI stack,
// then VPD 0xC1 for the proxy bit.
type ONTAPPrio struct{}

// Name implements Prioritizer.
func (ONTAPPrio) Name() string { return PrioNameONTAP }

// Prio implements Prioritizer.
func (ONTAPPrio) Prio(ctx context.Context, p *Path) (int, error) {
	if p.SG == nil {
		return PrioUndefined, errf(p, "ontap prio: no SG_IO device")
	}
	var raw []byte
	if err := retrySense(ctx, func() (err error) { raw, err = sgio.GVA(p.SG, sgio.GVAISCSIPage, p.timeout(ctx)); return }); err != nil {
		return PrioUndefined, errf(p, "ontap prio: %w", err)
	}
	// An unreadable page says nothing about iSCSI: the path is rated as FCP.
	switch stack, _ := sgio.ParseGVAISCSI(raw); stack {
	case sgio.ISCSIHBA:
		return ONTAPISCSIHBA, nil
	case sgio.ISCSISoftware:
		return ONTAPISCSISoftware, nil
	}
	b, err := vpd(ctx, p, PrioNameONTAP, sgio.VPDONTAPProxy)
	if err != nil {
		return ONTAPFCPDirect, nil // no proxy information: rated as direct, as multipath-tools does
	}
	if proxy, err := sgio.ONTAPProxy(b); err == nil && proxy {
		return ONTAPFCPProxy, nil
	}
	return ONTAPFCPDirect, nil
}

// DataCore rates a path of a DataCore SANsymphony virtual disk: 1 when the
// path reaches the preferred server (SDS), else 0.
type DataCore struct {
	PreferredSDS string
	Timeout      time.Duration // of the INQUIRY; 0: the path's timeout
}

// NewDataCore parses datacore prio_args: "preferredsds=NAME [timeout=MS]"
// (either order; timeout 500 to 20000 ms).
func NewDataCore(args string) (*DataCore, error) {
	kv, err := parseArgs(PrioNameDataCore, args, "preferredsds", "timeout")
	if err != nil {
		return nil, err
	}
	d := &DataCore{PreferredSDS: kv["preferredsds"]}
	if d.PreferredSDS == "" {
		return nil, fmt.Errorf("checker: datacore: prio_args %q: preferredsds=NAME is required", args)
	}
	if t, ok := kv["timeout"]; ok {
		ms, err := argInt(PrioNameDataCore, "timeout", t, 500, 20000)
		if err != nil {
			return nil, err
		}
		d.Timeout = time.Duration(ms) * time.Millisecond
	}
	return d, nil
}

// Name implements Prioritizer.
func (*DataCore) Name() string { return PrioNameDataCore }

// Prio implements Prioritizer.
func (d *DataCore) Prio(ctx context.Context, p *Path) (int, error) {
	b, err := inquiry(ctx, p, PrioNameDataCore, 255, d.Timeout)
	if err != nil {
		return PrioUndefined, err
	}
	sds, err := sgio.DataCoreSDS(b)
	if err != nil {
		return PrioUndefined, errf(p, "datacore prio: %w", err)
	}
	if sds == d.PreferredSDS {
		return 1, nil
	}
	return 0, nil
}

// parseArgs splits prio_args of the form "key=value key=value" and refuses
// unknown keys, repeated keys and words without "=".
func parseArgs(prio, args string, keys ...string) (map[string]string, error) {
	kv := map[string]string{}
	for _, f := range strings.Fields(args) {
		k, v, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("checker: %s: prio_args %q: %q is not key=value", prio, args, f)
		case !slices.Contains(keys, k):
			return nil, fmt.Errorf("checker: %s: prio_args %q: unknown key %q (want %s)", prio, args, k, strings.Join(keys, ", "))
		case kv[k] != "":
			return nil, fmt.Errorf("checker: %s: prio_args %q: %s given twice", prio, args, k)
		case v == "":
			return nil, fmt.Errorf("checker: %s: prio_args %q: %s has no value", prio, args, k)
		}
		kv[k] = v
	}
	return kv, nil
}

func argInt(prio, key, v string, lo, hi int) (int, error) {
	var n int
	if _, err := fmt.Sscanf(v, "%d", &n); err != nil || fmt.Sprint(n) != v {
		return 0, fmt.Errorf("checker: %s: %s=%q is not an integer", prio, key, v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("checker: %s: %s=%d is outside [%d, %d]", prio, key, n, lo, hi)
	}
	return n, nil
}
