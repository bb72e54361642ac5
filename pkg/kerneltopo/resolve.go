package kerneltopo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// Target is what a device argument of multipath names: a path, a map, or
// only a WWID (a LUN with no map and no path here, for the wwids file).
type Target struct {
	Arg  string
	Path *sysfs.Path // set when the argument names a SCSI path
	Map  *MapDevice  // set when it names a map, or a path of a map
	WWID string      // the LUN it stands for; never empty
}

// ErrInvalidArg is returned (wrapped) for an argument that names nothing.
var ErrInvalidArg = errors.New("is not a valid argument")

// Resolve interprets a device argument as multipath does: a device node
// (/dev/sdb, /dev/dm-3, /dev/mapper/NAME, or a udev link to one of them), a
// kernel name (sdb, dm-3), a MAJ:MIN number, a map name, or a WWID. A bare
// word that matches nothing is taken as a WWID, so that `multipath -a WWID`
// works before the LUN is attached.
func (r Reader) Resolve(arg string) (Target, error) {
	t := Target{Arg: arg}
	if arg == "" || strings.ContainsRune(arg, 0) {
		return t, fmt.Errorf("%q %w", arg, ErrInvalidArg)
	}
	maps, err := r.Maps()
	if err != nil {
		return t, err
	}
	name := arg
	isNode := strings.HasPrefix(arg, "/")
	if isNode {
		if real, err := filepath.EvalSymlinks(arg); err == nil {
			name = real
		}
		if m, ok := strings.CutPrefix(name, "/dev/mapper/"); ok {
			return r.mapTarget(t, maps, func(d MapDevice) bool { return d.Name == m })
		}
		name = filepath.Base(name)
	}
	if node, ok := strings.CutPrefix(name, "dm-"); ok && isDigits(node) {
		sm, err := r.Sys.Map(name)
		if err != nil {
			return t, fmt.Errorf("%q %w: %v", arg, ErrInvalidArg, err)
		}
		return r.mapTarget(t, maps, func(d MapDevice) bool { return d.Name == sm.Name })
	}
	if dev, err := dm.ParseDev(name); err == nil {
		for _, d := range maps {
			if d.Dev == dev {
				return r.mapTarget(t, maps, func(x MapDevice) bool { return x.Dev == dev })
			}
		}
		ps, _ := r.Sys.Paths()
		for _, p := range ps {
			if p.Dev.Major == dev.Major && p.Dev.Minor == dev.Minor {
				return r.pathTarget(t, maps, p)
			}
		}
		return t, fmt.Errorf("%q %w: no such device", arg, ErrInvalidArg)
	}
	if _, err := os.Stat(filepath.Join(r.Sys.Root(), "sys", "block", name)); err == nil && validKernelName(name) {
		p, err := r.Sys.Path(name)
		if err != nil {
			return t, fmt.Errorf("%q %w: %v", arg, ErrInvalidArg, err)
		}
		return r.pathTarget(t, maps, p)
	}
	if isNode {
		return t, fmt.Errorf("%q %w: no such device", arg, ErrInvalidArg)
	}
	for _, match := range []func(MapDevice) bool{
		func(d MapDevice) bool { return d.Name == arg },
		func(d MapDevice) bool { return d.WWID == arg },
	} {
		if t2, err := r.mapTarget(t, maps, match); err == nil {
			return t2, nil
		}
	}
	if strings.ContainsAny(arg, " \t\n/") {
		return t, fmt.Errorf("%q %w", arg, ErrInvalidArg)
	}
	t.WWID = arg
	return t, nil
}

func (r Reader) mapTarget(t Target, maps []MapDevice, match func(MapDevice) bool) (Target, error) {
	for i := range maps {
		if match(maps[i]) {
			t.Map, t.WWID = &maps[i], maps[i].WWID
			return t, nil
		}
	}
	return t, fmt.Errorf("%q %w: not a multipath map", t.Arg, ErrInvalidArg)
}

// pathTarget names a path and, when a multipath map holds it, that map: the
// map's WWID wins over the one computed from VPD, as the map is what the
// caller acts on.
func (r Reader) pathTarget(t Target, maps []MapDevice, p sysfs.Path) (Target, error) {
	t.Path = &p
	for _, h := range p.Holders {
		for i := range maps {
			if "dm-"+fmt.Sprint(maps[i].Dev.Minor) == h {
				t.Map, t.WWID = &maps[i], maps[i].WWID
				return t, nil
			}
		}
	}
	if p.WWID == "" {
		return t, fmt.Errorf("%s: no WWID: %v", p.Name, p.WWIDErr)
	}
	t.WWID = p.WWID
	return t, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func validKernelName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}
