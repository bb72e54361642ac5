package vm

import (
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// archive is an in-memory description of an initramfs: the files, links and directories that a
// "newc" cpio stream will carry. Building the stream ourselves keeps the harness free of the cpio
// binary and lets tests check exactly what goes into the guest.
type archive struct {
	entries map[string]entry
}

type entry struct {
	mode    uint32 // type bits | permissions
	data    []byte // file contents, or the link target
	srcPath string // file contents to copy from the host at write time (large files)
	rdev    [2]uint32
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
	modeChr  = 0o020000
)

func newArchive() *archive { return &archive{entries: map[string]entry{}} }

// mkdirs adds every parent directory of p.
func (a *archive) mkdirs(p string) {
	for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
		if _, ok := a.entries[d]; ok {
			continue
		}
		a.entries[d] = entry{mode: modeDir | 0o755}
	}
}

func (a *archive) addBytes(p string, perm uint32, data []byte) {
	a.mkdirs(p)
	a.entries[p] = entry{mode: modeFile | perm, data: data}
}

// addHostFile adds the host file src at p, following symlinks on the host side.
func (a *archive) addHostFile(p, src string) error {
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("initramfs: add %s: %w", src, err)
	}
	a.mkdirs(p)
	a.entries[p] = entry{mode: modeFile | uint32(st.Mode().Perm()), srcPath: src}
	return nil
}

func (a *archive) addLink(p, target string) {
	a.mkdirs(p)
	a.entries[p] = entry{mode: modeLink | 0o777, data: []byte(target)}
}

func (a *archive) addCharDev(p string, major, minor uint32) {
	a.mkdirs(p)
	a.entries[p] = entry{mode: modeChr | 0o600, rdev: [2]uint32{major, minor}}
}

// writeTo writes the archive as a newc cpio stream, parents before children.
func (a *archive) writeTo(w io.Writer) error {
	names := make([]string, 0, len(a.entries))
	for n := range a.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	ino := uint32(1)
	for _, n := range names {
		e := a.entries[n]
		data := e.data
		if e.srcPath != "" {
			b, err := os.ReadFile(e.srcPath)
			if err != nil {
				return fmt.Errorf("initramfs: read %s: %w", e.srcPath, err)
			}
			data = b
		}
		if err := writeRecord(w, strings.TrimPrefix(n, "/"), ino, e.mode, e.rdev, data); err != nil {
			return err
		}
		ino++
	}
	return writeRecord(w, "TRAILER!!!", 0, 0, [2]uint32{}, nil)
}

func writeRecord(w io.Writer, name string, ino, mode uint32, rdev [2]uint32, data []byte) error {
	nlink := uint32(1)
	if mode&modeDir == modeDir && mode&modeFile != modeFile {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name)+1, 0)
	buf := make([]byte, 0, len(hdr)+len(name)+8)
	buf = append(buf, hdr...)
	buf = append(buf, name...)
	buf = append(buf, 0)
	buf = pad4(buf)
	if _, err := w.Write(buf); err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	_, err := w.Write(make([]byte, (4-len(data)%4)%4))
	return err
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}
