// Command mpathd is the multipath daemon: it discovers SCSI paths, groups them by WWID, checks their
// health and keeps request-based dm-multipath maps matching the truth.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpathd/mpathd/internal/daemon"
	"github.com/mpathd/mpathd/internal/linux"
	"github.com/mpathd/mpathd/internal/version"
	"github.com/mpathd/mpathd/pkg/bindings"
	"github.com/mpathd/mpathd/pkg/config"
	_ "github.com/mpathd/mpathd/pkg/config/mpconf" // reads multipath.conf when mpathd.toml is absent
	"github.com/mpathd/mpathd/pkg/control"
	"github.com/mpathd/mpathd/pkg/dbusapi"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/metrics"
	"github.com/mpathd/mpathd/pkg/mpathcompat"
	"github.com/mpathd/mpathd/pkg/sdnotify"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// maxThreads bounds the OS threads the daemon may use. A check stuck in SG_IO holds one thread until
// the kernel lets go; the checker never runs two checks of one path at once, so a fabric-wide hang
// costs at most one thread per path. Go's default of 10,000 would kill the daemon on a large SAN
// exactly when it is needed.
const maxThreads = 100000

func main() {
	debug.SetMaxThreads(maxThreads)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command without the process around it: arguments in, exit code out.
func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("mpathd", flag.ContinueOnError)
	fl.SetOutput(stderr)
	cfgPath := fl.String("config", config.DefaultPath, "configuration file (missing: built-in defaults)")
	check := fl.Bool("check", false, "validate the configuration file, which must exist, and exit")
	showVersion := fl.Bool("version", false, "print the version and exit")
	socket := fl.String("socket", control.DefaultSocket, "control socket path")
	logFormat := fl.String("log-format", "console", "log format: console or json")
	logLevel := fl.String("log-level", "info", "log level: debug, info, warn, error")
	bindingsPath := fl.String("bindings", bindings.DefaultBindingsPath, "user_friendly_names bindings file")
	wwidsPath := fl.String("wwids", bindings.DefaultWWIDsPath, "find_multipaths wwids file")
	cpuProfile := fl.String("cpu-profile", "", "write a CPU profile (go tool pprof) of the whole run to this file")
	fl.BoolVar(&multipathdSocket, "multipathd-socket", true, "also serve multipathd's socket and commands ($MULTIPATH_SOCKET_NAME, else "+mpathcompat.PathSocket+" and "+mpathcompat.AbstractSocket+")")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() != 0 {
		fmt.Fprintf(stderr, "mpathd: unexpected arguments %q\n", fl.Args())
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "mpathd", version.String())
		return 0
	}
	if *check {
		// Checking a file that is not there is a failure, not a check of the built-in defaults: a
		// typo in a deployment script must not pass.
		c, err := config.Load(*cfgPath)
		if err != nil {
			fmt.Fprintf(stderr, "mpathd: invalid configuration:\n%v\n", err)
			return 1
		}
		for _, w := range c.Warnings {
			fmt.Fprintf(stdout, "warning: %s\n", w)
		}
		fmt.Fprintf(stdout, "%s: valid\n", *cfgPath)
		return 0
	}
	cfg, err := config.LoadOptional(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "mpathd: invalid configuration:\n%v\n", err)
		return 2
	}
	log, slogger, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "mpathd: %v\n", err)
		return 2
	}
	switch {
	case cfg.File == "":
		log.Info().Str("file", *cfgPath).Msg("no configuration file: running on built-in defaults")
	case cfg.File != *cfgPath:
		log.Info().Str("file", cfg.File).Strs("files", cfg.Files).Msgf("no %s: reading multipath-tools' configuration", *cfgPath)
	}
	for _, w := range cfg.Warnings {
		log.Warn().Str("file", cfg.File).Msg(w.Error())
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "mpathd: cpu profile: %v\n", err)
			return 2
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := serve(cfg, *cfgPath, *socket, *bindingsPath, *wwidsPath, log, slogger); err != nil {
		log.Error().Err(err).Msg("mpathd stopped")
		return 1
	}
	return 0
}

func serve(cfg *config.Config, cfgPath, socket, bindingsPath, wwidsPath string, log zerolog.Logger, slogger *slog.Logger) error {
	notify := sdnotify.New(slogger)
	// Wait for udev to finish with each map event (so /dev/mapper links exist when we report a map),
	// but never longer than 10 s: a stuck udev delays only the maps of one shard.
	client, err := dm.Open(dm.Options{ManageNodes: true, UdevWait: true, UdevTimeout: 10 * time.Second, Logger: slogger})
	if err != nil {
		return fmt.Errorf("device-mapper: %w", err)
	}
	defer client.Close()
	// A path whose VPD pages the kernel did not cache is asked through SG_IO, as scsi_id does. The
	// udev property a WWID is read from is the running configuration's uid_attribute.
	var d *daemon.Daemon
	fs := sysfs.New("/").WithInquirer(linux.Inquirer{}).WithUIDAttribute(func(vendor, product, revision string) string {
		if d == nil {
			return cfg.UIDAttribute(vendor, product, revision)
		}
		return d.UIDAttribute(vendor, product, revision)
	})
	// The polling core's interval, half-life and shards are fixed at start; the weight and
	// marginal settings follow a reconfigure.
	stats, err := linux.NewStats(daemon.SelectorConfig(cfg), fs)
	if err != nil {
		return err
	}
	log.Info().Str("counters", stats.Source()).Msg("polling core")
	opts := daemon.Options{
		Config: cfg, ConfigPath: cfgPath, Topology: fs, DM: client, Log: log, Version: version.String(),
		WWIDs: linux.WWIDs{File: bindings.NewWWIDs(wwidsPath)}, Stats: stats, Transport: fs,
		PR:    linux.PRDevices{},
		Disks: &linux.Disks{},
	}
	if bf, warn, err := bindings.Open(bindingsPath, false); err != nil {
		log.Warn().Err(err).Str("file", bindingsPath).Msg("bindings file unusable: new maps get WWID names")
	} else {
		if warn != nil {
			log.Warn().Err(warn).Str("file", bindingsPath).Msg("bindings file has bad lines (skipped)")
		}
		opts.Names = linux.Names{File: bf}
	}
	d = daemon.New(opts)
	g := daemon.ProgramSettingsOf(cfg)
	mon := linux.NewMonitor(linux.MonitorConfig{
		PollingInterval: g.PollingInterval, MaxPollingInterval: g.MaxPollingInterval, Logger: slogger,
	}, d.PathChecked)
	d.SetMonitor(mon)

	// SIGTERM and SIGINT stop the daemon cleanly (cause daemon.ErrStop); any other cause is an
	// error exit, which leaves the maps' queueing as it is.
	sig, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stopSignals()
	ctx, stopCause := context.WithCancelCause(context.Background())
	defer stopCause(nil)
	context.AfterFunc(sig, func() { stopCause(daemon.ErrStop) })
	stop := func() { stopCause(errors.New("an event source stopped")) }
	// The event sources are the daemon's senses: one that ends while the daemon runs leaves it blind
	// (no new paths, no kernel path failures), so it is fatal; systemd restarts us and the new
	// instance adopts every map without a reload.
	exits := make(chan pumpExit, 8) // room for every source, so none blocks after supervise returned
	pump := func(name string, f func(context.Context) error) {
		go func() { exits <- pumpExit{name: name, err: f(ctx)} }()
	}
	pump("path checker", mon.Run)
	pump("polling core", stats.Run)
	pump("uevent listener", func(ctx context.Context) error { return linux.Uevents(ctx, d, fs, slogger) })
	pump("dm event watcher", func(ctx context.Context) error { return linux.DMEvents(ctx, d, slogger) })

	l, err := control.Listen(socket)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	exp := metrics.New(d, metrics.Options{Version: version.String(), StallLimit: stallLimit, Load: g.MetricsLoad})
	if addr := g.MetricsListen; addr != "" {
		serveMetrics(ctx, addr, exp, log)
	}
	srv := &control.Server{Service: d, Log: slogger, Metrics: exp.WriteText}
	pump("control socket", func(ctx context.Context) error { return srv.Serve(ctx, l) })
	if multipathdSocket {
		msrv, ls, err := multipathdServer(d, slogger, func() { stopCause(daemon.ErrStop) })
		if err != nil {
			return err
		}
		pump("multipathd socket", func(ctx context.Context) error { return msrv.Serve(ctx, ls...) })
	}
	// D-Bus is optional: without a system bus the daemon runs on and connects when one appears.
	bus := &dbusapi.Server{Service: d, Log: slogger}
	d.SetDBusState(bus.State)
	go bus.Run(ctx)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				notify.Reloading("reconfigure")
				if err := d.Reconfigure(ctx); err != nil {
					log.Error().Err(err).Msg("SIGHUP: configuration not reloaded")
				}
				notify.Ready("running")
			}
		}
	}()
	go notify.Watchdog(ctx, func() error { return d.Alive(stallLimit) })

	runErr := make(chan error, 1)
	go func() {
		runErr <- d.Run(ctx, func() {
			top := d.Topology()
			log.Info().Int("maps", len(top.Maps)).Msg("ready")
			notify.Ready(fmt.Sprintf("running: %d maps", len(top.Maps)))
		})
	}()
	err = supervise(ctx, stop, runErr, exits)
	notify.Stopping("stopping")
	return err
}

// stallLimit is how long a map shard may spend on one step before the watchdog pings stop. A step
// is one map's create, reload or removal: a suspend that waits for in-flight I/O on a dying path
// (up to the SCSI command timeout, 30 s by default) plus two udev waits of 10 s each, with room to
// spare on a loaded machine.
const stallLimit = 90 * time.Second

// pumpExit is an event source that returned.
type pumpExit struct {
	name string
	err  error
}

// supervise waits for the daemon core to stop. An event source that returns while ctx is live,
// with an error or without one, stops the daemon with an error naming it: a daemon that runs on
// without its uevents or dm events would keep maps wrong and say nothing.
func supervise(ctx context.Context, stop func(), runErr <-chan error, exits <-chan pumpExit) error {
	select {
	case err := <-runErr:
		return err
	case ex := <-exits:
		if ctx.Err() != nil { // shutting down: the sources end with ctx
			return <-runErr
		}
		err := fmt.Errorf("%s stopped unexpectedly", ex.name)
		if ex.err != nil {
			err = fmt.Errorf("%s: %w", ex.name, ex.err)
		}
		stop()
		if rerr := <-runErr; rerr != nil {
			err = errors.Join(err, rerr)
		}
		return err
	}
}

func newLogger(w io.Writer, format, level string) (zerolog.Logger, *slog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Logger{}, nil, fmt.Errorf("log level %q: %w", level, err)
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: true}
	default:
		return zerolog.Logger{}, nil, errors.New("log format must be console or json")
	}
	zl := zerolog.New(w).Level(lvl).With().Timestamp().Logger()
	return zl, slog.New(zerolog.NewSlogHandler(zl)), nil
}
