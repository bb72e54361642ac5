package dm

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Dev is a block device number as the kernel prints it in tables and
// status lines ("MAJ:MIN").
type Dev struct {
	Major, Minor uint32
}

func (d Dev) String() string {
	return strconv.FormatUint(uint64(d.Major), 10) + ":" + strconv.FormatUint(uint64(d.Minor), 10)
}

// Mkdev returns d as a dev_t for mknod and stat comparisons.
func (d Dev) Mkdev() uint64 { return unix.Mkdev(d.Major, d.Minor) }

// decodeDev decodes the kernel's huge_encode_dev form used in dm_ioctl.dev,
// name_list and target_deps; it matches unix.Major/Minor.
func decodeDev(v uint64) Dev { return Dev{unix.Major(v), unix.Minor(v)} }

// ParseDev parses "MAJ:MIN".
func ParseDev(s string) (Dev, error) {
	maj, min, ok := strings.Cut(s, ":")
	if !ok {
		return Dev{}, fmt.Errorf("device number %q is not MAJ:MIN", s)
	}
	a, err1 := strconv.ParseUint(maj, 10, 32)
	b, err2 := strconv.ParseUint(min, 10, 32)
	if err1 != nil || err2 != nil {
		return Dev{}, fmt.Errorf("device number %q is not MAJ:MIN", s)
	}
	return Dev{uint32(a), uint32(b)}, nil
}
