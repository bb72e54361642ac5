package dm

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestLayoutMatchesUAPI(t *testing.T) {
	var h unix.DmIoctl
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof dm_ioctl", unsafe.Sizeof(h), 312},
		{"data_size", unsafe.Offsetof(h.Data_size), offDataSize},
		{"data_start", unsafe.Offsetof(h.Data_start), offDataStart},
		{"target_count", unsafe.Offsetof(h.Target_count), offTargetCount},
		{"open_count", unsafe.Offsetof(h.Open_count), offOpenCount},
		{"flags", unsafe.Offsetof(h.Flags), offFlags},
		{"event_nr", unsafe.Offsetof(h.Event_nr), offEventNr},
		{"dev", unsafe.Offsetof(h.Dev), offDev},
		{"name", unsafe.Offsetof(h.Name), offName},
		{"uuid", unsafe.Offsetof(h.Uuid), offUUID},
		{"data", unsafe.Offsetof(h.Data), 305},
		{"sizeof dm_target_spec", unsafe.Sizeof(unix.DmTargetSpec{}), specSize},
		{"spec next", unsafe.Offsetof(unix.DmTargetSpec{}.Next), 20},
		{"spec target_type", unsafe.Offsetof(unix.DmTargetSpec{}.Target_type), 24},
		{"sizeof dm_target_versions", unsafe.Sizeof(unix.DmTargetVersions{}), versionsSize},
		{"sizeof dm_target_deps", unsafe.Sizeof(unix.DmTargetDeps{}), 8},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestIoctlNumbers(t *testing.T) {
	for nr, c := range []command{
		cmdVersion, {}, cmdListDevices, cmdDevCreate, cmdDevRemove, cmdDevRename, cmdDevSuspend,
		cmdDevStatus, {}, cmdTableLoad, cmdTableClear, cmdTableDeps, cmdTableStatus,
		cmdListVersions, cmdTargetMsg, {}, cmdDevArmPoll,
	} {
		if c.name == "" {
			continue
		}
		// _IOWR(0xfd, nr, struct dm_ioctl)
		want := uintptr(3<<30|312<<16|0xfd<<8) | uintptr(nr)
		if c.req != want {
			t.Errorf("%s = %#x, want %#x", c.name, c.req, want)
		}
	}
}

func TestNewBufferAligned(t *testing.T) {
	for _, n := range []int{1, 312, 313, 16 << 10} {
		b := newBuffer(n)
		if uintptr(unsafe.Pointer(&b[0]))%8 != 0 || len(b) < n || len(b)%8 != 0 {
			t.Errorf("newBuffer(%d): len %d, addr %p", n, len(b), &b[0])
		}
	}
}

// A TABLE_LOAD request for KI §5.6's map, checked byte for byte.
func TestEncodeTableLoadGolden(t *testing.T) {
	params := "1 queue_if_no_path 0 2 1 round-robin 0 1 1 8:16 1 round-robin 0 1 1 8:80 1"
	payload, err := encodeTargets([]Target{{Start: 0, Length: 524288, Type: "multipath", Params: params}})
	if err != nil {
		t.Fatal(err)
	}
	buf, err := encodeRequest(header{Version: [3]uint32{4}, TargetCount: 1, Name: "mpatha"}, payload, 0)
	if err != nil {
		t.Fatal(err)
	}
	// dm_ioctl and dm_target_spec are in the port's byte order, so the
	// numbers are laid out natively (s390x has each one reversed).
	want := make([]byte, 312+40+80)
	ne.PutUint32(want[0:], 4)           // version 4.0.0
	ne.PutUint32(want[12:], 432)        // data_size
	ne.PutUint32(want[16:], 312)        // data_start
	ne.PutUint32(want[20:], 1)          // target_count
	copy(want[48:], "mpatha")           // name
	ne.PutUint64(want[312+8:], 0x80000) // length in sectors
	ne.PutUint32(want[312+20:], 40+80)  // next = 40 + align8(74+1)
	copy(want[312+24:], "multipath")
	copy(want[312+40:], params)
	if len(params) != 74 {
		t.Fatalf("params length %d, the golden buffer assumes 74", len(params))
	}
	if !bytes.Equal(buf, want) {
		t.Errorf("request differs:\n got %s\nwant %s", hex.EncodeToString(buf), hex.EncodeToString(want))
	}
	// The kernel reads it back as one spec.
	h, data, err := decodeReply(buf)
	if err != nil || h.Name != "mpatha" || h.DataSize != 432 {
		t.Fatalf("decodeReply: %+v %v", h, err)
	}
	ts, err := decodeTargets(data, 1)
	if err != nil || len(ts) != 1 || ts[0].Params != params || ts[0].Length != 524288 || ts[0].Type != "multipath" {
		t.Errorf("decodeTargets = %+v, %v", ts, err)
	}
}

func TestEncodeTargetsMulti(t *testing.T) {
	ts := []Target{{0, 8, "linear", "8:16 0"}, {8, 8, "linear", "8:32 0 long enough params"}}
	b, err := encodeTargets(ts)
	if err != nil {
		t.Fatal(err)
	}
	// TABLE_LOAD's next is relative to the spec itself.
	if n := ne.Uint32(b[20:]); n != 48 {
		t.Errorf("first next = %d, want 48", n)
	}
	if n := ne.Uint32(b[48+20:]); n != 40+32 {
		t.Errorf("second next = %d, want 72", n)
	}
	for _, bad := range []Target{{Type: ""}, {Type: "a-very-long-target-type"}, {Type: "x", Params: "a\x00b"}} {
		if _, err := encodeTargets([]Target{bad}); err == nil {
			t.Errorf("encodeTargets(%+v) succeeded", bad)
		}
	}
}

func TestDecodeTargetsStatusLayout(t *testing.T) {
	ts := []Target{{0, 8, "linear", "8:16 0"}, {8, 100, "multipath", "2 0 0 0 1 1 A 0 1 0 8:16 A 0 "}}
	got, err := decodeTargets(kernelStatus(ts), 2)
	if err != nil || !slices.Equal(got, ts) {
		t.Errorf("decodeTargets = %+v, %v", got, err)
	}
	for _, c := range []struct {
		data  []byte
		count uint32
	}{
		{kernelStatus(ts)[:30], 1},
		{kernelStatus(ts), 1000},
		{kernelStatus(ts)[:45], 1}, // params not terminated
	} {
		if _, err := decodeTargets(c.data, c.count); err == nil {
			t.Errorf("decodeTargets(%d bytes, %d) succeeded", len(c.data), c.count)
		}
	}
	// A next that does not advance must not loop.
	loop := kernelStatus(ts)
	ne.PutUint32(loop[20:], 0)
	if _, err := decodeTargets(loop, 2); err == nil {
		t.Error("decodeTargets accepted a non-advancing next")
	}
}

func TestDecodeNameList(t *testing.T) {
	devs := []Device{
		{Name: "mpatha", UUID: "mpath-333333330000007d0", Dev: Dev{253, 0}, EventNr: 7},
		{Name: "vg-root", Dev: Dev{253, 1}, EventNr: 0},
		{Name: "mpathb-with-a-longer-name", UUID: "mpath-333333330000007d1", Dev: Dev{253, 300}, EventNr: 1 << 31},
	}
	got, unknown, err := decodeNameList(kernelNameList(devs, true), true)
	if err != nil || !slices.Equal(got, devs) || unknown != nil {
		t.Errorf("with uuid: %+v, uuids unknown of %v, %v", got, unknown, err)
	}
	noUUID := slices.Clone(devs)
	for i := range noUUID {
		noUUID[i].UUID = ""
	}
	// Before 5.13 flags stay 0 (neither HAS_UUID nor DOESNT_HAVE_UUID); before
	// 4.37 there are no flags at all: every uuid is unknown, not empty.
	got, unknown, err = decodeNameList(kernelNameList(devs, false), true)
	if err != nil || !slices.Equal(got, noUUID) || !slices.Equal(unknown, []int{0, 1, 2}) {
		t.Errorf("without uuid: %+v, uuids unknown of %v, %v", got, unknown, err)
	}
	noTail := slices.Clone(noUUID)
	for i := range noTail {
		noTail[i].EventNr = 0
	}
	got, unknown, err = decodeNameList(kernelNameListNoTail(devs), false)
	if err != nil || !slices.Equal(got, noTail) || !slices.Equal(unknown, []int{0, 1, 2}) {
		t.Errorf("4.36 layout: %+v, uuids unknown of %v, %v", got, unknown, err)
	}
	if got, unknown, err := decodeNameList(nil, true); err != nil || got != nil || unknown != nil {
		t.Errorf("empty list: %+v, %v, %v", got, unknown, err)
	}
	bad := kernelNameList(devs, true)
	ne.PutUint32(bad[8:], 4) // next pointing into the record header
	if _, _, err := decodeNameList(bad, true); err == nil {
		t.Error("accepted next < record header")
	}
	if _, _, err := decodeNameList(kernelNameList(devs, true)[:20], true); err == nil {
		t.Error("accepted truncated list")
	}
}

func TestDecodeVersionsAndDeps(t *testing.T) {
	vs := []TargetVersion{{"multipath", [3]uint32{1, 14, 0}}, {"round-robin", [3]uint32{1, 2, 0}}, {"linear", [3]uint32{1, 4, 0}}}
	got, err := decodeVersions(kernelVersions(vs))
	if err != nil || !slices.Equal(got, vs) {
		t.Errorf("decodeVersions = %+v, %v", got, err)
	}
	if _, err := decodeVersions(kernelVersions(vs)[:10]); err == nil {
		t.Error("accepted truncated versions")
	}
	deps := []Dev{{8, 16}, {8, 80}, {259, 70000}}
	gotDeps, err := decodeDeps(kernelDeps(deps))
	if err != nil || !slices.Equal(gotDeps, deps) {
		t.Errorf("decodeDeps = %v, %v", gotDeps, err)
	}
	over := kernelDeps(deps)
	ne.PutUint32(over, 1<<30)
	if _, err := decodeDeps(over); err == nil {
		t.Error("accepted a count beyond the data")
	}
}

func TestDecodeReply(t *testing.T) {
	buf := newBuffer(400)
	ne.PutUint32(buf[offDataSize:], 312)
	ne.PutUint32(buf[offDataStart:], 312)
	if _, data, err := decodeReply(buf); err != nil || data != nil {
		t.Errorf("empty reply: %v %v", data, err)
	}
	ne.PutUint32(buf[offDataSize:], 1000)
	if _, _, err := decodeReply(buf); err == nil {
		t.Error("accepted data_size beyond buffer")
	}
	if _, _, err := decodeReply(buf[:100]); err == nil {
		t.Error("accepted short buffer")
	}
	ne.PutUint32(buf[offFlags:], flagBufferFull)
	if _, data, err := decodeReply(buf); err != nil || data != nil {
		t.Errorf("buffer full: %v %v", data, err)
	}
}

func TestEncodeRequestRejects(t *testing.T) {
	for _, h := range []header{
		{Name: strings.Repeat("n", 128)},
		{UUID: strings.Repeat("u", 129)},
		{Name: "a\x00b"},
	} {
		if _, err := encodeRequest(h, nil, 0); err == nil {
			t.Errorf("encodeRequest(%q, %q) succeeded", h.Name, h.UUID)
		}
	}
	if _, err := encodeRequest(header{Name: strings.Repeat("n", 127), UUID: strings.Repeat("u", 128)}, nil, 0); err != nil {
		t.Errorf("maximum lengths rejected: %v", err)
	}
}

func TestEncodeMessage(t *testing.T) {
	b, err := encodeMessage(0, "fail_path 8:16")
	if err != nil || len(b) != 24 || string(b[8:22]) != "fail_path 8:16" || b[22] != 0 {
		t.Errorf("encodeMessage = %q, %v", b, err)
	}
	if _, err := encodeMessage(0, "a\x00"); err == nil {
		t.Error("accepted NUL in message")
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"", "control", ".", "..", "a/b", strings.Repeat("x", 128)} {
		if validName(n) == nil {
			t.Errorf("validName(%q) = nil", n)
		}
	}
	if err := validName("mpatha"); err != nil {
		t.Error(err)
	}
}

func FuzzDecodeNameList(f *testing.F) {
	f.Add(kernelNameList([]Device{{Name: "mpatha", UUID: "mpath-1", Dev: Dev{253, 0}, EventNr: 3}, {Name: "b"}}, true), true)
	f.Add(kernelNameList([]Device{{Name: "x"}}, false), false)
	f.Fuzz(func(t *testing.T, data []byte, tail bool) {
		devs, unknown, err := decodeNameList(data, tail)
		if err != nil {
			return
		}
		for _, i := range unknown {
			if i < 0 || i >= len(devs) || devs[i].UUID != "" {
				t.Fatalf("uuid unknown of record %d of %+v", i, devs)
			}
		}
		for _, d := range devs {
			if strings.IndexByte(d.Name, 0) >= 0 || strings.IndexByte(d.UUID, 0) >= 0 {
				t.Fatalf("decoded name with NUL: %+v", d)
			}
		}
	})
}

func FuzzDecodeReply(f *testing.F) {
	ts := kernelStatus([]Target{{0, 8, "multipath", "2 0 0 0 0 0 "}})
	buf, _ := encodeRequest(header{TargetCount: 1, Name: "m"}, ts, 0)
	f.Add(buf)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, data, err := decodeReply(b)
		if err != nil {
			return
		}
		_, _ = decodeTargets(data, h.TargetCount)
		_, _ = decodeVersions(data)
		_, _ = decodeDeps(data)
	})
}

func BenchmarkDecodeNameList1000(b *testing.B) {
	var devs []Device
	for i := range 1000 {
		devs = append(devs, Device{Name: "mpath" + strings.Repeat("x", i%8), UUID: "mpath-3600a0980383030534f2b4d3153324d71", Dev: Dev{253, uint32(i)}, EventNr: uint32(i)})
	}
	data := kernelNameList(devs, true)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := decodeNameList(data, true); err != nil {
			b.Fatal(err)
		}
	}
}
