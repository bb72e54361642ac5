// Command mkparts writes a partition table on a block device with pkg/parttable's writer, so the
// test bed can partition maps without sfdisk:
//
//	mkparts DEVICE gpt|dos N:START:SECTORS[:TYPE] ...
//
// START and SECTORS are 512-byte sectors (whole logical blocks of the device, whose block size is
// asked with BLKSSZGET). TYPE is an MBR type in hex (default 83; "ext" makes
// partition N the extended one, whose logical partitions are numbered from 5); GPT partitions are
// all of the Linux file system type.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mpathd/mpathd/pkg/parttable"
)

var linuxFS = parttable.GUID{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkparts:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: mkparts DEVICE gpt|dos N:START:SECTORS[:TYPE] ...")
	}
	t := &parttable.Table{Scheme: parttable.Scheme(args[1]), DiskGUID: parttable.GUID{0x6d, 0x70, 0x61, 0x74, 0x68, 0x64}}
	for _, spec := range args[2:] {
		f := strings.Split(spec, ":")
		if len(f) < 3 || len(f) > 4 {
			return fmt.Errorf("partition %q: want N:START:SECTORS[:TYPE]", spec)
		}
		n, err1 := strconv.Atoi(f[0])
		start, err2 := strconv.ParseUint(f[1], 10, 64)
		size, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return fmt.Errorf("partition %q: not numbers", spec)
		}
		p := parttable.Partition{Number: n, Start: start, Sectors: size, Type: 0x83, TypeGUID: linuxFS, GUID: parttable.GUID{byte(n), 1}}
		if len(f) == 4 {
			if f[3] == "ext" {
				p.Extended, p.Type = true, 0x05
			} else {
				v, err := strconv.ParseUint(f[3], 16, 8)
				if err != nil {
					return fmt.Errorf("partition %q: type: %v", spec, err)
				}
				p.Type = byte(v)
			}
		}
		t.Partitions = append(t.Partitions, p)
	}
	dev, err := os.OpenFile(args[0], os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer dev.Close()
	size, err := dev.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	bs, err := unix.IoctlGetInt(int(dev.Fd()), unix.BLKSSZGET)
	if err != nil {
		return fmt.Errorf("%s: logical block size: %w", args[0], err)
	}
	if err := parttable.Write(dev, size, bs, t); err != nil {
		return err
	}
	return dev.Sync()
}
