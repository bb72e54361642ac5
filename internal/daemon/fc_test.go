package daemon

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/checker/sgio/sgiotest"
	"github.com/mpathd/mpathd/pkg/sysfs"
	"github.com/mpathd/mpathd/pkg/sysfs/sysfstest"
)

// fcFixtureLUN0 is LUN 0 of the FC fixture (pkg/sysfs/testdata/fc): sda behind rport-2:0-0 (ALUA
// optimized), sdc behind rport-3:0-0 (standby).
const fcFixtureLUN0 = "3600a0980383030534f2b4d3153324d70"

// TestFCRPortStateChanges runs the daemon on the FC fixture tree (sysfs.FS as topology and as the
// transport's attributes, refusing an rport's timeouts as the FC transport does) while rport-3:0-0
// goes Online → Blocked → fast_io_fail expired → Online → Not Present (dev_loss) → back, each
// path check made by the real TUR checker on the tree.
func TestFCRPortStateChanges(t *testing.T) {
	root := sysfstest.Copy(t, "fc")
	fsys := sysfs.New(root)
	kernel := sysfstest.Kernel{FS: fsys}
	file := filepath.Join(t.TempDir(), "mpathd.toml")
	writeFile(t, file, "")
	r := newRigWith(t, &fakeTopo{paths: map[string]sysfs.Path{}}, "", nil, func(o *Options) {
		o.Topology, o.Transport, o.ConfigPath = fsys, kernel, file
	})
	sg := &sgiotest.Device{Handler: func([]byte) sgiotest.Response { return sgiotest.Good(nil) }}
	check := func(dev string) checker.State {
		t.Helper()
		res := checker.TUR{}.Check(t.Context(), &checker.Path{Name: dev, Attr: checker.SysfsAttr(filepath.Join(root, "sys"), dev), SG: sg})
		r.d.PathChecked(dev, CheckResult{State: res.State, Reason: res.Reason, Prio: checker.PrioUndefined})
		r.settle()
		return res.State
	}
	rport := func(attr string) string { return sysfstest.RPort(root, "rport-3:0-0", attr) }
	wantRPort := func(when, fio, devLoss string) {
		t.Helper()
		if f, d := rport("fast_io_fail_tmo"), rport("dev_loss_tmo"); f != fio || d != devLoss {
			t.Errorf("%s: rport-3:0-0 fast_io_fail_tmo %s, dev_loss_tmo %s; want %s, %s", when, f, d, fio, devLoss)
		}
	}
	failed := func(devt string) bool {
		ps, _, ok := r.pathStatus(fcFixtureLUN0, devt)
		return ok && ps.Failed
	}
	r.settle()

	// The NETAPP entry of the hardware table: fast_io_fail 5, dev_loss infinity, queueing.
	wantRPort("start", "5", "2147483647")
	if got := sysfstest.RPort(root, "rport-2:0-0", "dev_loss_tmo"); got != "2147483647" {
		t.Errorf("start: rport-2:0-0 dev_loss_tmo %s", got)
	}
	if !r.queueing(fcFixtureLUN0) {
		t.Errorf("NETAPP map does not queue: %s", r.table(fcFixtureLUN0))
	}

	// Blocked: the checker says pending; the path keeps its place and is not failed by the daemon.
	before := r.snapPath(fcFixtureLUN0, "sdc").CheckerState // ghost: the fixture's host3 is ALUA standby
	sysfstest.SetRPort(t, root, "rport-3:0-0", sysfstest.Blocked)
	r.dm.ResetCalls()
	if st := check("sdc"); st != checker.Pending {
		t.Fatalf("blocked: checker %s", st)
	}
	if ms := r.messages(fcFixtureLUN0); len(ms) != 0 || failed("8:32") {
		t.Errorf("blocked: messages %q, failed %v; a blocked path is left to the kernel", ms, failed("8:32"))
	}
	if p := r.snapPath(fcFixtureLUN0, "sdc"); p.CheckerState != before {
		t.Errorf("blocked: snapshot checker state %q, want the last verdict kept", p.CheckerState)
	}

	// A reconfigure while blocked: the transport refuses rport-3's timeouts, visibly.
	writeFile(t, file, "[defaults]\nfast_io_fail_tmo = 10\n")
	if err := r.d.Reconfigure(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.settle()
	wantRPort("reconfigured while blocked", "5", "2147483647")
	if got := sysfstest.RPort(root, "rport-2:0-0", "fast_io_fail_tmo"); got != "10" {
		t.Errorf("reconfigured: rport-2:0-0 fast_io_fail_tmo %s", got)
	}
	st := r.d.Status()
	if !slices.ContainsFunc(st.TransportErrors, func(e string) bool {
		return strings.HasPrefix(e, "sdc: rport-3:0-0 fast_io_fail_tmo 10") && strings.Contains(e, syscall.EBUSY.Error())
	}) {
		t.Errorf("status transport errors %q", st.TransportErrors)
	}

	// fast_io_fail expired: the devices are transport-offline, the checker says down, the path is
	// failed.
	sysfstest.SetRPort(t, root, "rport-3:0-0", sysfstest.FastFailed)
	r.dm.ResetCalls()
	if st := check("sdc"); st != checker.Down {
		t.Fatalf("fast-failed: checker %s", st)
	}
	if !slices.Contains(r.messages(fcFixtureLUN0), "fail_path 8:32") || !failed("8:32") {
		t.Errorf("fast-failed: messages %q", r.messages(fcFixtureLUN0))
	}

	// Online: the path is up and reinstated, and the refused settings are applied now (sdd, the
	// rport's other device, at its own next check).
	sysfstest.SetRPort(t, root, "rport-3:0-0", sysfstest.Online)
	r.dm.ResetCalls()
	if st := check("sdc"); st != checker.Up {
		t.Fatalf("online: checker %s", st)
	}
	check("sdd")
	if !slices.Contains(r.messages(fcFixtureLUN0), "reinstate_path 8:32") || failed("8:32") {
		t.Errorf("online: messages %q", r.messages(fcFixtureLUN0))
	}
	wantRPort("online again", "10", "2147483647")
	if st := r.d.Status(); len(st.TransportErrors) != 0 {
		t.Errorf("online: transport errors %q", st.TransportErrors)
	}

	// dev_loss_tmo expired (as with a finite dev_loss): the devices are deleted, the map keeps
	// queueing on its other path.
	gone := sysfstest.SetRPort(t, root, "rport-3:0-0", sysfstest.NotPresent)
	r.d.PathsRemoved(gone)
	r.settle()
	if tab := r.table(fcFixtureLUN0); strings.Contains(tab, "8:32") || !strings.Contains(tab, "8:0") || !r.queueing(fcFixtureLUN0) {
		t.Errorf("after dev_loss: %s", tab)
	}

	// The port returns: a new rport with the kernel's defaults, its devices added again; the path
	// gets the settings again before it enters the table.
	back := sysfstest.SetRPort(t, root, "rport-3:0-0", sysfstest.Returned)
	wantRPort("returned, before the daemon", sysfstest.DefaultFastIOFail, sysfstest.DefaultDevLoss)
	r.dm.ResetCalls()
	r.d.PathsAdded(back)
	r.settle()
	check("sdc")
	wantRPort("returned", "10", "2147483647")
	if tab := r.table(fcFixtureLUN0); !strings.Contains(tab, "8:32") {
		t.Errorf("returned: sdc not in the table: %s", tab)
	}
	if n := r.ops("DM_TABLE_LOAD", fcFixtureLUN0); n == 0 {
		t.Errorf("returned: no reload with sdc")
	}
}
