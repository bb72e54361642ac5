package uevent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/sysfs"
	"github.com/mpathd/mpathd/tests/vm/guest"
)

// stream feeds a Conn's events into a channel until the test ends.
func stream(t *testing.T, src Source) <-chan Event {
	t.Helper()
	c, err := Listen(Config{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan Event, 1024)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			e, err := c.Receive()
			if err != nil {
				return
			}
			select {
			case ch <- e:
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); c.Close(); <-done })
	return ch
}

// expect reads ch until match returns true; the guard only turns a missing
// event into a failure instead of a hung guest.
func expect(t *testing.T, ch <-chan Event, what string, match func(Event) bool) Event {
	t.Helper()
	guard := time.After(60 * time.Second)
	for {
		select {
		case e := <-ch:
			if e.Overflow {
				t.Fatalf("%s: overflow", what)
			}
			if match(e) {
				return e
			}
		case <-guard:
			t.Fatalf("%s: not received", what)
		}
	}
}

// TestGuestUeventDeleteScan: deleting a path and scanning its host again
// produces block/disk remove and add events with the right fields, from
// the kernel and from udevd (which adds ID_SERIAL, equal to our WWID).
func TestGuestUeventDeleteScan(t *testing.T) {
	guest.Require(t)
	fsys := sysfs.New("/")
	paths, err := fsys.Paths()
	if err != nil {
		t.Fatal(err)
	}
	p := paths[0]
	kern, udev := stream(t, Kernel), stream(t, Udev)

	if err := fsys.DeleteDevice(p.HCTL); err != nil {
		t.Fatal(err)
	}
	isDisk := func(a Action) func(Event) bool {
		return func(e Event) bool { return e.Action == a && PathsAndMaps.Match(e) && e.Kind() == KindPath }
	}
	for _, src := range []struct {
		name string
		ch   <-chan Event
	}{{"kernel", kern}, {"udev", udev}} {
		e := expect(t, src.ch, src.name+" remove", isDisk(Remove))
		name := strings.TrimPrefix(e.DevName, "/dev/")
		if name != p.Name || e.Major != p.Dev.Major || e.Minor != p.Dev.Minor || e.Subsystem != "block" ||
			e.DevType != "disk" || e.Seqnum == 0 || !strings.HasSuffix(e.DevPath, "/"+p.HCTL.String()+"/block/"+p.Name) {
			t.Errorf("%s remove = %+v, path %+v", src.name, e, p)
		}
		if src.name == "udev" && e.Env["ID_SERIAL"] != p.WWID {
			t.Errorf("udev remove ID_SERIAL %q, WWID %q", e.Env["ID_SERIAL"], p.WWID)
		}
		t.Logf("%s: %s %s %s %d:%d seq %d", src.name, e.Action, e.DevPath, e.DevName, e.Major, e.Minor, e.Seqnum)
	}

	if err := fsys.ScanHost(p.HCTL.Host, sysfs.ScanAll); err != nil {
		t.Fatal(err)
	}
	for _, src := range []struct {
		name string
		ch   <-chan Event
	}{{"kernel", kern}, {"udev", udev}} {
		e := expect(t, src.ch, src.name+" add", isDisk(Add))
		if !strings.Contains(e.DevPath, "/"+p.HCTL.String()+"/block/") || e.Major != 8 || e.Seqnum == 0 || e.DevType != "disk" {
			t.Errorf("%s add = %+v", src.name, e)
		}
		if src.name == "udev" && e.Env["ID_SERIAL"] != p.WWID {
			t.Errorf("udev add ID_SERIAL %q, WWID %q", e.Env["ID_SERIAL"], p.WWID)
		}
		back, err := fsys.Path(filepath.Base(e.DevPath))
		if err != nil || back.WWID != p.WWID || back.HCTL != p.HCTL {
			t.Errorf("%s add: path %+v, %v", src.name, back, err)
		}
		t.Logf("%s: %s %s %s %d:%d seq %d", src.name, e.Action, e.DevPath, e.DevName, e.Major, e.Minor, e.Seqnum)
	}
}

// TestGuestUeventAddHostBatch: adding two scsi_debug hosts (8 paths, 4
// LUNs) and removing them again each arrive as 4 batches, one per WWID,
// with one event per host in each.
func TestGuestUeventAddHostBatch(t *testing.T) {
	guest.Require(t)
	fsys := sysfs.New("/")
	var mu sync.Mutex
	cache := map[string]string{} // DEVPATH -> WWID: removes need it after sysfs is gone
	wwid := func(e Event) string {
		mu.Lock()
		defer mu.Unlock()
		if w, ok := cache[e.DevPath]; ok {
			return w
		}
		p, err := fsys.Path(filepath.Base(e.DevPath))
		if err != nil {
			t.Errorf("WWID of %s: %v", e.DevPath, err)
			return ""
		}
		cache[e.DevPath] = p.WWID
		return p.WWID
	}
	before, err := fsys.Paths()
	if err != nil {
		t.Fatal(err)
	}
	luns := map[string]bool{}
	for _, p := range before {
		luns[p.WWID] = true
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	kern := stream(t, Kernel)
	in, out := make(chan Event), make(chan Batch, 64)
	go func() {
		for {
			select {
			case e := <-kern:
				// udev's inotify watch may add change events; this test is about adds and removes.
				if !PathsAndMaps.Match(e) || (e.Action != Add && e.Action != Remove) {
					continue
				}
				select {
				case in <- e:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	co := &Coalescer{Window: 10 * time.Second, WWID: wwid}
	go co.Run(ctx, in, out)

	collect := func(action Action, n int) []Batch {
		t.Helper()
		var bs []Batch
		got := 0
		guard := time.After(120 * time.Second)
		for got < n {
			select {
			case b := <-out:
				if b.Overflow {
					t.Fatal("overflow")
				}
				bs = append(bs, b)
				got += len(b.Events)
			case <-guard:
				t.Fatalf("%s: %d of %d events in %d batches", action, got, n, len(bs))
			}
		}
		for _, b := range bs {
			var desc []string
			hosts := map[string]bool{}
			for _, e := range b.Events {
				desc = append(desc, string(e.Action)+" "+e.DevName)
				if e.Action != action || e.Kind() != KindPath {
					t.Errorf("batch %s: unexpected %s %s", b.WWID, e.Action, e.DevPath)
				}
				hosts[strings.Split(e.DevPath, "/")[4]] = true // /devices/pseudo_0/adapterN/hostN/...
			}
			t.Logf("batch %s: %s", b.WWID, strings.Join(desc, ", "))
			if !luns[b.WWID] || len(b.Events) != 2 || len(hosts) != 2 {
				t.Errorf("batch %s: %d events on hosts %v, want one per new host of a known LUN", b.WWID, len(b.Events), hosts)
			}
		}
		if len(bs) != len(luns) {
			t.Errorf("%s: %d batches, want %d (one per WWID)", action, len(bs), len(luns))
		}
		return bs
	}

	const ctl = "/sys/bus/pseudo/drivers/scsi_debug/add_host"
	if err := os.WriteFile(ctl, []byte("2\n"), 0); err != nil {
		t.Fatal(err)
	}
	collect(Add, 8)
	if err := os.WriteFile(ctl, []byte("-2\n"), 0); err != nil {
		t.Fatal(err)
	}
	collect(Remove, 8)

	after, _ := fsys.PathNames()
	if !slices.Equal(after, names(before)) {
		t.Errorf("paths after removing the hosts = %v, want %v", after, names(before))
	}
}

func names(ps []sysfs.Path) []string {
	var n []string
	for _, p := range ps {
		n = append(n, p.Name)
	}
	slices.Sort(n)
	return n
}
