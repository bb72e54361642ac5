package sgio

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// IdentityPages are the INQUIRY answers udev's scsi_id derives ID_SERIAL
// from, each as scsi_id holds it: a zeroed 254-byte buffer the device wrote
// into (bytes past the transfer stay zero).
type IdentityPages struct {
	Std   []byte // standard INQUIRY data: vendor at 8..16, model at 16..32
	VPD83 []byte // nil unless page 0 lists page 0x83 and the device returned it
	VPD80 []byte // nil unless page 0 lists page 0x80 and the device returned it
}

// ScsiIDBufLen is the allocation length of every INQUIRY scsi_id sends.
const ScsiIDBufLen = 254

// ScsiIDTimeout is scsi_id's command timeout.
const ScsiIDTimeout = 5 * time.Second

// errNotSupported is an INQUIRY the device refused with ILLEGAL REQUEST:
// scsi_id takes it as a page that is not there.
var errNotSupported = errors.New("ILLEGAL REQUEST")

// ReadIdentityPages asks the device for its identity the way udev's scsi_id
// does when the kernel cached no VPD pages (a device below SPC-2 that is not
// on the kernel's VPD list): standard INQUIRY, then the supported-pages
// page, then page 0x83 and page 0x80 if that page lists them. A page that is
// refused or malformed is left nil, as scsi_id then tries the next one; an
// error means the standard INQUIRY failed or no page could be had, with the
// reasons.
func ReadIdentityPages(d Device, timeout time.Duration) (IdentityPages, error) {
	var p IdentityPages
	std, err := scsiIDInquiry(d, false, 0, timeout)
	if err != nil {
		return p, fmt.Errorf("INQUIRY: %w", err)
	}
	p.Std = std
	page0, err := scsiIDInquiry(d, true, VPDSupportedPages, timeout)
	if err != nil {
		return p, fmt.Errorf("INQUIRY VPD 0x00: %w", err)
	}
	if page0[1] != VPDSupportedPages {
		return p, errors.New("INQUIRY VPD 0x00: page not available")
	}
	n := int(page0[3])
	if n > ScsiIDBufLen {
		return p, fmt.Errorf("INQUIRY VPD 0x00: %d pages, more than the buffer holds", n)
	}
	list := page0[4:min(4+n, len(page0))]
	// Some old devices answer every INQUIRY with the standard data; scsi_id
	// spots them by the vendor name where the page list would be.
	if n > 16 && bytes.Equal(page0[8:16], std[8:16]) {
		return p, errors.New("INQUIRY VPD 0x00: standard INQUIRY data instead of the page list")
	}
	listed := func(page uint8) bool { return bytes.IndexByte(list, page) >= 0 }
	var errs []error
	for _, pg := range []struct {
		code uint8
		dst  *[]byte
	}{{VPDDeviceID, &p.VPD83}, {VPDUnitSerial, &p.VPD80}} {
		if !listed(pg.code) {
			continue
		}
		b, err := scsiIDInquiry(d, true, pg.code, timeout)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("INQUIRY VPD 0x%02x: %w", pg.code, err))
		case b[1] != pg.code:
			errs = append(errs, fmt.Errorf("INQUIRY VPD 0x%02x: device returned page 0x%02x", pg.code, b[1]))
		default:
			*pg.dst = b
		}
	}
	if p.VPD83 == nil && p.VPD80 == nil {
		if len(errs) == 0 {
			return p, fmt.Errorf("INQUIRY VPD 0x00: neither page 0x83 nor 0x80 listed (% x)", list)
		}
		return p, errors.Join(errs...)
	}
	return p, nil
}

// scsiIDInquiry sends one INQUIRY as scsi_id does (6-byte CDB, 254-byte
// allocation) and returns the whole buffer. A command refused with ILLEGAL
// REQUEST comes back as a buffer whose page code byte is zeroed (scsi_id's
// way of saying "not this page"); a recovered error counts as success.
func scsiIDInquiry(d Device, evpd bool, page uint8, timeout time.Duration) ([]byte, error) {
	buf := make([]byte, ScsiIDBufLen)
	r, err := d.SGIO(inquiryCDB(evpd, page, len(buf)), DirFromDev, buf, timeout)
	if err != nil {
		return nil, err
	}
	switch err := scsiIDCategory(r); {
	case err == nil:
	case errors.Is(err, errNotSupported):
		clear(buf)
	default:
		return nil, err
	}
	return buf, nil
}

// scsiIDCategory sorts a result as scsi_id's sg_err_category does: clean
// (nil), refused (errNotSupported) or failed.
func scsiIDCategory(r Result) error {
	if r.Status&0x7e == 0 && r.HostStatus == DIDOK && r.DriverStatus == 0 {
		return nil
	}
	st := r.Status & 0x7e
	if st == StatusCheckCondition || st == 0x22 || r.DriverStatus&driverStatusLowNibble == driverSense {
		if len(r.Sense) > 2 {
			key := SenseKey(r.Sense[2] & 0xf)
			if r.Sense[0]&2 != 0 {
				key = SenseKey(r.Sense[1] & 0xf)
			}
			switch key {
			case RecoveredError:
				return nil
			case IllegalRequest:
				return errNotSupported
			}
		}
	}
	return fmt.Errorf("%s", r)
}
