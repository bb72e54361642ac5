package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/mpathcompat"
	"github.com/mpathd/mpathd/pkg/prkeys"
	"github.com/mpathd/mpathd/pkg/scsipr"
	"github.com/mpathd/mpathd/pkg/scsipr/scsiprtest"
)

// fakePR is a PRDevices over a scsiprtest logical unit: each path device is one I_T nexus.
type fakePR struct {
	mu    sync.Mutex
	paths map[string]*prNexus
	// onOut runs before each PR OUT a path receives (on the job's goroutine), to look at the
	// kernel's state at that moment.
	onOut func(dev string, sa scsipr.ServiceAction)
	// failOut makes PR OUT on these paths fail as an unreachable device would.
	failOut map[string]bool
	// noPR makes every PR command end with ILLEGAL REQUEST, as on a device without reservations.
	noPR bool
}

type prNexus struct {
	*scsiprtest.Nexus
	f   *fakePR
	dev string
}

func (n *prNexus) SGIO(cdb []byte, dir sgio.Direction, buf []byte, timeout time.Duration) (sgio.Result, error) {
	n.f.mu.Lock()
	noPR := n.f.noPR
	n.f.mu.Unlock()
	if noPR {
		sense := make([]byte, 18)
		sense[0], sense[2], sense[7], sense[12] = 0x70, byte(sgio.IllegalRequest), 10, 0x20 // INVALID COMMAND OPERATION CODE
		return sgio.Result{Status: sgio.StatusCheckCondition, DriverStatus: 0x08, Sense: sense}, nil
	}
	if cdb[0] == scsipr.OpPersistentReserveOut {
		n.f.mu.Lock()
		onOut, fail := n.f.onOut, n.f.failOut[n.dev]
		n.f.mu.Unlock()
		if onOut != nil {
			onOut(n.dev, scsipr.ServiceAction(cdb[1]&0x1f))
		}
		if fail {
			return sgio.Result{}, errors.New("fake: transport gone")
		}
	}
	return n.Nexus.SGIO(cdb, dir, buf, timeout)
}

func (n *prNexus) Close() error { return nil }

func (f *fakePR) Open(dev string) (PRDevice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.paths[dev]
	if !ok {
		return nil, fmt.Errorf("open /dev/%s: %w", dev, os.ErrNotExist)
	}
	return n, nil
}

// newFakePR gives each named path a nexus to lu: paths of one host share an initiator.
func newFakePR(lu *scsiprtest.Target, devs ...string) *fakePR {
	f := &fakePR{paths: map[string]*prNexus{}, failOut: map[string]bool{}}
	for i, dev := range devs {
		f.add(lu, dev, fmt.Sprintf("iqn.2026-12.host:%d", i), uint16(i+1))
	}
	return f
}

func (f *fakePR) add(lu *scsiprtest.Target, dev, initiator string, port uint16) *scsiprtest.Nexus {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := lu.Nexus(initiator, port)
	f.paths[dev] = &prNexus{Nexus: n, f: f, dev: dev}
	return n
}

func (f *fakePR) nexus(dev string) *scsiprtest.Nexus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paths[dev].Nexus
}

func (f *fakePR) setOnOut(fn func(dev string, sa scsipr.ServiceAction)) {
	f.mu.Lock()
	f.onOut = fn
	f.mu.Unlock()
}

func mustOut(t *testing.T, d sgio.Device, sa scsipr.ServiceAction, typ scsipr.Type, p scsipr.OutParams) {
	t.Helper()
	if err := scsipr.Out(d, sa, typ, p, time.Second); err != nil {
		t.Fatalf("%v: %v", sa, err)
	}
}

func newPRRig(t *testing.T, topo *fakeTopo, cfg string, pr *fakePR, keys *prkeys.File) *rig {
	return newRigWith(t, topo, cfg, nil, func(o *Options) { o.PR, o.PRKeys = pr, keys })
}

// reservation returns the map's reservation as the socket commands read it.
func (r *rig) reservation(name string) api.Reservation {
	r.t.Helper()
	res, err := r.d.Reservation(name)
	if err != nil {
		r.t.Fatal(err)
	}
	return res
}

// A path that comes back gets the key before the kernel may use it again: at its REGISTER the
// path is still failed in the map, and the reinstatement follows.
func TestPRPathReinstatedOnlyAfterRegistration(t *testing.T) {
	lu := &scsiprtest.Target{}
	pr := newFakePR(lu, "sda", "sdb")
	// Node A (this host) registered 0xabc on sda and reserved Write Exclusive, Registrants Only
	// before mpathd started; sdb's nexus carries no key.
	mustOut(t, pr.nexus("sda"), scsipr.Register, 0, scsipr.OutParams{SAKey: 0xabc})
	mustOut(t, pr.nexus("sda"), scsipr.Reserve, scsipr.WriteExclusiveRegistrantsOnly, scsipr.OutParams{Key: 0xabc})
	r := newPRRig(t, san(2, 1), "[defaults]\nreservation_key = \"0xabc\"\n", pr, nil)
	r.settle()

	// At start both paths were registered from the device's state, with REGISTER AND IGNORE
	// EXISTING KEY: sda, registered already, without a conflict, and sdb.
	for _, dev := range []string{"sda", "sdb"} {
		if k := pr.nexus(dev).Key(); k != 0xabc {
			t.Fatalf("%s key %#x after start", dev, k)
		}
	}
	log := strings.Join(lu.Log(), "\n")
	for _, want := range []string{
		"iqn.2026-12.host:0/1 REGISTER AND IGNORE EXISTING KEY key=0x0 sakey=0xabc",
		"iqn.2026-12.host:1/2 REGISTER AND IGNORE EXISTING KEY key=0x0 sakey=0xabc",
	} {
		if !strings.Contains(log, want+"\n") && !strings.HasSuffix(log, want) {
			t.Errorf("target log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "conflict") {
		t.Errorf("a registration met a reservation conflict:\n%s", log)
	}
	if res := r.reservation(lun0); res.Status != "set" || res.Hold != "set" || res.Key != "0xabc" || res.KeySource != "conf" {
		t.Errorf("reservation %+v", res)
	}

	// sdb goes down and its nexus is left with a stale key (an older registration, which a plain
	// REGISTER could not replace).
	r.check("sdb", checker.Down)
	r.settle()
	mustOut(t, pr.nexus("sdb"), scsipr.RegisterIgnore, 0, scsipr.OutParams{SAKey: 0x111})
	if pr.nexus("sdb").CanWrite() != true || pr.nexus("sdb").Key() != 0x111 {
		t.Fatal("fake: a stale key")
	}
	var mu sync.Mutex
	var seen []string
	pr.setOnOut(func(dev string, sa scsipr.ServiceAction) {
		ps, _, ok := r.pathStatus(lun0, "8:16")
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %v in-table=%v failed=%v", dev, sa, ok, ps.Failed))
		mu.Unlock()
	})
	r.dm.ResetCalls()
	r.check("sdb", checker.Up)
	r.settle()
	mu.Lock()
	if !slices.Equal(seen, []string{"sdb REGISTER AND IGNORE EXISTING KEY in-table=true failed=true"}) {
		t.Errorf("at registration: %q, want sdb still failed in the map", seen)
	}
	mu.Unlock()
	if got := r.messages(lun0); !slices.Contains(got, "reinstate_path 8:16") {
		t.Errorf("sdb not reinstated after registration: %q", got)
	}
	if ps, _, _ := r.pathStatus(lun0, "8:16"); ps.Failed {
		t.Error("sdb still failed")
	}
	if k := pr.nexus("sdb").Key(); k != 0xabc || !pr.nexus("sdb").CanWrite() {
		t.Errorf("sdb key %#x, can write %v", k, pr.nexus("sdb").CanWrite())
	}
}

// A path added to a map whose reservation is active is registered before the reload that puts it
// in the table.
func TestPRNewPathRegisteredBeforeTableLoad(t *testing.T) {
	lu := &scsiprtest.Target{}
	pr := newFakePR(lu, "sda", "sdb")
	mustOut(t, pr.nexus("sda"), scsipr.Register, 0, scsipr.OutParams{SAKey: 0x5eed})
	topo := san(2, 1)
	r := newPRRig(t, topo, "[defaults]\nreservation_key = \"0x5eed:aptpl\"\nall_tg_pt = true\n", pr, nil)
	r.settle()

	p, _ := topo.Path("sda")
	p.Name, p.Dev.Minor, p.HCTL.Host = "sdx", 200, 7
	topo.set(p)
	nx := pr.add(lu, "sdx", "iqn.2026-12.host:7", 3)
	var seen []string
	var mu sync.Mutex
	pr.setOnOut(func(dev string, sa scsipr.ServiceAction) {
		tab := r.table(lun0)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %v in-table=%v", dev, sa, strings.Contains(tab, "8:200")))
		mu.Unlock()
	})
	r.d.PathsAdded([]string{"sdx"})
	r.settle()
	mu.Lock()
	if !slices.Equal(seen, []string{"sdx REGISTER AND IGNORE EXISTING KEY in-table=false"}) {
		t.Errorf("at registration: %q, want sdx not yet in the table", seen)
	}
	mu.Unlock()
	if !strings.Contains(r.table(lun0), "8:200") {
		t.Fatalf("sdx not added: %s", r.table(lun0))
	}
	if nx.Key() != 0x5eed {
		t.Errorf("sdx key %#x", nx.Key())
	}
	fs, err := scsipr.ReadFullStatus(nx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, reg := range fs.Registrants {
		if reg.TransportID != nil && strings.Contains(string(reg.TransportID), "host:7") && !reg.AllTgPt {
			t.Errorf("sdx registered without ALL_TG_PT: %+v", reg)
		}
	}
}

// A key that is not registered on the device (never, or another node preempted it) is not put
// back: paths are used without a registration and the status turns unset.
func TestPRKeyNotOnDeviceIsNotRegistered(t *testing.T) {
	lu := &scsiprtest.Target{}
	pr := newFakePR(lu, "sda", "sdb")
	r := newPRRig(t, san(2, 1), "[defaults]\nreservation_key = \"0xabc\"\n", pr, nil)
	r.settle()
	if len(lu.Log()) != 0 {
		t.Errorf("PR OUT sent for a key the device does not have: %q", lu.Log())
	}
	if res := r.reservation(lun0); res.Status != "unset" || res.Key != "0xabc" {
		t.Errorf("reservation %+v", res)
	}
	if m := r.d.Topology().Maps; len(m) != 1 || m[0].Groups[0].Paths[0].DMState != api.DMActive {
		t.Fatalf("maps %+v", m)
	}
	// Unset, the daemon does not even ask the device when a path comes back.
	r.check("sdb", checker.Down)
	r.settle()
	r.check("sdb", checker.Up)
	r.settle()
	if len(lu.Log()) != 0 {
		t.Errorf("registered while unset: %q", lu.Log())
	}
	if ps, _, _ := r.pathStatus(lun0, "8:16"); ps.Failed {
		t.Error("sdb not reinstated")
	}
}

// A registration that fails is logged and the path is used anyway, as multipath-tools does.
func TestPRRegistrationFailureKeepsPath(t *testing.T) {
	lu := &scsiprtest.Target{}
	pr := newFakePR(lu, "sda", "sdb")
	mustOut(t, pr.nexus("sda"), scsipr.Register, 0, scsipr.OutParams{SAKey: 0xabc})
	r := newPRRig(t, san(2, 1), "[defaults]\nreservation_key = \"0xabc\"\n", pr, nil)
	r.settle()
	r.check("sdb", checker.Down)
	r.settle()
	mustOut(t, pr.nexus("sdb"), scsipr.RegisterIgnore, 0, scsipr.OutParams{})
	pr.mu.Lock()
	pr.failOut["sdb"] = true
	pr.mu.Unlock()
	events := r.d.Subscribe(t.Context())
	r.check("sdb", checker.Up)
	r.settle()
	if ps, _, _ := r.pathStatus(lun0, "8:16"); ps.Failed {
		t.Error("sdb kept failed after a failed registration")
	}
	if ev := next(t, events); ev.Type != api.EventReservation || !strings.Contains(ev.Reason, "registration failed") || ev.Path != "sdb" {
		t.Errorf("event %+v", ev)
	}
}

// When mpathpersist changes the key while the path holding the reservation is gone, the old key's
// reservation and its registrations on the missing paths are preempted to the new key.
func TestPRGonePathKeyPreempted(t *testing.T) {
	lu := &scsiprtest.Target{}
	pr := newFakePR(lu, "sda", "sdb")
	keys := prkeys.New(filepath.Join(t.TempDir(), "prkeys"))
	if err := keys.Set(lun0, prkeys.Key{Key: 0x1}); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{"sda", "sdb"} {
		mustOut(t, pr.nexus(dev), scsipr.Register, 0, scsipr.OutParams{SAKey: 0x1})
	}
	mustOut(t, pr.nexus("sdb"), scsipr.Reserve, scsipr.WriteExclusiveRegistrantsOnly, scsipr.OutParams{Key: 0x1})
	topo := san(2, 1)
	r := newPRRig(t, topo, "[defaults]\nreservation_key = \"file\"\n", pr, keys)
	r.settle()
	if res := r.reservation(lun0); res.Status != "set" || res.Hold != "set" || res.Key != "0x1" || res.KeySource != "file" {
		t.Fatalf("reservation %+v", res)
	}
	// sdb, the holder, is removed.
	topo.del("sdb")
	r.d.PathsRemoved([]string{"sdb"})
	r.settle()
	// mpathpersist --out --register --param-rk 0x1 --param-sark 0x2, as multipath-tools' does it.
	ctx := t.Context()
	if err := r.d.SetPRKey(ctx, lun0, "0x2"); err != nil {
		t.Fatal(err)
	}
	mustOut(t, pr.nexus("sda"), scsipr.Register, 0, scsipr.OutParams{Key: 0x1, SAKey: 0x2})
	if err := r.d.SetPRStatus(ctx, lun0, true); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if k := pr.nexus("sdb").Key(); k != 0 {
		t.Errorf("the gone path still holds key %#x", k)
	}
	res, err := scsipr.ReadReservation(pr.nexus("sda"), time.Second)
	if err != nil || !res.Held || res.Key != 0x2 || res.Type != scsipr.WriteExclusiveRegistrantsOnly {
		t.Errorf("reservation after the key change: %+v %v", res, err)
	}
	if k, _, _, _ := keys.Get(lun0); k.Key != 0x2 {
		t.Errorf("prkeys file has %v", k)
	}
}

// The key set with mpathpersist survives a restart: the new daemon reads it from the prkeys file,
// the registration from the device, and registers a path that lost it before using it.
func TestPRRestartKeepsKeys(t *testing.T) {
	lu := &scsiprtest.Target{}
	pr := newFakePR(lu, "sda", "sdb")
	keys := prkeys.New(filepath.Join(t.TempDir(), "prkeys"))
	const cfg = "[defaults]\nreservation_key = \"file\"\n"
	r := newPRRig(t, san(2, 1), cfg, pr, keys)
	r.settle()
	if res := r.reservation(lun0); res.Status != "unset" || res.Key != "" {
		t.Fatalf("before mpathpersist: %+v", res)
	}
	ctx := t.Context()
	if err := r.d.SetPRKey(ctx, lun0, "0xfeed:aptpl"); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{"sda", "sdb"} {
		mustOut(t, pr.nexus(dev), scsipr.Register, 0, scsipr.OutParams{SAKey: 0xfeed, APTPL: true})
	}
	if err := r.d.SetPRStatus(ctx, lun0, true); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if res := r.reservation(lun0); res.Status != "set" || res.Key != "0xfeed:aptpl" {
		t.Fatalf("after mpathpersist: %+v", res)
	}
	r.stop()

	// While mpathd is down, sdb's nexus loses its registration.
	mustOut(t, pr.nexus("sdb"), scsipr.RegisterIgnore, 0, scsipr.OutParams{})
	r2 := newPRRig(t, san(2, 1), cfg, pr, keys)
	r2.settle()
	if res := r2.reservation(lun0); res.Status != "set" || res.Key != "0xfeed:aptpl" || res.KeySource != "file" {
		t.Errorf("after restart: %+v", res)
	}
	if k := pr.nexus("sdb").Key(); k != 0xfeed {
		t.Errorf("sdb not registered again at start: %#x", k)
	}
	if !strings.Contains(strings.Join(lu.Log(), "\n"), "iqn.2026-12.host:1/2 REGISTER AND IGNORE EXISTING KEY key=0x0 sakey=0xfeed") {
		t.Errorf("log %q", lu.Log())
	}
}

// unsetprstatus stops registration; setprkey needs reservation_key "file".
func TestPRStatusCommands(t *testing.T) {
	lu := &scsiprtest.Target{}
	pr := newFakePR(lu, "sda", "sdb")
	mustOut(t, pr.nexus("sda"), scsipr.Register, 0, scsipr.OutParams{SAKey: 0x7})
	r := newPRRig(t, san(2, 1), "[defaults]\nreservation_key = \"0x7\"\n", pr, nil)
	r.settle()
	ctx := t.Context()
	var ae *api.Error
	if err := r.d.SetPRKey(ctx, lun0, "0x8"); !errors.As(err, &ae) || ae.Code != api.CodeInvalid {
		t.Errorf("setprkey on a configured key: %v", err)
	}
	if err := r.d.SetPRKey(ctx, "nosuchmap", ""); !errors.As(err, &ae) || ae.Code != api.CodeNotFound {
		t.Errorf("unknown map: %v", err)
	}
	if err := r.d.SetPRStatus(ctx, lun0, false); err != nil {
		t.Fatal(err)
	}
	if err := r.d.SetPRHold(ctx, lun0, true); err != nil {
		t.Fatal(err)
	}
	r.settle()
	if res := r.reservation(lun0); res.Status != "unset" || res.Hold != "set" {
		t.Errorf("reservation %+v", res)
	}
	n := len(lu.Log())
	r.check("sdb", checker.Down)
	r.settle()
	r.check("sdb", checker.Up)
	r.settle()
	if len(lu.Log()) != n {
		t.Errorf("registered after unsetprstatus: %q", lu.Log()[n:])
	}
	if _, err := r.d.Reservation("nosuchmap"); !errors.As(err, &ae) || ae.Code != api.CodeNotFound {
		t.Errorf("unknown map: %v", err)
	}
	// A map without a key answers unset.
	r2 := newRig(t, san(2, 1), "", nil)
	if res := r2.reservation(lun0); res != api.NoReservation(lun0) {
		t.Errorf("no key: %+v", res)
	}
}

// mpathpersist's conversation with the daemon, through multipathd's socket commands, on the
// daemon core: the key it sets is kept, and the status follows.
func TestPRSocketCommands(t *testing.T) {
	lu := &scsiprtest.Target{}
	pr := newFakePR(lu, "sda", "sdb")
	keys := prkeys.New(filepath.Join(t.TempDir(), "prkeys"))
	r := newPRRig(t, san(2, 1), "[[multipaths]]\nwwid = \""+lun0+"\"\nalias = \"mpatha\"\nreservation_key = \"file\"\n", pr, keys)
	r.settle()
	srv := &mpathcompat.Server{Service: r.d, Version: "test"}
	ctx := t.Context()
	for _, step := range []struct{ cmd, want string }{
		{"getprstatus map mpatha", "unset\n"},
		{"getprkey map mpatha", "none\n"},
		{"getprhold map mpatha", "unset\n"},
		{"setprkey map mpatha key 0x1234abcd:aptpl", "ok\n"},
		{"getprkey map mpatha", "0x1234abcd:aptpl\n"},
		{"setprstatus map mpatha", "ok\n"},
		{"getprstatus map mpatha", "set\n"},
		{"setprhold map mpatha", "ok\n"},
		{"getprhold map mpatha", "set\n"},
		{"unsetprhold map mpatha", "ok\n"},
		{"getprhold map mpatha", "unset\n"},
		{"setprkey map mpatha key 0xnothex", "fail\n"},
		{"getprstatus map nosuchmap", "fail\n"},
	} {
		r.settle()
		if got := srv.Execute(ctx, step.cmd, true); got != step.want {
			t.Errorf("%s: %q, want %q", step.cmd, got, step.want)
		}
	}
	if k, ok, _, _ := keys.Get(lun0); !ok || k != (prkeys.Key{Key: 0x1234abcd, APTPL: true}) {
		t.Errorf("prkeys file: %+v %v", k, ok)
	}
	for _, step := range []struct{ cmd, want string }{
		{"unsetprstatus map mpatha", "ok\n"},
		{"unsetprkey map mpatha", "ok\n"},
		{"getprstatus map mpatha", "unset\n"},
		{"getprkey map mpatha", "none\n"},
	} {
		r.settle()
		if got := srv.Execute(ctx, step.cmd, true); got != step.want {
			t.Errorf("%s: %q, want %q", step.cmd, got, step.want)
		}
	}
	if _, ok, _, _ := keys.Get(lun0); ok {
		t.Error("unsetprkey left the key in the prkeys file")
	}
}

// A device without persistent reservations (READ KEYS refused with ILLEGAL REQUEST) turns the
// status unset, as multipathd does, and is not asked again.
func TestPRDeviceWithoutReservations(t *testing.T) {
	lu := &scsiprtest.Target{}
	pr := newFakePR(lu, "sda", "sdb")
	pr.noPR = true
	var asked sync.Map
	pr.onOut = func(dev string, sa scsipr.ServiceAction) { asked.Store(dev, sa) }
	r := newPRRig(t, san(2, 1), "[defaults]\nreservation_key = \"0xabc\"\n", pr, nil)
	r.settle()
	if res := r.reservation(lun0); res.Status != "unset" {
		t.Errorf("reservation %+v", res)
	}
	if m := r.d.Topology().Maps; len(m) != 1 {
		t.Fatalf("maps %+v", m)
	}
	asked.Range(func(k, v any) bool { t.Errorf("PR OUT sent to %v", k); return true })
}

// A key change never preempts a reservation another node holds (multipath-tools 0.12.0 could
// release another node's reservation).
func TestPRKeyChangeLeavesOtherNodesReservation(t *testing.T) {
	lu := &scsiprtest.Target{}
	pr := newFakePR(lu, "sda", "sdb")
	nodeB := lu.Nexus("iqn.2026-12.nodeb", 1)
	keys := prkeys.New(filepath.Join(t.TempDir(), "prkeys"))
	if err := keys.Set(lun0, prkeys.Key{Key: 0x1}); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{"sda", "sdb"} {
		mustOut(t, pr.nexus(dev), scsipr.Register, 0, scsipr.OutParams{SAKey: 0x1})
	}
	mustOut(t, nodeB, scsipr.Register, 0, scsipr.OutParams{SAKey: 0xb})
	mustOut(t, nodeB, scsipr.Reserve, scsipr.WriteExclusiveRegistrantsOnly, scsipr.OutParams{Key: 0xb})
	r := newPRRig(t, san(2, 1), "[defaults]\nreservation_key = \"file\"\n", pr, keys)
	r.settle()
	if res := r.reservation(lun0); res.Status != "set" || res.Hold != "unset" {
		t.Fatalf("reservation %+v", res)
	}
	ctx := t.Context()
	if err := r.d.SetPRKey(ctx, lun0, "0x2"); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{"sda", "sdb"} {
		mustOut(t, pr.nexus(dev), scsipr.Register, 0, scsipr.OutParams{Key: 0x1, SAKey: 0x2})
	}
	// Even told it held the reservation, the daemon reads the device before preempting.
	if err := r.d.SetPRHold(ctx, lun0, true); err != nil {
		t.Fatal(err)
	}
	if err := r.d.SetPRStatus(ctx, lun0, true); err != nil {
		t.Fatal(err)
	}
	r.settle()
	for _, l := range lu.Log() {
		if strings.Contains(l, "PREEMPT") {
			t.Errorf("preempted: %s", l)
		}
	}
	res, err := scsipr.ReadReservation(nodeB, time.Second)
	if err != nil || !res.Held || res.Key != 0xb || nodeB.Key() != 0xb {
		t.Errorf("node B's reservation: %+v %v, key %#x", res, err, nodeB.Key())
	}
}
