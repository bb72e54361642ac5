// Package uevent receives kernel and udev uevents from the netlink
// NETLINK_KOBJECT_UEVENT socket, checks that they come from the kernel or
// from root, parses both wire formats into a typed Event, filters them and
// coalesces bursts into per-WWID batches.
//
// Events are hints: on an Overflow event (the socket dropped messages) the
// consumer must re-read sysfs and the device-mapper state in full.
//
// The socket loop and the parser are the project's own rather than
// github.com/pilebones/go-udev v0.9.1, whose monitor leaks its goroutine
// after quit (blocked in recvfrom), stops for good at the first ENOBUFS,
// can let a stale goroutine read a reused fd after reconnecting, rejects
// a whole event when a value contains '=', and sets no CLOEXEC/NONBLOCK,
// receive buffer or sender credential check.
package uevent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Action is the ACTION of a uevent. Unknown actions are kept as they are.
type Action string

const (
	Add     Action = "add"
	Remove  Action = "remove"
	Change  Action = "change"
	Move    Action = "move"
	Online  Action = "online"
	Offline Action = "offline"
	Bind    Action = "bind"
	Unbind  Action = "unbind"
)

// Source is the netlink multicast group a listener joins and so the wire
// format of its messages.
type Source int

const (
	// Kernel events (group 1) come straight from the kernel, before udev rules.
	Kernel Source = 1
	// Udev events (group 2) are re-sent by udevd after its rules ran and
	// carry properties such as ID_SERIAL.
	Udev Source = 2
)

func (s Source) String() string {
	switch s {
	case Kernel:
		return "kernel"
	case Udev:
		return "udev"
	}
	return "source(" + strconv.Itoa(int(s)) + ")"
}

// Event is one parsed uevent. Env holds every KEY=VALUE of the message,
// including those copied into the typed fields.
type Event struct {
	Source    Source
	Action    Action
	DevPath   string // "/devices/.../block/sdb", without "/sys"
	Subsystem string
	DevType   string
	DevName   string // "sdb", "dm-3": udev's "/dev/sdb" without "/dev/" (Env keeps it as sent)
	Major     uint32
	Minor     uint32
	HasDevNum bool // MAJOR and MINOR were present
	Seqnum    uint64

	// device-mapper (dm-N change events and udev properties)
	DMName         string
	DMUUID         string
	DMAction       string // "PATH_FAILED", "PATH_REINSTATED"
	DMPath         string // "8:32"
	DMNrValidPaths int    // -1 when absent

	Env map[string]string

	// Overflow marks a synthetic event: the socket lost messages (ENOBUFS)
	// and the consumer must resynchronise from sysfs. No other field is set.
	Overflow bool
}

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed uevent")

const (
	udevPrefix    = "libudev\x00"
	udevMagic     = uint32(0xfeedcafe) // typed: it overflows int on 32-bit ports
	udevHeaderLen = 40
)

// Parse decodes one netlink message in either wire format: the kernel's
// "action@devpath\0KEY=VALUE\0..." or udev's "libudev\0" header followed by
// KEY=VALUE\0 properties. A value may itself contain '='.
func Parse(msg []byte) (Event, error) {
	if bytes.HasPrefix(msg, []byte(udevPrefix)) {
		return parseUdev(msg)
	}
	return parseKernel(msg)
}

func parseKernel(msg []byte) (Event, error) {
	head, rest, ok := bytes.Cut(msg, []byte{0})
	if !ok {
		return Event{}, fmt.Errorf("%w: kernel message without a NUL-terminated header", ErrMalformed)
	}
	action, devpath, ok := bytes.Cut(head, []byte("@"))
	if !ok || len(action) == 0 || len(devpath) == 0 || devpath[0] != '/' {
		return Event{}, fmt.Errorf("%w: kernel header %q is not action@/devpath", ErrMalformed, truncate(head))
	}
	e, err := parseEnv(rest, Kernel)
	if err != nil {
		return Event{}, err
	}
	if _, ok := e.Env["ACTION"]; !ok {
		e.Action = Action(action)
		e.Env["ACTION"] = string(action)
	}
	if _, ok := e.Env["DEVPATH"]; !ok {
		e.DevPath = string(devpath)
		e.Env["DEVPATH"] = string(devpath)
	}
	if string(e.Action) != string(action) || e.DevPath != string(devpath) {
		return Event{}, fmt.Errorf("%w: header %q disagrees with ACTION=%s DEVPATH=%s", ErrMalformed, truncate(head), e.Action, e.DevPath)
	}
	return e, nil
}

func parseUdev(msg []byte) (Event, error) {
	if len(msg) < udevHeaderLen {
		return Event{}, fmt.Errorf("%w: udev message of %d bytes, header needs %d", ErrMalformed, len(msg), udevHeaderLen)
	}
	if m := binary.BigEndian.Uint32(msg[8:12]); m != udevMagic {
		return Event{}, fmt.Errorf("%w: udev magic %#08x, want %#08x", ErrMalformed, m, udevMagic)
	}
	// header_size, properties_off and properties_len are in the sender's
	// byte order, i.e. ours: udevd runs on the same machine.
	hdr := binary.NativeEndian.Uint32(msg[12:16])
	off := binary.NativeEndian.Uint32(msg[16:20])
	n := binary.NativeEndian.Uint32(msg[20:24])
	if hdr < udevHeaderLen || off < hdr || uint64(off)+uint64(n) > uint64(len(msg)) {
		return Event{}, fmt.Errorf("%w: udev properties at %d+%d (header %d) outside %d-byte message", ErrMalformed, off, n, hdr, len(msg))
	}
	e, err := parseEnv(msg[off:off+n], Udev)
	if err != nil {
		return Event{}, err
	}
	if e.Action == "" || e.DevPath == "" {
		return Event{}, fmt.Errorf("%w: udev message without ACTION or DEVPATH", ErrMalformed)
	}
	return e, nil
}

func parseEnv(b []byte, src Source) (Event, error) {
	e := Event{Source: src, DMNrValidPaths: -1, Env: make(map[string]string, 16)}
	for len(b) > 0 {
		var kv []byte
		kv, b, _ = bytes.Cut(b, []byte{0})
		if len(kv) == 0 {
			continue // padding or a trailing NUL
		}
		k, v, ok := bytes.Cut(kv, []byte("="))
		if !ok || len(k) == 0 {
			return Event{}, fmt.Errorf("%w: property %q is not KEY=VALUE", ErrMalformed, truncate(kv))
		}
		e.Env[string(k)] = string(v)
	}
	var err error
	get := func(k string) string { return e.Env[k] }
	e.Action = Action(get("ACTION"))
	e.DevPath = get("DEVPATH")
	e.Subsystem = get("SUBSYSTEM")
	e.DevType = get("DEVTYPE")
	e.DevName = strings.TrimPrefix(get("DEVNAME"), "/dev/")
	e.DMName, e.DMUUID, e.DMAction, e.DMPath = get("DM_NAME"), get("DM_UUID"), get("DM_ACTION"), get("DM_PATH")
	maj, hasMaj := e.Env["MAJOR"]
	min, hasMin := e.Env["MINOR"]
	if hasMaj || hasMin {
		if e.Major, err = parseUint32("MAJOR", maj); err != nil {
			return Event{}, err
		}
		if e.Minor, err = parseUint32("MINOR", min); err != nil {
			return Event{}, err
		}
		e.HasDevNum = true
	}
	if s, ok := e.Env["SEQNUM"]; ok {
		if e.Seqnum, err = strconv.ParseUint(s, 10, 64); err != nil {
			return Event{}, fmt.Errorf("%w: SEQNUM=%q", ErrMalformed, truncate([]byte(s)))
		}
	}
	if s, ok := e.Env["DM_NR_VALID_PATHS"]; ok {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return Event{}, fmt.Errorf("%w: DM_NR_VALID_PATHS=%q", ErrMalformed, truncate([]byte(s)))
		}
		e.DMNrValidPaths = int(n)
	}
	return e, nil
}

func parseUint32(key, s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q", ErrMalformed, key, truncate([]byte(s)))
	}
	return uint32(n), nil
}

// truncate keeps error messages short when the input is hostile.
func truncate(b []byte) []byte {
	if len(b) > 64 {
		return append(b[:64:64], "..."...)
	}
	return b
}

// MarshalKernel encodes e in the kernel wire format (header, then Env in
// sorted order). It exists for tests and tools that inject events.
func (e Event) MarshalKernel() []byte {
	var b bytes.Buffer
	b.WriteString(string(e.Action) + "@" + e.DevPath + "\x00")
	writeEnv(&b, e)
	return b.Bytes()
}

// MarshalUdev encodes e in the libudev wire format.
func (e Event) MarshalUdev() []byte {
	var props bytes.Buffer
	writeEnv(&props, e)
	h := make([]byte, udevHeaderLen)
	copy(h, udevPrefix)
	binary.BigEndian.PutUint32(h[8:], udevMagic)
	binary.NativeEndian.PutUint32(h[12:], udevHeaderLen)
	binary.NativeEndian.PutUint32(h[16:], udevHeaderLen)
	binary.NativeEndian.PutUint32(h[20:], uint32(props.Len()))
	return append(h, props.Bytes()...)
}

func writeEnv(b *bytes.Buffer, e Event) {
	env := map[string]string{"ACTION": string(e.Action), "DEVPATH": e.DevPath}
	for k, v := range e.Env {
		env[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		b.WriteString(k + "=" + env[k] + "\x00")
	}
}
