package dm

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LinearTarget is the target type of kpartx's partition maps.
const LinearTarget = "linear"

// TargetControl loads and reads tables of any target type, such as the linear partition maps
// stacked on a multipath map. *Client and *Fake implement it; Control stays multipath-only.
type TargetControl interface {
	// LoadTargets stages ts as the inactive table (DM_TABLE_LOAD); flags may carry
	// DM_READONLY_FLAG (ReadOnly).
	LoadTargets(name string, ts []Target, flags uint32) error
	// TableTargets reads the live table's targets back.
	TableTargets(name string) ([]Target, error)
}

// ReadOnly is the DM_READONLY_FLAG for LoadTargets.
const ReadOnly = flagReadOnly

// Linear is a one-target linear table: sectors of dev from offset on.
func Linear(sectors uint64, dev Dev, offset uint64) []Target {
	return []Target{{Length: sectors, Type: LinearTarget, Params: dev.String() + " " + strconv.FormatUint(offset, 10)}}
}

// LoadTargets implements TargetControl for linear targets, with the kernel's checks and errno: a
// table with no target, a 0-sector target or a gap between targets, anything but two arguments,
// an offset that is not a decimal sector number, a device that cannot be opened (as for a
// multipath path, see SetPathDevices; a fake device is a device of its live table's size) or
// that is too small for offset+length (EINVAL). Other target types are not modelled (EINVAL).
// The table holds its devices open from load to its replacement or removal, as the kernel's does:
// their open count includes it.
func (f *Fake) LoadTargets(name string, ts []Target, flags uint32) error {
	const op = "DM_TABLE_LOAD"
	f.mu.Lock()
	defer f.mu.Unlock()
	var arg strings.Builder
	for _, t := range ts {
		fmt.Fprintf(&arg, "%d %d %s %s\n", t.Start, t.Length, t.Type, t.Params)
	}
	if err := f.start(op, name, strings.TrimSuffix(arg.String(), "\n"), 0); err != nil {
		return err
	}
	d, err := f.get(op, name)
	if err != nil {
		return err
	}
	holds, err := f.constructLinear(ts)
	if err != nil {
		return &Error{Op: op, Name: name, Err: err}
	}
	f.drop(d.inactive)
	for _, h := range holds {
		h.holders++
	}
	d.inactive = &fakeTable{linear: slices.Clone(ts), holds: holds, ro: flags&flagReadOnly != 0}
	if len(ts) > 0 {
		d.inactive.sectors = ts[len(ts)-1].Start + ts[len(ts)-1].Length
	}
	return nil
}

func (f *Fake) constructLinear(ts []Target) ([]*fakeDev, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("%w: table load with no targets", unix.EINVAL)
	}
	var holds []*fakeDev
	next := uint64(0)
	for i, t := range ts {
		if t.Length == 0 {
			return nil, fmt.Errorf("%w: target %d: zero-length target", unix.EINVAL, i)
		}
		if t.Start != next {
			return nil, fmt.Errorf("%w: target %d: gap in table", unix.EINVAL, i)
		}
		next = t.Start + t.Length
		if t.Type != LinearTarget {
			return nil, fmt.Errorf("%w: target %d: the fake models linear targets only, not %q", unix.EINVAL, i, t.Type)
		}
		args := strings.Fields(t.Params)
		if len(args) != 2 {
			return nil, fmt.Errorf("%w: target %d: linear: invalid argument count", unix.EINVAL, i)
		}
		off, ok := parseU(args[1])
		if !ok {
			return nil, fmt.Errorf("%w: target %d: linear: invalid device sector", unix.EINVAL, i)
		}
		end := off + t.Length
		if end < off {
			return nil, fmt.Errorf("%w: target %d: device area overflows", unix.EINVAL, i)
		}
		if dev, err := ParseDev(args[0]); err == nil && dev.Major == FakeMajor {
			var under *fakeDev
			for _, c := range f.devs {
				if c.dev == dev {
					under = c
				}
			}
			if under == nil {
				return nil, fmt.Errorf("%w: target %d: linear: error getting device", unix.ENXIO, i)
			}
			size := uint64(0)
			if under.live != nil {
				size = under.live.sectors
			}
			if end > size {
				return nil, fmt.Errorf("%w: target %d: device %s too small for target: %d > %d sectors", unix.EINVAL, i, dev, end, size)
			}
			holds = append(holds, under)
			continue
		}
		if err := f.openPath(args[0], end); err != nil {
			return nil, fmt.Errorf("target %d: linear: %w", i, err)
		}
	}
	return holds, nil
}

// drop releases the devices a table being thrown away held open.
func (f *Fake) drop(t *fakeTable) {
	if t == nil {
		return
	}
	for _, h := range t.holds {
		h.holders--
		f.closed(h)
	}
	t.holds = nil
}

// TableTargets implements TargetControl: a linear table as loaded, a multipath table as one
// multipath target with the parameters Table reads.
func (f *Fake) TableTargets(name string) ([]Target, error) {
	const op = "DM_TABLE_STATUS"
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(op, name, "table", 0); err != nil {
		return nil, err
	}
	d, err := f.get(op, name)
	switch {
	case err != nil:
		return nil, err
	case d.live == nil:
		return nil, nil
	case d.live.linear != nil:
		return slices.Clone(d.live.linear), nil
	}
	t := d.live.t.Normalize()
	if len(t.Groups) > 0 {
		t.InitialPG = max(d.status.CurrentPG, 1)
	}
	return []Target{{Length: d.live.sectors, Type: TargetType, Params: t.String()}}, nil
}
