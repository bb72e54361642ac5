package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMain lets the tests run this test binary as the real command: with MPATHD_TEST_MAIN=1 it is
// mpathd, main() and its exit code included.
func TestMain(m *testing.M) {
	if os.Getenv("MPATHD_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// mpathd runs the command in a child process and returns its exit code, stdout and stderr.
func mpathd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "MPATHD_TEST_MAIN=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	case errors.Is(err, syscall.ENOEXEC):
		t.Skipf("the test binary cannot run itself here (another architecture under qemu-user without binfmt_misc): %v", err)
	}
	t.Fatalf("mpathd %q: %v", args, err)
	return 0, "", ""
}

// TestCommandExits runs the command's paths that end before it touches the kernel: each exits with
// its documented code (0 ok, 1 error, 2 usage or a configuration it refuses to start on) and says
// why on the right stream. None of them may reach device-mapper: a bad setting is refused before
// any map is touched.
func TestCommandExits(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	garbled := filepath.Join(dir, "garbled.toml")
	for name, text := range map[string]string{
		good:    "[defaults]\npolling_interval = 2\n",
		bad:     "[defaults]\npolling_interval = 2\nno_such_key = 1\n",
		garbled: "[defaults\n",
	} {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing.toml")
	for _, tt := range []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring; "" for empty
		stderr     string // substring; "" for empty
		noDMOutput bool   // nothing about device-mapper: it never got that far
	}{
		{"version", []string{"--version"}, 0, "mpathd ", "", true},
		{"check a good file", []string{"--check", "--config", good}, 0, good + ": valid", "", true},
		{"check a file with an unknown key", []string{"--check", "--config", bad}, 1, "", bad + ":3: defaults.no_such_key: unknown key", true},
		{"check a file that is not TOML", []string{"--check", "--config", garbled}, 1, "", garbled, true},
		{"check a missing file", []string{"--check", "--config", missing}, 1, "", "missing.toml", true},
		{"unknown flag", []string{"--no-such-flag"}, 2, "", "flag provided but not defined: -no-such-flag", true},
		{"flag without its value", []string{"--config"}, 2, "", "flag needs an argument: -config", true},
		{"a bool flag given a word", []string{"--check=maybe"}, 2, "", "invalid boolean value", true},
		{"stray argument", []string{"--config", good, "extra"}, 2, "", `unexpected arguments ["extra"]`, true},
		{"bad configuration refuses to start", []string{"--config", bad}, 2, "", bad + ":3: defaults.no_such_key: unknown key", true},
		{"bad log format", []string{"--config", good, "--log-format", "xml"}, 2, "", "log format must be console or json", true},
		{"bad log level", []string{"--config", good, "--log-level", "loud"}, 2, "", `log level "loud"`, true},
		{"help", []string{"--help"}, 2, "", "-check", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := mpathd(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, c := range []struct{ name, got, want string }{{"stdout", stdout, tt.stdout}, {"stderr", stderr, tt.stderr}} {
				if c.want == "" && c.got != "" {
					t.Errorf("%s = %q, want nothing", c.name, c.got)
				}
				if !strings.Contains(c.got, c.want) {
					t.Errorf("%s = %q, want it to contain %q", c.name, c.got, c.want)
				}
			}
			if tt.noDMOutput && strings.Contains(stdout+stderr, "device-mapper") {
				t.Errorf("reached device-mapper:\n%s%s", stdout, stderr)
			}
		})
	}
}
