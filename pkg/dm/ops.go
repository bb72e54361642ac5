package dm

import (
	"errors"
	"strconv"
)

// Multipath target messages (KI §2.7). All fail with EBUSY while the map
// is suspended. dev is "MAJ:MIN" (or a /dev path); groups are 1-based.

// FailPath marks a path failed.
func FailPath(c Control, name, dev string) error { return msg(c, name, "fail_path "+dev) }

// ReinstatePath marks a path usable again; the kernel never does this by
// itself.
func ReinstatePath(c Control, name, dev string) error { return msg(c, name, "reinstate_path "+dev) }

// SwitchGroup makes group pg the next one used; it also clears every
// group's bypass.
func SwitchGroup(c Control, name string, pg int) error {
	return msg(c, name, "switch_group "+strconv.Itoa(pg))
}

// EnableGroup clears the bypass of group pg.
func EnableGroup(c Control, name string, pg int) error {
	return msg(c, name, "enable_group "+strconv.Itoa(pg))
}

// DisableGroup bypasses group pg (status D); it is used only when no
// other group works.
func DisableGroup(c Control, name string, pg int) error {
	return msg(c, name, "disable_group "+strconv.Itoa(pg))
}

// QueueIfNoPath makes the map queue I/O while no path is usable. The table
// readback follows this setting.
func QueueIfNoPath(c Control, name string) error { return msg(c, name, "queue_if_no_path") }

// FailIfNoPath stops queueing; queued I/O fails at once.
func FailIfNoPath(c Control, name string) error { return msg(c, name, "fail_if_no_path") }

func msg(c Control, name, m string) error {
	_, err := c.Message(name, m)
	return err
}

// CreateMap creates a multipath map and makes table live: DEV_CREATE,
// TABLE_LOAD, resume. If the load or resume fails the empty device is
// removed again, so a failed create leaves nothing behind.
func CreateMap(c Control, name, uuid string, sectors uint64, t Table, flags UdevFlags) (Info, error) {
	info, wait, err := CreateMapDeferred(c, name, uuid, sectors, t, flags)
	wait()
	return info, err
}

// UdevDeferrer is a Control that can hand the wait for udev after a resume back to its caller, so
// that many maps can be made while udev works through their events.
type UdevDeferrer interface {
	// ResumeDeferred is Resume without the wait for udev; the returned function waits (bounded,
	// never an error) and must be called once.
	ResumeDeferred(name string, flags UdevFlags) (Info, func(), error)
}

// CreateMapDeferred is CreateMap with the wait for udev's confirmation of the new map left to the
// returned function (called once, on any goroutine); on a Control that is not an UdevDeferrer the
// wait happens inside and the function does nothing. It is never nil.
func CreateMapDeferred(c Control, name, uuid string, sectors uint64, t Table, flags UdevFlags) (Info, func(), error) {
	nop := func() {}
	if _, err := c.Create(name, uuid); err != nil {
		return Info{}, nop, err
	}
	err := c.Load(name, sectors, t)
	var info Info
	wait := nop
	if err == nil {
		if ud, ok := c.(UdevDeferrer); ok {
			info, wait, err = ud.ResumeDeferred(name, flags)
		} else {
			info, err = c.Resume(name, flags)
		}
	}
	if err != nil {
		if _, rerr := c.Remove(name, RemoveOptions{}); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return Info{}, nop, err
	}
	return info, wait, nil
}

// Reload replaces the live table of a map without failing I/O: load the
// new table, then resume with NOFLUSH|SKIP_LOCKFS so queued I/O stays
// queued (MpathReload is added to flags for the udev rules). If the swap
// fails the staged table is cleared and the map resumed on its old table.
func Reload(c Control, name string, sectors uint64, t Table, flags UdevFlags) error {
	if err := c.Load(name, sectors, t); err != nil {
		return err
	}
	_, err := c.Resume(name, flags|MpathReload)
	if err == nil {
		return nil
	}
	if cerr := c.Clear(name); cerr != nil {
		return errors.Join(err, cerr)
	}
	if _, rerr := c.Resume(name, flags|MpathReload); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// ReloadIfChanged reloads the map only when the live table or size
// differs from the desired one (see Equivalent), and reports whether it
// reloaded.
func ReloadIfChanged(c Control, name string, sectors uint64, desired Table, flags UdevFlags) (bool, error) {
	live, liveSectors, err := c.Table(name)
	if err != nil && !errors.Is(err, ErrNoTable) && !errors.Is(err, ErrNotMultipath) {
		return false, err
	}
	if err == nil && liveSectors == sectors && Equivalent(desired, live) {
		return false, nil
	}
	if err := Reload(c, name, sectors, desired, flags); err != nil {
		return false, err
	}
	return true, nil
}
