package uevent

import (
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The dm-multipath path failure of KI §4.7, as the kernel sends it.
var kernelDMMsg = []byte("change@/devices/virtual/block/dm-3\x00" +
	"ACTION=change\x00DEVPATH=/devices/virtual/block/dm-3\x00SUBSYSTEM=block\x00DM_TARGET=multipath\x00" +
	"DM_ACTION=PATH_FAILED\x00DM_SEQNUM=1\x00DM_PATH=8:32\x00DM_NR_VALID_PATHS=1\x00DM_NAME=mpatha\x00" +
	"DM_UUID=mpath-333333330000007d0\x00MAJOR=253\x00MINOR=3\x00DEVNAME=dm-3\x00DEVTYPE=disk\x00DISKSEQ=27\x00SEQNUM=4711\x00")

var kernelAddMsg = []byte("add@/devices/pseudo_0/adapter0/host2/target2:0:0/2:0:0:0/block/sdb\x00" +
	"ACTION=add\x00DEVPATH=/devices/pseudo_0/adapter0/host2/target2:0:0/2:0:0:0/block/sdb\x00SUBSYSTEM=block\x00" +
	"MAJOR=8\x00MINOR=16\x00DEVNAME=sdb\x00DEVTYPE=disk\x00DISKSEQ=9\x00SEQNUM=1842\x00")

// udevMsg builds a libudev message with properties at offset off.
func udevMsg(props string, off int) []byte {
	m := make([]byte, off)
	copy(m, "libudev\x00")
	binary.BigEndian.PutUint32(m[8:], 0xfeedcafe)
	binary.NativeEndian.PutUint32(m[12:], 40)
	binary.NativeEndian.PutUint32(m[16:], uint32(off))
	binary.NativeEndian.PutUint32(m[20:], uint32(len(props)))
	binary.BigEndian.PutUint32(m[24:], 0x1234) // subsystem hash, ignored
	return append(m, props...)
}

func TestParseKernel(t *testing.T) {
	e, err := Parse(kernelDMMsg)
	if err != nil {
		t.Fatal(err)
	}
	want := Event{Source: Kernel, Action: Change, DevPath: "/devices/virtual/block/dm-3", Subsystem: "block",
		DevType: "disk", DevName: "dm-3", Major: 253, Minor: 3, HasDevNum: true, Seqnum: 4711,
		DMName: "mpatha", DMUUID: "mpath-333333330000007d0", DMAction: "PATH_FAILED", DMPath: "8:32", DMNrValidPaths: 1}
	env := e.Env
	e.Env = nil
	if !reflect.DeepEqual(e, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", e, want)
	}
	if len(env) != 16 || env["DM_TARGET"] != "multipath" || env["DISKSEQ"] != "27" {
		t.Errorf("Env = %v", env)
	}
	if e.Kind() != KindDM {
		t.Errorf("Kind = %v", e.Kind())
	}
	a, err := Parse(kernelAddMsg)
	if err != nil || a.Action != Add || a.Kind() != KindPath || a.DMNrValidPaths != -1 || a.Major != 8 || a.Minor != 16 {
		t.Errorf("add: %+v, %v", a, err)
	}
}

func TestParseUdev(t *testing.T) {
	props := "ACTION=add\x00DEVPATH=/devices/pseudo_0/adapter0/host2/target2:0:0/2:0:0:0/block/sdb\x00" +
		"SUBSYSTEM=block\x00DEVNAME=/dev/sdb\x00DEVTYPE=disk\x00SEQNUM=1842\x00MAJOR=8\x00MINOR=16\x00" +
		"ID_SERIAL=333333330000007d0\x00ID_FS_LABEL=a=b==c\x00DEVLINKS=/dev/disk/by-id/scsi-333333330000007d0 /dev/disk/by-id/wwn-0x33333330000007d0\x00"
	for _, off := range []int{40, 48} { // properties right after the header, or further on
		e, err := Parse(udevMsg(props, off))
		if err != nil {
			t.Fatalf("off %d: %v", off, err)
		}
		if e.Source != Udev || e.Action != Add || e.DevName != "sdb" || e.Env["DEVNAME"] != "/dev/sdb" || e.Seqnum != 1842 || e.Kind() != KindPath {
			t.Errorf("off %d: %+v", off, e)
		}
		if e.Env["ID_FS_LABEL"] != "a=b==c" || e.Env["ID_SERIAL"] != "333333330000007d0" || len(e.Env) != 11 {
			t.Errorf("off %d: Env = %v", off, e.Env)
		}
	}
}

func TestParseValueWithEquals(t *testing.T) {
	e, err := Parse([]byte("change@/devices/x\x00ACTION=change\x00DEVPATH=/devices/x\x00SUBSYSTEM=block\x00K==\x00EMPTY=\x00"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := e.Env["K"]; !ok || v != "=" {
		t.Errorf("K = %q", v)
	}
	if v, ok := e.Env["EMPTY"]; !ok || v != "" {
		t.Errorf("EMPTY = %q, %v", v, ok)
	}
}

func TestParseMalformed(t *testing.T) {
	goodProps := "ACTION=add\x00DEVPATH=/devices/x\x00"
	short := udevMsg(goodProps, 40)
	badMagic := udevMsg(goodProps, 40)
	badMagic[8] = 0
	offOut := udevMsg(goodProps, 40)
	binary.NativeEndian.PutUint32(offOut[16:], 1<<31)
	lenOut := udevMsg(goodProps, 40)
	binary.NativeEndian.PutUint32(lenOut[20:], 1<<32-1)
	offInHeader := udevMsg(goodProps, 40)
	binary.NativeEndian.PutUint32(offInHeader[16:], 8)
	tests := map[string][]byte{
		"empty":               nil,
		"no NUL":              []byte("add@/devices/x"),
		"no @":                []byte("add/devices/x\x00ACTION=add\x00"),
		"relative devpath":    []byte("add@devices/x\x00"),
		"property without =":  []byte("add@/devices/x\x00ACTION=add\x00JUNK\x00"),
		"empty key":           []byte("add@/devices/x\x00=v\x00"),
		"header disagrees":    []byte("add@/devices/x\x00ACTION=remove\x00"),
		"bad MAJOR":           []byte("add@/devices/x\x00MAJOR=8x\x00MINOR=0\x00"),
		"MINOR without MAJOR": []byte("add@/devices/x\x00MINOR=1\x00"),
		"bad SEQNUM":          []byte("add@/devices/x\x00SEQNUM=-1\x00"),
		"bad NR_VALID_PATHS":  []byte("add@/devices/x\x00DM_NR_VALID_PATHS=many\x00"),
		"udev short":          short[:30],
		"udev bad magic":      badMagic,
		"udev offset beyond":  offOut,
		"udev length beyond":  lenOut,
		"udev offset in hdr":  offInHeader,
		"udev no ACTION":      udevMsg("DEVPATH=/devices/x\x00", 40),
	}
	for name, msg := range tests {
		if e, err := Parse(msg); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse = %+v, %v; want ErrMalformed", name, e, err)
		}
	}
	long := []byte("add@" + strings.Repeat("/x", 10000))
	if _, err := Parse(long); err == nil || len(err.Error()) > 200 {
		t.Errorf("long header error not truncated: %d bytes", len(err.Error()))
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	e, _ := Parse(kernelDMMsg)
	for _, msg := range [][]byte{e.MarshalKernel(), e.MarshalUdev()} {
		got, err := Parse(msg)
		if err != nil {
			t.Fatal(err)
		}
		got.Source = e.Source
		if !reflect.DeepEqual(got, e) {
			t.Errorf("round trip =\n%+v\nwant\n%+v", got, e)
		}
	}
}

func TestFilter(t *testing.T) {
	dm, _ := Parse(kernelDMMsg)
	sd, _ := Parse(kernelAddMsg)
	part := sd
	part.DevType, part.DevName = "partition", "sdb1"
	sdev := Event{Action: Change, Subsystem: "scsi", DevType: "scsi_device", DevPath: "/devices/pseudo_0/adapter0/host2/target2:0:0/2:0:0:0"}
	loop := Event{Action: Add, Subsystem: "block", DevType: "disk", DevName: "loop0"}
	tests := []struct {
		name string
		f    Filter
		want []bool // dm, sd, part, sdev, loop, overflow
	}{
		{"any", Filter{}, []bool{true, true, true, true, true, true}},
		{"PathsAndMaps", PathsAndMaps, []bool{true, true, false, false, false, true}},
		{"dm only", Filter{Kinds: KindDM}, []bool{true, false, false, false, false, true}},
		{"sd only", Filter{Subsystems: []string{"block"}, Kinds: KindPath}, []bool{false, true, false, false, false, true}},
		{"scsi subsystem", Filter{Subsystems: []string{"scsi"}}, []bool{false, false, false, true, false, true}},
		{"block or scsi disks", Filter{Subsystems: []string{"block", "scsi"}, DevTypes: []string{"disk", "scsi_device"}},
			[]bool{true, true, false, true, true, true}},
	}
	for _, tc := range tests {
		for i, e := range []Event{dm, sd, part, sdev, loop, {Overflow: true}} {
			if got := tc.f.Match(e); got != tc.want[i] {
				t.Errorf("%s: Match(event %d %s) = %v", tc.name, i, e.DevPath, got)
			}
		}
	}
	byPath := Event{Subsystem: "block", DevPath: "/devices/virtual/block/dm-0"} // no DEVNAME
	if byPath.Kind() != KindDM {
		t.Error("Kind from DEVPATH")
	}
	if (Event{Subsystem: "block", DevName: "/dev/sdaa"}).Kind() != KindPath {
		t.Error("Kind of /dev/sdaa")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(kernelDMMsg)
	f.Add(kernelAddMsg)
	f.Add(udevMsg("ACTION=add\x00DEVPATH=/devices/x\x00ID_FS_LABEL=a=b\x00MAJOR=8\x00MINOR=0\x00SEQNUM=1\x00", 40))
	f.Add(udevMsg("ACTION=remove\x00DEVPATH=/devices/y\x00", 64))
	f.Add([]byte("libudev\x00\xfe\xed\xca\xfe"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		e, err := Parse(msg)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if e.Action == "" || e.DevPath == "" || e.Env == nil {
			t.Fatalf("accepted event without ACTION/DEVPATH: %+v", e)
		}
		// Every event renders in udev's format; one the kernel sent renders in its format too (udev's
		// carries events the kernel's header cannot, e.g. a DEVPATH without a leading slash).
		wires := [][]byte{e.MarshalUdev()}
		if e.Source == Kernel {
			wires = append(wires, e.MarshalKernel())
		}
		for _, wire := range wires {
			again, err := Parse(wire)
			if err != nil {
				t.Fatalf("re-parse of %+v from %q: %v", e, wire, err)
			}
			again.Source = e.Source
			if !reflect.DeepEqual(again, e) {
				t.Fatalf("round trip through %q changed the event:\n%+v\n%+v", wire, e, again)
			}
		}
		e.Kind()
		PathsAndMaps.Match(e)
	})
}
