package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/kerneltopo"
	"github.com/mpathd/mpathd/pkg/prkeys"
	"github.com/mpathd/mpathd/pkg/scsipr"
	"github.com/mpathd/mpathd/pkg/scsipr/scsiprtest"
)

// prRig is the fc fixture with mpatha's paths sda and sdc as two I_T
// nexuses of node A to one fake LU, and node B's nexus next to them.
type prRig struct {
	*rig
	lu     *scsiprtest.Target
	nexus  map[string]*scsiprtest.Nexus
	b      *scsiprtest.Nexus
	states staticProber
}

func newPRRig(t *testing.T) *prRig {
	r := &prRig{rig: newRig(t), lu: &scsiprtest.Target{}}
	r.nexus = map[string]*scsiprtest.Nexus{"sda": r.lu.Nexus("iqn.a", 1), "sdc": r.lu.Nexus("iqn.a", 2)}
	r.b = r.lu.Nexus("iqn.b", 1)
	r.states = staticProber{"sda": {State: api.CheckerUp}, "sdc": {State: api.CheckerUp},
		"sdb": {State: api.CheckerUp}, "sdd": {State: api.CheckerDown}}
	r.e.prober = func(*config.Config) prober { return r.states }
	// reservation_key "file": the daemon keeps the key in the prkeys file,
	// as multipathd does when mpathpersist sends setprkey.
	keys := filepath.Join(t.TempDir(), "prkeys")
	r.e.loadConfig = func() (*config.Config, error) {
		return config.Parse([]byte("[defaults]\nreservation_key = \"file\"\nprkeys_file = \""+keys+"\"\n"), "test.toml")
	}
	r.e.dial = func(ctx context.Context) (conn, error) {
		c, err := r.daemon.dial(ctx)
		if err != nil {
			return nil, err
		}
		return prkeysDaemon{c, prkeys.New(keys)}, nil
	}
	r.e.openSG = func(dev string) (sgio.Device, func(), error) {
		n, ok := r.nexus[dev]
		if !ok {
			return nil, nil, fmt.Errorf("open /dev/%s: no such device", dev)
		}
		return n, func() {}, nil
	}
	return r
}

// prkeysDaemon records setprkey/unsetprkey for mpatha in the prkeys file.
type prkeysDaemon struct {
	conn
	f *prkeys.File
}

func (d prkeysDaemon) Do(ctx context.Context, cmd string) (string, error) {
	reply, err := d.conn.Do(ctx, cmd)
	if err != nil || reply != "ok\n" {
		return reply, err
	}
	if k, ok := strings.CutPrefix(cmd, "setprkey map mpatha key "); ok {
		key, err := prkeys.ParseKeyFlags(k)
		if err != nil {
			return "fail\n", nil
		}
		err = d.f.Set(wwidA, key)
		return "ok\n", err
	}
	if cmd == "unsetprkey map mpatha" {
		return "ok\n", d.f.Set(wwidA, prkeys.Key{})
	}
	return reply, nil
}

func (r *prRig) must(t *testing.T, args ...string) string {
	t.Helper()
	if code := r.run(append([]string{"mpathpersist"}, args...)...); code != 0 {
		t.Fatalf("mpathpersist %q: exit %d\nstdout %s\nstderr %s", args, code, r.out, r.errOut)
	}
	return r.out.String()
}

func TestMpathpersistRegisterReserveFence(t *testing.T) {
	r := newPRRig(t)
	if out := r.must(t, "--in", "--read-keys", "/dev/mapper/mpatha"); out != "  PR generation=0x0, \t0 registered reservation key.\n" {
		t.Errorf("read keys, none: %q", out)
	}
	r.must(t, "--out", "--register", "--param-sark=abc", "/dev/mapper/mpatha")
	if r.nexus["sda"].Key() != 0xabc || r.nexus["sdc"].Key() != 0xabc {
		t.Fatalf("key not on every path: sda %#x sdc %#x", r.nexus["sda"].Key(), r.nexus["sdc"].Key())
	}
	if want := []string{"setprkey map mpatha key 0xabc", "setprstatus map mpatha"}; !reflect.DeepEqual(r.daemon.sent, want) {
		t.Errorf("daemon told %q, want %q", r.daemon.sent, want)
	}
	if err := scsipr.Out(r.b, scsipr.RegisterIgnore, 0, scsipr.OutParams{SAKey: 0xb}, 0); err != nil {
		t.Fatal(err)
	}
	r.must(t, "-o", "-R", "-K", "0xabc", "-T", "5", "mpatha")
	if out := r.must(t, "-i", "-k", "/dev/dm-0"); out != "  PR generation=0x3, \t3 registered reservation keys follow:\n    0xabc\n    0xabc\n    0xb\n" {
		t.Errorf("read keys: %q", out)
	}
	if out := r.must(t, "-i", "-r", "mpatha"); out != "  PR generation=0x3, Reservation follows:\n   Key = 0xabc\n  scope = LU_SCOPE, type = Write Exclusive, registrants only\n" {
		t.Errorf("read reservation: %q", out)
	}
	wantFS := `  PR generation=0x3 
   Key = 0xabc
      All target ports bit clear
      Relative port address: 0x1
      << Reservation holder >>
      scope: LU_SCOPE,  type: Write Exclusive, registrants only
   iSCSI name: iqn.a
   Key = 0xabc
      All target ports bit clear
      Relative port address: 0x2
      not reservation holder
   iSCSI name: iqn.a
   Key = 0xb
      All target ports bit clear
      Relative port address: 0x1
      not reservation holder
   iSCSI name: iqn.b
`
	if out := r.must(t, "--in", "--read-full-status", "mpatha"); out != wantFS {
		t.Errorf("read full status:\n%s\nwant\n%s", out, wantFS)
	}
	// fence_mpath's off action: preempt-abort B's key with A's.
	r.must(t, "--out", "--preempt-abort", "--param-rk=abc", "--param-sark=b", "--prout-type=5", "mpatha")
	if r.b.Key() != 0 || r.b.CanWrite() || !r.nexus["sda"].CanWrite() || !r.nexus["sdc"].CanWrite() {
		t.Errorf("after preempt-abort: b key %#x, b writes %v", r.b.Key(), r.b.CanWrite())
	}
	// Preempting a key nobody holds is a conflict: exit 11, mpathpersist's words.
	if code := r.run("mpathpersist", "-o", "-A", "-K", "abc", "-S", "b", "-T", "5", "mpatha"); code != prConflict ||
		r.out.String() != "persistent reserve out: scsi status: Reservation Conflict\nPR out: command failed\n" {
		t.Errorf("preempt of a gone key: exit %d, %q", code, r.out)
	}
	r.must(t, "-o", "-L", "-K", "abc", "-T", "5", "mpatha")
	if out := r.must(t, "-i", "-r", "mpatha"); !strings.Contains(out, "NO reservation held") {
		t.Errorf("after release: %q", out)
	}
	r.must(t, "-o", "-G", "-K", "abc", "-S", "0", "mpatha")
	if r.nexus["sda"].Key() != 0 || r.nexus["sdc"].Key() != 0 {
		t.Error("unregister left a key")
	}
	if want := []string{"unsetprstatus map mpatha", "unsetprkey map mpatha"}; !reflect.DeepEqual(r.daemon.sent, want) {
		t.Errorf("daemon told %q, want %q", r.daemon.sent, want)
	}
}

// A REGISTER that conflicts on one path is undone on the paths that took it.
func TestMpathpersistRegisterRollback(t *testing.T) {
	r := newPRRig(t)
	if err := scsipr.Out(r.nexus["sdc"], scsipr.Register, 0, scsipr.OutParams{SAKey: 0x77}, 0); err != nil {
		t.Fatal(err)
	}
	if code := r.run("mpathpersist", "--out", "--register", "--param-sark=abc", "mpatha"); code != prConflict {
		t.Fatalf("exit %d, want %d: %s", code, prConflict, r.errOut)
	}
	if r.nexus["sda"].Key() != 0 || r.nexus["sdc"].Key() != 0x77 {
		t.Errorf("after rollback: sda %#x (want 0), sdc %#x (want 0x77)", r.nexus["sda"].Key(), r.nexus["sdc"].Key())
	}
	// REGISTER AND IGNORE EXISTING KEY takes over whatever is there.
	r.must(t, "--out", "--register-ignore", "--param-sark=abc", "mpatha")
	if r.nexus["sda"].Key() != 0xabc || r.nexus["sdc"].Key() != 0xabc {
		t.Errorf("register-ignore: sda %#x sdc %#x", r.nexus["sda"].Key(), r.nexus["sdc"].Key())
	}
}

// Paths that are down are skipped; PR IN falls over to the next path.
func TestMpathpersistPathDown(t *testing.T) {
	r := newPRRig(t)
	r.states["sda"] = kerneltopo.Probe{State: api.CheckerDown}
	r.nexus["sda"].Down = true
	r.must(t, "-o", "-G", "-S", "abc", "mpatha")
	if r.nexus["sdc"].Key() != 0xabc || r.nexus["sda"].Key() != 0 {
		t.Fatal("registration not on the usable path only")
	}
	r.must(t, "-o", "-R", "-K", "abc", "-T", "5", "mpatha")
	// sda is up again, holds no key; sdc, the holder, dies: release still
	// drops the reservation, by preempting the map's own key through sda
	// once it is registered again.
	r.nexus["sda"].Down = false
	r.states["sda"] = kerneltopo.Probe{State: api.CheckerUp}
	r.must(t, "-o", "-I", "-S", "abc", "mpatha")
	r.nexus["sdc"].Down = true
	r.states["sdc"] = kerneltopo.Probe{State: api.CheckerDown}
	r.must(t, "-o", "-L", "-K", "abc", "-T", "5", "mpatha")
	r.nexus["sdc"].Down = false
	r.states["sdc"] = kerneltopo.Probe{State: api.CheckerUp}
	if out := r.must(t, "-i", "-r", "mpatha"); !strings.Contains(out, "NO reservation held") {
		t.Errorf("reservation of a dead path not released: %q", out)
	}
	if r.nexus["sda"].Key() != 0xabc {
		t.Error("key lost on the path used for the release")
	}
	// Every path down: PR IN fails with mpathpersist's message.
	r.states["sda"] = kerneltopo.Probe{State: api.CheckerDown}
	r.states["sdc"] = kerneltopo.Probe{State: api.CheckerDown}
	if code := r.run("mpathpersist", "-i", "-k", "mpatha"); code != prDMMPError || !strings.Contains(r.errOut.String(), "Persistent Reserve IN command failed") {
		t.Errorf("no usable path: exit %d, %q", code, r.errOut)
	}
}

// The keys of a PR OUT must be the map's reservation_key, as in multipath-tools.
func TestMpathpersistKeyChecks(t *testing.T) {
	r := newPRRig(t)
	// reservation_key "file" and the daemon down: the key cannot be recorded.
	r.daemon.down = true
	if code := r.run("mpathpersist", "-o", "-G", "-S", "abc", "mpatha"); code != prDMMPError ||
		!strings.Contains(r.errOut.String(), "failed to set prkey for multipathd") || r.nexus["sda"].Key() != 0 {
		t.Errorf("register with the daemon down: exit %d, %q", code, r.errOut)
	}
	r.daemon.down = false
	r.must(t, "-o", "-G", "-S", "abc", "mpatha")
	if code := r.run("mpathpersist", "-o", "-R", "-K", "def", "-T", "5", "mpatha"); code != prSyntaxError ||
		!strings.Contains(r.errOut.String(), "configured reservation key doesn't match: 0xabc") {
		t.Errorf("reserve with another key: exit %d, %q", code, r.errOut)
	}
	// A key written in the configuration.
	r.e.loadConfig = func() (*config.Config, error) {
		return config.Parse([]byte("[defaults]\nreservation_key = \"0x123\"\n"), "test.toml")
	}
	if code := r.run("mpathpersist", "-o", "-P", "-K", "abc", "-S", "b", "-T", "5", "mpatha"); code != prSyntaxError ||
		!strings.Contains(r.errOut.String(), "doesn't match: 0x123") {
		t.Errorf("preempt with a key not configured: exit %d, %q", code, r.errOut)
	}
	r.daemon.sent = nil
	r.must(t, "-o", "-G", "-K", "abc", "-S", "123", "mpatha")
	if r.nexus["sda"].Key() != 0x123 || r.nexus["sdc"].Key() != 0x123 || slices.Contains(r.daemon.sent, "setprkey map mpatha key 0x123") {
		t.Errorf("key change to the configured key: sda %#x, daemon told %q", r.nexus["sda"].Key(), r.daemon.sent)
	}
	// No reservation_key at all: only commands with a zero key pass.
	r.e.loadConfig = func() (*config.Config, error) { return config.Builtin(), nil }
	if code := r.run("mpathpersist", "-o", "-A", "-K", "123", "-S", "b", "-T", "5", "mpatha"); code != prSyntaxError {
		t.Errorf("preempt-abort without reservation_key: exit %d", code)
	}
}

func TestMpathpersistSyntax(t *testing.T) {
	r := newPRRig(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, prSyntaxError, "No parameter used"},
		{[]string{"-i", "-k", "-r", "mpatha"}, prSyntaxError, "Too many service actions"},
		{[]string{"-i", "-o", "-k", "mpatha"}, prSyntaxError, "choose either"},
		{[]string{"-o", "mpatha"}, prSyntaxError, "only one appropriate"},
		{[]string{"-i", "-G", "mpatha"}, prSyntaxError, "'--out' option must be given"},
		{[]string{"-i", "-k"}, prSyntaxError, "No device name given"},
		{[]string{"-o", "-G", "-S", "xyz", "mpatha"}, prSyntaxError, "bad argument to '--param-sark'"},
		{[]string{"--bogus"}, prSyntaxError, "unrecognized option"},
		{[]string{"-i", "-k", "mpatha", "extra"}, prSyntaxError, "Unexpected extra argument: extra"},
		{[]string{"-i", "-k", "/dev/sda"}, prDMMPError, "not a multipath device"},
		{[]string{"-h"}, prSuccess, "Usage: mpathpersist"},
	} {
		code := r.run(append([]string{"mpathpersist"}, tc.args...)...)
		if code != tc.code || !strings.Contains(r.errOut.String(), tc.msg) {
			t.Errorf("mpathpersist %q: exit %d, want %d; stderr %q", tc.args, code, tc.code, r.errOut)
		}
	}
	r.e.euid = 1000
	if code := r.run("mpathpersist", "-i", "-k", "mpatha"); code != 1 || !strings.Contains(r.errOut.String(), "need to be root") {
		t.Errorf("non-root: exit %d %q", code, r.errOut)
	}
}

func TestMpathpersistPrinters(t *testing.T) {
	var b bytes.Buffer
	dumpHexTo(&b, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, true)
	want := "        00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f                    \n        10 11\n"
	if b.String() != want {
		t.Errorf("hex dump:\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	printCapabilities(&b, []byte{0, 8, 0x1d, 0x91, 0xea, 0x01, 0, 0})
	wantCap := `Report capabilities response:
  Compatible Reservation Handling(CRH): 1
  Specify Initiator Ports Capable(SIP_C): 1
  All Target Ports Capable(ATP_C): 1
  Persist Through Power Loss Capable(PTPL_C): 1
  Type Mask Valid(TMV): 1
  Allow Commands: 1
  Persist Through Power Loss Active(PTPL_A): 1
    Support indicated in Type mask:
      Write Exclusive, all registrants: 0
      Exclusive Access, registrants only: 0
      Write Exclusive, registrants only: 0
      Exclusive Access: 0
      Write Exclusive: 0
      Exclusive Access, all registrants: 0
`
	if b.String() != wantCap {
		t.Errorf("capabilities:\n%s\nwant\n%s", b.String(), wantCap)
	}
	b.Reset()
	tid, _ := scsipr.TransportID{Protocol: scsipr.ProtocolISCSI, Format: scsipr.ISCSIPortID, Name: "iqn.x,i,0x23d000000001"}.Marshal()
	fc, _ := scsipr.TransportID{Protocol: scsipr.ProtocolFC, Port: []byte{0x21, 0, 0, 0x24, 0xff, 0x45, 0x67, 0x89}}.Marshal()
	printTransportID(&b, tid)
	printTransportID(&b, fc)
	if want := "   iSCSI world wide unique port id: iqn.x,i,0x23d000000001\n   FCP-2         21 00 00 24 ff 45 67 89\n"; b.String() != want {
		t.Errorf("transport ids: %q, want %q", b.String(), want)
	}
}
