package linux

import (
	"fmt"
	"path/filepath"

	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// Inquirer reads a path's identity pages through SG_IO on its device node,
// for the paths whose VPD pages the kernel did not cache (sysfs.Inquirer).
type Inquirer struct {
	DevRoot string // default "/dev"
}

// InquireIdentity opens the node of block device name and asks it for the
// pages udev's scsi_id asks for.
func (q Inquirer) InquireIdentity(name string) (sysfs.Identity, error) {
	return inquireIdentity(name, func() (sgio.Device, func(), error) {
		root := q.DevRoot
		if root == "" {
			root = "/dev"
		}
		f, err := sgio.Open(filepath.Join(root, name))
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	})
}

func inquireIdentity(name string, open func() (sgio.Device, func(), error)) (sysfs.Identity, error) {
	d, closeDev, err := open()
	if err != nil {
		return sysfs.Identity{}, fmt.Errorf("%s: %w", name, err)
	}
	defer closeDev()
	pages, err := sgio.ReadIdentityPages(d, sgio.ScsiIDTimeout)
	id := sysfs.Identity{VPD83: pages.VPD83, VPD80: pages.VPD80}
	if len(pages.Std) >= 32 {
		id.Vendor, id.Model = pages.Std[8:16], pages.Std[16:32]
	}
	if err != nil {
		return id, fmt.Errorf("%s: %w", name, err)
	}
	return id, nil
}
