package dm

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// ChangeKind says how a device changed between two listings.
type ChangeKind int

const (
	Added   ChangeKind = iota + 1 // a new device
	Changed                       // event_nr moved: path failed/reinstated, PG change, rename
	Removed                       // the device is gone
)

func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Changed:
		return "changed"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Change is one device whose event counter moved, or that came or went.
// Events are hints: re-read the map's status to learn what happened.
type Change struct {
	Kind   ChangeKind
	Device Device // for Removed, the last known state
}

// eventSource is what a Watcher needs: block until the global dm event
// counter moves past the armed value, re-arm, and list devices.
type eventSource interface {
	wait(ctx context.Context) error
	arm() error
	list() ([]Device, error)
	close() error
}

// Watcher reports dm devices whose event_nr changed, like multipathd's
// dmevents: one fd, poll(POLLIN), then DM_DEV_ARM_POLL before
// DM_LIST_DEVICES so that no event between the two is lost.
type Watcher struct {
	src    eventSource
	prefix string
	known  map[string]Device
}

// WatchOptions configures a Watcher.
type WatchOptions struct {
	// ControlPath is the control node; default /dev/mapper/control.
	ControlPath string
	// UUIDPrefix selects the devices to report; default "mpath-". Set
	// AllDevices to report every device.
	UUIDPrefix string
	AllDevices bool
}

func (o WatchOptions) prefix() string {
	switch {
	case o.AllDevices:
		return ""
	case o.UUIDPrefix == "":
		return "mpath-"
	}
	return o.UUIDPrefix
}

// OpenWatcher opens a dedicated control fd (the poll state is per fd) and
// takes the initial listing; Devices returns it.
func OpenWatcher(opts WatchOptions) (*Watcher, error) {
	if opts.ControlPath == "" {
		opts.ControlPath = ControlPath
	}
	src, err := openPollSource(opts.ControlPath)
	if err != nil {
		return nil, err
	}
	w, err := newWatcher(src, opts.prefix())
	if err != nil {
		src.close()
		return nil, err
	}
	return w, nil
}

func newWatcher(src eventSource, prefix string) (*Watcher, error) {
	w := &Watcher{src: src, prefix: prefix, known: map[string]Device{}}
	if err := src.arm(); err != nil {
		return nil, err
	}
	devs, err := src.list()
	if err != nil {
		return nil, err
	}
	w.diff(devs)
	return w, nil
}

// Devices returns the watched devices as of the last listing, by name.
func (w *Watcher) Devices() []Device {
	out := make([]Device, 0, len(w.known))
	for _, d := range w.known {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Next blocks until at least one watched device changed and returns the
// changes, or until ctx is done. It must not be called concurrently.
func (w *Watcher) Next(ctx context.Context) ([]Change, error) {
	for {
		if err := w.src.wait(ctx); err != nil {
			return nil, err
		}
		if err := w.src.arm(); err != nil {
			return nil, err
		}
		devs, err := w.src.list()
		if err != nil {
			return nil, err
		}
		if ch := w.diff(devs); len(ch) > 0 {
			return ch, nil
		}
	}
}

// Close releases the fd. Cancel the context of a running Next first.
func (w *Watcher) Close() error { return w.src.close() }

// key identifies a device across renames: its uuid, else its name.
func key(d Device) string {
	if d.UUID != "" {
		return "uuid:" + d.UUID
	}
	return "name:" + d.Name
}

func (w *Watcher) diff(devs []Device) []Change {
	var ch []Change
	seen := make(map[string]bool, len(devs))
	for _, d := range devs {
		if !strings.HasPrefix(d.UUID, w.prefix) {
			continue
		}
		k := key(d)
		seen[k] = true
		old, ok := w.known[k]
		switch {
		case !ok:
			ch = append(ch, Change{Kind: Added, Device: d})
		case old != d:
			ch = append(ch, Change{Kind: Changed, Device: d})
		}
		w.known[k] = d
	}
	for k, d := range w.known {
		if !seen[k] {
			ch = append(ch, Change{Kind: Removed, Device: d})
			delete(w.known, k)
		}
	}
	sort.Slice(ch, func(i, j int) bool { return ch[i].Device.Name < ch[j].Device.Name })
	return ch
}

// pollSource is the kernel event source: a control fd polled for POLLIN
// together with an eventfd that context cancellation writes to, so Next
// returns promptly without a helper goroutine.
type pollSource struct {
	c    *Client
	path string
	fd   int
	wake int
}

func openPollSource(path string) (*pollSource, error) {
	dev, err := openControl(path)
	if err != nil {
		return nil, err
	}
	c, err := newClient(dev, Options{ControlPath: path})
	if err != nil {
		dev.close()
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		dev.close()
		return nil, fmt.Errorf("dm: watcher eventfd: %w", err)
	}
	return &pollSource{c: c, path: path, fd: dev.fd, wake: wake}, nil
}

func (p *pollSource) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		unix.Write(p.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	})
	defer stop()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}, {Fd: int32(p.wake), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("dm: poll %s: %w", p.path, err)
		}
		if fds[1].Revents != 0 {
			// A wake-up from this or an earlier context: drain it and
			// re-check ours.
			var b [8]byte
			unix.Read(p.wake, b[:])
			continue
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			return nil
		}
		if fds[0].Revents != 0 {
			return fmt.Errorf("dm: poll %s: revents %#x", p.path, fds[0].Revents)
		}
	}
}

func (p *pollSource) arm() error {
	_, _, err := p.c.call(cmdDevArmPoll, header{}, nil, 0)
	return err
}

func (p *pollSource) list() ([]Device, error) { return p.c.List() }

func (p *pollSource) close() error {
	return errors.Join(p.c.Close(), unix.Close(p.wake))
}
