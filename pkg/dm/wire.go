package dm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file is the pure wire layer: struct dm_ioctl and its payloads as bytes
// (include/uapi/linux/dm-ioctl.h). Nothing here makes a syscall, so every
// encoder and decoder is golden- and fuzz-tested on the host.

// Layout of struct dm_ioctl (312 bytes, 8-aligned; identical on all 64-bit
// and 32-bit Linux ABIs because every field is naturally aligned).
const (
	headerSize = unix.SizeofDmIoctl // 312; payloads start here

	offVersion     = 0
	offDataSize    = 12
	offDataStart   = 16
	offTargetCount = 20
	offOpenCount   = 24
	offFlags       = 28
	offEventNr     = 32
	offDev         = 40
	offName        = 48
	offUUID        = 176

	nameLen = unix.DM_NAME_LEN // including the NUL
	uuidLen = unix.DM_UUID_LEN // including the NUL

	specSize     = unix.SizeofDmTargetSpec // struct dm_target_spec
	typeNameLen  = unix.DM_MAX_TYPE_NAME
	nameListSize = 12 // offsetof(struct dm_name_list, name)
	versionsSize = 16 // offsetof(struct dm_target_versions, name)
)

// Flags of dm_ioctl.flags that callers see in Info.
const (
	flagReadOnly        = unix.DM_READONLY_FLAG
	flagSuspend         = unix.DM_SUSPEND_FLAG
	flagStatusTable     = unix.DM_STATUS_TABLE_FLAG
	flagActivePresent   = unix.DM_ACTIVE_PRESENT_FLAG
	flagInactive        = unix.DM_INACTIVE_PRESENT_FLAG
	flagBufferFull      = unix.DM_BUFFER_FULL_FLAG
	flagSkipLockfs      = unix.DM_SKIP_LOCKFS_FLAG
	flagNoFlush         = unix.DM_NOFLUSH_FLAG
	flagUUID            = unix.DM_UUID_FLAG
	flagDataOut         = unix.DM_DATA_OUT_FLAG
	flagDeferredRemove  = unix.DM_DEFERRED_REMOVE
	flagUeventGenerated = unix.DM_UEVENT_GENERATED_FLAG
)

var ne = binary.NativeEndian

// command is one dm ioctl: the request number and the name used in errors.
type command struct {
	req  uintptr
	name string
}

var (
	cmdVersion      = command{unix.DM_VERSION, "DM_VERSION"}
	cmdListDevices  = command{unix.DM_LIST_DEVICES, "DM_LIST_DEVICES"}
	cmdDevCreate    = command{unix.DM_DEV_CREATE, "DM_DEV_CREATE"}
	cmdDevRemove    = command{unix.DM_DEV_REMOVE, "DM_DEV_REMOVE"}
	cmdDevRename    = command{unix.DM_DEV_RENAME, "DM_DEV_RENAME"}
	cmdDevSuspend   = command{unix.DM_DEV_SUSPEND, "DM_DEV_SUSPEND"}
	cmdDevStatus    = command{unix.DM_DEV_STATUS, "DM_DEV_STATUS"}
	cmdTableLoad    = command{unix.DM_TABLE_LOAD, "DM_TABLE_LOAD"}
	cmdTableClear   = command{unix.DM_TABLE_CLEAR, "DM_TABLE_CLEAR"}
	cmdTableDeps    = command{unix.DM_TABLE_DEPS, "DM_TABLE_DEPS"}
	cmdTableStatus  = command{unix.DM_TABLE_STATUS, "DM_TABLE_STATUS"}
	cmdListVersions = command{unix.DM_LIST_VERSIONS, "DM_LIST_VERSIONS"}
	cmdTargetMsg    = command{unix.DM_TARGET_MSG, "DM_TARGET_MSG"}
	cmdDevArmPoll   = command{unix.DM_DEV_ARM_POLL, "DM_DEV_ARM_POLL"}
)

// header is the decoded form of struct dm_ioctl.
type header struct {
	Version     [3]uint32
	DataSize    uint32
	DataStart   uint32
	TargetCount uint32
	OpenCount   int32
	Flags       uint32
	EventNr     uint32
	Dev         uint64
	Name        string
	UUID        string
}

// newBuffer returns n zeroed bytes (rounded up to 8) whose first byte is
// 8-aligned. The kernel aligns name_list and spec records to absolute 8-byte
// boundaries, so offsets computed relative to the buffer are only right if
// the buffer itself is aligned; a []uint64 backing store guarantees that.
func newBuffer(n int) []byte {
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*8)
}

func align8(n int) int { return (n + 7) &^ 7 }

// validName reports whether the kernel would accept name for a device.
func validName(name string) error {
	switch {
	case name == "":
		return errors.New("empty device name")
	case len(name) >= nameLen:
		return fmt.Errorf("device name %q longer than %d bytes", name, nameLen-1)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("device name %q contains '/' or NUL", name)
	case name == "control" || name == "." || name == "..":
		return fmt.Errorf("device name %q is reserved", name)
	}
	return nil
}

func validUUID(uuid string) error {
	if len(uuid) >= uuidLen {
		return fmt.Errorf("uuid %q longer than %d bytes", uuid, uuidLen-1)
	}
	if strings.IndexByte(uuid, 0) >= 0 {
		return fmt.Errorf("uuid %q contains NUL", uuid)
	}
	return nil
}

// encodeRequest builds a request buffer of size bytes (at least the header
// plus payload): header fields from h, data_size = buffer size,
// data_start = 312, payload copied to offset 312.
func encodeRequest(h header, payload []byte, size int) ([]byte, error) {
	if err := validUUID(h.UUID); err != nil {
		return nil, err
	}
	if len(h.Name) >= nameLen || strings.IndexByte(h.Name, 0) >= 0 {
		return nil, fmt.Errorf("device name %q invalid", h.Name)
	}
	size = max(size, headerSize+len(payload))
	buf := newBuffer(size)
	for i, v := range h.Version {
		ne.PutUint32(buf[offVersion+4*i:], v)
	}
	ne.PutUint32(buf[offDataSize:], uint32(len(buf)))
	ne.PutUint32(buf[offDataStart:], headerSize)
	ne.PutUint32(buf[offTargetCount:], h.TargetCount)
	ne.PutUint32(buf[offFlags:], h.Flags)
	ne.PutUint32(buf[offEventNr:], h.EventNr)
	ne.PutUint64(buf[offDev:], h.Dev)
	copy(buf[offName:offName+nameLen-1], h.Name)
	copy(buf[offUUID:offUUID+uuidLen-1], h.UUID)
	copy(buf[headerSize:], payload)
	return buf, nil
}

// decodeReply parses the header the kernel wrote back and returns the
// payload it filled in (data_start up to data_size).
func decodeReply(buf []byte) (header, []byte, error) {
	if len(buf) < headerSize {
		return header{}, nil, fmt.Errorf("reply of %d bytes is shorter than struct dm_ioctl", len(buf))
	}
	var h header
	for i := range h.Version {
		h.Version[i] = ne.Uint32(buf[offVersion+4*i:])
	}
	h.DataSize = ne.Uint32(buf[offDataSize:])
	h.DataStart = ne.Uint32(buf[offDataStart:])
	h.TargetCount = ne.Uint32(buf[offTargetCount:])
	h.OpenCount = int32(ne.Uint32(buf[offOpenCount:]))
	h.Flags = ne.Uint32(buf[offFlags:])
	h.EventNr = ne.Uint32(buf[offEventNr:])
	h.Dev = ne.Uint64(buf[offDev:])
	h.Name = cstring(buf[offName : offName+nameLen])
	h.UUID = cstring(buf[offUUID : offUUID+uuidLen])
	if h.Flags&flagBufferFull != 0 {
		return h, nil, nil
	}
	// data_size counts from the start of the header; an empty reply has
	// data_size <= data_start (LIST_DEVICES with no devices leaves 312).
	start, end := int(h.DataStart), int(h.DataSize)
	if end <= start {
		return h, nil, nil
	}
	if start < headerSize-7 || start%8 != 0 || end > len(buf) {
		return h, nil, fmt.Errorf("reply data [%d,%d) outside buffer of %d bytes", start, end, len(buf))
	}
	return h, buf[start:end], nil
}

// cstring returns b up to its first NUL.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Target is one line of a device's table: the sector range it maps, the
// target type and its parameters (constructor arguments for a load; the
// table or status text on readback).
type Target struct {
	Start  uint64
	Length uint64
	Type   string
	Params string
}

// encodeTargets packs targets as a TABLE_LOAD payload. Each record is a
// 40-byte dm_target_spec, the params and a NUL, padded to 8; `next` is the
// distance from this spec to the next one.
func encodeTargets(ts []Target) ([]byte, error) {
	n := 0
	for _, t := range ts {
		if t.Type == "" || len(t.Type) >= typeNameLen || strings.IndexByte(t.Type, 0) >= 0 {
			return nil, fmt.Errorf("target type %q invalid", t.Type)
		}
		if strings.IndexByte(t.Params, 0) >= 0 {
			return nil, fmt.Errorf("%s target params contain NUL", t.Type)
		}
		n += specSize + align8(len(t.Params)+1)
	}
	out := make([]byte, n)
	off := 0
	for _, t := range ts {
		rec := specSize + align8(len(t.Params)+1)
		s := out[off : off+rec]
		ne.PutUint64(s[0:], t.Start)
		ne.PutUint64(s[8:], t.Length)
		ne.PutUint32(s[20:], uint32(rec))
		copy(s[24:24+typeNameLen], t.Type)
		copy(s[specSize:], t.Params)
		off += rec
	}
	return out, nil
}

// decodeTargets parses count specs from a TABLE_STATUS reply. Here `next`
// is the offset of the following spec from the start of data, not from the
// current spec as in TABLE_LOAD.
func decodeTargets(data []byte, count uint32) ([]Target, error) {
	// Each spec needs at least specSize+1 bytes; bound count before allocating.
	if int64(count) > int64(len(data)/(specSize+1)) {
		return nil, fmt.Errorf("target count %d does not fit in %d bytes of status data", count, len(data))
	}
	ts := make([]Target, 0, count)
	off := 0
	for i := range int(count) {
		if off < 0 || off+specSize > len(data) {
			return nil, fmt.Errorf("target spec %d at offset %d outside %d bytes of status data", i, off, len(data))
		}
		s := data[off:]
		params := s[specSize:]
		nul := bytes.IndexByte(params, 0)
		if nul < 0 {
			return nil, fmt.Errorf("target spec %d: params not NUL-terminated", i)
		}
		ts = append(ts, Target{
			Start:  ne.Uint64(s[0:]),
			Length: ne.Uint64(s[8:]),
			Type:   cstring(s[24 : 24+typeNameLen]),
			Params: string(params[:nul]),
		})
		next := int(ne.Uint32(s[20:]))
		if i+1 < int(count) && next <= off {
			return nil, fmt.Errorf("target spec %d: next offset %d does not advance past %d", i, next, off)
		}
		off = next
	}
	return ts, nil
}

// Device is one entry of DM_LIST_DEVICES.
type Device struct {
	Name    string
	UUID    string // empty when the device has none
	Dev     Dev
	EventNr uint32
}

// decodeNameList parses a LIST_DEVICES reply: dm_name_list records chained
// by `next`, relative to the record, 0 ending the list. With tail set
// (DM 4.37+) each name is followed, at the next 8-byte boundary, by
// event_nr and flags, then by the uuid when flags say it has one.
// Alignment is relative to data, which starts 8-aligned in the buffer.
// noUUID lists the records whose flags say neither "has a uuid" nor "has
// none": kernels before 5.13 (DM 4.45) ignore DM_UUID_FLAG here and leave
// flags 0, so their uuids must be asked for device by device.
func decodeNameList(data []byte, tail bool) (devs []Device, noUUID []int, err error) {
	off := 0
	for len(data) > 0 {
		if off+nameListSize > len(data) {
			return nil, nil, fmt.Errorf("name_list record at offset %d outside %d bytes", off, len(data))
		}
		r := data[off:]
		nameEnd := bytes.IndexByte(r[nameListSize:], 0)
		if nameEnd < 0 {
			return nil, nil, fmt.Errorf("name_list record at offset %d: name not NUL-terminated", off)
		}
		d := Device{
			Name: string(r[nameListSize : nameListSize+nameEnd]),
			Dev:  decodeDev(ne.Uint64(r[0:])),
		}
		flags := uint32(0)
		if tail {
			t := align8(nameListSize + nameEnd + 1)
			if t+8 > len(r) {
				return nil, nil, fmt.Errorf("name_list record %q: event_nr outside data", d.Name)
			}
			d.EventNr = ne.Uint32(r[t:])
			flags = ne.Uint32(r[t+4:])
			if flags&unix.DM_NAME_LIST_FLAG_HAS_UUID != 0 {
				u := r[t+8:]
				end := bytes.IndexByte(u, 0)
				if end < 0 {
					return nil, nil, fmt.Errorf("name_list record %q: uuid not NUL-terminated", d.Name)
				}
				d.UUID = string(u[:end])
			}
		}
		if flags&(unix.DM_NAME_LIST_FLAG_HAS_UUID|unix.DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID) == 0 {
			noUUID = append(noUUID, len(devs))
		}
		devs = append(devs, d)
		next := int(ne.Uint32(r[8:]))
		if next == 0 {
			break
		}
		if next < nameListSize || next > len(r) {
			return nil, nil, fmt.Errorf("name_list record %q: next %d invalid", d.Name, next)
		}
		off += next
	}
	return devs, noUUID, nil
}

// TargetVersion is one loaded target type from DM_LIST_VERSIONS.
type TargetVersion struct {
	Name    string
	Version [3]uint32
}

// decodeVersions parses a LIST_VERSIONS reply (dm_target_versions records,
// `next` relative to the record, 0 ending the list).
func decodeVersions(data []byte) ([]TargetVersion, error) {
	var vs []TargetVersion
	off := 0
	for len(data) > 0 {
		if off+versionsSize > len(data) {
			return nil, fmt.Errorf("target_versions record at offset %d outside %d bytes", off, len(data))
		}
		r := data[off:]
		end := bytes.IndexByte(r[versionsSize:], 0)
		if end < 0 {
			return nil, fmt.Errorf("target_versions record at offset %d: name not NUL-terminated", off)
		}
		vs = append(vs, TargetVersion{
			Name:    string(r[versionsSize : versionsSize+end]),
			Version: [3]uint32{ne.Uint32(r[4:]), ne.Uint32(r[8:]), ne.Uint32(r[12:])},
		})
		next := int(ne.Uint32(r[0:]))
		if next == 0 {
			break
		}
		if next < versionsSize || next > len(r) {
			return nil, fmt.Errorf("target_versions record %q: next %d invalid", vs[len(vs)-1].Name, next)
		}
		off += next
	}
	return vs, nil
}

// decodeDeps parses a TABLE_DEPS reply: u32 count, u32 pad, u64 dev[count].
func decodeDeps(data []byte) ([]Dev, error) {
	if len(data) == 0 {
		return nil, nil
	}
	if len(data) < 8 {
		return nil, fmt.Errorf("target_deps of %d bytes too short", len(data))
	}
	n := ne.Uint32(data)
	if uint64(n) > uint64(len(data)-8)/8 {
		return nil, fmt.Errorf("target_deps count %d does not fit in %d bytes", n, len(data))
	}
	devs := make([]Dev, n)
	for i := range devs {
		devs[i] = decodeDev(ne.Uint64(data[8+8*i:]))
	}
	return devs, nil
}

// encodeMessage builds a TARGET_MSG payload: u64 sector, then the text.
func encodeMessage(sector uint64, msg string) ([]byte, error) {
	if strings.IndexByte(msg, 0) >= 0 {
		return nil, fmt.Errorf("message %q contains NUL", msg)
	}
	out := make([]byte, align8(8+len(msg)+1))
	ne.PutUint64(out, sector)
	copy(out[8:], msg)
	return out, nil
}

// encodeString builds a payload holding one NUL-terminated string (RENAME).
func encodeString(s string) []byte {
	out := make([]byte, align8(len(s)+1))
	copy(out, s)
	return out
}
