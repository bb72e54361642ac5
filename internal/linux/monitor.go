package linux

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mpathd/mpathd/internal/daemon"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// Monitor implements daemon.Monitor with a checker.Runner: every watched path is checked on its
// adaptive interval by its checker, and rated by its prioritizer in the same slot, so a priority
// that needs SCSI commands (alua) never runs on a daemon goroutine.
type Monitor struct {
	runner  *checker.Runner
	log     *slog.Logger
	sysRoot string // "/sys"
	devRoot string // "/dev"

	mu    sync.Mutex
	paths map[string]*watched
}

type watched struct {
	added  time.Time
	path   checker.Path
	spec   daemon.CheckSpec
	choice checker.Choice // valid once chosen
	chosen bool
	sg     *lazySG
	direct *lazyDirect
	last   daemon.CheckResult
}

// MonitorConfig sets the runner's pace.
type MonitorConfig struct {
	PollingInterval, MaxPollingInterval time.Duration
	Workers                             int
	Logger                              *slog.Logger
	SysRoot, DevRoot                    string // default "/sys", "/dev"
}

// NewMonitor makes a Monitor that hands every result to deliver.
func NewMonitor(cfg MonitorConfig, deliver func(dev string, r daemon.CheckResult)) *Monitor {
	m := &Monitor{sysRoot: cfg.SysRoot, devRoot: cfg.DevRoot, paths: map[string]*watched{}, log: cfg.Logger}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.sysRoot == "" {
		m.sysRoot = "/sys"
	}
	if m.devRoot == "" {
		m.devRoot = "/dev"
	}
	m.runner = checker.NewRunner(checker.RunnerConfig{
		Workers:            cfg.Workers,
		PollingInterval:    cfg.PollingInterval,
		MaxPollingInterval: cfg.MaxPollingInterval,
		Logger:             cfg.Logger,
		OnResult: func(id string, r checker.Result) {
			m.mu.Lock()
			w := m.paths[id]
			var res daemon.CheckResult
			if w != nil {
				res = w.last
			}
			m.mu.Unlock()
			if w == nil {
				return
			}
			// The check function filled last; a check abandoned at its deadline did not.
			if res.State != r.State || res.Reason != r.Reason {
				res = daemon.CheckResult{State: r.State, Reason: r.Reason, Prio: checker.PrioUndefined, Checker: res.Checker, Fallback: res.Fallback,
					CheckerSource: res.CheckerSource, PrioSource: res.PrioSource}
			}
			deliver(id, res)
		},
	})
	return m
}

// Run schedules checks until ctx ends.
func (m *Monitor) Run(ctx context.Context) error { return m.runner.Run(ctx) }

// Stats reports the runner's load.
func (m *Monitor) Stats() checker.Stats { return m.runner.Stats() }

// Watch implements daemon.Monitor.
func (m *Monitor) Watch(p sysfs.Path, spec daemon.CheckSpec) {
	dev := filepath.Join(m.devRoot, p.Name)
	w := &watched{added: time.Now(), spec: spec, sg: &lazySG{name: dev}, direct: &lazyDirect{name: dev}}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	w.path = checker.Path{
		Name:    p.Name,
		HBTL:    p.HCTL.String(),
		WWID:    p.WWID,
		Attr:    checker.SysfsAttr(m.sysRoot, p.Name),
		SG:      w.sg,
		Direct:  w.direct,
		Timeout: timeout,
		// iet reads the portal from udev's by-path links, else from the iSCSI connection.
		ByPathDir:     filepath.Join(m.devRoot, "disk", "by-path"),
		PortalAddress: p.Transport.Address,
	}
	if bs, err := checker.SysfsBlockSize(m.sysRoot, p.Name); err == nil {
		w.path.BlockSize = bs // 4Kn: one 4 KiB block, not 512 bytes the device refuses
	}
	if p.Transport.NodeName != "" {
		w.path.WWN = p.Transport.NodeName + ":" + p.Transport.PortName
	}
	m.mu.Lock()
	old, known := m.paths[p.Name]
	m.paths[p.Name] = w
	m.mu.Unlock()
	if old != nil {
		old.close()
	}
	// The runner's deadline covers the checker's own retries and the prioritizer after it.
	m.runner.Add(p.Name, func(ctx context.Context) checker.Result { return m.run(ctx, p.Name, w) }, 2*timeout+5*time.Second)
	if !known {
		m.runner.CheckNow(p.Name) // the daemon waits for first checks before it builds a map
	}
}

func (m *Monitor) run(ctx context.Context, name string, w *watched) checker.Result {
	start := time.Now()
	if !w.chosen {
		// Detection sends INQUIRY (and VPD 0xc9): it runs here, in the check's slot, never in
		// Watch. A device that cannot be asked yet is asked again at its next check.
		w.choice = checker.Choose(ctx, &w.path, w.spec.Spec)
		w.chosen = w.choice.Final
		m.log.Debug("path checker and prioritizer chosen", "path", name, "checker", w.choice.Checker.Name(),
			"checker_source", w.choice.CheckerSource, "prio", w.choice.Prioritizer.Name(), "prio_source", w.choice.PrioSource, "final", w.chosen)
	}
	fallbacks := []string{w.choice.Fallback}
	ck := w.choice.Checker
	r := ck.Check(ctx, &w.path)
	if r.State == checker.Wild && ck.Name() != checker.NameTUR {
		// The configured vendor checker cannot work on this device (it refuses the vendor page):
		// tur still tells whether the path carries I/O.
		fallbacks = append(fallbacks, fmt.Sprintf("checker %s cannot check this device (%s): using tur", ck.Name(), r.Reason))
		ck = checker.TUR{}
		r = ck.Check(ctx, &w.path)
	}
	res := daemon.CheckResult{State: r.State, Reason: r.Reason, Prio: checker.PrioUndefined, Checker: ck.Name(),
		CheckerSource: w.choice.CheckerSource, PrioSource: w.choice.PrioSource}
	if ck != w.choice.Checker {
		res.CheckerSource = "fallback"
	}
	if r.State.Usable() {
		pr := w.choice.Prioritizer
		if v, err := m.prio(ctx, w, pr); err == nil {
			res.Prio = v
		} else {
			fallbacks = append(fallbacks, fmt.Sprintf("prio %s failed: %v: priority undefined, the path keeps its last one", pr.Name(), err))
		}
		res.PrioName = pr.Name()
	}
	res.Fallback = joinNonEmpty(fallbacks)
	res.Took = time.Since(start)
	m.mu.Lock()
	if m.paths[name] == w {
		w.last = res
	}
	m.mu.Unlock()
	return r
}

func joinNonEmpty(parts []string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}

// freshPath is how long after a path appears its sysfs ALUA state is not trusted.
const freshPath = 10 * time.Second

// prio rates a path. scsi_dh_alua shows a new device as active/optimized until its first REPORT
// TARGET PORT GROUPS returns, asynchronously; rating a fresh path from that would put it in the
// wrong group and cost a second reload moments later. So for its first seconds a path the sysfs
// prioritizer rates is asked directly with RTPG, which is authoritative, and sysfs only after.
func (m *Monitor) prio(ctx context.Context, w *watched, pr checker.Prioritizer) (int, error) {
	if pr.Name() == checker.PrioNameSysfs && time.Since(w.added) < freshPath {
		if alua, err := checker.NewPrioritizer(checker.PrioNameALUA, ""); err == nil {
			if v, err := alua.Prio(ctx, &w.path); err == nil {
				return v, nil
			}
		}
	}
	return pr.Prio(ctx, &w.path)
}

// Unwatch implements daemon.Monitor.
func (m *Monitor) Unwatch(dev string) {
	m.runner.Remove(dev)
	m.mu.Lock()
	w := m.paths[dev]
	delete(m.paths, dev)
	m.mu.Unlock()
	if w != nil {
		w.close()
	}
}

// CheckNow implements daemon.Monitor.
func (m *Monitor) CheckNow(dev string) { m.runner.CheckNow(dev) }

func (w *watched) close() {
	w.sg.close()
	w.direct.close()
}

// lazySG opens the device node on first use and again after a failure: an offline device cannot be
// opened (ENXIO) and a re-added one has a new inode.
type lazySG struct {
	mu   sync.Mutex
	name string
	f    *sgio.File
}

func (l *lazySG) SGIO(cdb []byte, dir sgio.Direction, buf []byte, timeout time.Duration) (sgio.Result, error) {
	l.mu.Lock()
	if l.f == nil {
		f, err := sgio.Open(l.name)
		if err != nil {
			l.mu.Unlock()
			return sgio.Result{}, err
		}
		l.f = f
	}
	f := l.f
	l.mu.Unlock()
	r, err := f.SGIO(cdb, dir, buf, timeout)
	if err != nil && !errors.Is(err, sgio.ErrNotSupported) {
		l.mu.Lock()
		if l.f == f {
			l.f = nil
			f.Close()
		}
		l.mu.Unlock()
	}
	return r, err
}

func (l *lazySG) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

type lazyDirect struct {
	mu   sync.Mutex
	name string
	f    *checker.DirectFile
}

func (l *lazyDirect) ReadAt(buf []byte, off int64) (int, error) {
	l.mu.Lock()
	if l.f == nil {
		f, err := checker.OpenDirect(l.name)
		if err != nil {
			l.mu.Unlock()
			return 0, err
		}
		l.f = f
	}
	f := l.f
	l.mu.Unlock()
	n, err := f.ReadAt(buf, off)
	if err != nil {
		l.mu.Lock()
		if l.f == f {
			l.f = nil
			f.Close()
		}
		l.mu.Unlock()
	}
	return n, err
}

func (l *lazyDirect) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
