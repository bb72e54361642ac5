// Package checker decides whether a path can carry I/O now (checkers) and how
// good it is (prioritizers), and runs the checks of many paths on a bounded
// pool with per-check deadlines and adaptive intervals (Runner).
//
// SCSI commands go through the sgio.Device seam; the sysfs attributes of the
// path come in through Path.Attr, so the whole package is tested without a
// kernel.
//
// Typical use:
//
//	dev, _ := sgio.Open("/dev/sdb")
//	p := &checker.Path{Name: "sdb", HBTL: "2:0:0:0", Attr: checker.SysfsAttr("/sys", "sdb"), SG: dev, Timeout: 30 * time.Second}
//	c, _ := checker.New("tur")
//	r := checker.NewRunner(checker.RunnerConfig{OnResult: func(id string, res checker.Result) { … }})
//	r.Add("sdb", checker.Bind(c, p), p.Timeout)
//	go r.Run(ctx)
//	prio, err := checker.DetectPrioritizer(ctx, p).Prio(ctx, p)
package checker

import "fmt"

// State is a path state, shared by all checkers. Its String form is what the
// daemon's API shows.
type State uint8

// Path states. The zero value is Unchecked.
const (
	// Unchecked: no check has completed yet, or the checker is disabled.
	Unchecked State = iota
	// Wild: the checker cannot work on this device (no SG_IO, no fd).
	Wild
	// Up: the path carries I/O.
	Up
	// Down: the path cannot carry I/O.
	Down
	// Ghost: a standby path; it answers commands but needs activation.
	Ghost
	// Pending: a check is still in flight, or the device reports a
	// transition (ALUA transitioning, becoming ready); check again soon.
	Pending
	// Timeout: the check did not finish by its deadline.
	Timeout
	// Disconnected: the LUN is not mapped on this port (05/25/00). The
	// path is unusable, like Down, and may be purged.
	Disconnected
)

var stateNames = [...]string{
	Unchecked:    "unchecked",
	Wild:         "wild",
	Up:           "up",
	Down:         "down",
	Ghost:        "ghost",
	Pending:      "pending",
	Timeout:      "timeout",
	Disconnected: "disconnected",
}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// MarshalText makes State encode as its name in JSON.
func (s State) MarshalText() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("checker: invalid state %d", uint8(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText parses a state name.
func (s *State) UnmarshalText(b []byte) error {
	p, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// ParseState parses the String form of a state.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if n == name {
			return State(i), nil
		}
	}
	return Unchecked, fmt.Errorf("checker: unknown path state %q", name)
}

// Usable reports whether dm may send I/O to a path in this state (up or
// ghost; ghost paths are grouped at low priority and activated by the
// hardware handler).
func (s State) Usable() bool { return s == Up || s == Ghost }

// Result is the outcome of one check.
type Result struct {
	State  State
	Reason string // for humans: what was seen, e.g. "TEST UNIT READY: NOT READY, asc/ascq 04/0b (...)"
	// Transition marks a Pending the device itself reports (ALUA
	// transitioning 04/0A, becoming ready 04/01), as opposed to a check in
	// flight or a blocked device. The Runner turns one that lasts longer
	// than RunnerConfig.TransitionLimit into Down.
	Transition bool
}

func (r Result) String() string {
	if r.Reason == "" {
		return r.State.String()
	}
	return r.State.String() + ": " + r.Reason
}

func result(s State, format string, args ...any) Result {
	return Result{State: s, Reason: fmt.Sprintf(format, args...)}
}
