package daemon

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/parttable"
)

// fakeDisks serves partition tables from in-memory images written with parttable.Write, one image
// for every device, read back with parttable.Read as linux.Disks reads a map.
type fakeDisks struct {
	mu    sync.Mutex
	img   []byte
	reads []dm.Dev
	block chan struct{} // non-nil: reads wait for it to close, or for their context
}

const imgSize = 65536 * 512 // twice the rig's LUN size: tables may be written for a grown LUN

func (f *fakeDisks) setTable(t *testing.T, tab *parttable.Table) {
	t.Helper()
	img := make(memImage, imgSize)
	if tab != nil {
		if err := parttable.Write(img, imgSize, 512, tab); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	f.img = img
	f.mu.Unlock()
}

func (f *fakeDisks) PartitionTable(ctx context.Context, dev dm.Dev) (*parttable.Table, error) {
	f.mu.Lock()
	f.reads = append(f.reads, dev)
	img, block := f.img, f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return parttable.Read(memImage(img), int64(len(img)), 512)
}

func (f *fakeDisks) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reads)
}

type memImage []byte

func (m memImage) ReadAt(b []byte, off int64) (int, error) {
	if off >= int64(len(m)) {
		return 0, errors.New("past the end")
	}
	n := copy(b, m[off:])
	if n < len(b) {
		return n, errors.New("short")
	}
	return n, nil
}
func (m memImage) WriteAt(b []byte, off int64) (int, error) { return copy(m[off:], b), nil }

var linuxGUID = parttable.GUID{0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4}

func gpt(parts ...[2]uint64) *parttable.Table {
	t := &parttable.Table{Scheme: parttable.GPT}
	for i, p := range parts {
		if p[1] == 0 {
			continue
		}
		t.Partitions = append(t.Partitions, parttable.Partition{Number: i + 1, Start: p[0], Sectors: p[1], TypeGUID: linuxGUID})
	}
	return t
}

// partRig is a rig whose daemon makes partition maps from d's tables.
func partRig(t *testing.T, cfg string, tab *parttable.Table, prep func(*dm.Fake)) (*rig, *fakeDisks) {
	t.Helper()
	d := &fakeDisks{}
	d.setTable(t, tab)
	r := newRigWith(t, san(2, 1), cfg, prep, func(o *Options) { o.Disks = d })
	r.settleParts()
	return r, d
}

// settleParts waits until the shards are idle and every partition-table read has been applied.
func (r *rig) settleParts() {
	for {
		r.settle()
		if r.d.partReads.Load() == 0 {
			r.settle()
			if r.d.partReads.Load() == 0 {
				return
			}
		}
		runtime.Gosched()
	}
}

// partTables returns the linear tables of the partition maps of lun0, by name.
func (r *rig) partTables() map[string]string {
	r.t.Helper()
	devs, err := r.dm.List()
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]string{}
	for _, dv := range devs {
		if !strings.HasSuffix(dv.UUID, "-mpath-"+lun0) {
			continue
		}
		ts, err := r.dm.TableTargets(dv.Name)
		if err != nil {
			r.t.Fatal(err)
		}
		var b strings.Builder
		for _, tg := range ts {
			fmt.Fprintf(&b, "%d %d %s %s", tg.Start, tg.Length, tg.Type, tg.Params)
		}
		out[dv.Name] = strings.SplitN(dv.UUID, "-", 2)[0] + ": " + b.String()
	}
	return out
}

func (r *rig) mapDev() string {
	r.t.Helper()
	info, err := r.dm.Info(lun0)
	if err != nil {
		r.t.Fatal(err)
	}
	return info.Dev.String()
}

func wantParts(t *testing.T, r *rig, want map[string]string) {
	t.Helper()
	dev := r.mapDev()
	w := map[string]string{}
	for k, v := range want {
		w[k] = strings.ReplaceAll(v, "{P}", dev)
	}
	if got := r.partTables(); !mapsEqual(got, w) {
		t.Errorf("partition maps:\n got %v\nwant %v", got, w)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The map's partitions appear with it, as kpartx makes them, and follow its table: a partition
// added, one grown, one deleted (kpartx -u), on a change uevent.
func TestPartitionsFollowTable(t *testing.T) {
	r, disks := partRig(t, "", gpt([2]uint64{2048, 4096}, [2]uint64{6144, 8192}), nil)
	wantParts(t, r, map[string]string{
		lun0 + "-part1": "part1: 0 4096 linear {P} 2048",
		lun0 + "-part2": "part2: 0 8192 linear {P} 6144",
	})
	m, _ := r.d.Topology().Find(lun0)
	if !slices.Equal(m.Partitions, []string{lun0 + "-part1", lun0 + "-part2"}) {
		t.Errorf("snapshot partitions %v", m.Partitions)
	}
	// Every uevent of the map tells kpartx's rules to keep away.
	for _, c := range r.dm.Calls() {
		if c.Op == "DM_DEV_SUSPEND" && c.Name == lun0 && c.Flags&dm.MpathNoKpartx == 0 {
			t.Errorf("resume of the map without the skip_kpartx flag: %+v", c)
		}
	}

	disks.setTable(t, gpt([2]uint64{}, [2]uint64{6144, 16384}, [2]uint64{22528, 2048}))
	r.dm.ResetCalls()
	r.d.PartitionsChanged("dm-0")
	r.settleParts()
	wantParts(t, r, map[string]string{
		lun0 + "-part2": "part2: 0 16384 linear {P} 6144",
		lun0 + "-part3": "part3: 0 2048 linear {P} 22528",
	})
	if n := r.ops("DM_DEV_CREATE", ""); n != 1 {
		t.Errorf("%d creates for one new partition", n)
	}

	// The same table again changes nothing.
	r.dm.ResetCalls()
	r.d.PartitionsChanged(lun0)
	r.settleParts()
	if n := r.ops("DM_TABLE_LOAD", "") + r.ops("DM_DEV_CREATE", "") + r.ops("DM_DEV_REMOVE", ""); n != 0 {
		t.Errorf("unchanged table: %d loads, creates or removes: %+v", n, r.dm.Calls())
	}

	// No table at all: the partitions go.
	disks.setTable(t, nil)
	r.d.PartitionsChanged(lun0)
	r.settleParts()
	wantParts(t, r, map[string]string{})
}

// An MBR with logical partitions: numbered as kpartx numbers them, the extended one mapped over two
// sectors, every one linear over the map itself.
func TestPartitionsMBRLogical(t *testing.T) {
	tab := &parttable.Table{Scheme: parttable.DOS, Partitions: []parttable.Partition{
		{Number: 1, Start: 2048, Sectors: 4096, Type: 0x83},
		{Number: 2, Start: 8192, Extended: true, Type: 0x05},
		{Number: 5, Start: 10240, Sectors: 2048, Type: 0x83},
		{Number: 6, Start: 14336, Sectors: 2048, Type: 0x82},
	}}
	r, _ := partRig(t, "[defaults]\npartition_delimiter = \"p\"\n", tab, nil)
	wantParts(t, r, map[string]string{
		lun0 + "p1": "part1: 0 4096 linear {P} 2048",
		lun0 + "p2": "part2: 0 2 linear {P} 8192",
		lun0 + "p5": "part5: 0 2048 linear {P} 10240",
		lun0 + "p6": "part6: 0 2048 linear {P} 14336",
	})
}

func TestSkipKpartx(t *testing.T) {
	r, disks := partRig(t, "[defaults]\nskip_kpartx = true\n", gpt([2]uint64{2048, 4096}), nil)
	r.d.PartitionsChanged(lun0)
	r.settleParts()
	wantParts(t, r, map[string]string{})
	if n := disks.readCount(); n != 0 {
		t.Errorf("%d partition-table reads with skip_kpartx", n)
	}
	for _, c := range r.dm.Calls() {
		if c.Op == "DM_DEV_SUSPEND" && c.Name == lun0 && c.Flags&dm.MpathNoKpartx == 0 {
			t.Errorf("resume without the skip_kpartx flag: %+v", c)
		}
	}
}

// Without a disk reader (partitions left to kpartx's rules) the map's uevents do not ask kpartx to
// keep away.
func TestNoDisksLeavesKpartx(t *testing.T) {
	r := newRig(t, san(2, 1), "", nil)
	r.settle()
	for _, c := range r.dm.Calls() {
		if c.Op == "DM_DEV_SUSPEND" && c.Name == lun0 && c.Flags&dm.MpathNoKpartx != 0 {
			t.Errorf("resume with the skip_kpartx flag though mpathd makes no partitions: %+v", c)
		}
	}
}

// Partition maps kpartx (or an earlier mpathd) made are adopted: the same ones are left alone, one
// with another delimiter is renamed, a stale one removed.
func TestPartitionsAdopted(t *testing.T) {
	prep := func(f *dm.Fake) {
		liveMap(t, lun0, "0 0 2 1 service-time 0 1 2 8:0 1 1 service-time 0 1 2 8:16 1 1")(f)
		info, _ := f.Info(lun0)
		for _, p := range []struct {
			name string
			n    int
			t    []dm.Target
		}{
			{lun0 + "-part1", 1, dm.Linear(4096, info.Dev, 2048)},
			{lun0 + "p2", 2, dm.Linear(8192, info.Dev, 6144)},
			{lun0 + "-part3", 3, dm.Linear(8, info.Dev, 30000)},
		} {
			if _, err := f.Create(p.name, fmt.Sprintf("part%d-mpath-%s", p.n, lun0)); err != nil {
				t.Fatal(err)
			}
			if err := f.LoadTargets(p.name, p.t, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Resume(p.name, 0); err != nil {
				t.Fatal(err)
			}
		}
		f.ResetCalls()
	}
	r, _ := partRig(t, "", gpt([2]uint64{2048, 4096}, [2]uint64{6144, 8192}), prep)
	wantParts(t, r, map[string]string{
		lun0 + "-part1": "part1: 0 4096 linear {P} 2048",
		lun0 + "-part2": "part2: 0 8192 linear {P} 6144",
	})
	if n := r.ops("DM_DEV_CREATE", "") + r.ops("DM_TABLE_LOAD", lun0+"-part1"); n != 0 {
		t.Errorf("adopted partitions recreated or reloaded: %d", n)
	}
}

// flush map removes the partition maps first, and refuses, changing nothing, while one is open.
func TestFlushMapWithPartitions(t *testing.T) {
	r, _ := partRig(t, "", gpt([2]uint64{2048, 4096}, [2]uint64{6144, 8192}), nil)
	if err := r.dm.SetOpenCount(lun0+"-part2", 1); err != nil {
		t.Fatal(err)
	}
	r.dm.ResetCalls()
	err := r.d.FlushMap(context.Background(), lun0)
	if !api.IsCode(err, api.CodeBusy) || !strings.Contains(err.Error(), lun0+"-part2 is open") {
		t.Fatalf("flush with an open partition: %v, want busy naming the partition", err)
	}
	if n := r.ops("DM_DEV_REMOVE", "") + len(r.messages(lun0)); n != 0 {
		t.Errorf("flush refused but acted: %+v", r.dm.Calls())
	}
	r.dm.SetOpenCount(lun0+"-part2", 0)
	// The map's own opener is reported as such.
	r.dm.SetOpenCount(lun0, 1)
	if err := r.d.FlushMap(context.Background(), lun0); !api.IsCode(err, api.CodeBusy) || !strings.Contains(err.Error(), "(1 openers)") {
		t.Fatalf("flush of an open map: %v", err)
	}
	r.dm.SetOpenCount(lun0, 0)
	if err := r.d.FlushMap(context.Background(), lun0); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if devs, _ := r.dm.List(); len(devs) != 0 {
		t.Errorf("left in the kernel: %+v", devs)
	}
}

// The last path gone: unused partition maps go before the map; an open one keeps the map.
func TestLastPathGoneWithPartitions(t *testing.T) {
	r, _ := partRig(t, "", gpt([2]uint64{2048, 4096}), nil)
	r.dm.SetOpenCount(lun0+"-part1", 1)
	r.removeAll("sda", "sdb")
	if _, err := r.dm.Info(lun0); err != nil {
		t.Fatalf("map with an open partition removed: %v", err)
	}
	r.dm.SetOpenCount(lun0+"-part1", 0)
	r.d.Tick()
	r.settleParts()
	if devs, _ := r.dm.List(); len(devs) != 0 {
		t.Errorf("left in the kernel: %+v", devs)
	}
}

// A map that queues with no usable path is not read (the read would hang); the table is read when
// a path is back. A read that hangs anyway holds neither the shard nor a later flush.
func TestPartitionsNotReadWithoutPaths(t *testing.T) {
	r, disks := partRig(t, "[defaults]\nno_path_retry = \"queue\"\n", gpt([2]uint64{2048, 4096}), nil)
	r.check("sda", checker.Down)
	r.check("sdb", checker.Down)
	r.settleParts()
	reads := disks.readCount()
	disks.setTable(t, gpt([2]uint64{2048, 8192}))
	r.d.PartitionsChanged(lun0)
	r.settleParts()
	if n := disks.readCount(); n != reads {
		t.Errorf("read a map without usable paths (%d reads)", n-reads)
	}
	r.check("sda", checker.Up)
	r.settleParts()
	wantParts(t, r, map[string]string{lun0 + "-part1": "part1: 0 8192 linear {P} 2048"})

	disks.mu.Lock()
	disks.block = make(chan struct{})
	disks.mu.Unlock()
	r.d.PartitionsChanged(lun0)
	r.settle() // returns although the read hangs
	if r.d.partReads.Load() != 1 {
		t.Fatalf("reads in flight: %d, want 1", r.d.partReads.Load())
	}
	if _, ok := r.d.Topology().Find(lun0); !ok {
		t.Fatal("map gone")
	}
	close(disks.block)
	r.settleParts()
}

// A partition grown past the end of its map is left as it is; the map's resize reads the table
// again and grows the partition map.
func TestPartitionsFollowResize(t *testing.T) {
	r, disks := partRig(t, "", gpt([2]uint64{2048, 4096}), nil)
	disks.setTable(t, gpt([2]uint64{2048, 40000}))
	r.d.PartitionsChanged(lun0)
	r.settleParts()
	wantParts(t, r, map[string]string{lun0 + "-part1": "part1: 0 4096 linear {P} 2048"})
	for _, n := range []string{"sda", "sdb"} {
		p := r.topo.paths[n]
		p.Size = 65536
		r.topo.set(p)
	}
	if err := r.d.ResizeMap(context.Background(), lun0); err != nil {
		t.Fatal(err)
	}
	r.settleParts()
	wantParts(t, r, map[string]string{lun0 + "-part1": "part1: 0 40000 linear {P} 2048"})
}
