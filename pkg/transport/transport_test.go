package transport

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/sysfs"
	"github.com/mpathd/mpathd/pkg/sysfs/sysfstest"
)

var (
	fcPath    = sysfs.Path{Name: "sda", HCTL: sysfs.HCTL{Host: 2}, Transport: sysfs.Transport{Kind: sysfs.TransportFC, RPort: "rport-2:0-0"}}
	iscsiPath = sysfs.Path{Name: "sde", HCTL: sysfs.HCTL{Host: 4}, Transport: sysfs.Transport{Kind: sysfs.TransportISCSI, Session: "session1"}}
	sasPath   = sysfs.Path{Name: "sdf", HCTL: sysfs.HCTL{Host: 5}, Transport: sysfs.Transport{Kind: sysfs.TransportSAS, EndDevice: "end_device-5:0"}}
	sdPath    = sysfs.Path{Name: "sdb", HCTL: sysfs.HCTL{Host: 1}, Transport: sysfs.Transport{Kind: sysfs.TransportUnknown}}
)

func base() Settings {
	return Settings{FastIOFail: 5, DevLoss: config.TmoUnset, EhDeadline: config.TmoUnset, NoPathRetry: config.NoPathRetry{Mode: config.RetryFail}, PollingInterval: 5}
}

func rp(attr, val string) Step {
	return Step{Class: sysfs.ClassFCRemotePort, Object: "rport-2:0-0", Attr: attr, Value: val}
}

func TestDecide(t *testing.T) {
	queue := config.NoPathRetry{Mode: config.RetryQueue}
	count := func(n int) config.NoPathRetry { return config.NoPathRetry{Mode: config.RetryCount, Count: n} }
	for _, tc := range []struct {
		name  string
		set   func(*Settings)
		path  sysfs.Path
		steps []Step
		notes []string // substrings, in order
	}{
		{name: "fc defaults", path: fcPath, steps: []Step{rp("fast_io_fail_tmo", "5")}},
		{name: "fc dev_loss", set: func(s *Settings) { s.DevLoss = 120 }, path: fcPath,
			steps: []Step{rp("fast_io_fail_tmo", "5"), rp("dev_loss_tmo", "120")}},
		{name: "fc infinity", set: func(s *Settings) { s.DevLoss = config.TmoInfinity }, path: fcPath,
			steps: []Step{rp("fast_io_fail_tmo", "5"), rp("dev_loss_tmo", "2147483647")}},
		{name: "fc queue raises a set dev_loss to infinity", set: func(s *Settings) { s.DevLoss = 60; s.NoPathRetry = queue }, path: fcPath,
			steps: []Step{rp("fast_io_fail_tmo", "5"), rp("dev_loss_tmo", "2147483647")}, notes: []string{"raised from 60 to 2147483647"}},
		{name: "fc queue with dev_loss unset raises the kernel's value", set: func(s *Settings) { s.NoPathRetry = queue }, path: fcPath,
			steps: []Step{rp("fast_io_fail_tmo", "5"), {Class: sysfs.ClassFCRemotePort, Object: "rport-2:0-0", Attr: "dev_loss_tmo", Value: "2147483647", AtLeast: true}}},
		{name: "fc no_path_retry 12 x 5 s floor with padding", set: func(s *Settings) { s.DevLoss = 30; s.NoPathRetry = count(12) }, path: fcPath,
			steps: []Step{rp("fast_io_fail_tmo", "5"), rp("dev_loss_tmo", "66")}, notes: []string{"raised from 30 to 66 to cover no_path_retry 12"}},
		{name: "fc no_path_retry below dev_loss keeps it", set: func(s *Settings) { s.DevLoss = 600; s.NoPathRetry = count(3) }, path: fcPath,
			steps: []Step{rp("fast_io_fail_tmo", "5"), rp("dev_loss_tmo", "600")}},
		{name: "fc fast_io_fail not below dev_loss is switched off", set: func(s *Settings) { s.FastIOFail = 30; s.DevLoss = 30 }, path: fcPath,
			steps: []Step{rp("fast_io_fail_tmo", "off"), rp("dev_loss_tmo", "30")}, notes: []string{"fast_io_fail_tmo 30 switched off"}},
		{name: "fc dev_loss over 600 without fast_io_fail is limited", set: func(s *Settings) { s.FastIOFail = config.TmoOff; s.DevLoss = config.TmoInfinity }, path: fcPath,
			steps: []Step{rp("fast_io_fail_tmo", "off"), rp("dev_loss_tmo", "600")}, notes: []string{"limited to 600"}},
		{name: "fc fast_io_fail unset", set: func(s *Settings) { s.FastIOFail = config.TmoUnset; s.DevLoss = 45 }, path: fcPath,
			steps: []Step{rp("dev_loss_tmo", "45")}},
		{name: "fc fast_io_fail 0", set: func(s *Settings) { s.FastIOFail = 0 }, path: fcPath, steps: []Step{rp("fast_io_fail_tmo", "0")}},
		{name: "iscsi recovery_tmo from fast_io_fail", set: func(s *Settings) { s.FastIOFail = 8; s.NoPathRetry = queue }, path: iscsiPath,
			steps: []Step{{Class: sysfs.ClassISCSISession, Object: "session1", Attr: "recovery_tmo", Value: "8"}}},
		{name: "iscsi dev_loss has no meaning", set: func(s *Settings) { s.DevLoss = 600 }, path: iscsiPath,
			steps: []Step{{Class: sysfs.ClassISCSISession, Object: "session1", Attr: "recovery_tmo", Value: "5"}}, notes: []string{"dev_loss_tmo 600 not applied"}},
		{name: "iscsi fast_io_fail off", set: func(s *Settings) { s.FastIOFail = config.TmoOff }, path: iscsiPath, notes: []string{"cannot be switched off"}},
		{name: "iscsi fast_io_fail 0", set: func(s *Settings) { s.FastIOFail = 0 }, path: iscsiPath, notes: []string{"cannot be 0"}},
		{name: "sas nexus loss from dev_loss", set: func(s *Settings) { s.DevLoss = 20 }, path: sasPath,
			steps: []Step{{Class: sysfs.ClassSASEndDevice, Object: "end_device-5:0", Attr: "I_T_nexus_loss_timeout", Value: "20"}}},
		{name: "sas without dev_loss", path: sasPath},
		{name: "eh_deadline and max_sectors_kb on any path", set: func(s *Settings) { s.EhDeadline = 30; s.MaxSectorsKB = 512 }, path: sdPath,
			steps: []Step{{Class: sysfs.ClassSCSIHost, Object: "host1", Attr: "eh_deadline", Value: "30"},
				{Class: sysfs.ClassBlock, Object: "sdb", Attr: "queue/max_sectors_kb", Value: "512", OnAdd: true}}},
		{name: "eh_deadline off", set: func(s *Settings) { s.EhDeadline = config.TmoOff }, path: sdPath,
			steps: []Step{{Class: sysfs.ClassSCSIHost, Object: "host1", Attr: "eh_deadline", Value: "off"}}},
		{name: "no transport object", set: func(s *Settings) { s.DevLoss = 60 }, path: sysfs.Path{Name: "sdz", Transport: sysfs.Transport{Kind: sysfs.TransportFC}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			if tc.set != nil {
				tc.set(&s)
			}
			pl := Decide(s, tc.path)
			if !reflect.DeepEqual(pl.Steps, tc.steps) {
				t.Errorf("steps\n got %+v\nwant %+v", pl.Steps, tc.steps)
			}
			if len(pl.Notes) != len(tc.notes) {
				t.Fatalf("notes %q, want %d like %q", pl.Notes, len(tc.notes), tc.notes)
			}
			for i, n := range tc.notes {
				if !strings.Contains(pl.Notes[i], n) {
					t.Errorf("note %q, want it to contain %q", pl.Notes[i], n)
				}
			}
		})
	}
}

func TestFromResolved(t *testing.T) {
	cfg := config.Builtin()
	r := cfg.Resolve("3600a098038303053", "NETAPP", "LUN C-Mode", "")
	s := FromResolved(r, "scsi:fcp", 5)
	want := Settings{FastIOFail: 5, DevLoss: config.TmoInfinity, EhDeadline: config.TmoUnset, NoPathRetry: config.NoPathRetry{Mode: config.RetryQueue}, PollingInterval: 5}
	if s != want {
		t.Errorf("NETAPP settings %+v, want %+v", s, want)
	}
	pl := Decide(s, fcPath)
	if want := []Step{rp("fast_io_fail_tmo", "5"), rp("dev_loss_tmo", "2147483647")}; !reflect.DeepEqual(pl.Steps, want) {
		t.Errorf("NETAPP FC steps %+v, want %+v", pl.Steps, want)
	}
}

// fcKernel mimics the FC transport's checks on an rport's timeouts.
type fcKernel struct {
	attrs  map[string]string // "obj attr" → value
	writes []string
	refuse map[string]error // "obj attr" → error for every write
}

func (k *fcKernel) ReadTunable(class, name, attr string) (string, error) {
	v, ok := k.attrs[name+" "+attr]
	if !ok {
		return "", fs.ErrNotExist
	}
	return v, nil
}

func (k *fcKernel) SetTunable(class, name, attr, val string) error {
	key := name + " " + attr
	k.writes = append(k.writes, key+"="+val)
	if err := k.refuse[key]; err != nil {
		return err
	}
	if class == sysfs.ClassFCRemotePort {
		fio := k.attrs[name+" fast_io_fail_tmo"]
		dl, _ := strconv.Atoi(k.attrs[name+" dev_loss_tmo"])
		switch attr {
		case "fast_io_fail_tmo":
			if n, err := strconv.Atoi(val); err == nil && (n >= dl || n > 600) {
				return syscall.EINVAL
			}
		case "dev_loss_tmo":
			if n, _ := strconv.Atoi(val); fio == "off" && n > 600 {
				return syscall.EINVAL
			}
		}
	}
	k.attrs[key] = val
	return nil
}

func TestApplyFCOrder(t *testing.T) {
	// The kernel has dev_loss 3 and fast_io_fail off; 5 and infinity need
	// dev_loss raised above 5 first, then infinity once fast_io_fail is on.
	k := &fcKernel{attrs: map[string]string{"rport-2:0-0 fast_io_fail_tmo": "off", "rport-2:0-0 dev_loss_tmo": "3"}}
	s := base()
	s.NoPathRetry = config.NoPathRetry{Mode: config.RetryQueue}
	out := Apply(k, Decide(s, fcPath), true)
	want := []string{"rport-2:0-0 dev_loss_tmo=6", "rport-2:0-0 fast_io_fail_tmo=5", "rport-2:0-0 dev_loss_tmo=2147483647"}
	if !reflect.DeepEqual(k.writes, want) {
		t.Errorf("writes %q, want %q", k.writes, want)
	}
	for _, o := range out {
		if o.Err != nil || !o.Changed {
			t.Errorf("outcome %+v", o)
		}
	}
	// Applied again: nothing to write.
	k.writes = nil
	for _, o := range Apply(k, Decide(s, fcPath), false) {
		if o.Changed || o.Err != nil {
			t.Errorf("second apply %+v", o)
		}
	}
	if k.writes != nil {
		t.Errorf("second apply wrote %q", k.writes)
	}
}

func TestApplyAtLeastNeverLowers(t *testing.T) {
	k := &fcKernel{attrs: map[string]string{"rport-2:0-0 fast_io_fail_tmo": "5", "rport-2:0-0 dev_loss_tmo": "600"}}
	s := base()
	s.NoPathRetry = config.NoPathRetry{Mode: config.RetryCount, Count: 10} // floor 55
	Apply(k, Decide(s, fcPath), true)
	if k.writes != nil || k.attrs["rport-2:0-0 dev_loss_tmo"] != "600" {
		t.Errorf("writes %q, dev_loss %s: a larger kernel value was touched", k.writes, k.attrs["rport-2:0-0 dev_loss_tmo"])
	}
	k.attrs["rport-2:0-0 dev_loss_tmo"] = "30"
	Apply(k, Decide(s, fcPath), true)
	if got := k.attrs["rport-2:0-0 dev_loss_tmo"]; got != "55" {
		t.Errorf("dev_loss %s, want raised to 55", got)
	}
}

func TestApplyRefusedIsReported(t *testing.T) {
	k := &fcKernel{
		attrs:  map[string]string{"host1 eh_deadline": "off", "sdb queue/max_sectors_kb": "1280"},
		refuse: map[string]error{"host1 eh_deadline": syscall.EINVAL},
	}
	s := base()
	s.EhDeadline, s.MaxSectorsKB = 10, 256
	out := Apply(k, Decide(s, sdPath), true)
	if len(out) != 2 {
		t.Fatalf("outcomes %+v", out)
	}
	if !errors.Is(out[0].Err, syscall.EINVAL) || out[0].After != "off" || !strings.Contains(out[0].String(), "host1 eh_deadline 10") {
		t.Errorf("refused eh_deadline: %+v (%s)", out[0], out[0])
	}
	if out[1].Err != nil || out[1].After != "256" || out[1].String() != "sdb queue/max_sectors_kb 256 (was 1280)" {
		t.Errorf("max_sectors_kb: %+v (%s)", out[1], out[1])
	}
	// Not added: max_sectors_kb is left alone on a live map.
	k.writes = nil
	out = Apply(k, Decide(s, sdPath), false)
	if len(out) != 1 || out[0].Attr != "eh_deadline" {
		t.Errorf("reconfigure outcomes %+v", out)
	}
}

func TestApplyKernelKeepsAnother(t *testing.T) {
	k := &fcKernel{attrs: map[string]string{"session1 recovery_tmo": "120"}}
	clamp := &clamping{k}
	s := base()
	out := Apply(clamp, Decide(s, iscsiPath), true)
	if len(out) != 1 || out[0].Err == nil || !strings.Contains(out[0].Err.Error(), `kept "7"`) {
		t.Errorf("outcome %+v", out)
	}
}

// clamping stores 7 whatever is written, as a kernel that rounds would.
type clamping struct{ *fcKernel }

func (c *clamping) SetTunable(class, name, attr, val string) error {
	return c.fcKernel.SetTunable(class, name, attr, "7")
}

// TestApplyFixture carries plans out on copies of the FC and iSCSI fixture
// trees through sysfs.FS and checks the files the kernel would have.
func TestApplyFixture(t *testing.T) {
	root := sysfstest.Copy(t, "fc")
	fsys := sysfs.New(root)
	paths, err := fsys.Paths()
	if err != nil {
		t.Fatal(err)
	}
	s := base()
	s.DevLoss, s.NoPathRetry, s.EhDeadline, s.MaxSectorsKB = config.TmoInfinity, config.NoPathRetry{Mode: config.RetryQueue}, 15, 512
	for _, p := range paths {
		for _, o := range Apply(fsys, Decide(s, p), true) {
			if o.Err != nil {
				t.Errorf("%s: %v", p.Name, o)
			}
		}
	}
	for file, want := range map[string]string{
		"sys/class/fc_remote_ports/rport-2:0-0/fast_io_fail_tmo": "5",
		"sys/class/fc_remote_ports/rport-2:0-0/dev_loss_tmo":     "2147483647",
		"sys/class/fc_remote_ports/rport-3:0-0/fast_io_fail_tmo": "5",
		"sys/class/fc_remote_ports/rport-3:0-0/dev_loss_tmo":     "2147483647",
		"sys/class/scsi_host/host2/eh_deadline":                  "15",
		"sys/class/scsi_host/host3/eh_deadline":                  "15",
		"sys/block/sda/queue/max_sectors_kb":                     "512",
		"sys/block/sdd/queue/max_sectors_kb":                     "512",
	} {
		if b, err := os.ReadFile(filepath.Join(root, file)); err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s = %q, %v; want %s", file, b, err, want)
		}
	}

	root = sysfstest.Copy(t, "iscsi")
	fsys = sysfs.New(root)
	p, err := fsys.Path("sde")
	if err != nil {
		t.Fatal(err)
	}
	s = base()
	s.FastIOFail = 7
	out := Apply(fsys, Decide(s, p), true)
	if len(out) != 1 || out[0].Err != nil || out[0].Before != "120" || out[0].After != "7" {
		t.Errorf("iSCSI outcomes %+v", out)
	}
	p, err = fsys.Path("sdf")
	if err != nil {
		t.Fatal(err)
	}
	s.DevLoss = 30
	out = Apply(fsys, Decide(s, p), true)
	if len(out) != 1 || out[0].Attr != "I_T_nexus_loss_timeout" || out[0].After != "30" {
		t.Errorf("SAS outcomes %+v", out)
	}
}

// TestApplyRPortStates carries plans out on the FC fixture while rport-3:0-0 changes state, through
// a sysfs.FS that refuses an rport's timeouts as the FC transport does (sysfstest.Kernel).
func TestApplyRPortStates(t *testing.T) {
	root := sysfstest.Copy(t, "fc")
	k := sysfstest.Kernel{FS: sysfs.New(root)}
	rport := func(attr string) string { return sysfstest.RPort(root, "rport-3:0-0", attr) }
	apply := func(s Settings) []Outcome {
		t.Helper()
		p, err := k.Path("sdc")
		if err != nil {
			t.Fatal(err)
		}
		return Apply(k, Decide(s, p), true)
	}
	queue := base()
	queue.DevLoss, queue.NoPathRetry = config.TmoInfinity, config.NoPathRetry{Mode: config.RetryQueue}

	// Blocked: the transport refuses both timeouts with EBUSY; the outcome says so.
	sysfstest.SetRPort(t, root, "rport-3:0-0", sysfstest.Blocked)
	out := apply(queue)
	if len(out) != 2 || !errors.Is(out[0].Err, syscall.EBUSY) || !errors.Is(out[1].Err, syscall.EBUSY) {
		t.Errorf("blocked rport outcomes %+v", out)
	}
	if rport("fast_io_fail_tmo") != "off" || rport("dev_loss_tmo") != "30" {
		t.Errorf("blocked rport written: %s/%s", rport("fast_io_fail_tmo"), rport("dev_loss_tmo"))
	}

	// Online again: the same plan goes through, infinity written once fast_io_fail is on.
	sysfstest.SetRPort(t, root, "rport-3:0-0", sysfstest.Online)
	for _, o := range apply(queue) {
		if o.Err != nil {
			t.Errorf("online rport: %v", o)
		}
	}
	if rport("fast_io_fail_tmo") != "5" || rport("dev_loss_tmo") != "2147483647" {
		t.Errorf("online rport %s/%s, want 5/2147483647", rport("fast_io_fail_tmo"), rport("dev_loss_tmo"))
	}

	// dev_loss expired and the port returned: a new rport with the kernel's defaults gets the
	// settings again when its path is added.
	sysfstest.SetRPort(t, root, "rport-3:0-0", sysfstest.NotPresent)
	sysfstest.SetRPort(t, root, "rport-3:0-0", sysfstest.Returned)
	if rport("fast_io_fail_tmo") != "off" || rport("dev_loss_tmo") != "30" {
		t.Fatalf("returned rport %s/%s", rport("fast_io_fail_tmo"), rport("dev_loss_tmo"))
	}
	// no_path_retry 12 with dev_loss_tmo unset: the queueing floor, 12 × 5 s with padding.
	floor := base()
	floor.NoPathRetry = config.NoPathRetry{Mode: config.RetryCount, Count: 12}
	for _, o := range apply(floor) {
		if o.Err != nil {
			t.Errorf("returned rport: %v", o)
		}
	}
	if rport("fast_io_fail_tmo") != "5" || rport("dev_loss_tmo") != "66" {
		t.Errorf("returned rport %s/%s, want 5 and the floor 66", rport("fast_io_fail_tmo"), rport("dev_loss_tmo"))
	}
	// infinity with fast_io_fail off: the kernel takes no more than 600.
	off := base()
	off.FastIOFail, off.DevLoss = config.TmoOff, config.TmoInfinity
	for _, o := range apply(off) {
		if o.Err != nil {
			t.Errorf("fast_io_fail off: %v", o)
		}
	}
	if rport("fast_io_fail_tmo") != "off" || rport("dev_loss_tmo") != "600" {
		t.Errorf("fast_io_fail off: %s/%s, want off/600", rport("fast_io_fail_tmo"), rport("dev_loss_tmo"))
	}
}
