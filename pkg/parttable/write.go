package parttable

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"unicode/utf16"
)

// gptWriteEntries is the size of the entry array Write makes (the usual 128, or more if a partition
// number needs it).
const gptWriteEntries = 128

// Write lays t out on a device of size bytes, in the same layout partitioning tools make, so tests
// and the test bed can partition devices without them; Read gives t back.
//
// DOS: partitions 1–4 are primary slots; one of them may be Extended, and partitions 5, 6, ... are
// its logical partitions, in order after it (the first EBR is the extended partition's first block,
// each further one the block after the logical partition before it; the extended partition's
// Sectors are ignored: it spans from its Start to the end of its last logical partition). GPT:
// protective MBR, primary header and entries at block 1 and 2, backup entries and header at the
// end; Number N is entry N-1. Starts and lengths must be whole logical blocks.
func Write(w io.WriterAt, size int64, blockSize int, t *Table) error {
	if blockSize < 512 || blockSize > 65536 || blockSize&(blockSize-1) != 0 {
		return fmt.Errorf("parttable: write: block size %d", blockSize)
	}
	d := writer{w: w, bs: uint64(blockSize), blocks: uint64(size) / uint64(blockSize)}
	for _, p := range t.Partitions {
		if p.Start%(d.bs/512) != 0 || (!p.Extended && p.Sectors%(d.bs/512) != 0) {
			return fmt.Errorf("parttable: write: partition %d is not in whole %d-byte blocks", p.Number, blockSize)
		}
	}
	switch t.Scheme {
	case DOS:
		return d.dos(t.Partitions)
	case GPT:
		return d.gpt(t)
	}
	return fmt.Errorf("parttable: write: unknown scheme %q", t.Scheme)
}

type writer struct {
	w      io.WriterAt
	bs     uint64
	blocks uint64
}

func (d *writer) put(lba uint64, b []byte) error {
	if lba >= d.blocks || uint64(len(b)) > (d.blocks-lba)*d.bs {
		return fmt.Errorf("parttable: write: block %d is past the end of the device", lba)
	}
	if _, err := d.w.WriteAt(b, int64(lba*d.bs)); err != nil {
		return fmt.Errorf("parttable: write block %d: %w", lba, err)
	}
	return nil
}

func (d *writer) lba(sectors uint64) uint64 { return sectors / (d.bs / 512) }

func setEntry(b []byte, i int, typ byte, start, count uint64) error {
	if start > 0xffffffff || count > 0xffffffff {
		return fmt.Errorf("parttable: write: MBR entry %d: %d+%d blocks do not fit 32 bits", i+1, start, count)
	}
	e := b[mbrEntries+16*i:]
	e[4] = typ
	binary.LittleEndian.PutUint32(e[8:], uint32(start))
	binary.LittleEndian.PutUint32(e[12:], uint32(count))
	return nil
}

func (d *writer) dos(ps []Partition) error {
	mbr := make([]byte, d.bs)
	mbr[510], mbr[511] = 0x55, 0xaa
	var ext *Partition
	var logical []Partition
	for i := range ps {
		p := &ps[i]
		switch {
		case p.Number >= 1 && p.Number <= 4 && p.Extended:
			if ext != nil {
				return fmt.Errorf("parttable: write: two extended partitions")
			}
			ext = p
		case p.Number >= 1 && p.Number <= 4:
			if p.Type == 0 || isExtended(p.Type) || p.Type == typeGPT {
				return fmt.Errorf("parttable: write: partition %d has type %#x", p.Number, p.Type)
			}
			if err := setEntry(mbr, p.Number-1, p.Type, d.lba(p.Start), d.lba(p.Sectors)); err != nil {
				return err
			}
		case p.Number >= 5:
			logical = append(logical, *p)
		default:
			return fmt.Errorf("parttable: write: partition number %d", p.Number)
		}
	}
	slices.SortFunc(logical, func(a, b Partition) int { return a.Number - b.Number })
	if len(logical) > 0 && ext == nil {
		return fmt.Errorf("parttable: write: logical partitions without an extended one")
	}
	if ext == nil {
		return d.put(0, mbr)
	}
	typ := ext.Type
	if !isExtended(typ) {
		typ = 0x05
	}
	extStart := d.lba(ext.Start)
	// The first EBR is the extended partition's first block; each further one is the first block
	// after the logical partition before it.
	ebrs := make([]uint64, len(logical))
	extEnd := extStart + 1 // an empty extended partition still holds its (empty) first EBR
	for i, p := range logical {
		if p.Number != 5+i || p.Type == 0 || isExtended(p.Type) || p.Sectors == 0 {
			return fmt.Errorf("parttable: write: logical partition %d (numbers must run 5, 6, ... with a type and a size)", p.Number)
		}
		ebrs[i] = extStart
		if i > 0 {
			ebrs[i] = extEnd
		}
		if d.lba(p.Start) <= ebrs[i] {
			return fmt.Errorf("parttable: write: logical partition %d leaves no block before it for its EBR", p.Number)
		}
		extEnd = d.lba(p.End())
	}
	if err := setEntry(mbr, ext.Number-1, typ, extStart, extEnd-extStart); err != nil {
		return err
	}
	if err := d.put(0, mbr); err != nil {
		return err
	}
	if len(logical) == 0 {
		ebr := make([]byte, d.bs)
		ebr[510], ebr[511] = 0x55, 0xaa
		return d.put(extStart, ebr)
	}
	for i, p := range logical {
		ebr := make([]byte, d.bs)
		ebr[510], ebr[511] = 0x55, 0xaa
		if err := setEntry(ebr, 0, p.Type, d.lba(p.Start)-ebrs[i], d.lba(p.Sectors)); err != nil {
			return err
		}
		if i+1 < len(logical) {
			n := logical[i+1]
			if err := setEntry(ebr, 1, 0x05, ebrs[i+1]-extStart, d.lba(n.End())-ebrs[i+1]); err != nil {
				return err
			}
		}
		if err := d.put(ebrs[i], ebr); err != nil {
			return err
		}
	}
	return nil
}

func (d *writer) gpt(t *Table) error {
	entries := gptWriteEntries
	for _, p := range t.Partitions {
		if p.Number < 1 || p.Number > MaxPartitions || p.Sectors == 0 || p.TypeGUID == (GUID{}) {
			return fmt.Errorf("parttable: write: GPT partition %d needs a number in 1..%d, a size and a type", p.Number, MaxPartitions)
		}
		entries = max(entries, p.Number)
	}
	entryBlocks := (uint64(entries)*gptEntrySize + d.bs - 1) / d.bs
	if d.blocks < 3+2*entryBlocks+1 {
		return fmt.Errorf("parttable: write: device too small for a GPT")
	}
	first, last := 2+entryBlocks, d.blocks-2-entryBlocks
	ents := make([]byte, entryBlocks*d.bs)
	for _, p := range t.Partitions {
		s, l := d.lba(p.Start), d.lba(p.End())
		if s < first || l == 0 || l-1 > last {
			return fmt.Errorf("parttable: write: GPT partition %d lies outside the usable blocks %d..%d", p.Number, first, last)
		}
		e := ents[(p.Number-1)*gptEntrySize:]
		copy(e[0:16], p.TypeGUID[:])
		copy(e[16:32], p.GUID[:])
		binary.LittleEndian.PutUint64(e[32:], s)
		binary.LittleEndian.PutUint64(e[40:], l-1)
		name := utf16.Encode([]rune(p.Name))
		if len(name) > 36 {
			return fmt.Errorf("parttable: write: GPT partition %d: name longer than 36 UTF-16 units", p.Number)
		}
		for i, c := range name {
			binary.LittleEndian.PutUint16(e[56+2*i:], c)
		}
	}
	entCRC := crc32.Checksum(ents[:entries*gptEntrySize], crcTable)
	header := func(my, alt, entryLBA uint64) []byte {
		b := make([]byte, d.bs)
		copy(b, gptSignature)
		binary.LittleEndian.PutUint32(b[8:], 0x00010000)
		binary.LittleEndian.PutUint32(b[12:], gptHeaderMin)
		binary.LittleEndian.PutUint64(b[24:], my)
		binary.LittleEndian.PutUint64(b[32:], alt)
		binary.LittleEndian.PutUint64(b[40:], first)
		binary.LittleEndian.PutUint64(b[48:], last)
		copy(b[56:72], t.DiskGUID[:])
		binary.LittleEndian.PutUint64(b[72:], entryLBA)
		binary.LittleEndian.PutUint32(b[80:], uint32(entries))
		binary.LittleEndian.PutUint32(b[84:], gptEntrySize)
		binary.LittleEndian.PutUint32(b[88:], entCRC)
		binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:gptHeaderMin], crcTable))
		return b
	}
	pmbr := make([]byte, d.bs)
	pmbr[510], pmbr[511] = 0x55, 0xaa
	if err := setEntry(pmbr, 0, typeGPT, 1, min(d.blocks-1, 0xffffffff)); err != nil {
		return err
	}
	backup := d.blocks - 1
	for _, w := range []struct {
		lba uint64
		b   []byte
	}{
		{0, pmbr},
		{1, header(1, backup, 2)},
		{2, ents},
		{backup - entryBlocks, ents},
		{backup, header(backup, 1, backup-entryBlocks)},
	} {
		if err := d.put(w.lba, w.b); err != nil {
			return err
		}
	}
	return nil
}
