package parttable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"testing"
)

// image is an in-memory device.
type image []byte

func (m image) WriteAt(b []byte, off int64) (int, error) { return copy(m[off:], b), nil }
func (m image) ReadAt(b []byte, off int64) (int, error) {
	return bytes.NewReader(m).ReadAt(b, off)
}

var (
	linuxFS = GUID{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4}
	lvmGUID = GUID{0x79, 0xd3, 0xd6, 0xe6, 0x07, 0xf5, 0xc2, 0x44, 0xa2, 0x3c, 0x23, 0x8f, 0x2a, 0x3d, 0xf9, 0x28}
	diskID  = GUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
)

const mib = 2048 // sectors

func dosTable() *Table {
	return &Table{Scheme: DOS, Partitions: []Partition{
		{Number: 1, Start: 1 * mib, Sectors: 4 * mib, Type: 0x83},
		{Number: 2, Start: 5 * mib, Sectors: 2, Type: 0x05, Extended: true},
		{Number: 3, Start: 20 * mib, Sectors: 2 * mib, Type: 0x8e},
		{Number: 5, Start: 6 * mib, Sectors: 1 * mib, Type: 0x83},
		{Number: 6, Start: 8 * mib, Sectors: 3 * mib, Type: 0x82},
		{Number: 7, Start: 12 * mib, Sectors: 5 * mib, Type: 0x83},
	}}
}

func gptTable() *Table {
	return &Table{Scheme: GPT, DiskGUID: diskID, Partitions: []Partition{
		{Number: 1, Start: 1 * mib, Sectors: 8 * mib, TypeGUID: linuxFS, GUID: GUID{1}, Name: "root"},
		{Number: 2, Start: 9 * mib, Sectors: 4 * mib, TypeGUID: lvmGUID, GUID: GUID{2}, Name: "données"},
		{Number: 4, Start: 13 * mib, Sectors: 16 * mib, TypeGUID: linuxFS, GUID: GUID{4}},
	}}
}

func written(t *testing.T, size int64, bs int, tab *Table) image {
	t.Helper()
	img := make(image, size)
	if err := Write(img, size, bs, tab); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return img
}

func TestReadWritten(t *testing.T) {
	dos4k := dosTable()
	dos4k.Partitions[1].Sectors = 8 // the extended partition maps one 4096-byte block
	for _, tc := range []struct {
		name string
		bs   int
		size int64
		tab  *Table
	}{
		{"dos 512", 512, 64 << 20, dosTable()},
		{"dos 4096", 4096, 64 << 20, dos4k},
		{"dos primaries only", 512, 64 << 20, &Table{Scheme: DOS, Partitions: []Partition{{Number: 4, Start: 8, Sectors: 8, Type: 0x83}}}},
		{"dos empty extended", 512, 8 << 20, &Table{Scheme: DOS, Partitions: []Partition{{Number: 1, Start: mib, Sectors: 1, Type: 0x0f, Extended: true}}}},
		{"gpt 512", 512, 64 << 20, gptTable()},
		{"gpt 4096", 4096, 64 << 20, gptTable()},
		{"gpt empty", 512, 1 << 20, &Table{Scheme: GPT, DiskGUID: diskID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := written(t, tc.size, tc.bs, tc.tab)
			got, err := Read(img, tc.size, tc.bs)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			want := *tc.tab
			want.Partitions = sorted(want.Partitions)
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Read gave\n%+v\nwant\n%+v", *got, want)
			}
		})
	}
}

func sorted(ps []Partition) []Partition {
	out := append([]Partition(nil), ps...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Number < out[i].Number {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// TestKpartxNumbering pins the numbers kpartx gives to an EBR's slots: an empty first slot still
// takes a number, so a chain whose first EBR lost its partition numbers the next one 6.
func TestKpartxNumbering(t *testing.T) {
	size := int64(16 << 20)
	img := written(t, size, 512, dosTable())
	// Empty the first EBR's data slot (block 5*mib) and keep its link.
	clear(img[5*mib*512+mbrEntries : 5*mib*512+mbrEntries+16])
	got, err := Read(img, size, 512)
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, p := range got.Partitions {
		nums = append(nums, p.Number)
	}
	if want := []int{1, 2, 3, 6, 7}; !reflect.DeepEqual(nums, want) {
		t.Errorf("numbers %v, want %v", nums, want)
	}
}

func TestReadDamaged(t *testing.T) {
	const size = 32 << 20
	gpt := func() image { return written(t, size, 512, gptTable()) }
	last := int64(size - 512)
	for _, tc := range []struct {
		name    string
		img     func() image
		bs      int
		noTable bool   // ErrNoTable
		wantErr bool   // another error
		want    Scheme // else: a table of this scheme with gptTable's partitions
	}{
		{name: "zeros", img: func() image { return make(image, size) }, bs: 512, noTable: true},
		{name: "FAT boot sector", img: func() image {
			m := make(image, size)
			copy(m[0x1be:], []byte{0xeb, 0x3c, 0x90}) // boot flags that are no MBR's
			m[510], m[511] = 0x55, 0xaa
			return m
		}, bs: 512, noTable: true},
		{name: "primary header CRC broken: backup used", img: func() image { m := gpt(); m[512+40]++; return m }, bs: 512, want: GPT},
		{name: "primary entries broken: backup used", img: func() image { m := gpt(); m[1024+60]++; return m }, bs: 512, want: GPT},
		{name: "both headers broken", img: func() image { m := gpt(); m[512+40]++; m[last+40]++; return m }, bs: 512, wantErr: true},
		{name: "both entry arrays broken", img: func() image {
			m := gpt()
			m[1024+60]++
			m[last-32*512+60]++
			return m
		}, bs: 512, wantErr: true},
		{name: "GPT without protective MBR", img: func() image { m := gpt(); clear(m[:512]); return m }, bs: 512, noTable: true},
		{name: "GPT header claims another block", img: func() image {
			m := gpt()
			binary.LittleEndian.PutUint64(m[512+24:], 7)
			clear(m[512+16 : 512+20])
			binary.LittleEndian.PutUint32(m[512+16:], crc32.ChecksumIEEE(m[512:512+92]))
			return m
		}, bs: 512, want: GPT},
		{name: "GPT read with the wrong block size", img: gpt, bs: 4096, wantErr: true},
		{name: "block size not a power of two", img: gpt, bs: 1000, wantErr: true},
		{name: "EBR linking to itself", img: func() image {
			m := written(t, size, 512, dosTable())
			ebr := m[5*mib*512:]
			binary.LittleEndian.PutUint32(ebr[mbrEntries+16+8:], 0) // next EBR = the extended start = this one
			return m
		}, bs: 512, want: DOS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(tc.img(), size, tc.bs)
			switch {
			case tc.noTable:
				if !errors.Is(err, ErrNoTable) {
					t.Fatalf("Read: %v, want ErrNoTable", err)
				}
			case tc.wantErr:
				if err == nil || errors.Is(err, ErrNoTable) {
					t.Fatalf("Read: %v, want an error other than ErrNoTable", err)
				}
			default:
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				if got.Scheme != tc.want {
					t.Fatalf("scheme %s, want %s", got.Scheme, tc.want)
				}
				if tc.want == GPT && !reflect.DeepEqual(got.Partitions, gptTable().Partitions) {
					t.Errorf("partitions %+v", got.Partitions)
				}
				if tc.want == DOS && len(got.Partitions) != 4 {
					t.Errorf("looped chain: partitions %+v, want 1, 2, 3 and 5", got.Partitions)
				}
			}
		})
	}
}

// A table written for a grown LUN, read through a map still at the old size: the partition past
// the end is returned (the daemon keeps its partition map until the map grows).
func TestPartitionPastTheEnd(t *testing.T) {
	const size = 16 << 20
	tab := &Table{Scheme: GPT, Partitions: []Partition{{Number: 2, Start: 10240, Sectors: 40000, TypeGUID: linuxFS}}}
	m := written(t, 64<<20, 512, tab)
	got, err := Read(m[:size], size, 512)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Partitions) != 1 || got.Partitions[0].End() != 50240 {
		t.Errorf("partitions %+v, want partition 2 ending at sector 50240", got.Partitions)
	}
}

func TestWriteRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		bs   int
		tab  *Table
	}{
		{"logical without extended", 512, &Table{Scheme: DOS, Partitions: []Partition{{Number: 5, Start: 8, Sectors: 8, Type: 0x83}}}},
		{"logical number gap", 512, &Table{Scheme: DOS, Partitions: []Partition{{Number: 1, Start: 8, Extended: true}, {Number: 6, Start: 9, Sectors: 8, Type: 0x83}}}},
		{"half block", 4096, &Table{Scheme: DOS, Partitions: []Partition{{Number: 1, Start: 4, Sectors: 8, Type: 0x83}}}},
		{"gpt past the end", 512, &Table{Scheme: GPT, Partitions: []Partition{{Number: 1, Start: 34, Sectors: 1 << 30, TypeGUID: linuxFS}}}},
		{"gpt without type", 512, &Table{Scheme: GPT, Partitions: []Partition{{Number: 1, Start: 34, Sectors: 8}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := make(image, 4<<20)
			if err := Write(img, int64(len(img)), tc.bs, tc.tab); err == nil {
				t.Fatal("Write accepted it")
			}
		})
	}
}

func TestGUIDString(t *testing.T) {
	if got, want := linuxFS.String(), "0fc63daf-8483-4772-8e79-3d69d8477de4"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(written(&testing.T{}, 64<<10, 512, &Table{Scheme: DOS, Partitions: []Partition{
		{Number: 1, Start: 8, Sectors: 8, Type: 0x83}, {Number: 2, Start: 16, Extended: true},
		{Number: 5, Start: 17, Sectors: 7, Type: 0x83}, {Number: 6, Start: 25, Sectors: 7, Type: 0x83},
	}})), false)
	f.Add([]byte(written(&testing.T{}, 64<<10, 512, &Table{Scheme: GPT, Partitions: []Partition{
		{Number: 2, Start: 40, Sectors: 16, TypeGUID: linuxFS, Name: "x"},
	}})), false)
	f.Add([]byte(written(&testing.T{}, 256<<10, 4096, &Table{Scheme: GPT, Partitions: []Partition{
		{Number: 1, Start: 64, Sectors: 64, TypeGUID: linuxFS},
	}})), true)
	f.Fuzz(func(t *testing.T, data []byte, big bool) {
		bs := 512
		if big {
			bs = 4096
		}
		got, err := Read(image(data), int64(len(data)), bs)
		if err != nil {
			return
		}
		// What was read, written again, reads the same (when Write can lay it out).
		img := make(image, len(data))
		if Write(img, int64(len(img)), bs, got) != nil {
			return
		}
		again, err := Read(img, int64(len(img)), bs)
		if err != nil {
			t.Fatalf("re-read of a written table: %v (table %+v)", err, got)
		}
		strip := func(ps []Partition) []Partition {
			out := append([]Partition(nil), ps...)
			for i := range out {
				if out[i].Extended {
					out[i].Sectors = 0 // Write recomputes the extended partition's extent
				}
			}
			return out
		}
		if got.Scheme != again.Scheme || !reflect.DeepEqual(strip(got.Partitions), strip(again.Partitions)) {
			t.Fatalf("round trip:\n%+v\n%+v", got, again)
		}
	})
}
