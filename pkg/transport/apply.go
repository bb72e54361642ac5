package transport

import (
	"fmt"
	"strconv"

	"github.com/mpathd/mpathd/pkg/sysfs"
)

// Attrs reads and writes tunable class attributes; sysfs.FS implements it.
type Attrs interface {
	ReadTunable(class, name, attr string) (string, error)
	SetTunable(class, name, attr, val string) error
}

var _ Attrs = sysfs.FS{}

// Outcome is what became of one Step.
type Outcome struct {
	Step
	Before string // the kernel's value before ("" when it could not be read)
	After  string // read back after the write
	// Changed: the value was written (it differed from Before).
	Changed bool
	// Err: the kernel refused the value, or kept another one.
	Err error
}

func (o Outcome) String() string {
	switch {
	case o.Err != nil:
		return fmt.Sprintf("%s %s %s: %v", o.Object, o.Attr, o.Value, o.Err)
	case o.Changed:
		return fmt.Sprintf("%s %s %s (was %s)", o.Object, o.Attr, o.After, o.Before)
	}
	return fmt.Sprintf("%s %s %s", o.Object, o.Attr, o.After)
}

// Apply carries out a plan. added says the path is being added to a map
// (or its map created), so OnAdd steps run too. Every step is attempted;
// one that fails does not stop the others.
func Apply(a Attrs, pl Plan, added bool) []Outcome {
	var out []Outcome
	for _, st := range pl.Steps {
		if st.OnAdd && !added {
			continue
		}
		out = append(out, applyStep(a, st))
	}
	return out
}

func applyStep(a Attrs, st Step) Outcome {
	o := Outcome{Step: st}
	o.Before, _ = a.ReadTunable(st.Class, st.Object, st.Attr)
	want := st.Value
	if st.AtLeast {
		cur, err1 := strconv.ParseUint(o.Before, 10, 64)
		min, err2 := strconv.ParseUint(st.Value, 10, 64)
		if err1 == nil && err2 == nil && cur >= min {
			o.After = o.Before
			return o
		}
	}
	if o.Before == want {
		o.After = o.Before
		return o
	}
	if st.Class == sysfs.ClassFCRemotePort && st.Attr == "fast_io_fail_tmo" {
		// The FC transport refuses a fast_io_fail_tmo not below the
		// rport's dev_loss_tmo: raise dev_loss first when it is in the way
		// (the dev_loss step that follows sets its final value).
		if n, err := strconv.ParseUint(want, 10, 64); err == nil {
			cur, err := a.ReadTunable(st.Class, st.Object, "dev_loss_tmo")
			if d, perr := strconv.ParseUint(cur, 10, 64); err == nil && perr == nil && n >= d {
				if err := a.SetTunable(st.Class, st.Object, "dev_loss_tmo", strconv.FormatUint(n+1, 10)); err != nil {
					o.Err = fmt.Errorf("raise dev_loss_tmo above it first: %w", err)
					return o
				}
			}
		}
	}
	if err := a.SetTunable(st.Class, st.Object, st.Attr, want); err != nil {
		o.Err = err
		o.After, _ = a.ReadTunable(st.Class, st.Object, st.Attr)
		return o
	}
	o.Changed = true
	after, err := a.ReadTunable(st.Class, st.Object, st.Attr)
	o.After = after
	switch {
	case err != nil:
		o.Err = fmt.Errorf("read back: %w", err)
	case after != want:
		o.Err = fmt.Errorf("the kernel kept %q", after)
	}
	return o
}
