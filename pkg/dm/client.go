package dm

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Control is the device-mapper interface the daemon uses. *Client talks to
// the kernel; *Fake keeps maps in memory for tests. Both return *Error
// values that wrap the errno (unix.ENXIO, unix.EBUSY, unix.EINVAL, ...),
// so callers test them with errors.Is.
//
// Calls for one map must be serialised by the caller (a load and its
// resume must not interleave with another reload of the same map).
type Control interface {
	// List returns every dm device with its uuid and event counter.
	List() ([]Device, error)
	// Info returns the state of one device (DM_DEV_STATUS).
	Info(name string) (Info, error)
	// Create makes an empty device (DM_DEV_CREATE).
	Create(name, uuid string) (Info, error)
	// Load stages a multipath table of the given size in 512-byte sectors
	// as the inactive table (DM_TABLE_LOAD); Resume makes it live.
	Load(name string, sectors uint64, t Table) error
	// Clear drops the inactive table (DM_TABLE_CLEAR).
	Clear(name string) error
	// Suspend suspends without flushing or freezing (NOFLUSH|SKIP_LOCKFS),
	// so queue_if_no_path keeps holding I/O.
	Suspend(name string) error
	// Resume swaps in the inactive table, if any, and resumes, with
	// NOFLUSH|SKIP_LOCKFS; flags go to udev in the cookie (see UdevFlags).
	// With Options.UdevWait, *Client's Resume, Remove and Rename also wait
	// for udev to process the uevent (bounded, never an error).
	Resume(name string, flags UdevFlags) (Info, error)
	// Remove removes the device. With opt.Deferred an open device is
	// removed on last close instead of failing with EBUSY; pending
	// reports that case.
	Remove(name string, opt RemoveOptions) (pending bool, err error)
	// Rename renames the device (DM_DEV_RENAME).
	Rename(name, newName string, flags UdevFlags) error
	// Table reads the live multipath table back, with its size in sectors.
	Table(name string) (Table, uint64, error)
	// Status reads the live multipath status.
	Status(name string) (Status, error)
	// Deps lists the devices the live table uses (DM_TABLE_DEPS).
	Deps(name string) ([]Dev, error)
	// Message sends a target message to sector 0 and returns its output,
	// if any (DM_TARGET_MSG).
	Message(name, msg string) (string, error)
	// Targets lists the loaded target types (DM_LIST_VERSIONS). Path
	// selectors are not targets; the kernel loads them on first use.
	Targets() ([]TargetVersion, error)
}

// Info is the state of a device as DM_DEV_STATUS and the other per-device
// calls report it.
type Info struct {
	Name      string
	UUID      string
	Dev       Dev
	OpenCount int32
	EventNr   uint32
	// TargetCount is the number of targets in the live table.
	TargetCount    uint32
	Suspended      bool
	ReadOnly       bool
	LiveTable      bool // DM_ACTIVE_PRESENT_FLAG
	InactiveTable  bool // DM_INACTIVE_PRESENT_FLAG: loaded, not yet resumed
	DeferredRemove bool
}

func infoFrom(h header) Info {
	return Info{
		Name:           h.Name,
		UUID:           h.UUID,
		Dev:            decodeDev(h.Dev),
		OpenCount:      h.OpenCount,
		EventNr:        h.EventNr,
		TargetCount:    h.TargetCount,
		Suspended:      h.Flags&flagSuspend != 0,
		ReadOnly:       h.Flags&flagReadOnly != 0,
		LiveTable:      h.Flags&flagActivePresent != 0,
		InactiveTable:  h.Flags&flagInactive != 0,
		DeferredRemove: h.Flags&flagDeferredRemove != 0,
	}
}

// RemoveOptions controls Remove.
type RemoveOptions struct {
	Deferred bool      // remove on last close if the device is open
	Udev     UdevFlags // extra cookie flags
}

// Error is a failed dm call: which ioctl, which device, and the cause
// (usually a unix.Errno).
type Error struct {
	Op   string // ioctl name, e.g. "DM_TABLE_LOAD"
	Name string // device name; empty for global calls
	Err  error
}

func (e *Error) Error() string {
	if e.Name == "" {
		return "dm: " + e.Op + ": " + e.Err.Error()
	}
	return "dm: " + e.Op + " " + e.Name + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// invalid reports input the kernel would reject with EINVAL, caught before
// the ioctl.
func invalid(op, name string, err error) error {
	return &Error{Op: op, Name: name, Err: fmt.Errorf("%w: %v", unix.EINVAL, err)}
}

var (
	// ErrNoTable means the device has no live table.
	ErrNoTable = errors.New("no live table")
	// ErrNotMultipath means the live table is not a single multipath target.
	ErrNotMultipath = errors.New("not a multipath table")
)

// IsNotExist reports whether err says the device does not exist.
func IsNotExist(err error) bool { return errors.Is(err, unix.ENXIO) }

// IsBusy reports whether err says the device exists, is open, or is
// suspended (messages).
func IsBusy(err error) bool { return errors.Is(err, unix.EBUSY) }

// ioctler is the seam between the client and the control node: the real
// implementation is an fd, tests use a fake that plays the kernel.
type ioctler interface {
	ioctl(req uintptr, buf []byte) error
	close() error
}

// Buffer sizes for calls that return data: libdevmapper starts at 16 KiB;
// the kernel never needs more than a few MiB for a multipath host.
const (
	initialBuffer = 16 << 10
	maxBuffer     = 64 << 20
)

// Options configures Open.
type Options struct {
	// ControlPath is the control node; default /dev/mapper/control.
	// Managed nodes are made in its directory.
	ControlPath string
	// ManageNodes makes the client create and remove /dev/mapper/<name>
	// block nodes itself when udev is not running (initramfs, containers),
	// the job libdevmapper's fallback does.
	ManageNodes bool
	// UdevRunning reports whether udevd runs; default UdevRunning.
	UdevRunning func() bool
	// UdevWait makes Resume, Remove and Rename, while udev runs, return
	// only once udev has run its rules for the uevent they cause (links
	// in /dev/mapper, the udev database), using libdevmapper's cookie
	// semaphore that the dm rules' "dmsetup udevcomplete" signals.
	// Without it, or without udev, cookies carry flags only.
	UdevWait bool
	// UdevTimeout bounds each wait; default DefaultUdevTimeout. A wait
	// that times out is logged as a warning; the dm operation has
	// succeeded all the same and is reported as such.
	UdevTimeout time.Duration
	// Logger receives udev wait failures (Warn) and wait times (Debug);
	// nil discards.
	Logger *slog.Logger
}

// Client issues dm ioctls on one control fd. It is safe for concurrent
// use; the kernel serialises per device.
type Client struct {
	dev     ioctler
	version [3]uint32
	opts    Options
	nodeDir string
	log     *slog.Logger
	sem     semaphores
	random  func() uint16 // semaphore bases
}

// Open opens the control node (creating it as char 10:236 if it is
// missing) and performs the version handshake.
func Open(opts Options) (*Client, error) {
	if opts.ControlPath == "" {
		opts.ControlPath = ControlPath
	}
	dev, err := openControl(opts.ControlPath)
	if err != nil {
		return nil, err
	}
	c, err := newClient(dev, opts)
	if err != nil {
		dev.close()
		return nil, err
	}
	return c, nil
}

func newClient(dev ioctler, opts Options) (*Client, error) {
	if opts.UdevRunning == nil {
		opts.UdevRunning = UdevRunning
	}
	if opts.ControlPath == "" {
		opts.ControlPath = ControlPath
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{dev: dev, opts: opts, nodeDir: filepath.Dir(opts.ControlPath), log: log, sem: sysvSemaphores{}, random: randomBase}
	h, _, err := c.call(cmdVersion, header{}, nil, 0)
	if err != nil {
		return nil, err
	}
	if h.Version[0] != unix.DM_VERSION_MAJOR {
		return nil, &Error{Op: cmdVersion.name, Err: fmt.Errorf("kernel dm interface %d.%d.%d, want 4.x", h.Version[0], h.Version[1], h.Version[2])}
	}
	c.version = h.Version
	return c, nil
}

// Close closes the control fd.
func (c *Client) Close() error { return c.dev.close() }

// KernelVersion is the kernel's dm ioctl interface version.
func (c *Client) KernelVersion() [3]uint32 { return c.version }

// nameListTail says whether name_list records carry event_nr (DM 4.37+).
func (c *Client) nameListTail() bool { return c.version[1] >= 37 }

// call sends one ioctl. Calls with output start at size (or the header
// plus payload) and double the buffer while the kernel sets
// DM_BUFFER_FULL_FLAG, which it does with a successful return.
func (c *Client) call(cmd command, h header, payload []byte, size int) (header, []byte, error) {
	// The kernel accepts any minor up to its own; 4.0.0 never fails the
	// version check, and the reply carries the kernel's version.
	h.Version = [3]uint32{unix.DM_VERSION_MAJOR, 0, 0}
	id := h.Name
	if id == "" {
		id = h.UUID
	}
	for {
		buf, err := encodeRequest(h, payload, size)
		if err != nil {
			return header{}, nil, invalid(cmd.name, id, err)
		}
		if err := c.dev.ioctl(cmd.req, buf); err != nil {
			return header{}, nil, &Error{Op: cmd.name, Name: id, Err: err}
		}
		rh, data, err := decodeReply(buf)
		if err != nil {
			return header{}, nil, &Error{Op: cmd.name, Name: id, Err: err}
		}
		if rh.Flags&flagBufferFull == 0 {
			return rh, data, nil
		}
		if len(buf) >= maxBuffer {
			return header{}, nil, &Error{Op: cmd.name, Name: id, Err: fmt.Errorf("reply does not fit in %d bytes", len(buf))}
		}
		size = max(2*len(buf), initialBuffer)
	}
}

func (c *Client) named(cmd command, name string) (header, error) {
	if err := validName(name); err != nil {
		return header{}, invalid(cmd.name, name, err)
	}
	return header{Name: name}, nil
}

// List implements Control. Names and uuids are not sent: newer kernels
// treat them as prefix filters. Kernels before 5.13 list no uuids; each
// device's is then read with DEV_STATUS, since a map listed without its
// uuid would be taken for a stranger (not adopted, created again).
func (c *Client) List() ([]Device, error) { return c.list(flagUUID) }

// list is List with the request's flags: without DM_UUID_FLAG a kernel of
// 5.13 or later answers as earlier kernels always do, which proves the
// fallback on a current kernel.
func (c *Client) list(flags uint32) ([]Device, error) {
	_, data, err := c.call(cmdListDevices, header{Flags: flags}, nil, initialBuffer)
	if err != nil {
		return nil, err
	}
	devs, noUUID, err := decodeNameList(data, c.nameListTail())
	if err != nil {
		return nil, &Error{Op: cmdListDevices.name, Err: err}
	}
	if len(noUUID) == 0 {
		return devs, nil
	}
	gone := 0
	for _, i := range noUUID {
		info, err := c.Info(devs[i].Name)
		switch {
		case errors.Is(err, unix.ENXIO):
			devs[i].Name, gone = "", gone+1 // removed since the listing
			continue
		case err != nil:
			return nil, err
		}
		devs[i].UUID = info.UUID
		if !c.nameListTail() {
			devs[i].EventNr = info.EventNr // not in the listing before 4.37
		}
	}
	if gone > 0 {
		devs = slices.DeleteFunc(devs, func(d Device) bool { return d.Name == "" })
	}
	return devs, nil
}

// Info implements Control.
func (c *Client) Info(name string) (Info, error) {
	h, err := c.named(cmdDevStatus, name)
	if err != nil {
		return Info{}, err
	}
	rh, _, err := c.call(cmdDevStatus, h, nil, 0)
	if err != nil {
		return Info{}, err
	}
	return infoFrom(rh), nil
}

// Create implements Control. With Options.ManageNodes and no udev it also
// creates /dev/mapper/<name>.
func (c *Client) Create(name, uuid string) (Info, error) {
	h, err := c.named(cmdDevCreate, name)
	if err != nil {
		return Info{}, err
	}
	if err := validUUID(uuid); err != nil {
		return Info{}, invalid(cmdDevCreate.name, name, err)
	}
	h.UUID = uuid
	rh, _, err := c.call(cmdDevCreate, h, nil, 0)
	if err != nil {
		return Info{}, err
	}
	info := infoFrom(rh)
	if c.manageNodes() {
		if err := c.makeNode(name, info.Dev); err != nil {
			// Do not leave a device behind that callers think failed.
			if _, rerr := c.Remove(name, RemoveOptions{}); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return Info{}, err
		}
	}
	return info, nil
}

// Load implements Control.
func (c *Client) Load(name string, sectors uint64, t Table) error {
	if err := t.Validate(); err != nil {
		return invalid(cmdTableLoad.name, name, fmt.Errorf("multipath table: %w", err))
	}
	params, err := t.MarshalText()
	if err != nil {
		return invalid(cmdTableLoad.name, name, err)
	}
	return c.LoadTargets(name, []Target{{Length: sectors, Type: TargetType, Params: string(params)}}, 0)
}

// LoadTargets loads any table (e.g. kpartx's linear partition maps);
// flags may carry DM_READONLY_FLAG.
func (c *Client) LoadTargets(name string, ts []Target, flags uint32) error {
	h, err := c.named(cmdTableLoad, name)
	if err != nil {
		return err
	}
	payload, err := encodeTargets(ts)
	if err != nil {
		return invalid(cmdTableLoad.name, name, err)
	}
	h.TargetCount = uint32(len(ts))
	h.Flags = flags
	_, _, err = c.call(cmdTableLoad, h, payload, 0)
	return err
}

// Clear implements Control.
func (c *Client) Clear(name string) error {
	h, err := c.named(cmdTableClear, name)
	if err != nil {
		return err
	}
	_, _, err = c.call(cmdTableClear, h, nil, 0)
	return err
}

// Suspend implements Control.
func (c *Client) Suspend(name string) error {
	h, err := c.named(cmdDevSuspend, name)
	if err != nil {
		return err
	}
	h.Flags = flagSuspend | flagNoFlush | flagSkipLockfs
	_, _, err = c.call(cmdDevSuspend, h, nil, 0)
	return err
}

// Resume implements Control.
func (c *Client) Resume(name string, flags UdevFlags) (Info, error) {
	info, wait, err := c.ResumeDeferred(name, flags)
	wait()
	return info, err
}

// ResumeDeferred implements UdevDeferrer: Resume, with the wait for udev left to the returned
// function (which never fails: a wait that times out is logged). The caller must call it once.
func (c *Client) ResumeDeferred(name string, flags UdevFlags) (Info, func(), error) {
	h, err := c.named(cmdDevSuspend, name)
	if err != nil {
		return Info{}, func() {}, err
	}
	h.Flags = flagNoFlush | flagSkipLockfs
	s := c.beginUdev("resume", name, flags)
	h.EventNr = s.eventNr
	rh, _, err := c.call(cmdDevSuspend, h, nil, 0)
	wait := c.deferUdev(s, "resume", name, rh, err)
	if err != nil {
		wait()
		return Info{}, func() {}, err
	}
	return infoFrom(rh), wait, nil
}

// Remove implements Control. Without udev and with Options.ManageNodes the
// node goes too, unless removal is deferred (then SyncNodes tidies up).
func (c *Client) Remove(name string, opt RemoveOptions) (bool, error) {
	h, err := c.named(cmdDevRemove, name)
	if err != nil {
		return false, err
	}
	if opt.Deferred {
		h.Flags = flagDeferredRemove
	}
	s := c.beginUdev("remove", name, opt.Udev)
	h.EventNr = s.eventNr
	rh, _, err := c.call(cmdDevRemove, h, nil, 0)
	c.endUdev(s, "remove", name, rh, err)
	if err != nil {
		return false, err
	}
	// The kernel clears DEFERRED_REMOVE on an immediate removal and
	// returns it untouched when it only marked the device.
	pending := opt.Deferred && rh.Flags&flagDeferredRemove != 0
	if !pending && c.manageNodes() {
		if err := c.removeNode(name); err != nil {
			return false, err
		}
	}
	return pending, nil
}

// Rename implements Control.
func (c *Client) Rename(name, newName string, flags UdevFlags) error {
	h, err := c.named(cmdDevRename, name)
	if err != nil {
		return err
	}
	if err := validName(newName); err != nil {
		return invalid(cmdDevRename.name, name, err)
	}
	s := c.beginUdev("rename", name, flags)
	h.EventNr = s.eventNr
	rh, _, err := c.call(cmdDevRename, h, encodeString(newName), 0)
	c.endUdev(s, "rename", name, rh, err)
	if err != nil {
		return err
	}
	if c.manageNodes() {
		if err := c.removeNode(name); err != nil {
			return err
		}
		return c.makeNode(newName, decodeDev(rh.Dev))
	}
	return nil
}

// TableTargets returns the live table of any device as the kernel prints
// it (DM_TABLE_STATUS with DM_STATUS_TABLE_FLAG).
func (c *Client) TableTargets(name string) ([]Target, error) {
	return c.targets(name, flagStatusTable)
}

// StatusTargets returns the status of every target of any device.
func (c *Client) StatusTargets(name string) ([]Target, error) {
	return c.targets(name, 0)
}

func (c *Client) targets(name string, flags uint32) ([]Target, error) {
	h, err := c.named(cmdTableStatus, name)
	if err != nil {
		return nil, err
	}
	h.Flags = flags
	rh, data, err := c.call(cmdTableStatus, h, nil, initialBuffer)
	if err != nil {
		return nil, err
	}
	ts, err := decodeTargets(data, rh.TargetCount)
	if err != nil {
		return nil, &Error{Op: cmdTableStatus.name, Name: name, Err: err}
	}
	return ts, nil
}

// multipathTarget picks the single multipath target out of a readback.
func multipathTarget(op, name string, ts []Target) (Target, error) {
	switch {
	case len(ts) == 0:
		return Target{}, &Error{Op: op, Name: name, Err: ErrNoTable}
	case len(ts) > 1 || ts[0].Type != TargetType:
		return Target{}, &Error{Op: op, Name: name, Err: ErrNotMultipath}
	}
	return ts[0], nil
}

// Table implements Control.
func (c *Client) Table(name string) (Table, uint64, error) {
	ts, err := c.TableTargets(name)
	if err != nil {
		return Table{}, 0, err
	}
	tg, err := multipathTarget(cmdTableStatus.name, name, ts)
	if err != nil {
		return Table{}, 0, err
	}
	t, err := ParseTable(tg.Params)
	if err != nil {
		return Table{}, 0, &Error{Op: cmdTableStatus.name, Name: name, Err: err}
	}
	return t, tg.Length, nil
}

// Status implements Control.
func (c *Client) Status(name string) (Status, error) {
	ts, err := c.StatusTargets(name)
	if err != nil {
		return Status{}, err
	}
	tg, err := multipathTarget(cmdTableStatus.name, name, ts)
	if err != nil {
		return Status{}, err
	}
	st, err := ParseStatus(tg.Params)
	if err != nil {
		return Status{}, &Error{Op: cmdTableStatus.name, Name: name, Err: err}
	}
	return st, nil
}

// Deps implements Control.
func (c *Client) Deps(name string) ([]Dev, error) {
	h, err := c.named(cmdTableDeps, name)
	if err != nil {
		return nil, err
	}
	_, data, err := c.call(cmdTableDeps, h, nil, initialBuffer)
	if err != nil {
		return nil, err
	}
	devs, err := decodeDeps(data)
	if err != nil {
		return nil, &Error{Op: cmdTableDeps.name, Name: name, Err: err}
	}
	return devs, nil
}

// Message implements Control.
func (c *Client) Message(name, msg string) (string, error) {
	h, err := c.named(cmdTargetMsg, name)
	if err != nil {
		return "", err
	}
	payload, err := encodeMessage(0, msg)
	if err != nil {
		return "", invalid(cmdTargetMsg.name, name, err)
	}
	rh, data, err := c.call(cmdTargetMsg, h, payload, initialBuffer)
	if err != nil {
		return "", &Error{Op: cmdTargetMsg.name, Name: name, Err: fmt.Errorf("%q: %w", msg, errors.Unwrap(err))}
	}
	if rh.Flags&flagDataOut == 0 {
		return "", nil
	}
	return cstring(data), nil
}

// Targets implements Control.
func (c *Client) Targets() ([]TargetVersion, error) {
	_, data, err := c.call(cmdListVersions, header{}, nil, initialBuffer)
	if err != nil {
		return nil, err
	}
	vs, err := decodeVersions(data)
	if err != nil {
		return nil, &Error{Op: cmdListVersions.name, Err: err}
	}
	return vs, nil
}

// HasTarget reports whether name is among the loaded target types.
func HasTarget(vs []TargetVersion, name string) bool {
	for _, v := range vs {
		if v.Name == name {
			return true
		}
	}
	return false
}

func (c *Client) manageNodes() bool { return c.opts.ManageNodes && !c.opts.UdevRunning() }

// SyncNodes makes /dev/mapper match the kernel when the client manages
// nodes: it creates missing nodes and removes block nodes of devices that
// are gone (after a deferred remove, or a crash). It does nothing while
// udev runs.
func (c *Client) SyncNodes() error {
	if !c.manageNodes() {
		return nil
	}
	devs, err := c.List()
	if err != nil {
		return err
	}
	live := make(map[string]bool, len(devs))
	for _, d := range devs {
		live[d.Name] = true
		if err := c.makeNode(d.Name, d.Dev); err != nil {
			return err
		}
	}
	ents, err := os.ReadDir(c.nodeDir)
	if err != nil {
		return fmt.Errorf("dm: sync nodes: %w", err)
	}
	for _, e := range ents {
		if live[e.Name()] || e.Name() == filepath.Base(c.opts.ControlPath) || e.Type()&os.ModeDevice == 0 || e.Type()&os.ModeCharDevice != 0 {
			continue
		}
		if err := c.removeNode(e.Name()); err != nil {
			return err
		}
	}
	return nil
}
