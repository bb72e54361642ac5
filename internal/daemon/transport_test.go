package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/dm"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

// fakeAttrs is a kernel's tunable attributes; each write records whether the fake kernel had
// created a map by then.
type fakeAttrs struct {
	mu     sync.Mutex
	dm     *dm.Fake
	vals   map[string]string // "object attr" → value
	refuse map[string]error
	writes []string // "object attr=value", with " (after create)" once a map exists
}

func (f *fakeAttrs) ReadTunable(class, name, attr string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.vals[name+" "+attr]; ok {
		return v, nil
	}
	return "", fmt.Errorf("no %s %s", name, attr)
}

func (f *fakeAttrs) SetTunable(class, name, attr, val string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := name + " " + attr + "=" + val
	if slices.ContainsFunc(f.dm.Calls(), func(c dm.Call) bool { return c.Op == "DM_DEV_CREATE" }) {
		w += " (after create)"
	}
	f.writes = append(f.writes, w)
	if err := f.refuse[name+" "+attr]; err != nil {
		return err
	}
	f.vals[name+" "+attr] = val
	return nil
}

func (f *fakeAttrs) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.writes
	f.writes = nil
	return w
}

// fcSAN is san() with every path behind an FC remote port of its host.
func fcSAN(hosts, luns int) *fakeTopo {
	t := san(hosts, luns)
	for n, p := range t.paths {
		p.Transport = sysfs.Transport{Kind: sysfs.TransportFC, RPort: fmt.Sprintf("rport-%d:0-0", p.HCTL.Host), PortState: "Online"}
		t.paths[n] = p
	}
	return t
}

func transportRig(t *testing.T, topo *fakeTopo, cfg string, refuse map[string]error) (*rig, *fakeAttrs) {
	attrs := newFakeAttrs(topo, refuse)
	r := newRigWith(t, topo, cfg, func(f *dm.Fake) { attrs.dm = f }, func(o *Options) { o.Transport = attrs })
	r.settle()
	return r, attrs
}

func TestTransportSettingsAppliedBeforeCreate(t *testing.T) {
	r, attrs := transportRig(t, fcSAN(2, 1), `[defaults]
no_path_retry = "queue"
dev_loss_tmo = 60
eh_deadline = 20
max_sectors_kb = 512
`, nil)
	got := attrs.take()
	slices.Sort(got)
	want := []string{
		"host0 eh_deadline=20", "host1 eh_deadline=20",
		"rport-0:0-0 dev_loss_tmo=2147483647", "rport-0:0-0 fast_io_fail_tmo=5",
		"rport-1:0-0 dev_loss_tmo=2147483647", "rport-1:0-0 fast_io_fail_tmo=5",
		"sda queue/max_sectors_kb=512", "sdb queue/max_sectors_kb=512",
	}
	if !slices.Equal(got, want) {
		t.Errorf("writes\n got %q\nwant %q", got, want)
	}
	if n := r.ops("DM_DEV_CREATE", lun0); n != 1 {
		t.Fatalf("map created %d times", n)
	}

	ex, err := r.d.Explain(lun0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Transport) != 8 {
		t.Errorf("explain transport: %+v", ex.Transport)
	}
	for _, s := range ex.Transport {
		if s.Value != s.Want || s.Error != "" {
			t.Errorf("explain %+v", s)
		}
	}
	if len(ex.TransportNotes) != 2 || !strings.Contains(ex.TransportNotes[0], "sda: dev_loss_tmo raised from 60 to 2147483647 to cover no_path_retry queue") {
		t.Errorf("explain notes %q", ex.TransportNotes)
	}
	ex, _ = r.d.Explain("sdb")
	if len(ex.Transport) != 4 || ex.Transport[0].Path != "sdb" {
		t.Errorf("explain sdb: %+v", ex.Transport)
	}
	if st := r.d.Status(); len(st.TransportErrors) != 0 {
		t.Errorf("status transport errors %q", st.TransportErrors)
	}
}

func TestTransportSettingRefusedIsVisible(t *testing.T) {
	r, _ := transportRig(t, fcSAN(2, 1), "[defaults]\neh_deadline = 20\n",
		map[string]error{"host1 eh_deadline": syscall.EINVAL})
	if n := r.ops("DM_DEV_CREATE", lun0); n != 1 {
		t.Fatalf("map created %d times: a refused setting must not keep the path out", n)
	}
	st := r.d.Status()
	if len(st.TransportErrors) != 1 || !strings.Contains(st.TransportErrors[0], "sdb: host1 eh_deadline 20: invalid argument") {
		t.Errorf("status transport errors %q", st.TransportErrors)
	}
	ex, _ := r.d.Explain("sdb")
	i := slices.IndexFunc(ex.Transport, func(s api.TransportSetting) bool { return s.Attribute == "eh_deadline" })
	if i < 0 || ex.Transport[i].Value != "off" || !strings.Contains(ex.Transport[i].Error, "invalid argument") {
		t.Errorf("explain sdb %+v", ex.Transport)
	}
	// The path going away takes its record along.
	r.d.PathsRemoved([]string{"sdb"})
	r.settle()
	if st := r.d.Status(); len(st.TransportErrors) != 0 {
		t.Errorf("after removal: %q", st.TransportErrors)
	}
}

func TestTransportReappliedOnReconfigure(t *testing.T) {
	file := t.TempDir() + "/mpathd.toml"
	writeFile(t, file, "[defaults]\nmax_sectors_kb = 512\n")
	r, attrs := transportRig(t, fcSAN(2, 1), "[defaults]\nmax_sectors_kb = 512\n", nil)
	r.d.o.ConfigPath = file
	attrs.take()
	writeFile(t, file, "[defaults]\nmax_sectors_kb = 256\nfast_io_fail_tmo = 10\ndev_loss_tmo = \"infinity\"\n")
	if err := r.d.Reconfigure(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.settle()
	got := attrs.take()
	slices.Sort(got)
	// max_sectors_kb stays: it is never changed under a live map.
	want := []string{
		"rport-0:0-0 dev_loss_tmo=2147483647 (after create)", "rport-0:0-0 fast_io_fail_tmo=10 (after create)",
		"rport-1:0-0 dev_loss_tmo=2147483647 (after create)", "rport-1:0-0 fast_io_fail_tmo=10 (after create)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("writes\n got %q\nwant %q", got, want)
	}
	ex, _ := r.d.Explain("sda")
	i := slices.IndexFunc(ex.Transport, func(s api.TransportSetting) bool { return s.Attribute == "queue/max_sectors_kb" })
	if i < 0 || ex.Transport[i].Value != "512" {
		t.Errorf("explain sda after reconfigure %+v", ex.Transport)
	}
}

func TestCheckerTimeoutDefaultsToDeviceTimeout(t *testing.T) {
	topo := san(2, 1)
	for n, p := range topo.paths {
		p.Timeout = 45 + p.HCTL.Host
		topo.paths[n] = p
	}
	r := newRig(t, topo, "", nil)
	r.settle()
	r.mon.mu.Lock()
	got := map[string]time.Duration{"sda": r.mon.watched["sda"].Timeout, "sdb": r.mon.watched["sdb"].Timeout}
	r.mon.mu.Unlock()
	if got["sda"] != 45*time.Second || got["sdb"] != 46*time.Second {
		t.Errorf("checker timeouts %v, want each path's device/timeout (45 s, 46 s)", got)
	}
	r = newRig(t, san(2, 1), "[defaults]\nchecker_timeout = 7\n", nil)
	r.settle()
	r.mon.mu.Lock()
	defer r.mon.mu.Unlock()
	if to := r.mon.watched["sda"].Timeout; to != 7*time.Second {
		t.Errorf("checker_timeout 7: %v", to)
	}
}
