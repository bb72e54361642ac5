package linux

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/mpathd/mpathd/internal/daemon"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
	"github.com/mpathd/mpathd/pkg/uevent"
)

// CoalesceWindow is how long path uevents are gathered before they are applied: long enough to
// fold a host scan's burst into one reload per map, short against a human's patience.
const CoalesceWindow = 200 * time.Millisecond

// Uevents listens on the kernel's uevent group and feeds path changes into the daemon in batches,
// one per WWID, so a map is reloaded once per burst. A lost-events overflow triggers a resync.
func Uevents(ctx context.Context, d *daemon.Daemon, fs sysfs.FS, log *slog.Logger) error {
	conn, err := uevent.Listen(uevent.Config{Source: uevent.Kernel, Logger: log})
	if err != nil {
		return fmt.Errorf("uevent listener: %w", err)
	}
	return pumpUevents(ctx, d, fs, conn, log)
}

// pathReader reads one path from sysfs.
type pathReader interface {
	Path(name string) (sysfs.Path, error)
}

// pumpUevents feeds conn's events into d until ctx ends (nil) or conn fails (the error). It closes
// conn.
func pumpUevents(ctx context.Context, d *daemon.Daemon, fs pathReader, conn uevent.Receiver, log *slog.Logger) error {
	defer conn.Close()
	in := make(chan uevent.Event, 1024)
	out := make(chan uevent.Batch, 64)
	co := &uevent.Coalescer{Window: CoalesceWindow, WWID: func(e uevent.Event) string {
		if e.Kind() != uevent.KindPath {
			return ""
		}
		if w, ok := d.PathWWID(e.DevName); ok {
			return w
		}
		if e.Action == uevent.Remove {
			return ""
		}
		p, err := fs.Path(e.DevName)
		if err != nil {
			return ""
		}
		return p.WWID
	}}
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	var recvErr error // set before in is closed, read after out is drained
	go func() {
		defer close(in)
		for {
			e, err := conn.Receive()
			if err != nil {
				if !errors.Is(err, os.ErrClosed) && ctx.Err() == nil {
					recvErr = fmt.Errorf("uevent receive: %w", err)
				}
				return
			}
			if !uevent.PathsAndMaps.Match(e) {
				continue
			}
			select {
			case in <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		if err := co.Run(ctx, in, out); err != nil && ctx.Err() == nil {
			log.Error("uevent coalescer", "err", err)
		}
		close(out)
	}()
	for b := range out {
		apply(ctx, d, b, log)
	}
	return recvErr
}

func apply(ctx context.Context, d *daemon.Daemon, b uevent.Batch, log *slog.Logger) {
	if b.Overflow {
		log.Warn("uevents were lost (receive buffer overflow): resynchronising from sysfs")
		if err := d.Resync(ctx); err != nil {
			log.Error("resync", "err", err)
		}
		return
	}
	var added, removed []string
	for _, e := range b.Events {
		switch e.Kind() {
		case uevent.KindPath:
			d.CountUevent(string(e.Action))
			switch e.Action {
			case uevent.Add:
				added = append(added, e.DevName)
			case uevent.Remove:
				removed = append(removed, e.DevName)
			case uevent.Change:
				d.PathChanged(e.DevName)
			}
		case uevent.KindDM:
			// The dm event watcher sees every table event of our maps. A change uevent that no dm
			// operation raised (it has no DM_COOKIE) is udev's watch after a partitioning tool
			// closed the map, or `udevadm trigger`: the partition table may have changed.
			if e.Action == uevent.Change && e.Env["DM_COOKIE"] == "" {
				d.PartitionsChanged(e.DevName)
			}
		}
	}
	if len(removed) > 0 {
		d.PathsRemoved(removed)
	}
	if len(added) > 0 {
		d.PathsAdded(added)
	}
}

// DMEvents watches device-mapper event counters and tells the daemon which maps changed, so it
// learns at once when the kernel fails a path.
func DMEvents(ctx context.Context, d *daemon.Daemon, log *slog.Logger) error {
	w, err := dm.OpenWatcher(dm.WatchOptions{})
	if err != nil {
		return fmt.Errorf("dm event watcher: %w", err)
	}
	defer w.Close()
	return pumpDMEvents(ctx, d, w)
}

// dmWatcher is what pumpDMEvents needs of a *dm.Watcher.
type dmWatcher interface {
	Next(ctx context.Context) ([]dm.Change, error)
}

// pumpDMEvents tells d of every map w reports changed until ctx ends (nil) or w fails (the error).
func pumpDMEvents(ctx context.Context, d *daemon.Daemon, w dmWatcher) error {
	for {
		changes, err := w.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dm event watcher: %w", err)
		}
		for _, c := range changes {
			d.CountDMEvent()
			d.MapChanged(c.Device.Name)
		}
	}
}
