package dm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Fake is an in-memory device-mapper with multipath semantics for testing
// code that uses Control: tables are staged and swapped like the kernel
// does, readback is normalised, messages change the status and bump
// event counters, and errors can be injected. Its Watcher sees the same
// events a kernel watcher would. The zero value is not usable; call
// NewFake.
//
// Groups: as in the kernel, the active group changes only when a request
// arrives. switch_group, enable_group and disable_group drop the current
// group and a failed path leaves it in place; the status shows the pending
// group number (and no group A) until the next SubmitIO or KernelFailPath
// chooses a path.
//
// I/O: a test sends I/O to a map with SubmitIO, one request at a time,
// and reads what became of it with ServedIO, QueuedIO and FailedIO. As in
// dm-multipath, a request is served when the map has a usable path (the
// group choice of the kernel runs on that request); with no usable path
// it is held while queue_if_no_path is set, and failed with EIO when it
// is not. A suspended map (the fake suspends like NOFLUSH) holds every
// request, whatever its paths. Held requests are dispatched again, as the
// kernel's requeue does, after every change to the map: they are served
// once a path is reinstated, failed by fail_if_no_path, and dispatched
// into the new table on a resume that swaps tables. A map that holds
// requests is open, since whoever submitted them waits in them: Remove
// fails with EBUSY, and a deferred remove completes only once nothing is
// held and SetOpenCount is back at 0. The counters are kept per map name
// and survive the map's removal. KernelFailPath is an I/O error on a path:
// the failed request is retried like any other, so it counts as one more
// request.
//
// Tables: Load refuses what the kernel's constructor refuses, with its
// errno (see construct). Path tokens are checked against real devices only
// after SetPathDevices; by default every MAJ:MIN is a device of any size.
//
// What the Fake does not model is listed in the package documentation.
type Fake struct {
	mu        sync.Mutex
	devs      map[string]*fakeDev
	io        map[string]*ioCounts // by map name; kept after removal
	nextMinor uint32
	gen       uint64        // global event counter (what poll() watches)
	wake      chan struct{} // closed and replaced when gen moves
	calls     []Call
	inject    []injected
	targets   []TargetVersion
	selectors []string
	handlers  []string
	paths     map[string]PathDevice // nil: any MAJ:MIN is a device
}

// PathDevice is a block device that tables on a Fake may use as a path
// (see SetPathDevices).
type PathDevice struct {
	Dev     string // MAJ:MIN
	Sectors uint64 // its size; 0 = any map size fits
	// Held: someone else has it open exclusively (a mount, another
	// holder), so a table naming it fails with EBUSY.
	Held bool
}

// FakeMajor is the block major of fake devices.
const FakeMajor = 253

// Call records one Control call on a Fake.
type Call struct {
	Op    string // the ioctl name, as in Error.Op
	Name  string
	Arg   string // message text, new name, or rendered table
	Flags UdevFlags
}

type injected struct {
	op, name string
	err      error
}

type fakeTable struct {
	t       Table
	sectors uint64
	// linear is set instead of t for a table of linear targets (LoadTargets); holds lists the
	// fake devices it opens, one entry per target.
	linear []Target
	holds  []*fakeDev
	ro     bool
}

type fakeDev struct {
	name, uuid string
	dev        Dev
	eventNr    uint32
	live       *fakeTable
	inactive   *fakeTable
	status     Status
	suspended  bool
	openCount  int32
	holders    int32 // tables of other fake devices that use this one (kpartx's partitions)
	deferred   bool
	queued     int // requests the map holds
	// The kernel's group choice: current_pg and next_pg (1-based, 0 =
	// none) and each group's bypass; render prints them into status.
	curPG, nextPG int
	bypassed      []bool
}

type ioCounts struct {
	served, failed int
}

// NewFake returns an empty Fake whose target list has multipath, with the
// upstream path selectors and hardware handlers available.
func NewFake() *Fake {
	return &Fake{
		devs: map[string]*fakeDev{},
		io:   map[string]*ioCounts{},
		wake: make(chan struct{}),
		targets: []TargetVersion{
			{"multipath", [3]uint32{1, 14, 0}}, {"linear", [3]uint32{1, 4, 0}},
			{"striped", [3]uint32{1, 6, 0}}, {"error", [3]uint32{1, 6, 0}},
		},
		selectors: []string{"round-robin", "queue-length", "service-time", "historical-service-time", "io-affinity"},
		handlers:  []string{"alua", "emc", "rdac", "hp_sw"},
	}
}

// SetSelectors replaces the path selectors a table may name (their
// modules, which DM_LIST_VERSIONS does not list).
func (f *Fake) SetSelectors(names []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.selectors = slices.Clone(names)
}

// SetHandlers replaces the hardware handlers (scsi_dh modules) a table may
// name; the default is alua, emc, rdac and hp_sw.
func (f *Fake) SetHandlers(names []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers = slices.Clone(names)
}

// SetPathDevices makes the given devices the only block devices a table
// may name as paths, as the kernel opens each one: any other MAJ:MIN fails
// with ENXIO and a token that is not MAJ:MIN with ENODEV. By default (and
// with nil) every MAJ:MIN is taken for an existing device of any size.
func (f *Fake) SetPathDevices(devs []PathDevice) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if devs == nil {
		f.paths = nil
		return
	}
	f.paths = map[string]PathDevice{}
	for _, d := range devs {
		f.paths[d.Dev] = d
	}
}

var _ Control = (*Fake)(nil)
var _ Control = (*Client)(nil)

// InjectError makes the next call of op (e.g. "DM_TABLE_LOAD") on device
// name ("" = any device) fail with err, wrapped in *Error, before it has
// any effect.
func (f *Fake) InjectError(op, name string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inject = append(f.inject, injected{op, name, err})
}

// Calls returns the calls made so far.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// ResetCalls forgets the recorded calls.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// SetTargets replaces the list Targets returns.
func (f *Fake) SetTargets(vs []TargetVersion) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets = slices.Clone(vs)
}

// SetOpenCount simulates openers of a device (mounts, LVM, kpartx). When
// it drops to 0 and the map holds no request, a deferred removal happens.
func (f *Fake) SetOpenCount(name string, n int32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.get("SetOpenCount", name)
	if err != nil {
		return err
	}
	d.openCount = n
	f.closed(d)
	return nil
}

// KernelFailPath simulates the kernel failing a path after an I/O error:
// the path turns F, its fail count grows, the map's event counter moves,
// and the failed request is retried like a new one (SubmitIO): it moves
// I/O to another group if the current one has no usable path, and is
// held or failed if no path is left. A path that is already failed takes
// no I/O, so nothing happens then.
func (f *Fake) KernelFailPath(name, dev string) error {
	const op = "KernelFailPath"
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.get(op, name)
	if err != nil {
		return err
	}
	changed, err := f.setPath(d, op, dev, true)
	if err != nil || !changed {
		return err
	}
	f.dispatch(d, 1)
	return nil
}

// SubmitIO sends one request to the map (see Fake). It returns nil when
// the request was served or is held, and an error wrapping EIO when it
// failed at once; a map without a live table fails it with ErrNoTable.
func (f *Fake) SubmitIO(name string) error {
	const op = "IO"
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.get(op, name)
	if err != nil {
		return err
	}
	if d.live == nil {
		return &Error{Op: op, Name: name, Err: ErrNoTable}
	}
	if f.dispatch(d, 1) > 0 {
		return &Error{Op: op, Name: name, Err: unix.EIO}
	}
	return nil
}

// QueuedIO returns how many requests the map holds now (0 once it is
// gone).
func (f *Fake) QueuedIO(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.devs[name]; ok {
		return d.queued
	}
	return 0
}

// ServedIO returns how many requests of the map a path has served.
func (f *Fake) ServedIO(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts(name).served
}

// FailedIO returns how many requests of the map were failed back with
// EIO, including after the map is gone.
func (f *Fake) FailedIO(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts(name).failed
}

func (f *Fake) counts(name string) *ioCounts {
	c := f.io[name]
	if c == nil {
		c = &ioCounts{}
		f.io[name] = c
	}
	return c
}

// dispatch maps n requests as multipath_clone_and_map does and returns
// how many failed: a suspended map holds them; otherwise the group choice
// runs and they are served, or held while queue_if_no_path is set, or
// failed.
func (f *Fake) dispatch(d *fakeDev, n int) int {
	if n == 0 {
		return 0
	}
	switch {
	case d.suspended:
		d.queued += n
	case f.choosePath(d):
		f.counts(d.name).served += n
	case d.live.t.Features.QueueIfNoPath:
		d.queued += n
	default:
		f.counts(d.name).failed += n
		return n
	}
	return 0
}

// requeue dispatches the held requests again, as the kernel does when a
// path returns, queueing stops, or the map resumes (and, for request-based
// maps, every 100 ms anyway).
func (f *Fake) requeue(d *fakeDev) {
	if d.suspended || d.live == nil {
		return
	}
	n := d.queued
	d.queued = 0
	f.dispatch(d, n)
	f.closed(d)
}

// start runs the common prologue of a call: record it, fire an injected
// error.
func (f *Fake) start(op, name, arg string, flags UdevFlags) error {
	f.calls = append(f.calls, Call{Op: op, Name: name, Arg: arg, Flags: flags})
	for i, in := range f.inject {
		if in.op == op && (in.name == "" || in.name == name) {
			f.inject = slices.Delete(f.inject, i, i+1)
			return &Error{Op: op, Name: name, Err: in.err}
		}
	}
	return nil
}

func (f *Fake) get(op, name string) (*fakeDev, error) {
	d, ok := f.devs[name]
	if !ok {
		return nil, &Error{Op: op, Name: name, Err: unix.ENXIO}
	}
	return d, nil
}

// globalEvent moves the counter poll() watches.
func (f *Fake) globalEvent() {
	f.gen++
	close(f.wake)
	f.wake = make(chan struct{})
}

// tableEvent is dm_table_event: the map's counter and the global one.
func (f *Fake) tableEvent(d *fakeDev) {
	d.eventNr++
	f.globalEvent()
}

func (f *Fake) remove(d *fakeDev) {
	delete(f.devs, d.name)
	f.drop(d.live)
	f.drop(d.inactive)
	f.globalEvent()
}

// openers is the device's open count: the simulated openers, and at least
// one while the map holds requests, since whoever submitted them keeps it
// open while waiting.
func (d *fakeDev) openers() int32 {
	if d.queued > 0 {
		return max(d.openCount, 1) + d.holders
	}
	return d.openCount + d.holders
}

// closed runs a deferred remove once the last opener is gone; the
// submitter of held requests closes as soon as they complete.
func (f *Fake) closed(d *fakeDev) {
	if d.deferred && d.openers() == 0 {
		f.remove(d)
	}
}

func (d *fakeDev) info() Info {
	i := Info{Name: d.name, UUID: d.uuid, Dev: d.dev, OpenCount: d.openers(), EventNr: d.eventNr,
		Suspended: d.suspended, LiveTable: d.live != nil, InactiveTable: d.inactive != nil, DeferredRemove: d.deferred}
	if d.live != nil {
		i.TargetCount = 1
		if d.live.linear != nil {
			i.TargetCount = uint32(len(d.live.linear))
			i.ReadOnly = d.live.ro
		}
	}
	return i
}

// List implements Control.
func (f *Fake) List() ([]Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start("DM_LIST_DEVICES", "", "", 0); err != nil {
		return nil, err
	}
	return f.list(), nil
}

func (f *Fake) list() []Device {
	out := make([]Device, 0, len(f.devs))
	for _, d := range f.devs {
		out = append(out, Device{Name: d.name, UUID: d.uuid, Dev: d.dev, EventNr: d.eventNr})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Info implements Control.
func (f *Fake) Info(name string) (Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start("DM_DEV_STATUS", name, "", 0); err != nil {
		return Info{}, err
	}
	d, err := f.get("DM_DEV_STATUS", name)
	if err != nil {
		return Info{}, err
	}
	return d.info(), nil
}

// Create implements Control.
func (f *Fake) Create(name, uuid string) (Info, error) {
	const op = "DM_DEV_CREATE"
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(op, name, uuid, 0); err != nil {
		return Info{}, err
	}
	if err := validName(name); err != nil {
		return Info{}, &Error{Op: op, Name: name, Err: fmt.Errorf("%w: %v", unix.EINVAL, err)}
	}
	if err := validUUID(uuid); err != nil {
		return Info{}, &Error{Op: op, Name: name, Err: fmt.Errorf("%w: %v", unix.EINVAL, err)}
	}
	if _, ok := f.devs[name]; ok {
		return Info{}, &Error{Op: op, Name: name, Err: unix.EBUSY}
	}
	for _, d := range f.devs {
		if uuid != "" && d.uuid == uuid {
			return Info{}, &Error{Op: op, Name: name, Err: unix.EBUSY}
		}
	}
	d := &fakeDev{name: name, uuid: uuid, dev: Dev{FakeMajor, f.nextMinor}}
	f.nextMinor++
	f.devs[name] = d
	f.globalEvent()
	return d.info(), nil
}

// Load implements Control. A table the kernel's constructor refuses fails
// with its errno (see construct), and a change between bio and
// request-based queueing with EINVAL.
func (f *Fake) Load(name string, sectors uint64, t Table) error {
	const op = "DM_TABLE_LOAD"
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(op, name, t.String(), 0); err != nil {
		return err
	}
	d, err := f.get(op, name)
	if err != nil {
		return err
	}
	if err := f.construct(sectors, t); err != nil {
		return &Error{Op: op, Name: name, Err: err}
	}
	if d.live != nil && (d.live.t.Features.QueueMode == "bio") != (t.Features.QueueMode == "bio") {
		return &Error{Op: op, Name: name, Err: fmt.Errorf("%w: can't change device type", unix.EINVAL)}
	}
	// Normalize also copies the slices the caller may reuse.
	f.drop(d.inactive)
	d.inactive = &fakeTable{t: t.Normalize(), sectors: sectors}
	return nil
}

// construct checks a table the way dm_table_add_target and the multipath
// constructor do, with the same errno: a 0-sector target, the multipath
// target missing, the limits Validate knows, selectors and handlers that
// do not exist, the
// selectors' own argument checks, and path devices that cannot be opened.
func (f *Fake) construct(sectors uint64, t Table) error {
	if sectors == 0 {
		return fmt.Errorf("%w: zero-length target", unix.EINVAL)
	}
	if !HasTarget(f.targets, TargetType) {
		return fmt.Errorf("%w: unknown target type %s", unix.EINVAL, TargetType)
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("%w: %v", unix.EINVAL, err)
	}
	// A bio map takes no handler from the table: its words are skipped.
	if t.HWHandler != "" && t.Features.QueueMode != "bio" {
		if !slices.Contains(f.handlers, t.HWHandler) {
			return fmt.Errorf("%w: error attaching hardware handler %q", unix.EINVAL, t.HWHandler)
		}
		if err := handlerParams(t.HWHandler, t.HWArgs); err != nil {
			return fmt.Errorf("%w: unable to set hardware handler parameters: %v", unix.EINVAL, err)
		}
	}
	for i, g := range t.Groups {
		if !slices.Contains(f.selectors, g.Selector) {
			return fmt.Errorf("%w: group %d: unknown path selector type %q", unix.EINVAL, i+1, g.Selector)
		}
		if err := selectorArgs(g.Selector, g.SelectorArgs); err != nil {
			return fmt.Errorf("%w: group %d: %s: %v", unix.EINVAL, i+1, g.Selector, err)
		}
		for _, p := range g.Paths {
			if err := pathArgs(g.Selector, p.Args); err != nil {
				return fmt.Errorf("%w: path %s: %s: %v", unix.EINVAL, p.Dev, g.Selector, err)
			}
			if err := f.openPath(p.Dev, sectors); err != nil {
				return fmt.Errorf("path %s: %w", p.Dev, err)
			}
		}
	}
	return nil
}

// openPath is dm_get_device: MAJ:MIN must fit a dev_t and name an
// existing device; any other token is looked up as a device path, which
// the fake has none of unless any device is allowed.
func (f *Fake) openPath(tok string, sectors uint64) error {
	maj, min, ok := strings.Cut(tok, ":")
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if !ok || err1 != nil || err2 != nil || !isDigits(maj) || !isDigits(min) {
		if f.paths == nil {
			return nil
		}
		return fmt.Errorf("%w: error getting device", unix.ENODEV)
	}
	if ma >= 1<<12 || mi >= 1<<20 {
		return fmt.Errorf("%w: error getting device", unix.EOVERFLOW)
	}
	if f.paths == nil {
		return nil
	}
	d, ok := f.paths[fmt.Sprintf("%d:%d", ma, mi)]
	switch {
	case !ok:
		return fmt.Errorf("%w: error getting device", unix.ENXIO)
	case d.Held:
		return fmt.Errorf("%w: error getting device", unix.EBUSY)
	case d.Sectors > 0 && sectors > d.Sectors:
		return fmt.Errorf("%w: device too small for target: %d > %d sectors", unix.EINVAL, sectors, d.Sectors)
	}
	return nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// parseU is sscanf("%u%c") == 1: a whole word of decimal digits.
func parseU(w string) (uint64, bool) {
	if !isDigits(w) {
		return 0, false
	}
	n, err := strconv.ParseUint(w, 10, 32)
	return n, err == nil
}

// selectorArgs checks a group's selector arguments as the selectors'
// create functions do; only historical-service-time takes any.
func selectorArgs(selector string, args []string) error {
	if selector != "historical-service-time" {
		return nil
	}
	if len(args) > 2 {
		return fmt.Errorf("%d arguments, at most 2", len(args))
	}
	if len(args) > 0 {
		if w, ok := parseU(args[0]); !ok || w >= 1024 {
			return fmt.Errorf("base weight %q is not in 0–1023", args[0])
		}
	}
	if len(args) > 1 {
		if _, ok := parseU(args[1]); !ok {
			return fmt.Errorf("threshold multiplier %q is not a number", args[1])
		}
	}
	return nil
}

// pathArgs checks a path's selector arguments as the selectors' add_path
// functions do.
func pathArgs(selector string, args []string) error {
	most := 1
	switch selector {
	case "service-time":
		most = 2
	case "io-affinity":
		if len(args) != 1 {
			return fmt.Errorf("%d arguments, want a cpumask", len(args))
		}
		if !validCPUMask(args[0]) {
			return fmt.Errorf("invalid cpumask %q", args[0])
		}
		return nil
	case "round-robin", "queue-length", "historical-service-time":
	default:
		return nil
	}
	if len(args) > most {
		return fmt.Errorf("%d arguments, at most %d", len(args), most)
	}
	if len(args) > 0 {
		if _, ok := parseU(args[0]); !ok {
			return fmt.Errorf("invalid repeat count %q", args[0])
		}
	}
	if len(args) > 1 {
		if rt, ok := parseU(args[1]); !ok || rt > 100 {
			return fmt.Errorf("invalid relative_throughput %q, want 0–100", args[1])
		}
	}
	return nil
}

// validCPUMask accepts what cpumask_parse does: comma-separated groups of
// at most 8 hex digits.
func validCPUMask(s string) bool {
	for _, g := range strings.Split(s, ",") {
		if g == "" || len(g) > 8 || strings.Trim(strings.ToLower(g), "0123456789abcdef") != "" {
			return false
		}
	}
	return true
}

// handlerParams checks handler arguments as the handler's set_params
// does; only alua's (one flag, 0 or 1) are modelled.
func handlerParams(handler string, args []string) error {
	if handler != "alua" || len(args) == 0 {
		return nil
	}
	if len(args) != 1 {
		return fmt.Errorf("alua takes 1 argument, not %d", len(args))
	}
	if v, ok := parseU(args[0]); !ok || v > 1 {
		return fmt.Errorf("alua optimize_stpg %q is not 0 or 1", args[0])
	}
	return nil
}

// Clear implements Control.
func (f *Fake) Clear(name string) error {
	const op = "DM_TABLE_CLEAR"
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(op, name, "", 0); err != nil {
		return err
	}
	d, err := f.get(op, name)
	if err != nil {
		return err
	}
	f.drop(d.inactive)
	d.inactive = nil
	return nil
}

// Suspend implements Control.
func (f *Fake) Suspend(name string) error {
	const op = "DM_DEV_SUSPEND"
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(op, name, "suspend", 0); err != nil {
		return err
	}
	d, err := f.get(op, name)
	if err != nil {
		return err
	}
	d.suspended = true
	return nil
}

// Resume implements Control. Swapping in a table resets the status the
// way a fresh kernel table starts: every path active, no failures, no
// group active yet (the status shows the initial group), queue_io set
// until the first request. Held requests are dispatched again.
func (f *Fake) Resume(name string, flags UdevFlags) (Info, error) {
	const op = "DM_DEV_SUSPEND"
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(op, name, "resume", flags); err != nil {
		return Info{}, err
	}
	d, err := f.get(op, name)
	if err != nil {
		return Info{}, err
	}
	if d.inactive != nil {
		f.drop(d.live)
		d.live, d.inactive = d.inactive, nil
		d.status = initialStatus(d.live.t)
		d.curPG, d.nextPG = 0, d.live.t.InitialPG
		d.bypassed = make([]bool, len(d.live.t.Groups))
		d.render()
	}
	d.suspended = false
	f.requeue(d)
	return d.info(), nil
}

func initialStatus(t Table) Status {
	st := Status{QueueIO: true}
	for _, g := range t.Groups {
		gs := GroupStatus{State: GroupEnabled, Selector: cloneOrNil(g.SelectorArgs)}
		for _, p := range g.Paths {
			gs.Paths = append(gs.Paths, PathStatus{Dev: p.Dev, Selector: initialPathStatus(g.Selector, p.Args)})
		}
		st.Groups = append(st.Groups, gs)
	}
	return st
}

func initialPathStatus(selector string, args []string) []string {
	switch selector {
	case "queue-length", "io-affinity":
		return []string{"0"}
	case "service-time":
		return []string{"0", args[1]}
	case "historical-service-time":
		return []string{"0", "0", "0"}
	}
	return nil
}

// Remove implements Control.
func (f *Fake) Remove(name string, opt RemoveOptions) (bool, error) {
	const op = "DM_DEV_REMOVE"
	f.mu.Lock()
	defer f.mu.Unlock()
	arg := ""
	if opt.Deferred {
		arg = "deferred"
	}
	if err := f.start(op, name, arg, opt.Udev); err != nil {
		return false, err
	}
	d, err := f.get(op, name)
	if err != nil {
		return false, err
	}
	if d.openers() > 0 {
		if !opt.Deferred {
			return false, &Error{Op: op, Name: name, Err: unix.EBUSY}
		}
		d.deferred = true
		return true, nil
	}
	f.remove(d)
	return false, nil
}

// Rename implements Control.
func (f *Fake) Rename(name, newName string, flags UdevFlags) error {
	const op = "DM_DEV_RENAME"
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(op, name, newName, flags); err != nil {
		return err
	}
	d, err := f.get(op, name)
	if err != nil {
		return err
	}
	if err := validName(newName); err != nil {
		return &Error{Op: op, Name: name, Err: fmt.Errorf("%w: %v", unix.EINVAL, err)}
	}
	if _, ok := f.devs[newName]; ok {
		return &Error{Op: op, Name: name, Err: unix.EBUSY}
	}
	delete(f.devs, name)
	d.name = newName
	f.devs[newName] = d
	// The counters belong to the device, which keeps its requests.
	if c, ok := f.io[name]; ok {
		nc := f.counts(newName)
		nc.served += c.served
		nc.failed += c.failed
		delete(f.io, name)
	}
	f.tableEvent(d)
	return nil
}

// Table implements Control: the normalised live table with the current
// group as initial group, as the kernel prints it.
func (f *Fake) Table(name string) (Table, uint64, error) {
	const op = "DM_TABLE_STATUS"
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(op, name, "table", 0); err != nil {
		return Table{}, 0, err
	}
	d, err := f.get(op, name)
	if err != nil {
		return Table{}, 0, err
	}
	if d.live == nil {
		return Table{}, 0, &Error{Op: op, Name: name, Err: ErrNoTable}
	}
	if d.live.linear != nil {
		return Table{}, 0, &Error{Op: op, Name: name, Err: ErrNotMultipath}
	}
	t := d.live.t.Normalize()
	if len(t.Groups) > 0 {
		t.InitialPG = max(d.status.CurrentPG, 1)
	}
	return t, d.live.sectors, nil
}

// Status implements Control.
func (f *Fake) Status(name string) (Status, error) {
	const op = "DM_TABLE_STATUS"
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(op, name, "status", 0); err != nil {
		return Status{}, err
	}
	d, err := f.get(op, name)
	if err != nil {
		return Status{}, err
	}
	if d.live == nil {
		return Status{}, &Error{Op: op, Name: name, Err: ErrNoTable}
	}
	if d.live.linear != nil {
		return Status{}, &Error{Op: op, Name: name, Err: ErrNotMultipath}
	}
	// Hand out a deep copy so the caller cannot change the fake's state.
	st, _ := ParseStatus(d.status.String())
	return st, nil
}

// Deps implements Control: the paths of the live table that are MAJ:MIN.
func (f *Fake) Deps(name string) ([]Dev, error) {
	const op = "DM_TABLE_DEPS"
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(op, name, "", 0); err != nil {
		return nil, err
	}
	d, err := f.get(op, name)
	if err != nil {
		return nil, err
	}
	var out []Dev
	if d.live != nil && d.live.linear != nil {
		for _, tg := range d.live.linear {
			w, _, _ := strings.Cut(tg.Params, " ")
			if dev, err := ParseDev(w); err == nil && !slices.Contains(out, dev) {
				out = append(out, dev)
			}
		}
	}
	if d.live != nil {
		for _, g := range d.live.t.Groups {
			for _, p := range g.Paths {
				if dev, err := ParseDev(p.Dev); err == nil && !slices.Contains(out, dev) {
					out = append(out, dev)
				}
			}
		}
	}
	return out, nil
}

// Targets implements Control.
func (f *Fake) Targets() ([]TargetVersion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start("DM_LIST_VERSIONS", "", "", 0); err != nil {
		return nil, err
	}
	return slices.Clone(f.targets), nil
}

// Message implements Control for the multipath messages and
// @cancel_deferred_remove. Messages to a suspended map fail with EBUSY.
func (f *Fake) Message(name, msg string) (string, error) {
	const op = "DM_TARGET_MSG"
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.start(op, name, msg, 0); err != nil {
		return "", err
	}
	d, err := f.get(op, name)
	if err != nil {
		return "", err
	}
	fail := func(e error) (string, error) {
		return "", &Error{Op: op, Name: name, Err: fmt.Errorf("%q: %w", msg, e)}
	}
	if msg == "@cancel_deferred_remove" {
		// Like dm_cancel_deferred_remove, this succeeds on a map that has
		// no removal pending.
		d.deferred = false
		return "", nil
	}
	if d.live == nil || d.live.linear != nil { // linear has no message handler
		return fail(unix.EINVAL)
	}
	if d.suspended {
		return fail(unix.EBUSY)
	}
	words := strings.Fields(msg)
	switch {
	case len(words) == 1 && words[0] == "queue_if_no_path":
		d.live.t.Features.QueueIfNoPath = true
		return "", nil
	case len(words) == 1 && words[0] == "fail_if_no_path":
		d.live.t.Features.QueueIfNoPath = false
		f.requeue(d)
		return "", nil
	case len(words) != 2:
		return fail(unix.EINVAL)
	}
	switch words[0] {
	case "fail_path", "reinstate_path":
		if _, err := f.setPath(d, op, words[1], words[0] == "fail_path"); err != nil {
			return fail(errors.Unwrap(err))
		}
		f.requeue(d)
		return "", nil
	case "switch_group", "enable_group", "disable_group":
	default:
		return fail(unix.EINVAL)
	}
	pg, err := strconv.Atoi(words[1])
	if err != nil || pg < 1 || pg > len(d.status.Groups) {
		return fail(unix.EINVAL)
	}
	// Like the kernel, each of these drops the current group: the next
	// request chooses again.
	d.curPG = 0
	switch words[0] {
	case "switch_group":
		for i := range d.bypassed {
			d.bypassed[i] = false
		}
		d.nextPG = pg
	case "enable_group", "disable_group":
		d.bypassed[pg-1] = words[0] == "disable_group"
	}
	d.render()
	f.tableEvent(d)
	f.requeue(d)
	return "", nil
}

// setPath fails or reinstates a path. Like the kernel it leaves the
// group choice to the next request. It reports whether the path changed
// state.
func (f *Fake) setPath(d *fakeDev, op, dev string, failed bool) (bool, error) {
	for gi := range d.status.Groups {
		for pi := range d.status.Groups[gi].Paths {
			p := &d.status.Groups[gi].Paths[pi]
			if p.Dev != dev {
				continue
			}
			if p.Failed != failed {
				p.Failed = failed
				if failed {
					p.FailCount++
				}
				f.tableEvent(d)
				return true, nil
			}
			return false, nil
		}
	}
	return false, &Error{Op: op, Name: d.name, Err: unix.EINVAL}
}

// usable reports whether group pg (1-based) has a path that is not failed.
func (d *fakeDev) usable(pg int) bool {
	for _, p := range d.status.Groups[pg-1].Paths {
		if !p.Failed {
			return true
		}
	}
	return false
}

// choosePath is the kernel's choose_pgpath for one request: it reports
// whether a usable path exists, after switching to the group the request
// goes to. The group named by switch_group (or the table's initial group)
// is taken first, without looking at its bypass; then the current group
// while it has a usable path; then the first usable group in order,
// skipping bypassed ones, then among the bypassed ones.
func (f *Fake) choosePath(d *fakeDev) bool {
	valid := false
	for pg := 1; pg <= len(d.status.Groups); pg++ {
		valid = valid || d.usable(pg)
	}
	if !valid {
		d.status.QueueIO = false
		d.curPG = 0
		d.render()
		return false
	}
	pick := 0
	if next := d.nextPG; next > 0 {
		d.nextPG = 0
		if d.usable(next) {
			pick = next
		}
	}
	if pick == 0 && d.curPG > 0 && d.usable(d.curPG) {
		pick = d.curPG
	}
	for _, bypassed := range []bool{false, true} {
		for pg := 1; pick == 0 && pg <= len(d.status.Groups); pg++ {
			if d.bypassed[pg-1] == bypassed && d.usable(pg) {
				pick = pg
			}
		}
	}
	if pick != d.curPG {
		// __switch_pg: without a hardware handler no pg_init is needed, so
		// the map stops holding I/O.
		d.curPG = pick
		d.status.QueueIO = false
		d.status.PGInitCount = 0
	}
	d.render()
	return true
}

// render writes the group choice into the status line the way
// multipath_status prints it: the group number is the pending one
// (switch_group, or the initial group), else the current one, else 1; a
// bypassed group shows D, the current one A, the others E.
func (d *fakeDev) render() {
	st := &d.status
	switch {
	case len(st.Groups) == 0:
		st.CurrentPG = 0
	case d.nextPG > 0:
		st.CurrentPG = d.nextPG
	case d.curPG > 0:
		st.CurrentPG = d.curPG
	default:
		st.CurrentPG = 1
	}
	for i := range st.Groups {
		switch {
		case d.bypassed[i]:
			st.Groups[i].State = GroupDisabled
		case i+1 == d.curPG:
			st.Groups[i].State = GroupActive
		default:
			st.Groups[i].State = GroupEnabled
		}
	}
}

// Watcher returns a Watcher over the fake's events (uuid prefix as in
// WatchOptions).
func (f *Fake) Watcher(opts WatchOptions) (*Watcher, error) {
	return newWatcher(&fakeSource{f: f}, opts.prefix())
}

type fakeSource struct {
	f     *Fake
	armed uint64
}

func (s *fakeSource) wait(ctx context.Context) error {
	for {
		s.f.mu.Lock()
		gen, wake := s.f.gen, s.f.wake
		s.f.mu.Unlock()
		if gen != s.armed {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		}
	}
}

func (s *fakeSource) arm() error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.armed = s.f.gen
	return nil
}

func (s *fakeSource) list() ([]Device, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	return s.f.list(), nil
}

func (s *fakeSource) close() error { return nil }
