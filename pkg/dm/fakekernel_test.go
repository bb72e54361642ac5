package dm

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Fake-kernel scenarios: each is a sequence of steps on one map with the
// state expected after each step. TestFakeKernelScenarios runs them on the
// Fake; TestGuestFakeKernel (fakekernel_guest_test.go) runs the same
// sequences on the real kernel and on the Fake side by side, so every
// expectation here is one the kernel has shown.

// kstep is one step. do is one of:
//
//	""                 check only
//	"io"               one 4 KiB read of the map
//	"msg <message>"    a target message
//	"reload <table>"   Reload with the table ({A}, {B} = the two paths)
//	"suspend", "resume"
//	"remove", "remove deferred"
//	"kfail {A}"        an I/O error on a path: KernelFailPath on the Fake;
//	                   on the kernel the path's device goes offline and a
//	                   read is sent (it must go to that path)
//	"online {A}"       the kernel's device back to running (Fake: nothing)
type kstep struct {
	do     string
	err    string // the errno name the step fails with ("" = success)
	status string // the status line after the step ("" = not checked)
	io     string // "served N queued N failed N" after the step
	info   string // "open N deferred B", or "gone"
}

type kscenario struct {
	name, table string
	steps       []kstep
}

const (
	kRR  = "0 0 2 1 round-robin 0 1 1 {A} 1 round-robin 0 1 1 {B} 1"
	kRRQ = "1 queue_if_no_path 0 2 1 round-robin 0 1 1 {A} 1 round-robin 0 1 1 {B} 1"
)

// kst builds a 2-group round-robin status line: queue_io, the group
// number, then each group's state and its path's state and fail count.
func kst(qio, pg int, g1, p1 string, g2, p2 string) string {
	return fmt.Sprintf("2 %d 0 0 2 %d %s 0 1 0 {A} %s %s 0 1 0 {B} %s", qio, pg, g1, p1, g2, p2)
}

func kio(served, queued, failed int) string {
	return fmt.Sprintf("served %d queued %d failed %d", served, queued, failed)
}

var kernelScenarios = []kscenario{
	{"group switch on next I/O", kRR, []kstep{
		{status: kst(1, 1, "E", "A 0", "E", "A 0"), info: "open 0 deferred false"},
		{do: "io", status: kst(0, 1, "A", "A 0", "E", "A 0"), io: kio(1, 0, 0)},
		{do: "msg switch_group 2", status: kst(0, 2, "E", "A 0", "E", "A 0")},
		{do: "io", status: kst(0, 2, "E", "A 0", "A", "A 0"), io: kio(2, 0, 0)},
		{do: "msg fail_path {B}", status: kst(0, 2, "E", "A 0", "A", "F 1")},
		{do: "msg fail_path {B}", status: kst(0, 2, "E", "A 0", "A", "F 1")},
		{do: "io", status: kst(0, 1, "A", "A 0", "E", "F 1"), io: kio(3, 0, 0)},
		{do: "msg disable_group 1", status: kst(0, 1, "D", "A 0", "E", "F 1")},
		{do: "io", status: kst(0, 1, "D", "A 0", "E", "F 1"), io: kio(4, 0, 0)},
		{do: "msg enable_group 1", status: kst(0, 1, "E", "A 0", "E", "F 1")},
		{do: "msg enable_group 1", status: kst(0, 1, "E", "A 0", "E", "F 1")},
		{do: "msg fail_path {A}", status: kst(0, 1, "E", "F 1", "E", "F 1")},
		{do: "io", status: kst(0, 1, "E", "F 1", "E", "F 1"), io: kio(4, 0, 1)},
		{do: "msg switch_group 3", err: "EINVAL"},
		{do: "msg reinstate_path {B}", status: kst(0, 1, "E", "F 1", "E", "A 1")},
		{do: "io", status: kst(0, 2, "E", "F 1", "A", "A 1"), io: kio(5, 0, 1)},
	}},
	// The pending group (here the initial one) is taken even when bypassed.
	{"pending group taken though bypassed", kRR, []kstep{
		{do: "msg disable_group 1", status: kst(1, 1, "D", "A 0", "E", "A 0")},
		{do: "io", status: kst(0, 1, "D", "A 0", "E", "A 0"), io: kio(1, 0, 0)},
		{do: "msg switch_group 2", status: kst(0, 2, "E", "A 0", "E", "A 0")},
		{do: "msg disable_group 2", status: kst(0, 2, "E", "A 0", "D", "A 0")},
		{do: "io", status: kst(0, 2, "E", "A 0", "D", "A 0"), io: kio(2, 0, 0)},
	}},
	{"queued I/O", kRRQ, []kstep{
		{do: "io", io: kio(1, 0, 0)},
		{do: "msg fail_path {A}"},
		{do: "msg fail_path {B}", status: kst(0, 1, "A", "F 1", "E", "F 1")},
		{do: "io", status: kst(0, 1, "E", "F 1", "E", "F 1"), io: kio(1, 1, 0), info: "open 1 deferred false"},
		{do: "io", io: kio(1, 2, 0)},
		{do: "remove", err: "EBUSY", info: "open 1 deferred false"},
		{do: "msg reinstate_path {B}", status: kst(0, 2, "E", "F 1", "A", "A 1"), io: kio(3, 0, 0), info: "open 0 deferred false"},
		{do: "msg fail_path {B}"},
		{do: "io", io: kio(3, 1, 0)},
		{do: "msg queue_if_no_path", io: kio(3, 1, 0)},
		{do: "msg fail_if_no_path", io: kio(3, 0, 1), info: "open 0 deferred false"},
		{do: "io", io: kio(3, 0, 2)},
		{do: "msg queue_if_no_path"},
		{do: "io", io: kio(3, 1, 2)},
		{do: "suspend"},
		{do: "msg reinstate_path {A}", err: "EBUSY"},
		{do: "resume", io: kio(3, 1, 2)},
		// The new table's paths start usable: the held read is served there.
		{do: "reload " + kRRQ, status: kst(0, 1, "A", "A 0", "E", "A 0"), io: kio(4, 0, 2)},
	}},
	// KernelFailPath is an I/O error: the path fails and the request is
	// retried on another group, or held when none is left.
	{"kernel path failure", kRRQ, []kstep{
		{do: "io", status: kst(0, 1, "A", "A 0", "E", "A 0"), io: kio(1, 0, 0)},
		{do: "kfail {A}", status: kst(0, 2, "E", "F 1", "A", "A 0"), io: kio(2, 0, 0)},
		{do: "online {A}"},
		{do: "msg reinstate_path {A}", status: kst(0, 2, "E", "A 1", "A", "A 0")},
		{do: "msg switch_group 1"},
		{do: "io", status: kst(0, 1, "A", "A 1", "E", "A 0"), io: kio(3, 0, 0)},
		{do: "msg fail_path {B}"},
		{do: "kfail {A}", status: kst(0, 1, "E", "F 2", "E", "F 1"), io: kio(3, 1, 0)},
		{do: "online {A}"},
		{do: "msg reinstate_path {A}", status: kst(0, 1, "A", "A 2", "E", "F 1"), io: kio(4, 0, 0)},
	}},
	{"held while suspended", kRR, []kstep{
		{do: "io", io: kio(1, 0, 0)},
		{do: "suspend"},
		{do: "io", io: kio(1, 1, 0), info: "open 1 deferred false"},
		{do: "msg fail_path {A}", err: "EBUSY"},
		{do: "resume", io: kio(2, 0, 0), info: "open 0 deferred false"},
	}},
	{"reload without paths or queueing fails held I/O", kRRQ, []kstep{
		{do: "msg fail_path {A}"},
		{do: "msg fail_path {B}"},
		{do: "io", io: kio(0, 1, 0)},
		{do: "reload 1 queue_if_no_path 0 0 0", status: "2 0 0 0 0 0", io: kio(0, 1, 0)},
		{do: "reload 0 0 0 0", status: "2 0 0 0 0 0", io: kio(0, 0, 1)},
	}},
	{"deferred remove waits for held I/O", kRRQ, []kstep{
		{do: "msg fail_path {A}"},
		{do: "msg fail_path {B}"},
		{do: "io", io: kio(0, 1, 0)},
		{do: "remove deferred", info: "open 1 deferred true"},
		{do: "msg @cancel_deferred_remove", info: "open 1 deferred false"},
		{do: "msg @cancel_deferred_remove", info: "open 1 deferred false"},
		{do: "remove deferred", info: "open 1 deferred true"},
		{do: "msg reinstate_path {A}", io: kio(1, 0, 0), info: "gone"},
	}},
	{"deferred remove of a closed map is immediate", kRR, []kstep{
		{do: "remove deferred", info: "gone"},
	}},
}

// kside is the kernel or the Fake under a scenario.
type kside interface {
	control() Control
	submitIO(t *testing.T)
	// failPath makes the next request's path fail (up) or work again.
	failPath(t *testing.T, dev string, fail bool)
	// ioState waits until the reads have settled and describes them as
	// kio does.
	ioState(t *testing.T) string
}

type fakeSide struct {
	f    *Fake
	name string
}

func (s fakeSide) control() Control { return s.f }
func (s fakeSide) submitIO(t *testing.T) {
	if err := s.f.SubmitIO(s.name); err != nil && !errors.Is(err, unix.EIO) {
		t.Fatalf("SubmitIO: %v", err)
	}
}
func (s fakeSide) failPath(t *testing.T, dev string, fail bool) {
	if fail {
		if err := s.f.KernelFailPath(s.name, dev); err != nil {
			t.Fatal(err)
		}
	}
}
func (s fakeSide) ioState(*testing.T) string {
	return kio(s.f.ServedIO(s.name), s.f.QueuedIO(s.name), s.f.FailedIO(s.name))
}

func errnoName(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		return unix.ErrnoName(e)
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// runStep performs one step on a side and returns the step's errno name.
func runStep(t *testing.T, s kside, name string, sub *strings.Replacer, size uint64, do string) string {
	t.Helper()
	c := s.control()
	verb, arg, _ := strings.Cut(do, " ")
	var err error
	switch verb {
	case "":
	case "io":
		s.submitIO(t)
	case "msg":
		_, err = c.Message(name, sub.Replace(arg))
	case "reload":
		tb, perr := ParseTable(sub.Replace(arg))
		if perr != nil {
			t.Fatal(perr)
		}
		err = Reload(c, name, size, tb, 0)
	case "suspend":
		err = c.Suspend(name)
	case "resume":
		_, err = c.Resume(name, 0)
	case "remove":
		_, err = c.Remove(name, RemoveOptions{Deferred: arg == "deferred"})
	case "kfail", "online":
		s.failPath(t, sub.Replace(arg), verb == "kfail")
	default:
		t.Fatalf("unknown step %q", do)
	}
	return errnoName(err)
}

func infoState(c Control, name string) string {
	info, err := c.Info(name)
	if IsNotExist(err) {
		return "gone"
	}
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("open %d deferred %v", info.OpenCount, info.DeferredRemove)
}

// checkStep compares the side's state with the step's expectations.
func checkStep(t *testing.T, side string, s kside, name string, sub *strings.Replacer, st kstep) {
	t.Helper()
	c := s.control()
	if st.io != "" {
		if got := s.ioState(t); got != st.io {
			t.Errorf("%s: %q: I/O %s, want %s", side, st.do, got, st.io)
		}
	}
	if st.status != "" {
		got, err := c.Status(name)
		if want := sub.Replace(st.status); err != nil || got.String() != want {
			t.Errorf("%s: %q: status\n got %q (%v)\nwant %q", side, st.do, got.String(), err, want)
		}
	}
	if st.info != "" {
		if got := infoState(c, name); got != st.info {
			t.Errorf("%s: %q: %s, want %s", side, st.do, got, st.info)
		}
	}
}

func TestFakeKernelScenarios(t *testing.T) {
	sub := strings.NewReplacer("{A}", "8:16", "{B}", "8:80")
	for _, sc := range kernelScenarios {
		t.Run(sc.name, func(t *testing.T) {
			const name = "m"
			f := NewFake()
			side := fakeSide{f, name}
			if _, err := CreateMap(f, name, "", 8, mustTable(t, sub.Replace(sc.table)), 0); err != nil {
				t.Fatal(err)
			}
			for _, st := range sc.steps {
				if got := runStep(t, side, name, sub, 8, st.do); got != st.err {
					t.Fatalf("%q: error %q, want %q", st.do, got, st.err)
				}
				checkStep(t, "fake", side, name, sub, st)
			}
		})
	}
}

// ktable is a table load: the params with {A} and {B} for the paths,
// the map size (0 = the LUN's; "+N" grows it), and the outcome of create,
// load and resume on the kernel: "" or "<ioctl> <errno>".
type ktable struct {
	params string
	grow   int64 // sectors added to the LUN size; -size for a 0-sector target
	want   string
	// parse: pkg/dm's ParseTable (and so Client.Load) already refuses the
	// params, so the daemon cannot send them; only the kernel is asked.
	parse bool
}

var kernelTables = []ktable{
	{params: "0 0 1 1 round-robin 0 2 1 {A} 1 {B} 1"},
	{params: "0 0 1 1 round-robin 0 1 1 {A} 1", grow: -1 << 40, want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 round-robin 0 1 1 {A} 1", grow: 8, want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 no-such-selector 0 1 0 {A}", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 1 no_such_handler 1 1 round-robin 0 1 0 {A}", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 2 alua 1 1 1 round-robin 0 1 0 {A}"},
	{params: "0 2 alua 2 1 1 round-robin 0 1 0 {A}", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 3 alua 1 1 1 1 round-robin 0 1 0 {A}", want: "DM_TABLE_LOAD EINVAL"},
	{params: "2 queue_mode bio 1 no_such_handler 1 1 round-robin 0 1 0 {A}"},
	{params: "0 0 1 1 round-robin 0 1 2 {A} 1 1", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 round-robin 0 1 1 {A} x", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 round-robin 0 1 1 {A} -1", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 queue-length 0 1 2 {A} 1 1", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 service-time 0 1 3 {A} 1 1 1", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 service-time 0 1 2 {A} 1 100"},
	{params: "0 0 1 1 service-time 0 1 2 {A} 1 0"},
	{params: "0 0 1 1 service-time 0 1 2 {A} 1 101", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 service-time 0 1 2 {A} 1 500", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 historical-service-time 0 1 0 {A}"},
	{params: "0 0 1 1 historical-service-time 2 1023 5 1 0 {A}"},
	{params: "0 0 1 1 historical-service-time 1 1024 1 0 {A}", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 historical-service-time 3 1 1 1 1 0 {A}", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 historical-service-time 0 1 2 {A} 1 1", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 io-affinity 0 1 1 {A} 1"},
	{params: "0 0 1 1 io-affinity 0 1 0 {A}", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 io-affinity 0 1 1 {A} zz", want: "DM_TABLE_LOAD EINVAL"},
	{params: "0 0 1 1 round-robin 0 1 0 250:250", want: "DM_TABLE_LOAD ENXIO"},
	{params: "0 0 1 1 round-robin 0 1 0 not-a-device", want: "DM_TABLE_LOAD ENODEV"},
	{params: "0 0 1 1 round-robin 0 1 0 8:1048576", want: "DM_TABLE_LOAD EOVERFLOW"},
	{params: "1 pg_init_retries 0 1 1 round-robin 0 1 0 {A}", want: "DM_TABLE_LOAD EINVAL", parse: true},
	{params: "2 pg_init_retries 51 0 1 1 round-robin 0 1 0 {A}", want: "DM_TABLE_LOAD EINVAL", parse: true},
	{params: "2 pg_init_delay_msecs 60001 0 1 1 round-robin 0 1 0 {A}", want: "DM_TABLE_LOAD EINVAL", parse: true},
	{params: "2 queue_mode foo 0 1 1 round-robin 0 1 0 {A}", want: "DM_TABLE_LOAD EINVAL", parse: true},
	{params: "1 no_partitions 0 1 1 round-robin 0 1 0 {A}", want: "DM_TABLE_LOAD EINVAL", parse: true},
	{params: "0 0 2 1 round-robin 0 1 0 {A}", want: "DM_TABLE_LOAD EINVAL", parse: true},
	// The kernel takes an initial group past the last (and starts on the
	// first); Validate is stricter.
	{params: "0 0 1 2 round-robin 0 1 0 {A}", parse: true},
	{params: "0 0 1 1 round-robin 0 0 0", want: "DM_TABLE_LOAD EINVAL", parse: true},
}

// loadOutcome creates a map with the table on c and describes the first
// call that failed, as ktable.want does.
func loadOutcome(c Control, name string, size uint64, t Table) string {
	_, err := CreateMap(c, name, "", size, t, 0)
	if err == nil {
		if _, err := c.Remove(name, RemoveOptions{}); err != nil {
			return "remove: " + err.Error()
		}
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	return e.Op + " " + errnoName(e.Err)
}

func (k ktable) size(lun uint64) uint64 { return uint64(max(int64(lun)+k.grow, 0)) }

func TestFakeRejectsWhatTheKernelRejects(t *testing.T) {
	const lun = 1 << 20
	sub := strings.NewReplacer("{A}", "8:16", "{B}", "8:80")
	for _, k := range kernelTables {
		t.Run(k.params, func(t *testing.T) {
			tb, err := ParseTable(sub.Replace(k.params))
			if k.parse {
				if err == nil {
					t.Errorf("ParseTable accepted it")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := NewFake()
			f.SetPathDevices([]PathDevice{{Dev: "8:16", Sectors: lun}, {Dev: "8:80", Sectors: lun}})
			if got := loadOutcome(f, "m", k.size(lun), tb); got != k.want {
				t.Errorf("got %q, want %q", got, k.want)
			}
		})
	}
}

func TestFakePathDevices(t *testing.T) {
	tb := mustTable(t, "0 0 1 1 round-robin 0 1 0 8:16")
	other := mustTable(t, "0 0 1 1 round-robin 0 1 0 /dev/sdb")
	f := NewFake()
	// By default any device is there, of any size.
	if got := loadOutcome(f, "m", 1<<40, tb); got != "" {
		t.Errorf("default: %q", got)
	}
	if got := loadOutcome(f, "m", 8, other); got != "" {
		t.Errorf("default, device path: %q", got)
	}
	f.SetPathDevices([]PathDevice{{Dev: "8:16", Held: true}})
	if got := loadOutcome(f, "m", 8, tb); got != "DM_TABLE_LOAD EBUSY" {
		t.Errorf("held: %q", got)
	}
	f.SetPathDevices(nil)
	if got := loadOutcome(f, "m", 8, tb); got != "" {
		t.Errorf("back to any device: %q", got)
	}
	f.SetSelectors([]string{"service-time"})
	if got := loadOutcome(f, "m", 8, tb); got != "DM_TABLE_LOAD EINVAL" {
		t.Errorf("selector module missing: %q", got)
	}
	f.SetSelectors([]string{"round-robin"})
	f.SetTargets([]TargetVersion{{Name: "linear"}})
	if got := loadOutcome(f, "m", 8, tb); got != "DM_TABLE_LOAD EINVAL" {
		t.Errorf("multipath target missing: %q", got)
	}
	f.SetTargets([]TargetVersion{{Name: "multipath"}})
	f.SetHandlers(nil)
	if got := loadOutcome(f, "m", 8, mustTable(t, "0 1 alua 1 1 round-robin 0 1 0 8:16")); got != "DM_TABLE_LOAD EINVAL" {
		t.Errorf("handler module missing: %q", got)
	}
}
