package checker_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/tests/vm/guest"
)

// summaryFile collects "key value" lines that the VM scenario hands back to
// the host test (tests/vm/checker_test.go).
const summaryFile = "/tmp/checker.summary"

const sdebugDrv = "/sys/bus/pseudo/drivers/scsi_debug/"

type sanPath struct {
	name, hbtl string
	host, lun  int
	dev        *sgio.File
	p          *checker.Path
}

func record(t *testing.T, key, format string, args ...any) {
	t.Helper()
	line := key + " " + fmt.Sprintf(format, args...)
	t.Log(line)
	f, err := os.OpenFile(summaryFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}

func writeSys(t *testing.T, path, val string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(val+"\n"), 0o644); err != nil {
		t.Fatalf("write %q to %s: %v", val, path, err)
	}
}

// sdebugOpts sets scsi_debug's global error injection (KI §5.4).
func sdebugOpts(t *testing.T, opts, everyNth int) {
	t.Helper()
	writeSys(t, sdebugDrv+"every_nth", strconv.Itoa(everyNth))
	writeSys(t, sdebugDrv+"opts", strconv.Itoa(opts))
}

// resetOpts turns injection off, also when a subtest stops early.
func resetOpts() {
	os.WriteFile(sdebugDrv+"every_nth", []byte("0\n"), 0o644)
	os.WriteFile(sdebugDrv+"opts", []byte("0\n"), 0o644)
}

func scsiDebugHosts(t *testing.T) map[int]bool {
	hosts := map[int]bool{}
	ms, _ := filepath.Glob("/sys/class/scsi_host/host*/proc_name")
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil || strings.TrimSpace(string(b)) != "scsi_debug" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(filepath.Dir(m)), "host"))
		if err == nil {
			hosts[n] = true
		}
	}
	return hosts
}

// openPath opens the sd device of H:C:T:L for SG_IO and builds its Path.
// The device stays open until owner ends.
func openPath(t, owner *testing.T, hbtl string) *sanPath {
	t.Helper()
	ents, err := os.ReadDir("/sys/class/scsi_device/" + hbtl + "/device/block")
	if err != nil || len(ents) == 0 {
		t.Fatalf("%s: no block device: %v", hbtl, err)
	}
	name := ents[0].Name()
	var h, c, tg, l int
	if _, err := fmt.Sscanf(hbtl, "%d:%d:%d:%d", &h, &c, &tg, &l); err != nil {
		t.Fatalf("hbtl %q: %v", hbtl, err)
	}
	// The block directory shows up in sysfs while sd is still probing the disk; until the disk
	// is added, opening its node fails with ENXIO.
	var dev *sgio.File
	for i := 0; ; i++ {
		if dev, err = sgio.Open("/dev/" + name); err == nil {
			break
		}
		if i == 100 {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	owner.Cleanup(func() { dev.Close() })
	return &sanPath{name: name, hbtl: hbtl, host: h, lun: l, dev: dev, p: &checker.Path{
		Name: name, HBTL: hbtl, Attr: checker.SysfsAttr("/sys", name), SG: dev, Timeout: 10 * time.Second,
	}}
}

func lun0Paths(t *testing.T) []*sanPath {
	hosts := scsiDebugHosts(t)
	var ps []*sanPath
	for h := range hosts {
		ps = append(ps, openPath(t, t, fmt.Sprintf("%d:0:0:0", h)))
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].host < ps[j].host })
	if len(ps) != 3 {
		t.Fatalf("want 3 scsi_debug hosts with LUN 0, have %d", len(ps))
	}
	return ps
}

type countingDev struct {
	sgio.Device
	n atomic.Int64
}

func (c *countingDev) SGIO(cdb []byte, dir sgio.Direction, buf []byte, timeout time.Duration) (sgio.Result, error) {
	c.n.Add(1)
	return c.Device.SGIO(cdb, dir, buf, timeout)
}

// counted returns a copy of p whose SG_IO calls are counted.
func counted(p *checker.Path) (*checker.Path, *countingDev) {
	c := &countingDev{Device: p.SG}
	q := *p
	q.SG = c
	return &q, c
}

func check(t *testing.T, c checker.Checker, p *checker.Path) (checker.Result, int) {
	t.Helper()
	q, cd := counted(p)
	return c.Check(context.Background(), q), int(cd.n.Load())
}

func rawSense(t *testing.T, sp *sanPath, cdb []byte, dir sgio.Direction, buf []byte) (sgio.Result, sgio.Sense) {
	t.Helper()
	r, err := sp.dev.SGIO(cdb, dir, buf, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: raw %x: %v", sp.name, cdb, err)
	}
	s, err := r.DecodeSense()
	if err != nil {
		t.Fatalf("%s: raw %x: %v (result %v)", sp.name, cdb, err, r)
	}
	return r, s
}

func TestGuestChecker(t *testing.T) {
	guest.Require(t)
	os.Remove(summaryFile)
	ps := lun0Paths(t)
	want := map[int]struct {
		prio   int
		access string
	}{0: {50, "active/optimized"}, 1: {10, "active/non-optimized"}, 2: {1, "standby"}}

	t.Run("prioritizers", func(t *testing.T) {
		for _, sp := range ps {
			w := want[sp.host%3]
			sys, err1 := checker.Sysfs{}.Prio(context.Background(), sp.p)
			alua, err2 := checker.ALUA{}.Prio(context.Background(), sp.p)
			info, _ := checker.ReadALUA(context.Background(), sp.p)
			// scsi_debug answers VPD 0xc9 with ILLEGAL REQUEST: ALUA, not RDAC.
			found, err3 := checker.Detect(context.Background(), sp.p, true)
			det := "none"
			if pr := found.Prioritizer(); pr != nil {
				det = pr.Name()
			}
			record(t, fmt.Sprintf("prio.%d", sp.host%3), "sysfs=%d alua=%d detect=%s checker=%s tpg=0x%x state=%v", sys, alua, det, found.Checker(), info.GroupID, info.State)
			if err1 != nil || err2 != nil || err3 != nil || sys != w.prio || alua != w.prio || det != checker.PrioNameSysfs || found.Checker() != checker.NameTUR {
				t.Errorf("%s (host%d): sysfs %d (%v), alua %d (%v), detect %s/%s (%v); want %d, %d, sysfs/tur",
					sp.name, sp.host, sys, err1, alua, err2, det, found.Checker(), err3, w.prio, w.prio)
			}
			if wantTPG := uint16((sp.host+1)&0x7f) << 8; info.GroupID != wantTPG {
				t.Errorf("%s: TPG 0x%x, want 0x%x", sp.name, info.GroupID, wantTPG)
			}
		}
	})

	// The vendor checkers and prioritizers against a real SCSI target that is none of their arrays:
	// scsi_debug refuses the vendor pages (0xc9, 0xc0) and NetApp's GVA with ILLEGAL REQUEST, which
	// rdac and emc_clariion report as wild (the daemon then falls back to tur) and the vendor
	// prioritizers as errors; hp_sw needs only VPD 0x80 and TUR, which scsi_debug serves; path_latency
	// times real O_DIRECT reads.
	t.Run("vendor", func(t *testing.T) {
		ctx := context.Background()
		for _, sp := range ps {
			mod := sp.host % 3
			hpsw, _ := check(t, checker.HPSW{}, sp.p)
			rdac, _ := check(t, &checker.RDAC{}, sp.p)
			emc, _ := check(t, &checker.EMCClariion{}, sp.p)
			hpswPrio, hpswErr := checker.HPSWPrio{}.Prio(ctx, sp.p)
			var refused []string
			for _, pr := range []checker.Prioritizer{checker.RDACPrio{}, checker.EMCPrio{}, checker.HDSPrio{}, checker.ONTAPPrio{}} {
				if v, err := pr.Prio(ctx, sp.p); err != nil && v == checker.PrioUndefined {
					refused = append(refused, pr.Name())
				}
			}
			record(t, fmt.Sprintf("vendor.%d", mod), "hp_sw=%v rdac=%v emc_clariion=%v prio.hp_sw=%d refused=%s",
				hpsw.State, rdac.State, emc.State, hpswPrio, strings.Join(refused, ","))
			if rdac.State != checker.Wild || emc.State != checker.Wild || len(refused) != 4 || hpswErr != nil {
				t.Errorf("%s: rdac %v, emc_clariion %v, prioritizers refused %v, hp_sw prio error %v; want wild, wild, all four, none",
					sp.name, rdac, emc, refused, hpswErr)
			}
			if mod != 2 && (hpsw.State != checker.Up || hpswPrio != checker.HPSWActive) {
				t.Errorf("%s: hp_sw %v, prio %d; want up, %d", sp.name, hpsw, hpswPrio, checker.HPSWActive)
			}
			if mod == 2 && !hpsw.State.Usable() {
				t.Errorf("standby %s: hp_sw %v, want up or ghost", sp.name, hpsw)
			}
			if mod == 2 {
				continue // scsi_dh_alua fails direct reads of a standby path
			}
			df, err := checker.OpenDirect("/dev/" + sp.name)
			if err != nil {
				t.Fatal(err)
			}
			dp := *sp.p
			dp.Direct = df
			pl, _ := checker.NewPathLatency("io_num=20 base_num=10")
			lat, err := pl.Prio(ctx, &dp)
			df.Close()
			record(t, fmt.Sprintf("vendor.%d.path_latency", mod), "%d", lat)
			if err != nil || lat < 1 || lat > 8 {
				t.Errorf("%s: path_latency %d, %v; want 1-8 (1 µs to 10 s a read)", sp.name, lat, err)
			}
		}
	})

	t.Run("healthy", func(t *testing.T) {
		for _, sp := range ps {
			mod := sp.host % 3
			tur, n := check(t, checker.TUR{}, sp.p)
			rs0, _ := check(t, checker.ReadSector0{}, sp.p)
			df, err := checker.OpenDirect("/dev/" + sp.name)
			if err != nil {
				t.Fatal(err)
			}
			bs, _ := df.LogicalBlockSize()
			dp := *sp.p
			dp.Direct, dp.BlockSize = df, bs
			dio := checker.DirectIO{}.Check(context.Background(), &dp)
			df.Close()
			none := checker.None{}.Check(context.Background(), sp.p)
			record(t, fmt.Sprintf("healthy.%d", mod), "tur=%v readsector0=%v directio=%v none=%v", tur.State, rs0.State, dio.State, none.State)
			record(t, fmt.Sprintf("healthy.%d.reasons", mod), "tur=%q directio=%q", tur.Reason, dio.Reason)
			if mod == 2 {
				// Standby under scsi_dh_alua: passthrough (TUR, READ via SG_IO) is let
				// through and scsi_debug answers it; regular I/O is failed by the handler.
				if !tur.State.Usable() || dio.State != checker.Down {
					t.Errorf("standby %s: tur %v, directio %v; want up/ghost and down", sp.name, tur, dio)
				}
				continue
			}
			if tur.State != checker.Up || n != 1 || rs0.State != checker.Up || dio.State != checker.Up || none.State != checker.Up {
				t.Errorf("%s: tur %v (%d TURs), readsector0 %v, directio %v, none %v; want all up", sp.name, tur, n, rs0, dio, none)
			}
		}
	})

	// Sense rows the 6.1 scsi_debug can produce, in fixed then descriptor format.
	lun1 := map[int]*sanPath{}
	parent := t
	for _, format := range []struct {
		name   string
		dsense string
		rc     uint8
	}{{"fixed", "0", 0x70}, {"descriptor", "1", 0x72}} {
		t.Run("sense-"+format.name, func(t *testing.T) {
			defer resetOpts()
			writeSys(t, sdebugDrv+"dsense", format.dsense)
			a, b := ps[0], ps[1]

			// UNIT ATTENTION 3F/0E: scsi_debug raises it on every LU when max_luns
			// changes. Linux 6.1 logs it ("LUN assignments on this target have
			// changed") and retries the command itself, even for SG_IO, so user
			// space normally sees GOOD; if a UA does come through, it must be
			// 3F/0E in this format and tur must retry past it.
			luns := map[string]string{"fixed": "2", "descriptor": "1"}[format.name]
			writeSys(t, sdebugDrv+"max_luns", luns)
			r, err := a.dev.SGIO(make([]byte, 6), sgio.DirNone, nil, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			record(t, "real.ua."+format.name, "%s sense=%s", r, hex.EncodeToString(r.Sense))
			if len(r.Sense) > 0 {
				if s, err := r.DecodeSense(); err != nil || s.ResponseCode != format.rc || !s.Is(sgio.UnitAttention, 0x3f, 0x0e) {
					t.Errorf("TUR after max_luns change: %v (%v), want GOOD or UNIT ATTENTION 3f/0e in format 0x%02x", s, err, format.rc)
				}
			}
			res, n := check(t, checker.TUR{}, b.p)
			record(t, "real.ua."+format.name+".tur", "%v in %d TURs", res, n)
			if res.State != checker.Up || n > 2 {
				t.Errorf("tur after a UA was raised: %v in %d TURs, want up in 1 or 2", res, n)
			}
			check(t, checker.TUR{}, ps[2].p) // consume its UA too

			if format.name == "fixed" {
				// Bring up LUN 1 on every host for the DID_NO_CONNECT row below.
				for _, sp := range ps {
					writeSys(t, fmt.Sprintf("/sys/class/scsi_host/host%d/scan", sp.host), "0 0 1")
				}
				for _, sp := range ps {
					hbtl := fmt.Sprintf("%d:0:0:1", sp.host)
					for i := 0; i < 200; i++ {
						if ents, _ := os.ReadDir("/sys/class/scsi_device/" + hbtl + "/device/block"); len(ents) > 0 {
							break
						}
						time.Sleep(100 * time.Millisecond)
					}
					lun1[sp.host] = openPath(t, parent, hbtl)
				}
			} else {
				// max_luns is now 1: LUN 1 answers every command with DID_NO_CONNECT
				// while its sysfs state stays "running".
				for _, sp := range lun1 {
					st, _ := sp.p.Attr("state")
					res, n := check(t, checker.TUR{}, sp.p)
					record(t, "real.no_connect", "%s state=%s %v in %d TURs", sp.hbtl, st, res, n)
					if st != "running" || res.State != checker.Down || n != 1 || !strings.Contains(res.Reason, "DID_NO_CONNECT") {
						t.Errorf("%s beyond max_luns: state %s, %v in %d TURs; want down by DID_NO_CONNECT in 1", sp.hbtl, st, res, n)
					}
				}
			}

			// RECOVERED ERROR on reads (opts 0x8): the path is up.
			sdebugOpts(t, 0x8, -1)
			r, s := rawSense(t, a, []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, sgio.DirFromDev, make([]byte, 512))
			res, _ = check(t, checker.ReadSector0{}, a.p)
			sdebugOpts(t, 0, 0)
			record(t, "real.recovered."+format.name, "%s sense=%s readsector0=%v", r, hex.EncodeToString(r.Sense), res)
			if s.ResponseCode != format.rc || s.Key != sgio.RecoveredError || res.State != checker.Up {
				t.Errorf("recovered error: sense %v, readsector0 %v; want RECOVERED ERROR and up", s, res)
			}

			// ABORTED COMMAND 4B/03 on reads (opts 0x10): retried, then down.
			sdebugOpts(t, 0x10, -1)
			r, s = rawSense(t, a, []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, sgio.DirFromDev, make([]byte, 512))
			res, n = check(t, checker.ReadSector0{}, a.p)
			sdebugOpts(t, 0, 0)
			record(t, "real.aborted."+format.name, "%s sense=%s readsector0=%v in %d READs", r, hex.EncodeToString(r.Sense), res, n)
			if s.ResponseCode != format.rc || !s.Is(sgio.AbortedCommand, 0x4b, 0x03) || res.State != checker.Down || n != 3 {
				t.Errorf("aborted command: sense %v, readsector0 %v in %d; want ABORTED COMMAND 4b/03 and down in 3", s, res, n)
			}

			// NOT READY 04/02 after START STOP UNIT (stop): down; START brings it back.
			if r, err := a.dev.SGIO([]byte{0x1b, 0, 0, 0, 0, 0}, sgio.DirNone, nil, 10*time.Second); err != nil || !r.OK() {
				t.Fatalf("STOP UNIT: %v, %v", r, err)
			}
			r, s = rawSense(t, a, make([]byte, 6), sgio.DirNone, nil)
			res, n = check(t, checker.TUR{}, a.p)
			if r, err := a.dev.SGIO([]byte{0x1b, 0, 0, 0, 1, 0}, sgio.DirNone, nil, 10*time.Second); err != nil || !r.OK() {
				t.Fatalf("START UNIT: %v, %v", r, err)
			}
			after, _ := check(t, checker.TUR{}, a.p)
			record(t, "real.not_ready."+format.name, "%s sense=%s tur=%v in %d, after start %v", r, hex.EncodeToString(r.Sense), res, n, after.State)
			if s.ResponseCode != format.rc || !s.Is(sgio.NotReady, 0x04, 0x02) || res.State != checker.Down || n != 1 || after.State != checker.Up {
				t.Errorf("stopped unit: sense %v, tur %v in %d, after start %v; want NOT READY 04/02, down in 1, then up", s, res, n, after)
			}
		})
	}
	writeSys(t, sdebugDrv+"dsense", "0")

	t.Run("offline", func(t *testing.T) {
		sp := ps[0]
		df, err := checker.OpenDirect("/dev/" + sp.name)
		if err != nil {
			t.Fatal(err)
		}
		defer df.Close()
		statePath := "/sys/block/" + sp.name + "/device/state"
		writeSys(t, statePath, "offline")
		dp := *sp.p
		dp.Direct = df
		for _, c := range []checker.Checker{checker.TUR{}, checker.ReadSector0{}, checker.DirectIO{}, checker.None{}} {
			res, n := check(t, c, &dp)
			record(t, "offline."+c.Name(), "%v (%d SG_IO)", res, n)
			if res.State != checker.Down || n != 0 {
				t.Errorf("%s on an offline path: %v after %d commands, want down without I/O", c.Name(), res, n)
			}
		}
		// What the kernel itself answers on the offline device, bypassing the pre-check.
		blind := *sp.p
		blind.Attr = func(string) (string, error) { return "running", nil }
		res, n := check(t, checker.TUR{}, &blind)
		record(t, "real.offline.tur", "%v in %d TURs", res, n)
		if res.State != checker.Down || n != 1 {
			t.Errorf("TUR sent to an offline sdev: %v in %d, want down in 1", res, n)
		}
		writeSys(t, statePath, "running")
		res, _ = check(t, checker.TUR{}, sp.p)
		record(t, "online.tur", "%v", res)
		if res.State != checker.Up {
			t.Errorf("after echo running: %v, want up", res)
		}
	})

	t.Run("debugfs", func(t *testing.T) { debugfsRows(t, ps[1]) })

	t.Run("runner-hung-read", func(t *testing.T) { runnerHungRead(t, ps) })
	t.Run("runner-hung-tur", func(t *testing.T) { runnerHungTUR(t, ps) })
}

// debugfsRows injects sense per device where the kernel offers it (≥ 6.7).
func debugfsRows(t *testing.T, sp *sanPath) {
	errFile := "/sys/kernel/debug/scsi_debug/" + sp.hbtl + "/error"
	if _, err := os.Stat(errFile); err != nil {
		record(t, "debugfs", "unavailable (%v): per-device injection needs kernel >= 6.7", err)
		t.Skip("scsi_debug has no per-device error injection on this kernel")
	}
	for _, row := range []struct {
		rule string
		want checker.State
	}{
		{"2 -1 0x00 0 0 0x02 0x2 0x04 0x0a", checker.Pending},
		{"2 -1 0x00 0 0 0x02 0x2 0x04 0x0b", checker.Ghost},
		{"2 -1 0x00 0 0 0x02 0x2 0x04 0x0c", checker.Down},
		{"2 -1 0x00 0 0 0x02 0x5 0x25 0x00", checker.Disconnected},
		{"2 -1 0x00 0x01 0 0 0 0 0", checker.Down},
	} {
		writeSys(t, errFile, row.rule)
		res, n := check(t, checker.TUR{}, sp.p)
		record(t, "debugfs."+strings.ReplaceAll(row.rule, " ", "_"), "%v in %d", res, n)
		if res.State != row.want {
			t.Errorf("rule %q: %v, want %v", row.rule, res, row.want)
		}
	}
}

type runLog struct {
	mu      sync.Mutex
	results map[string][]stamped
	starts  map[string][]time.Time
	late    []string
}

type stamped struct {
	at time.Time
	r  checker.Result
}

func (l *runLog) on(id string, r checker.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results[id] = append(l.results[id], stamped{time.Now(), r})
}

func (l *runLog) wrap(id string, c checker.Checker, p *checker.Path) checker.CheckFunc {
	return func(ctx context.Context) checker.Result {
		l.mu.Lock()
		l.starts[id] = append(l.starts[id], time.Now())
		l.mu.Unlock()
		r := c.Check(ctx, p)
		l.mu.Lock()
		l.late = append(l.late, fmt.Sprintf("%s returned after %v: %v", id, time.Since(l.starts[id][len(l.starts[id])-1]).Round(time.Millisecond), r))
		l.mu.Unlock()
		return r
	}
}

// waitFor waits for id's first result in state s after since.
func (l *runLog) waitFor(id string, s checker.State, since time.Time, limit time.Duration) (stamped, bool) {
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		l.mu.Lock()
		for _, x := range l.results[id] {
			if x.r.State == s && x.at.After(since) {
				l.mu.Unlock()
				return x, true
			}
		}
		l.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	return stamped{}, false
}

func (l *runLog) count(id string, s checker.State, from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, x := range l.results[id] {
		if x.r.State == s && !x.at.Before(from) && !x.at.After(to) {
			n++
		}
	}
	return n
}

func (l *runLog) lastStart(id string, before time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var t time.Time
	for _, s := range l.starts[id] {
		if s.Before(before) {
			t = s
		}
	}
	return t
}

const runnerDeadline = 3 * time.Second

func startRealRunner(t *testing.T, workers int) (*checker.Runner, *runLog, func()) {
	l := &runLog{results: map[string][]stamped{}, starts: map[string][]time.Time{}}
	r := checker.NewRunner(checker.RunnerConfig{
		Workers: workers, PollingInterval: time.Second, MaxPollingInterval: time.Second, OnResult: l.on,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	return r, l, func() { cancel(); <-done }
}

func waitNoHung(t *testing.T, r *checker.Runner) {
	for i := 0; i < 1200 && r.Stats().Hung > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if h := r.Stats().Hung; h > 0 {
		t.Fatalf("%d checks still hung in the kernel after 2 minutes", h)
	}
}

// runnerHungRead: READs are never answered (opts MAC_TIMEOUT) while TUR
// works. The readsector0 path times out at the runner's deadline, far
// before the kernel's 7 s SG_IO floor, and with one of two slots held by the
// hung READ the TUR paths keep being checked every second.
func runnerHungRead(t *testing.T, ps []*sanPath) {
	defer resetOpts()
	r, l, stop := startRealRunner(t, 2)
	defer stop()
	p0 := *ps[0].p
	p0.Timeout = time.Second // the kernel raises it to 7 s
	r.Add("read0", l.wrap("read0", checker.ReadSector0{}, &p0), runnerDeadline)
	r.Add("tur1", l.wrap("tur1", checker.TUR{}, ps[1].p), runnerDeadline)
	r.Add("tur2", l.wrap("tur2", checker.TUR{}, ps[2].p), runnerDeadline)
	if _, ok := l.waitFor("read0", checker.Up, time.Time{}, 10*time.Second); !ok {
		t.Fatal("read0 never up before injection")
	}
	inject := time.Now()
	sdebugOpts(t, 0x80, -1)
	to, ok := l.waitFor("read0", checker.Timeout, inject, 20*time.Second)
	if !ok {
		sdebugOpts(t, 0, 0)
		t.Fatal("no timeout for the hung READ")
	}
	started := l.lastStart("read0", to.at)
	waited := to.at.Sub(started)
	time.Sleep(3 * time.Second) // the READ is still stuck in the kernel here
	hungDuring := r.Stats().Hung
	window := time.Now()
	n1 := l.count("tur1", checker.Up, started, window)
	n2 := l.count("tur2", checker.Up, started, window)
	sdebugOpts(t, 0, 0)
	waitNoHung(t, r)
	back, ok := l.waitFor("read0", checker.Up, to.at, 15*time.Second)
	l.mu.Lock()
	late := strings.Join(l.late[max(0, len(l.late)-8):], "; ")
	l.mu.Unlock()
	record(t, "runner.read_timeout", "timeout after %v (deadline %v): %q; hung=%d; tur1 up x%d, tur2 up x%d in %v; back up=%v",
		waited.Round(10*time.Millisecond), runnerDeadline, to.r.Reason, hungDuring, n1, n2, window.Sub(started).Round(100*time.Millisecond), ok)
	record(t, "runner.read_timeout.late", "%s", late)
	if waited < runnerDeadline-100*time.Millisecond || waited > 6500*time.Millisecond {
		t.Errorf("timeout after %v, want about %v (the kernel alone would take >= 7 s)", waited, runnerDeadline)
	}
	if hungDuring != 1 || n1 < 3 || n2 < 3 || !ok {
		t.Errorf("hung %d, tur1 %d, tur2 %d up results during the hang, back up %v", hungDuring, n1, n2, back)
	}
}

// runnerHungTUR: every command on every device is dropped (opts TIMEOUT).
// With a single worker, each path still reports timeout one deadline after
// its own check started, and all three end up hung at once: a check past its
// deadline gives its slot back instead of holding the other paths.
func runnerHungTUR(t *testing.T, ps []*sanPath) {
	defer resetOpts()
	r, l, stop := startRealRunner(t, 1)
	defer stop()
	for i, sp := range ps {
		id := fmt.Sprintf("tur%d", i)
		r.Add(id, l.wrap(id, checker.TUR{}, sp.p), runnerDeadline)
		if _, ok := l.waitFor(id, checker.Up, time.Time{}, 10*time.Second); !ok {
			t.Fatalf("%s never up before injection", id)
		}
	}
	inject := time.Now()
	sdebugOpts(t, 0x4, -1)
	var peak atomic.Int64
	sampling := make(chan struct{})
	go func() {
		for {
			select {
			case <-sampling:
				return
			case <-time.After(20 * time.Millisecond):
				if h := int64(r.Stats().Hung); h > peak.Load() {
					peak.Store(h)
				}
			}
		}
	}()
	var waits []string
	var last time.Time
	for i := range ps {
		id := fmt.Sprintf("tur%d", i)
		to, ok := l.waitFor(id, checker.Timeout, inject, 20*time.Second)
		if !ok {
			sdebugOpts(t, 0, 0)
			t.Fatalf("%s: no timeout", id)
		}
		w := to.at.Sub(l.lastStart(id, to.at))
		waits = append(waits, w.Round(10*time.Millisecond).String())
		if w < runnerDeadline-100*time.Millisecond || w > 6500*time.Millisecond {
			t.Errorf("%s: timeout %v after its start, want about %v", id, w, runnerDeadline)
		}
		if to.at.After(last) {
			last = to.at
		}
	}
	close(sampling)
	hung := int(peak.Load())
	sdebugOpts(t, 0, 0)
	waitNoHung(t, r)
	all := last.Sub(inject)
	record(t, "runner.tur_timeout", "workers=1 per-path timeout after %v; all three within %v of injection; peak hung=%d", waits, all.Round(10*time.Millisecond), hung)
	// One slot: each check starts at most one deadline (plus polling) after
	// the previous one, and more checks hang at once than there are slots.
	if hung < 2 || all > 3*(runnerDeadline+time.Second) {
		t.Errorf("peak hung %d (want >= 2 with 1 worker); all timeouts within %v (want <= %v)", hung, all, 3*(runnerDeadline+time.Second))
	}
	for i := range ps {
		id := fmt.Sprintf("tur%d", i)
		if _, ok := l.waitFor(id, checker.Up, last, 15*time.Second); !ok {
			t.Errorf("%s not up again after the injection ended", id)
		}
	}
}

// TestGuest4Kn runs on a SAN of 4096-byte logical blocks (scsi_debug
// sector_size=4096, tests/vm/checker4kn_test.go): directio and readsector0
// read one block of the size sysfs gives and report every accessible path
// up, while the 512-byte O_DIRECT read they made before is refused by the
// kernel (EINVAL), which reported a healthy 4Kn path down.
func TestGuest4Kn(t *testing.T) {
	guest.Require(t)
	hosts := scsiDebugHosts(t)
	if len(hosts) == 0 {
		t.Fatal("no scsi_debug hosts")
	}
	for h := range hosts {
		sp := openPath(t, t, fmt.Sprintf("%d:0:0:0", h))
		bs, err := checker.SysfsBlockSize("/sys", sp.name)
		if err != nil || bs != 4096 {
			t.Fatalf("%s: logical block size %d, %v; want 4096", sp.name, bs, err)
		}
		df, err := checker.OpenDirect("/dev/" + sp.name)
		if err != nil {
			t.Fatal(err)
		}
		defer df.Close()
		if n, err := df.LogicalBlockSize(); n != bs || err != nil {
			t.Errorf("%s: BLKSSZGET %d, %v; sysfs says %d", sp.name, n, err, bs)
		}
		p := *sp.p
		p.Direct, p.BlockSize = df, bs
		dio := checker.DirectIO{}.Check(context.Background(), &p)
		rs0 := checker.ReadSector0{}.Check(context.Background(), &p)
		old := p
		old.BlockSize = 512
		dio512 := checker.DirectIO{}.Check(context.Background(), &old)
		access, _ := p.Attr("access_state")
		record(t, "4kn."+sp.name, "access=%s directio=%v readsector0=%v directio512=%q", access, dio.State, rs0.State, dio512.Reason)
		if rs0.State != checker.Up {
			t.Errorf("%s: readsector0 %v, want up", sp.name, rs0)
		}
		if access == "standby" {
			continue // scsi_dh_alua fails regular I/O to a standby port
		}
		if dio.State != checker.Up {
			t.Errorf("%s (%s): directio %v, want up", sp.name, access, dio)
		}
		if dio512.State != checker.Down || !strings.Contains(dio512.Reason, "invalid argument") {
			t.Errorf("%s: a 512-byte O_DIRECT read gave %v; want down with EINVAL", sp.name, dio512)
		}
	}
}
