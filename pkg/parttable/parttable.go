// Package parttable reads the partition table of a block device: MBR (with the extended partition's
// chain of logical partitions) and GPT (protective MBR, primary or backup header, header and entry
// array CRCs), on devices with 512-byte or larger logical blocks. It reads through an io.ReaderAt and
// makes no syscalls, so it works on images in tests and on multipath maps in the daemon.
//
// The result is what kpartx makes partition maps from, numbered as kpartx numbers them so the
// names (<map>-part<N>) stay what they were under multipath-tools:
//
//   - GPT: entry i of the array is partition i+1; empty entries keep their number unused. Only the
//     first MaxPartitions entries count. A valid GPT needs a protective MBR (a 0xEE entry); without
//     one the disk is read as MBR, as kpartx does without -g.
//   - MBR: the four primary slots are 1–4 (empty slots unused); an extended partition is mapped
//     over its first max(2, block/512) sectors only, as the kernel and kpartx map it, so boot
//     loaders can be installed there and nothing can use it as a file system. Each extended boot
//     record (EBR) in the chain gives numbers, from 5, to its first two slots that are not links:
//     a normal chain (data + link, data + empty) gives its logical partitions 5, 6, 7, ...
//   - Starts and lengths are in 512-byte sectors, the unit of device-mapper tables, whatever the
//     logical block size; an MBR on a 4096-byte-block disk counts in 4096-byte blocks, as the
//     kernel reads it.
//
// Garbage never panics: a sector without the 0x55AA signature, or whose boot flags are neither
// 0x00 nor 0x80 (a FAT boot sector, say), is no MBR (ErrNoTable); a GPT header or entry array
// whose CRC does not match is not used; chains that loop or run off the disk end quietly.
package parttable

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"
)

// MaxPartitions is the highest partition number read (kpartx's limit).
const MaxPartitions = 256

// ErrNoTable means the device holds no partition table this package knows.
var ErrNoTable = errors.New("no partition table")

// Scheme names the kind of table.
type Scheme string

const (
	DOS Scheme = "dos" // MBR, as kpartx and blkid call it
	GPT Scheme = "gpt"
)

// GUID is a GPT GUID in its on-disk byte order (the first three fields little-endian).
type GUID [16]byte

// String renders g in the usual 8-4-4-4-12 form, lower case.
func (g GUID) String() string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(g[0:4]),
		binary.LittleEndian.Uint16(g[4:6]), binary.LittleEndian.Uint16(g[6:8]), g[8:10], g[10:16])
}

// Partition is one partition as kpartx maps it.
type Partition struct {
	Number  int    // the N of <map>-partN
	Start   uint64 // first 512-byte sector, from the start of the device
	Sectors uint64 // length in 512-byte sectors
	// MBR: the partition type byte; Extended marks the extended partition itself (Sectors is then
	// the short length it is mapped with).
	Type     byte
	Extended bool
	// GPT: the type and unique GUIDs and the name.
	TypeGUID, GUID GUID
	Name           string
}

// End is the first sector after p.
func (p Partition) End() uint64 { return p.Start + p.Sectors }

// Table is a device's partition table.
type Table struct {
	Scheme   Scheme
	DiskGUID GUID // GPT only
	// Partitions in increasing Number, only the used ones.
	Partitions []Partition
}

// Read reads the partition table of a device of size bytes with the given logical block size.
// It returns ErrNoTable (wrapped) when there is none, and other errors when the device could not be
// read or holds a table that is damaged beyond use (a protective MBR without a valid GPT).
func Read(r io.ReaderAt, size int64, blockSize int) (*Table, error) {
	if blockSize < 512 || blockSize > 65536 || blockSize&(blockSize-1) != 0 {
		return nil, fmt.Errorf("parttable: logical block size %d is not a power of two in 512..65536", blockSize)
	}
	if size < int64(blockSize) {
		return nil, fmt.Errorf("parttable: device of %d bytes: %w", size, ErrNoTable)
	}
	d := disk{r: r, bs: uint64(blockSize), blocks: uint64(size) / uint64(blockSize)}
	mbr, err := d.block(0)
	if err != nil {
		return nil, err
	}
	if !isMBR(mbr) {
		return nil, fmt.Errorf("parttable: %w", ErrNoTable)
	}
	if protective(mbr) {
		t, err := d.gpt()
		if err != nil {
			return nil, fmt.Errorf("parttable: protective MBR but %w", err)
		}
		return t, nil
	}
	return d.dos(mbr)
}

type disk struct {
	r      io.ReaderAt
	bs     uint64 // logical block size in bytes
	blocks uint64 // device size in logical blocks
}

// sectors converts logical blocks to 512-byte sectors; ok is false on overflow.
func (d *disk) sectors(lba uint64) (uint64, bool) {
	m := d.bs / 512
	if lba > ^uint64(0)/m {
		return 0, false
	}
	return lba * m, true
}

func (d *disk) read(lba uint64, n uint64) ([]byte, error) {
	if lba >= d.blocks || n > d.blocks-lba {
		return nil, fmt.Errorf("parttable: blocks %d+%d are past the end of the device (%d blocks)", lba, n, d.blocks)
	}
	buf := make([]byte, n*d.bs)
	if _, err := d.r.ReadAt(buf, int64(lba*d.bs)); err != nil {
		return nil, fmt.Errorf("parttable: read block %d: %w", lba, err)
	}
	return buf, nil
}

func (d *disk) block(lba uint64) ([]byte, error) { return d.read(lba, 1) }

const (
	mbrEntries   = 0x1be
	typeGPT      = 0xee
	maxEmptyHops = 100 // EBRs without a data partition before a chain is given up (kpartx's count)
)

func isMBR(b []byte) bool {
	if b[510] != 0x55 || b[511] != 0xaa {
		return false
	}
	for i := range 4 {
		if f := b[mbrEntries+16*i]; f != 0 && f != 0x80 {
			return false
		}
	}
	return true
}

func protective(b []byte) bool {
	for i := range 4 {
		if b[mbrEntries+16*i+4] == typeGPT {
			return true
		}
	}
	return false
}

func isExtended(t byte) bool { return t == 0x05 || t == 0x0f || t == 0x85 }

type mbrEntry struct {
	typ          byte
	start, count uint64 // in logical blocks
}

func entry(b []byte, i int) mbrEntry {
	e := b[mbrEntries+16*i:]
	return mbrEntry{typ: e[4], start: uint64(binary.LittleEndian.Uint32(e[8:])), count: uint64(binary.LittleEndian.Uint32(e[12:]))}
}

// part converts a span in logical blocks to a Partition; ok is false when it cannot be expressed.
func (d *disk) part(n int, startLBA, count uint64) (Partition, bool) {
	s, ok1 := d.sectors(startLBA)
	c, ok2 := d.sectors(count)
	if !ok1 || !ok2 || s+c < s {
		return Partition{}, false
	}
	return Partition{Number: n, Start: s, Sectors: c}, true
}

func (d *disk) dos(mbr []byte) (*Table, error) {
	t := &Table{Scheme: DOS}
	for i := range 4 {
		e := entry(mbr, i)
		if e.count == 0 || e.typ == 0 {
			continue
		}
		p, ok := d.part(i+1, e.start, e.count)
		if !ok {
			continue
		}
		p.Type = e.typ
		if isExtended(e.typ) {
			p.Extended = true
			p.Sectors = min(p.Sectors, max(2, d.bs/512))
		}
		t.Partitions = append(t.Partitions, p)
	}
	for i := range 4 {
		if e := entry(mbr, i); isExtended(e.typ) && e.count != 0 {
			t.Partitions = append(t.Partitions, d.logical(e.start, 5)...)
			break // one extended partition; the kernel and kpartx read only the first chain's numbers
		}
	}
	return t, nil
}

// logical follows the EBR chain of the extended partition starting at block ext.
func (d *disk) logical(ext uint64, next int) []Partition {
	var ps []Partition
	seen := map[uint64]bool{}
	here, empty := ext, 0
	for next <= MaxPartitions && !seen[here] && empty < maxEmptyHops {
		seen[here] = true
		b, err := d.block(here)
		if err != nil || b[510] != 0x55 || b[511] != 0xaa {
			break
		}
		link, found := uint64(0), false
		data := false
		for i := range 2 {
			e := entry(b, i)
			if isExtended(e.typ) {
				if e.count != 0 && !found {
					link, found = ext+e.start, true
				}
				continue
			}
			n := next
			next++
			if e.count == 0 || e.typ == 0 || n > MaxPartitions {
				continue
			}
			p, ok := d.part(n, here+e.start, e.count)
			if !ok || here+e.start < here {
				continue
			}
			p.Type = e.typ
			ps = append(ps, p)
			data = true
		}
		if data {
			empty = 0
		} else {
			empty++
		}
		if !found || link < ext {
			break
		}
		here = link
	}
	return ps
}

const (
	gptSignature = "EFI PART"
	gptEntrySize = 128
	gptHeaderMin = 92
	// maxEntryBytes bounds the entry array read for a header that passed its CRC (sgdisk's largest
	// tables are far smaller).
	maxEntryBytes = 4 << 20
)

type gptHeader struct {
	myLBA, altLBA     uint64
	firstUse, lastUse uint64
	diskGUID          GUID
	entryLBA          uint64
	entries           uint32
	entrySize         uint32
	entryCRC          uint32
}

func (d *disk) gpt() (*Table, error) {
	h, ents, perr := d.gptAt(1)
	if perr != nil {
		alt := d.blocks - 1
		var aerr error
		if h, ents, aerr = d.gptAt(alt); aerr != nil {
			return nil, fmt.Errorf("no valid GPT: primary: %v; backup: %v", perr, aerr)
		}
	}
	t := &Table{Scheme: GPT, DiskGUID: h.diskGUID}
	for i := range min(int(h.entries), MaxPartitions) {
		e := ents[i*gptEntrySize : (i+1)*gptEntrySize]
		var typ GUID
		copy(typ[:], e[0:16])
		if typ == (GUID{}) {
			continue
		}
		first, last := binary.LittleEndian.Uint64(e[32:]), binary.LittleEndian.Uint64(e[40:])
		if last < first {
			continue
		}
		// An entry past the end of the device is kept, as kpartx keeps it: the device may be a map
		// not yet grown to its LUN's new size (the caller decides what to map).
		p, ok := d.part(i+1, first, last-first+1)
		if !ok {
			continue
		}
		p.TypeGUID = typ
		copy(p.GUID[:], e[16:32])
		p.Name = utf16Name(e[56:128])
		t.Partitions = append(t.Partitions, p)
	}
	return t, nil
}

var crcTable = crc32.MakeTable(crc32.IEEE)

// gptAt reads and checks the GPT header at lba and its entry array.
func (d *disk) gptAt(lba uint64) (gptHeader, []byte, error) {
	var h gptHeader
	b, err := d.block(lba)
	if err != nil {
		return h, nil, err
	}
	if string(b[0:8]) != gptSignature {
		return h, nil, fmt.Errorf("no GPT signature at block %d", lba)
	}
	hsize := binary.LittleEndian.Uint32(b[12:])
	if hsize < gptHeaderMin || uint64(hsize) > d.bs {
		return h, nil, fmt.Errorf("GPT header at block %d: size %d", lba, hsize)
	}
	hdr := append([]byte(nil), b[:hsize]...)
	want := binary.LittleEndian.Uint32(hdr[16:])
	clear(hdr[16:20])
	if got := crc32.Checksum(hdr, crcTable); got != want {
		return h, nil, fmt.Errorf("GPT header at block %d: CRC %08x, want %08x", lba, got, want)
	}
	h = gptHeader{
		myLBA: binary.LittleEndian.Uint64(b[24:]), altLBA: binary.LittleEndian.Uint64(b[32:]),
		firstUse: binary.LittleEndian.Uint64(b[40:]), lastUse: binary.LittleEndian.Uint64(b[48:]),
		entryLBA: binary.LittleEndian.Uint64(b[72:]), entries: binary.LittleEndian.Uint32(b[80:]),
		entrySize: binary.LittleEndian.Uint32(b[84:]), entryCRC: binary.LittleEndian.Uint32(b[88:]),
	}
	copy(h.diskGUID[:], b[56:72])
	if h.myLBA != lba {
		return h, nil, fmt.Errorf("GPT header at block %d says it is at block %d", lba, h.myLBA)
	}
	if h.entrySize != gptEntrySize {
		return h, nil, fmt.Errorf("GPT header at block %d: entry size %d", lba, h.entrySize)
	}
	n := uint64(h.entries) * gptEntrySize
	if n == 0 || n > maxEntryBytes {
		return h, nil, fmt.Errorf("GPT header at block %d: %d entries", lba, h.entries)
	}
	ents, err := d.read(h.entryLBA, (n+d.bs-1)/d.bs)
	if err != nil {
		return h, nil, fmt.Errorf("GPT entries of header at block %d: %w", lba, err)
	}
	ents = ents[:n]
	if got := crc32.Checksum(ents, crcTable); got != h.entryCRC {
		return h, nil, fmt.Errorf("GPT entries of header at block %d: CRC %08x, want %08x", lba, got, h.entryCRC)
	}
	return h, ents, nil
}

func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
