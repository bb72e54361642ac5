package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestVMBed proves the bed itself: a 2-host x 4-LUN SAN gives 8 sd paths with the WWIDs and ALUA
// states scsi_debug promises, device-mapper is there, and dmsetup works as an oracle.
func TestVMBed(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN: SAN{Hosts: 2, LUNs: 4},
		Script: `
emit paths "$(san_paths | wc -l)"
for h in /sys/class/scsi_host/host*; do
	[ "$(cat $h/proc_name)" = scsi_debug ] && emit host "${h##*/host}"
done
san_paths | while read -r dev hctl; do
	emit path "$hctl $(cat /sys/block/$dev/device/wwid) $(cat /sys/block/$dev/device/access_state)"
done
emit control "$(ls -l /dev/mapper/control | awk '{print $1, $5, $6}')"
emit misc "$(grep device-mapper /proc/misc)"
emit targets "$(dmsetup targets | awk '{print $1}' | sort | tr '\n' ' ')"
`,
	})
	if got := res.Get("paths"); got != "8" {
		t.Errorf("paths = %q, want 8", got)
	}
	hosts := res.All("host")
	if len(hosts) != 2 {
		t.Fatalf("scsi_debug hosts = %v, want 2", hosts)
	}
	// scsi_debug's implicit ALUA: host_no%3 == 0 optimized, 1 non-optimized, 2 standby.
	alua := []string{"active/optimized", "active/non-optimized", "standby"}
	want := map[string]bool{}
	for _, h := range hosts {
		var hn int
		fmt.Sscan(h, &hn)
		for lun := 0; lun < 4; lun++ {
			want[fmt.Sprintf("%d:0:0:%d naa.33333330000007d%d %s", hn, lun, lun, alua[hn%3])] = true
		}
	}
	got := res.All("path")
	sort.Strings(got)
	for _, p := range got {
		if !want[p] {
			t.Errorf("unexpected path %q", p)
		}
		delete(want, p)
	}
	for p := range want {
		t.Errorf("missing path %q", p)
	}
	if c := res.Get("control"); !strings.HasPrefix(c, "c") || !strings.Contains(c, "10, 236") {
		t.Errorf("/dev/mapper/control = %q, want a char device 10:236", c)
	}
	if m := res.Get("misc"); !strings.Contains(m, "236") {
		t.Errorf("/proc/misc device-mapper line = %q", m)
	}
	for _, target := range []string{"multipath"} {
		if !strings.Contains(res.Get("targets"), target) {
			t.Errorf("dmsetup targets = %q, want %s", res.Get("targets"), target)
		}
	}
	if !strings.Contains(res.Console, "naa.33333330000007d0") {
		t.Errorf("the console log does not show the scsi_debug devices")
	}
}

// TestVMBedDetectsFailure keeps the harness honest: a scenario whose expectation is wrong must fail,
// with the guest's own message and the console log in the error.
func TestVMBedDetectsFailure(t *testing.T) {
	t.Parallel()
	if !Enabled() {
		t.Skip("VM test bed not enabled (go test -vm, or MPATHD_VM=1)")
	}
	res, err := Boot(context.Background(), Scenario{
		SAN: SAN{Hosts: 1, LUNs: 1},
		Script: `
check_eq wwid "$(cat /sys/block/sda/device/wwid)" naa.wrong-on-purpose
emit after "the script goes on after a failed check"
`,
	})
	if !errors.Is(err, ErrGuest) {
		t.Fatalf("Boot error = %v, want ErrGuest", err)
	}
	if !strings.Contains(err.Error(), "wwid: got 'naa.33333330000007d0', want 'naa.wrong-on-purpose'") {
		t.Errorf("error does not carry the guest's message: %v", err)
	}
	if res.Get("after") == "" || res.Get("dmesg") == "" {
		t.Errorf("records after the failure are missing: %+v", res.Records)
	}
	if !strings.Contains(res.Console, "FAIL: wwid") {
		t.Errorf("console does not show the failure")
	}
}

// TestVMGuestTest runs a guest-side Go test binary in the guest and sees its verdict come back.
func TestVMGuestTest(t *testing.T) {
	t.Parallel()
	res := Run(t, Scenario{
		SAN:        SAN{Hosts: 1, LUNs: 1},
		GuestTests: []string{"./tests/vm/guest"},
		WantPass:   []string{"guest.test TestGuestInside"},
		Script:     `run_gotest guest.test -test.run '^TestGuestInside$'`,
	})
	if got := res.Get("gotest"); got != "guest.test PASS" {
		t.Errorf("gotest = %q", got)
	}
}

// TestVMBedGuestTestsMustRun keeps guest tests from passing vacuously: a run_gotest pattern that
// matches no test, a guest test that skips, and a named test that never ran each fail the scenario.
func TestVMBedGuestTestsMustRun(t *testing.T) {
	t.Parallel()
	if !Enabled() {
		t.Skip("VM test bed not enabled (go test -vm, or MPATHD_VM=1)")
	}
	res, err := Boot(context.Background(), Scenario{
		SAN:        SAN{Hosts: 1, LUNs: 1},
		GuestTests: []string{"./tests/vm/guest"},
		WantPass:   []string{"guest.test TestGuestInside", "guest.test TestGuestNeverWritten"},
		Script: `
run_gotest guest.test -test.run '^TestGuestInsid$'
run_gotest guest.test -test.run '^TestGuestSkips$'
run_gotest guest.test -test.run '^TestGuestInside$'
`,
	})
	if !errors.Is(err, ErrGuest) {
		t.Fatalf("Boot error = %v, want ErrGuest", err)
	}
	for _, want := range []string{
		"guest.test ran no test (-test.run ^TestGuestInsid$)",
		"guest.test: TestGuestSkips skipped",
		"guest test guest.test TestGuestSkips: SKIP",
		"guest test guest.test TestGuestNeverWritten: did not run, want PASS",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "TestGuestInside:") {
		t.Errorf("the passing test is reported as a failure: %v", err)
	}
	if got := res.All("gotest.result"); !slices.Equal(got, []string{"guest.test TestGuestSkips SKIP", "guest.test TestGuestInside PASS"}) {
		t.Errorf("gotest.result = %q", got)
	}
}

func TestCheckGuestTests(t *testing.T) {
	rec := func(kv ...string) *Result {
		r := &Result{}
		for i := 0; i < len(kv); i += 2 {
			r.Records = append(r.Records, Record{kv[i], kv[i+1]})
		}
		return r
	}
	for _, tc := range []struct {
		name string
		res  *Result
		want []string
		err  string // "" for success, else a substring of the error
	}{
		{"all named passed", rec("gotest.result", "dm.test TestA PASS", "gotest.result", "dm.test TestB PASS", "gotest", "/bin/dm.test PASS"),
			[]string{"dm.test TestA", "dm.test TestB"}, ""},
		{"an unnamed extra test may pass", rec("gotest.result", "dm.test TestA PASS", "gotest.result", "dm.test TestC PASS"),
			[]string{"dm.test TestA"}, ""},
		{"named test missing", rec("gotest.result", "dm.test TestA PASS"),
			[]string{"dm.test TestA", "dm.test TestB"}, "dm.test TestB: did not run, want PASS"},
		{"named test skipped", rec("gotest.result", "dm.test TestA SKIP"),
			[]string{"dm.test TestA"}, "dm.test TestA: SKIP, want PASS"},
		{"unnamed test failed", rec("gotest.result", "dm.test TestA PASS", "gotest.result", "dm.test TestZ FAIL"),
			[]string{"dm.test TestA"}, "guest test dm.test TestZ: FAIL"},
		{"binary ran nothing named", rec("gotest", "/bin/sysfs.test PASS"),
			nil, "sysfs.test ran in the guest but the scenario's WantPass names none of its tests"},
		{"named but never run at all", rec(),
			[]string{"dm.test TestA"}, "dm.test TestA: did not run"},
		{"malformed verdict", rec("gotest.result", "dm.test"),
			nil, "malformed guest test verdict"},
		{"no guest tests at all", rec(), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkGuestTests(tc.res, tc.want)
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestParseRecords(t *testing.T) {
	in := "= a one\r\n+ a two\n= b \n= a three\njunk\n+ c orphan\n"
	got := ParseRecords([]byte(in))
	want := []Record{{"a", "one\ntwo"}, {"b", ""}, {"a", "three"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ParseRecords = %q, want %q", got, want)
	}
	r := &Result{Records: got}
	if r.Get("a") != "three" || len(r.All("a")) != 2 || r.Get("zz") != "" {
		t.Errorf("Get/All wrong: %q %q", r.Get("a"), r.All("a"))
	}
}

func TestParseShowDepends(t *testing.T) {
	ko, err := parseShowDepends([]byte("builtin crc32c\ninsmod /lib/modules/x/a.ko \ninsmod /lib/modules/x/b.ko opt=1\n"))
	if err != nil || fmt.Sprint(ko) != "[/lib/modules/x/a.ko /lib/modules/x/b.ko]" {
		t.Fatalf("got %v, %v", ko, err)
	}
	if _, err := parseShowDepends([]byte("insmod /lib/modules/x/a.ko.xz\n")); err == nil {
		t.Errorf("compressed module accepted")
	}
	if _, err := parseShowDepends([]byte("garbage\n")); err == nil {
		t.Errorf("garbage accepted")
	}
}

func TestCpioNewc(t *testing.T) {
	a := newArchive()
	a.addBytes("/bin/x", 0o755, []byte("hello"))
	a.addLink("/bin/y", "x")
	var buf bytes.Buffer
	if err := a.writeTo(&buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if len(b)%4 != 0 {
		t.Errorf("stream length %d not 4-aligned", len(b))
	}
	for _, name := range []string{"bin\x00", "bin/x\x00", "bin/y\x00", "TRAILER!!!\x00", "hello"} {
		if !bytes.Contains(b, []byte(name)) {
			t.Errorf("stream lacks %q", name)
		}
	}
	// Parents come first: "bin" precedes "bin/x".
	if bytes.Index(b, []byte("bin\x00")) > bytes.Index(b, []byte("bin/x\x00")) {
		t.Errorf("directory after its child")
	}
	if !bytes.HasPrefix(b, []byte("070701")) {
		t.Errorf("not a newc header: %q", b[:6])
	}
}
