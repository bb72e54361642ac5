package dm

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mpathd/mpathd/tests/vm/guest"
)

// Guest proofs of the Fake: the scenarios of fakekernel_test.go run on the
// real dm-multipath target and on a Fake side by side, and both must show
// the expected state after every step.

// kernelSide reads the map with O_DIRECT, one goroutine per read, all
// through one opener: the device is opened for the first pending read and
// closed when none is left, as a process that submits I/O and closes when
// it completes.
type kernelSide struct {
	c    *Client
	node string
	sd   map[string]string // path MAJ:MIN → sdX

	mu             sync.Mutex
	fd             int
	pending        int
	served, failed int
	otherErrs      []error
	changed        chan struct{} // closed and replaced when a read ends
	wg             sync.WaitGroup
}

func newKernelSide(c *Client, name string, ps []sanPath) *kernelSide {
	sd := map[string]string{}
	for _, p := range ps {
		sd[p.dev] = p.name
	}
	return &kernelSide{c: c, node: "/dev/mapper/" + name, sd: sd, fd: -1, changed: make(chan struct{})}
}

// failPath takes the path's SCSI device offline and sends a read, which
// fails on it; the kernel then fails the path and retries the read. Or it
// brings the device back.
func (s *kernelSide) failPath(t *testing.T, dev string, fail bool) {
	if !fail {
		setState(t, s.sd[dev], "running")
		return
	}
	setState(t, s.sd[dev], "offline")
	s.submitIO(t)
}

func (s *kernelSide) control() Control { return s.c }

func (s *kernelSide) submitIO(t *testing.T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		fd, err := unix.Open(s.node, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("open %s: %v", s.node, err)
		}
		s.fd = fd
	}
	s.pending++
	fd := s.fd
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// Each read has its own buffer: they may run at once.
		raw := make([]byte, 8192)
		off := (4096 - int(uintptr(unsafe.Pointer(&raw[0]))%4096)) % 4096
		_, err := unix.Pread(fd, raw[off:off+4096], 0)
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case err == nil:
			s.served++
		case errors.Is(err, unix.EIO):
			s.failed++
		default:
			s.otherErrs = append(s.otherErrs, err)
			s.failed++
		}
		s.pending--
		if s.pending == 0 {
			unix.Close(s.fd)
			s.fd = -1
		}
		close(s.changed)
		s.changed = make(chan struct{})
	}()
}

// ioState waits up to a second for the pending reads to end; those still
// pending then are held by the map (a served read ends in milliseconds).
func (s *kernelSide) ioState(t *testing.T) string {
	deadline := time.After(time.Second)
	for {
		s.mu.Lock()
		pending, ch := s.pending, s.changed
		s.mu.Unlock()
		if pending == 0 {
			break
		}
		select {
		case <-ch:
			continue
		case <-deadline:
		}
		break
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, err := range s.otherErrs {
		t.Errorf("read: %v, want success or EIO", err)
	}
	s.otherErrs = nil
	return kio(s.served, s.pending, s.failed)
}

// release fails whatever the map still holds so no reader is left hanging.
func (s *kernelSide) release(name string) {
	s.c.Resume(name, 0)
	s.c.Message(name, "fail_if_no_path")
	s.wg.Wait()
}

// waitEvents waits for the kernel's event counter (bumped from a
// workqueue) to reach the Fake's and reports the last one seen.
func waitEvents(c *Client, name string, want uint32) (uint32, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := c.Info(name)
		if err != nil || info.EventNr >= want || time.Now().After(deadline) {
			return info.EventNr, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone waits for a deferred removal, which the kernel runs from a
// workqueue after the last close.
func waitGone(c *Client, name string) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := c.Info(name); IsNotExist(err) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGuestFakeKernel runs every scenario of kernelScenarios on the
// kernel and on a Fake, with the LUN0 paths as {A} and {B}: the step
// errors, status lines, I/O outcomes, open counts, deferred-remove flags
// and event counters must be the same on both and as expected.
func TestGuestFakeKernel(t *testing.T) {
	guest.Require(t)
	ps, size := lunPaths(t, lun0WWID)
	c := openGuestClient(t)
	sub := strings.NewReplacer("{A}", ps[0].dev, "{B}", ps[1].dev)
	for i, sc := range kernelScenarios {
		t.Run(sc.name, func(t *testing.T) {
			name := fmt.Sprintf("mpathfk%d", i)
			tb, err := ParseTable(sub.Replace(sc.table))
			if err != nil {
				t.Fatal(err)
			}
			f := NewFake()
			fake := fakeSide{f, name}
			kern := newKernelSide(c, name, ps)
			if _, err := CreateMap(f, name, "", size, tb, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := CreateMap(c, name, "", size, tb, 0); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				for _, p := range ps {
					os.WriteFile("/sys/block/"+p.name+"/device/state", []byte("running\n"), 0)
				}
				kern.release(name)
				c.Remove(name, RemoveOptions{})
			})
			for _, st := range sc.steps {
				kerr := runStep(t, kern, name, sub, size, st.do)
				ferr := runStep(t, fake, name, sub, size, st.do)
				if kerr != st.err || ferr != st.err {
					t.Errorf("%q: kernel error %q, fake %q, want %q", st.do, kerr, ferr, st.err)
				}
				// Settle the kernel's reads first: what they do moves its
				// groups and events.
				if st.io != "" {
					kern.ioState(t)
				}
				if st.info == "gone" {
					waitGone(c, name)
				}
				checkStep(t, "kernel", kern, name, sub, st)
				checkStep(t, "fake", fake, name, sub, st)
				if fi, err := f.Info(name); err == nil {
					got, err := waitEvents(c, name, fi.EventNr)
					if err != nil || got != fi.EventNr {
						t.Errorf("%q: kernel event_nr %d (%v), fake %d", st.do, got, err, fi.EventNr)
					}
				}
			}
		})
	}
}

// kernelLoad creates a map from raw params on the kernel, as loadOutcome
// does, without pkg/dm's own checks in between.
func kernelLoad(c *Client, name string, size uint64, params string) string {
	if _, err := c.Create(name, ""); err != nil {
		return "create: " + err.Error()
	}
	err := c.LoadTargets(name, []Target{{Length: size, Type: TargetType, Params: params}}, 0)
	if err == nil {
		_, err = c.Resume(name, 0)
	}
	defer c.Remove(name, RemoveOptions{})
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Op + " " + errnoName(e.Err)
	}
	return err.Error()
}

// TestGuestFakeRejects loads every table of kernelTables on the kernel
// and on a Fake that knows the LUN0 paths and their size: both accept the
// same tables and fail the others in the same call with the same errno.
// Last, a path opened exclusively elsewhere fails the load with EBUSY on
// both.
func TestGuestFakeRejects(t *testing.T) {
	guest.Require(t)
	ps, size := lunPaths(t, lun0WWID)
	c := openGuestClient(t)
	sub := strings.NewReplacer("{A}", ps[0].dev, "{B}", ps[1].dev)
	// The guest has no modprobe: the selectors are those loaded at boot,
	// and the Fake gets the same list. Selectors are modules, not targets.
	vs, err := c.Targets()
	if err != nil || !HasTarget(vs, TargetType) || HasTarget(vs, "round-robin") {
		t.Fatalf("kernel targets %v (%v): want multipath and no selector", vs, err)
	}
	if fvs, _ := NewFake().Targets(); !HasTarget(fvs, TargetType) || HasTarget(fvs, "round-robin") {
		t.Errorf("fake targets %v: want multipath and no selector", fvs)
	}
	var loaded []string
	for _, sel := range []string{"round-robin", "queue-length", "service-time", "historical-service-time", "io-affinity"} {
		if ok, _ := SelectorLoaded("/sys", sel); ok {
			loaded = append(loaded, sel)
		}
	}
	t.Logf("selectors loaded: %v", loaded)
	newFake := func() *Fake {
		f := NewFake()
		f.SetSelectors(loaded)
		f.SetPathDevices([]PathDevice{{Dev: ps[0].dev, Sectors: size}, {Dev: ps[1].dev, Sectors: size}})
		return f
	}
	for _, k := range kernelTables {
		t.Run(k.params, func(t *testing.T) {
			params := sub.Replace(k.params)
			want := k.want
			if tb, err := ParseTable(params); err == nil && !slices.Contains(loaded, tb.Groups[0].Selector) {
				// Without its module every table of the selector is refused.
				if want == "" || slices.Contains(NewFake().selectors, tb.Groups[0].Selector) {
					t.Logf("selector %s is not loaded here: its argument checks are proved by unit tests only", tb.Groups[0].Selector)
				}
				want = "DM_TABLE_LOAD EINVAL"
			}
			if got := kernelLoad(c, "mpathrej", k.size(size), params); got != want {
				t.Errorf("kernel: %q, want %q", got, want)
			}
			tb, err := ParseTable(params)
			if k.parse {
				if err == nil {
					t.Errorf("ParseTable accepted it")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := loadOutcome(newFake(), "mpathrej", k.size(size), tb); got != want {
				t.Errorf("fake: %q, want %q", got, want)
			}
		})
	}
	t.Run("held path", func(t *testing.T) {
		fd, err := unix.Open("/dev/"+ps[0].name, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		params := sub.Replace("0 0 1 1 round-robin 0 1 0 {A}")
		const want = "DM_TABLE_LOAD EBUSY"
		if got := kernelLoad(c, "mpathrej", size, params); got != want {
			t.Errorf("kernel: %q, want %q", got, want)
		}
		f := NewFake()
		f.SetPathDevices([]PathDevice{{Dev: ps[0].dev, Held: true}})
		if got := loadOutcome(f, "mpathrej", size, mustTable(t, params)); got != want {
			t.Errorf("fake: %q, want %q", got, want)
		}
	})
}

// TestGuestFakeLinear loads the partition tables of linearCases over a multipath map of the LUN0
// paths on the kernel and on a Fake: both accept the same tables and refuse the others in the same
// call with the same errno; then a partition holds its map open on both (linearHolds).
func TestGuestFakeLinear(t *testing.T) {
	guest.Require(t)
	ps, size := lunPaths(t, lun0WWID)
	c := openGuestClient(t)
	tb := mustTable(t, fmt.Sprintf("0 0 1 1 round-robin 0 2 1 %s 1 %s 1", ps[0].dev, ps[1].dev))
	f := NewFake()
	f.SetPathDevices([]PathDevice{{Dev: ps[0].dev, Sectors: size}, {Dev: ps[1].dev, Sectors: size}})
	sides := []struct {
		name string
		c    Control
	}{{"kernel", c}, {"fake", f}}
	parents := map[string]Dev{}
	for _, s := range sides {
		info, err := CreateMap(s.c, "mpathlin", "mpath-lin", size, tb, 0)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		parents[s.name] = info.Dev
	}
	t.Cleanup(func() {
		c.Remove("mpathlin-part1", RemoveOptions{})
		c.Remove("mpathlin-part9", RemoveOptions{})
		c.Remove("mpathlin", RemoveOptions{})
	})
	for _, lc := range linearCases {
		t.Run(lc.name, func(t *testing.T) {
			for _, s := range sides {
				if got := linearOutcome(s.c, parents[s.name], size, lc.targets); got != lc.want {
					t.Errorf("%s: %q, want %q", s.name, got, lc.want)
				}
			}
		})
	}
	for _, s := range sides {
		t.Run("holds its parent open/"+s.name, func(t *testing.T) { linearHolds(t, s.c, "mpathlin", size) })
	}
}
