package checker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
)

// Prioritizer returns a path priority on multipath-tools' scale (higher is
// preferred). On error the priority is PrioUndefined.
type Prioritizer interface {
	Name() string
	Prio(ctx context.Context, p *Path) (int, error)
}

// PrioUndefined is the priority of a path whose prioritizer failed; such
// paths are left out of their group's average.
const PrioUndefined = -1

// ALUA priority values, shared by the sysfs and alua prioritizers.
const (
	PrioOptimized    = 50
	PrioNonOptimized = 10
	PrioLBADependent = 5
	PrioStandby      = 1
	PrioUnavailable  = 0
	PrioPreferredBit = 80
)

// Prioritizer names, as in multipath.conf prio.
const (
	PrioNameConst        = "const"
	PrioNameSysfs        = "sysfs"
	PrioNameALUA         = "alua"
	PrioNameWeightedPath = "weightedpath"
	PrioNameRandom       = "random"
)

// NewPrioritizer returns the prioritizer with this name, configured by args
// (multipath.conf prio_args).
func NewPrioritizer(name, args string) (Prioritizer, error) {
	switch name {
	case PrioNameConst:
		return Const{}, nil
	case PrioNameRandom:
		return Random{}, nil
	case PrioNameSysfs:
		return Sysfs{ExclusivePrefBit: exclusivePrefBit(args)}, nil
	case PrioNameALUA:
		return ALUA{ExclusivePrefBit: exclusivePrefBit(args)}, nil
	case PrioNameWeightedPath:
		return ok(NewWeightedPath(args))
	case PrioNameRDAC:
		return RDACPrio{}, nil
	case PrioNameEMC:
		return EMCPrio{}, nil
	case PrioNameHPSW:
		return HPSWPrio{}, nil
	case PrioNameHDS:
		return HDSPrio{}, nil
	case PrioNameONTAP:
		return ONTAPPrio{}, nil
	case PrioNameDataCore:
		return ok(NewDataCore(args))
	case PrioNameIET:
		return ok(NewIET(args))
	case PrioNamePathLatency:
		return ok(NewPathLatency(args))
	}
	return nil, fmt.Errorf("checker: unknown prioritizer %q", name)
}

// ok keeps a constructor's nil pointer from becoming a non-nil interface.
func ok[P Prioritizer](p P, err error) (Prioritizer, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}

// PrioritizerNames lists every prioritizer NewPrioritizer knows.
var PrioritizerNames = []string{
	PrioNameConst, PrioNameSysfs, PrioNameALUA, PrioNameWeightedPath, PrioNameRandom,
	PrioNameRDAC, PrioNameEMC, PrioNameHPSW, PrioNameHDS, PrioNameONTAP,
	PrioNameDataCore, PrioNameIET, PrioNamePathLatency,
}

func exclusivePrefBit(args string) bool {
	return strings.Contains(args, "exclusive_pref_bit")
}

// Const gives every path priority 1.
type Const struct{}

// Name implements Prioritizer.
func (Const) Name() string { return PrioNameConst }

// Prio implements Prioritizer.
func (Const) Prio(context.Context, *Path) (int, error) { return 1, nil }

// Random gives a priority from 1 to 10.
type Random struct{}

// Name implements Prioritizer.
func (Random) Name() string { return PrioNameRandom }

// Prio implements Prioritizer.
func (Random) Prio(context.Context, *Path) (int, error) { return 1 + rand.IntN(10), nil }

// aluaPrio maps an access state and the PREF bit to a priority. The
// preferred bonus applies to non-optimized states unless exclusive is set,
// so an optimized non-preferred path does not lose to a preferred standby.
func aluaPrio(state sgio.AccessState, pref, exclusive bool) int {
	var p int
	switch state {
	case sgio.AASOptimized:
		p = PrioOptimized
	case sgio.AASNonOptimized:
		p = PrioNonOptimized
	case sgio.AASLBADependent:
		p = PrioLBADependent
	case sgio.AASStandby:
		p = PrioStandby
	default:
		p = PrioUnavailable
	}
	if pref && (state != sgio.AASOptimized || exclusive) {
		p += PrioPreferredBit
	}
	return p
}

var accessStates = map[string]sgio.AccessState{
	"active/optimized":     sgio.AASOptimized,
	"active/non-optimized": sgio.AASNonOptimized,
	"standby":              sgio.AASStandby,
	"unavailable":          sgio.AASUnavailable,
	"lba-dependent":        sgio.AASLBADependent,
	"offline":              sgio.AASOffline,
	"transitioning":        sgio.AASTransitioning,
}

// Sysfs reads access_state and preferred_path, which scsi_dh_alua exposes,
// instead of sending RTPG.
type Sysfs struct{ ExclusivePrefBit bool }

// Name implements Prioritizer.
func (Sysfs) Name() string { return PrioNameSysfs }

// Prio implements Prioritizer.
func (s Sysfs) Prio(_ context.Context, p *Path) (int, error) {
	if p.Attr == nil {
		return PrioUndefined, errf(p, "sysfs prio: no sysfs access")
	}
	as, err := p.Attr("access_state")
	if err != nil {
		return PrioUndefined, errf(p, "sysfs prio: access_state: %w", err)
	}
	state, ok := accessStates[as]
	if !ok {
		state = sgio.AASUnavailable // "unknown": rated like unavailable
	}
	pref, err := p.Attr("preferred_path")
	if err != nil {
		return PrioUndefined, errf(p, "sysfs prio: preferred_path: %w", err)
	}
	return aluaPrio(state, pref == "1", s.ExclusivePrefBit), nil
}

// ALUA sends INQUIRY, VPD 0x83 and REPORT TARGET PORT GROUPS over SG_IO and
// rates the path by its own port group's access state.
type ALUA struct{ ExclusivePrefBit bool }

// Name implements Prioritizer.
func (ALUA) Name() string { return PrioNameALUA }

// Prio implements Prioritizer.
func (a ALUA) Prio(ctx context.Context, p *Path) (int, error) {
	info, err := ReadALUA(ctx, p)
	if err != nil {
		return PrioUndefined, err
	}
	return aluaPrio(info.State, info.Preferred, a.ExclusivePrefBit), nil
}

// ALUAInfo is a path's own target port group as RTPG reports it.
type ALUAInfo struct {
	TPGS      sgio.TPGS
	GroupID   uint16
	State     sgio.AccessState
	Preferred bool
}

// ErrNoALUA is wrapped when the device does not report TPGS.
var ErrNoALUA = errors.New("device does not support ALUA (TPGS=0)")

// aluaAttempts bounds retries of each command on UNIT ATTENTION and NOT READY.
const aluaAttempts = 3

// ReadALUA finds the path's target port group (VPD 0x83 type 5, association
// 1) and its row in REPORT TARGET PORT GROUPS. The group id also serves
// group_by_tpg.
func ReadALUA(ctx context.Context, p *Path) (ALUAInfo, error) {
	if p.SG == nil {
		return ALUAInfo{}, errf(p, "alua: no SG_IO device")
	}
	var inq sgio.StdInquiry
	if err := retrySense(ctx, func() (err error) { inq, err = sgio.Inquiry(p.SG, p.timeout(ctx)); return }); err != nil {
		return ALUAInfo{}, errf(p, "alua: %w", err)
	}
	if inq.TPGS == sgio.TPGSNone {
		return ALUAInfo{}, errf(p, "alua: %w", ErrNoALUA)
	}
	var page []byte
	if err := retrySense(ctx, func() (err error) { page, err = sgio.InquiryVPD(p.SG, sgio.VPDDeviceID, p.timeout(ctx)); return }); err != nil {
		return ALUAInfo{}, errf(p, "alua: %w", err)
	}
	ds, err := sgio.ParseDeviceID(page)
	if err != nil {
		return ALUAInfo{}, errf(p, "alua: %w", err)
	}
	id, ok := sgio.TargetPortGroup(ds)
	if !ok {
		return ALUAInfo{}, errf(p, "alua: VPD 0x83 has no target port group designator")
	}
	var raw []byte
	if err := retrySense(ctx, func() (err error) { raw, err = sgio.ReportTargetPortGroups(p.SG, p.timeout(ctx)); return }); err != nil {
		return ALUAInfo{}, errf(p, "alua: %w", err)
	}
	pgs, err := sgio.ParseRTPG(raw)
	if err != nil {
		return ALUAInfo{}, errf(p, "alua: %w", err)
	}
	for _, pg := range pgs {
		if pg.ID == id {
			return ALUAInfo{TPGS: inq.TPGS, GroupID: id, State: pg.State, Preferred: pg.Preferred}, nil
		}
	}
	return ALUAInfo{}, errf(p, "alua: target port group 0x%x not in the RTPG response (%d groups)", id, len(pgs))
}

// retrySense runs cmd again while it fails with UNIT ATTENTION or NOT READY.
func retrySense(ctx context.Context, cmd func() error) error {
	var err error
	for range aluaAttempts {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err = cmd(); err == nil {
			return nil
		}
		var ce *sgio.CommandError
		if !errors.As(err, &ce) {
			return err
		}
		s, serr := ce.Result.DecodeSense()
		if serr != nil || (s.Key != sgio.UnitAttention && s.Key != sgio.NotReady) {
			return err
		}
	}
	return err
}

// WeightedPath matches a regular expression list against one path attribute,
// as multipath-tools' prio_args "<hbtl|devname|serial|wwn> re1 prio1 re2
// prio2 ...": the first match wins, no match gives 0.
type WeightedPath struct {
	field string
	rules []weightRule
}

type weightRule struct {
	re   *regexp.Regexp
	prio int
}

// NewWeightedPath parses weightedpath prio_args.
func NewWeightedPath(args string) (*WeightedPath, error) {
	f := strings.Fields(args)
	if len(f) == 0 {
		return nil, errors.New("checker: weightedpath: empty prio_args")
	}
	switch f[0] {
	case "hbtl", "devname", "serial", "wwn":
	default:
		return nil, fmt.Errorf("checker: weightedpath: unknown match type %q (want hbtl, devname, serial or wwn)", f[0])
	}
	if len(f)%2 != 1 {
		return nil, fmt.Errorf("checker: weightedpath: %q: regex %q has no priority", args, f[len(f)-1])
	}
	w := &WeightedPath{field: f[0]}
	for i := 1; i < len(f); i += 2 {
		re, err := regexp.Compile(f[i])
		if err != nil {
			return nil, fmt.Errorf("checker: weightedpath: regex %q: %w", f[i], err)
		}
		prio, err := strconv.Atoi(f[i+1])
		if err != nil {
			return nil, fmt.Errorf("checker: weightedpath: priority %q after %q: %w", f[i+1], f[i], err)
		}
		w.rules = append(w.rules, weightRule{re, prio})
	}
	return w, nil
}

// Name implements Prioritizer.
func (*WeightedPath) Name() string { return PrioNameWeightedPath }

// Prio implements Prioritizer.
func (w *WeightedPath) Prio(_ context.Context, p *Path) (int, error) {
	var v string
	switch w.field {
	case "hbtl":
		v = p.HBTL
	case "devname":
		v = p.Name
	case "serial":
		v = p.Serial
	case "wwn":
		v = p.WWN
	}
	for _, r := range w.rules {
		if r.re.MatchString(v) {
			return r.prio, nil
		}
	}
	return 0, nil
}
