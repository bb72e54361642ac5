package checker

import (
	"context"
	"fmt"
	"strings"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
)

// Detection is what detect_checker and detect_prio learn from a device: its
// ALUA support (TPGS), whether it is an RDAC array (VPD 0xC9 "vac1") and
// whether scsi_dh_alua exposes its access state in sysfs.
type Detection struct {
	TPGS        sgio.TPGS
	RDAC        bool
	AccessState bool
}

// Detect probes a path. probeRDAC asks for VPD 0xC9; multipath-tools skips
// that probe when the device's hardware table entry names a checker other
// than rdac. An error means the device could not be asked (the INQUIRY
// failed): nothing is detected, and the caller may try again later.
func Detect(ctx context.Context, p *Path, probeRDAC bool) (Detection, error) {
	if p.SG == nil {
		return Detection{}, errf(p, "detect: no SG_IO device")
	}
	var inq sgio.StdInquiry
	if err := retrySense(ctx, func() (err error) { inq, err = sgio.Inquiry(p.SG, p.timeout(ctx)); return }); err != nil {
		return Detection{}, errf(p, "detect: %w", err)
	}
	d := Detection{TPGS: inq.TPGS}
	if probeRDAC {
		// A device without the page answers ILLEGAL REQUEST: not an RDAC array.
		if b, err := sgio.InquiryVPD(p.SG, sgio.VPDVolumeAccess, p.timeout(ctx)); err == nil {
			va, err := sgio.ParseVolumeAccess(b)
			d.RDAC = err == nil && va.ID == "vac1"
		}
	}
	if p.Attr != nil {
		_, err := p.Attr("access_state")
		d.AccessState = err == nil
	}
	return d, nil
}

// Checker is the checker detect_checker picks: rdac on an RDAC array, tur on
// any other ALUA device, "" (keep the configured one) otherwise.
func (d Detection) Checker() string {
	switch {
	case d.RDAC:
		return NameRDAC
	case d.TPGS != sgio.TPGSNone:
		return NameTUR
	}
	return ""
}

// Prioritizer is the prioritizer detect_prio picks on an ALUA device: sysfs
// when scsi_dh_alua exposes access_state (except on an RDAC array with
// implicit ALUA only, whose sysfs state is not kept current), else alua. It
// is nil on a device without ALUA: the configured prioritizer applies.
func (d Detection) Prioritizer() Prioritizer {
	switch {
	case d.TPGS == sgio.TPGSNone:
		return nil
	case d.AccessState && (d.TPGS&sgio.TPGSExplicit != 0 || !d.RDAC):
		return Sysfs{}
	}
	return ALUA{}
}

// Spec is what the configuration says about a path's checker and
// prioritizer (path_checker, prio, prio_args, detect_checker, detect_prio).
type Spec struct {
	Checker, Prio, PrioArgs   string
	DetectChecker, DetectPrio bool
	// TableChecker is the checker the device's hardware table entry names,
	// "" if none: detection skips the RDAC probe when it names another.
	TableChecker string
}

// Choice is the checker and prioritizer a path gets, where each came from,
// and why a configured one was not used.
type Choice struct {
	Checker       Checker
	Prioritizer   Prioritizer
	CheckerSource string // "configured", "detected: RDAC array (VPD 0xc9 vac1)", ...
	PrioSource    string
	// Fallback says why the configuration's checker or prioritizer is not
	// in use (unknown name, bad prio_args); "" when both are.
	Fallback string
	// Final is false when detection was asked for but the device could
	// not be asked: choose again at the next check.
	Final bool
}

// Choose applies multipath-tools' precedence: with detect_checker, an RDAC
// array gets rdac and an ALUA device tur, whatever is configured; with
// detect_prio, an ALUA device gets sysfs or alua. Otherwise, and on devices
// where detection finds nothing, the configured ones apply; const when no
// prioritizer is configured.
func Choose(ctx context.Context, p *Path, s Spec) Choice {
	c := Choice{Final: true}
	var det Detection
	if s.DetectChecker || s.DetectPrio {
		var err error
		det, err = Detect(ctx, p, s.TableChecker == "" || s.TableChecker == NameRDAC)
		c.Final = err == nil
	}
	var fallback []string
	if name := det.Checker(); s.DetectChecker && name != "" {
		c.Checker, _ = New(name)
		c.CheckerSource = "detected: " + det.describe(name)
	} else if ck, err := New(s.Checker); err == nil {
		c.Checker, c.CheckerSource = ck, "configured"
	} else {
		c.Checker, c.CheckerSource = TUR{}, "fallback"
		fallback = append(fallback, fmt.Sprintf("path_checker %q is unknown: using tur", s.Checker))
	}
	switch pr := det.Prioritizer(); {
	case s.DetectPrio && pr != nil:
		c.Prioritizer, c.PrioSource = pr, "detected: "+det.describe(pr.Name())
	case s.Prio == "":
		c.Prioritizer, c.PrioSource = Const{}, "default"
	default:
		pr, err := NewPrioritizer(s.Prio, s.PrioArgs)
		if err != nil {
			c.Prioritizer, c.PrioSource = Const{}, "fallback"
			fallback = append(fallback, fmt.Sprintf("prio %s: %v: using const", s.Prio, err))
			break
		}
		c.Prioritizer, c.PrioSource = pr, "configured"
	}
	c.Fallback = strings.Join(fallback, "; ")
	return c
}

func (d Detection) describe(name string) string {
	if name == NameRDAC {
		return "RDAC array (VPD 0xc9 vac1)"
	}
	return fmt.Sprintf("ALUA (TPGS %d)", d.TPGS)
}
