package sysfs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Map is a device-mapper device as seen in /sys/block/dm-N.
type Map struct {
	Node      string // "dm-3"
	Dev       DevT
	Name      string
	UUID      string // "" if the map has none
	Suspended bool
	Size      uint64   // 512-byte sectors
	Slaves    []string // underlying block devices ("sdb", "dm-1", ...)
	Holders   []string
}

// MapNodes lists the dm-N block devices, sorted.
func (fs FS) MapNodes() ([]string, error) {
	ents, err := os.ReadDir(fs.sys("block"))
	if err != nil {
		return nil, fmt.Errorf("sysfs: list block devices: %w", err)
	}
	var nodes []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "dm-") {
			nodes = append(nodes, e.Name())
		}
	}
	slices.Sort(nodes)
	return nodes, nil
}

// Maps reads every dm device; like Paths, unreadable ones are left out and
// their errors joined.
func (fs FS) Maps() ([]Map, error) {
	nodes, err := fs.MapNodes()
	if err != nil {
		return nil, err
	}
	return readEach(nodes, fs.Map)
}

// Map reads one dm device by node name ("dm-3").
func (fs FS) Map(node string) (Map, error) {
	if !strings.HasPrefix(node, "dm-") || !isDigits(node[3:]) {
		return Map{}, fmt.Errorf("sysfs: map %q: not a dm-N node name", node)
	}
	wrap := func(op string, err error) error {
		return fmt.Errorf("sysfs: map %s: %s: %w", node, op, err)
	}
	m := Map{Node: node}
	blk := fs.sys("block", node)
	s, err := readString(filepath.Join(blk, "dev"))
	if err != nil {
		return Map{}, wrap("read dev", err)
	}
	if m.Dev, err = ParseDevT(s); err != nil {
		return Map{}, wrap("read dev", err)
	}
	if m.Size, err = readUint(filepath.Join(blk, "size")); err != nil {
		return Map{}, wrap("read size", err)
	}
	if m.Name, err = readString(filepath.Join(blk, "dm", "name")); err != nil {
		return Map{}, wrap("read dm/name", err)
	}
	if m.UUID, err = readString(filepath.Join(blk, "dm", "uuid")); err != nil {
		return Map{}, wrap("read dm/uuid", err)
	}
	susp, err := readTrimmed(filepath.Join(blk, "dm", "suspended"))
	if err != nil {
		return Map{}, wrap("read dm/suspended", err)
	}
	switch susp {
	case "0":
	case "1":
		m.Suspended = true
	default:
		return Map{}, wrap("read dm/suspended", fmt.Errorf("unexpected value %q", susp))
	}
	if m.Slaves, err = listDir(filepath.Join(blk, "slaves")); err != nil {
		return Map{}, wrap("list slaves", err)
	}
	if m.Holders, err = listDir(filepath.Join(blk, "holders")); err != nil {
		return Map{}, wrap("list holders", err)
	}
	return m, nil
}
