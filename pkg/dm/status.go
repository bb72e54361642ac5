package dm

import (
	"fmt"
	"strconv"
	"strings"
)

// Status is the parsed status line of a multipath target (KI §2.6).
type Status struct {
	// QueueIO is true while the target holds I/O itself (pg_init pending,
	// or right after a load until the first I/O). It is not the
	// queue_if_no_path setting; read that from the table.
	QueueIO     bool
	PGInitCount int
	// CurrentPG is the 1-based active group; when none is active (before
	// the first I/O, or with every path failed) the kernel prints the next
	// group, or 1; 0 means no groups.
	CurrentPG int
	Groups    []GroupStatus
}

// Group states.
const (
	GroupActive   = 'A' // the current group
	GroupEnabled  = 'E' // usable, not current
	GroupDisabled = 'D' // bypassed (disable_group, or pg_init said busy)
)

// GroupStatus is one priority group in the status line.
type GroupStatus struct {
	State    byte     // GroupActive, GroupEnabled or GroupDisabled
	Selector []string // selector group status words (hst: weight, threshold)
	Paths    []PathStatus
}

// PathStatus is one path in the status line.
type PathStatus struct {
	Dev       string // MAJ:MIN
	Failed    bool   // 'F'; false = 'A'
	FailCount int    // failures since the table was loaded
	// Selector holds the selector's per-path status words; see PathLoad.
	Selector []string
}

// ParseStatus parses a multipath status params string (without
// "<start> <length> multipath").
func ParseStatus(s string) (Status, error) {
	st, err := parseStatus(s)
	if err != nil {
		return Status{}, fmt.Errorf("dm: parse multipath status %q: %w", s, err)
	}
	return st, nil
}

// wordScanner walks a table or status line word by word without splitting
// it first, so that a parse costs only the result's allocations.
type wordScanner struct {
	s string
}

func (sc *wordScanner) word(what string) (string, error) {
	s := strings.TrimLeft(sc.s, " \t\n")
	if s == "" {
		return "", fmt.Errorf("missing %s", what)
	}
	end := strings.IndexAny(s, " \t\n")
	if end < 0 {
		end = len(s)
	}
	sc.s = s[end:]
	return s[:end], nil
}

func (sc *wordScanner) count(what string, limit int) (int, error) {
	w, err := sc.word(what)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(w)
	if err != nil || n < 0 || n > limit {
		return 0, fmt.Errorf("%s %q is not a number in 0–%d", what, w, limit)
	}
	return n, nil
}

func (sc *wordScanner) words(n int, what string) ([]string, error) {
	if n == 0 {
		return nil, nil
	}
	ws := make([]string, n)
	for i := range ws {
		w, err := sc.word(what)
		if err != nil {
			return nil, fmt.Errorf("missing %s: want %d words, have %d", what, n, i)
		}
		ws[i] = w
	}
	return ws, nil
}

func parseStatus(s string) (Status, error) {
	var st Status
	sc := wordScanner{s: s}
	nf, err := sc.count("feature status count", 1024)
	if err != nil {
		return st, err
	}
	for i := range nf {
		w, err := sc.word("feature status")
		if err != nil {
			return st, err
		}
		n, err := strconv.Atoi(w)
		if i < 2 && (err != nil || n < 0) {
			return st, fmt.Errorf("feature status word %d %q is not a count", i+1, w)
		}
		switch i {
		case 0:
			st.QueueIO = n != 0
		case 1:
			st.PGInitCount = n
		}
	}
	nh, err := sc.count("hardware handler status count", 1024)
	if err != nil {
		return st, err
	}
	if _, err := sc.words(nh, "hardware handler status"); err != nil {
		return st, err
	}
	ng, err := sc.count("priority group count", 1024)
	if err != nil {
		return st, err
	}
	if st.CurrentPG, err = sc.count("current priority group", 1024); err != nil {
		return st, err
	}
	if ng > 0 {
		st.Groups = make([]GroupStatus, ng)
	}
	for i := range st.Groups {
		g := &st.Groups[i]
		w, err := sc.word("group state")
		if err != nil {
			return st, err
		}
		if len(w) != 1 || (w[0] != GroupActive && w[0] != GroupEnabled && w[0] != GroupDisabled) {
			return st, fmt.Errorf("group %d state %q is not A, E or D", i+1, w)
		}
		g.State = w[0]
		n, err := sc.count("selector status count", 1024)
		if err != nil {
			return st, err
		}
		if g.Selector, err = sc.words(n, "selector status"); err != nil {
			return st, err
		}
		np, err := sc.count("path count", 1024)
		if err != nil {
			return st, err
		}
		npa, err := sc.count("per-path status count", 1024)
		if err != nil {
			return st, err
		}
		if np > 0 {
			g.Paths = make([]PathStatus, np)
		}
		for j := range g.Paths {
			p := &g.Paths[j]
			if p.Dev, err = sc.word("path device"); err != nil {
				return st, err
			}
			w, err := sc.word("path state")
			if err != nil {
				return st, err
			}
			switch w {
			case "A":
			case "F":
				p.Failed = true
			default:
				return st, fmt.Errorf("path %s state %q is not A or F", p.Dev, w)
			}
			if p.FailCount, err = sc.count("fail count", 1<<31-1); err != nil {
				return st, err
			}
			if p.Selector, err = sc.words(npa, "per-path selector status"); err != nil {
				return st, err
			}
		}
	}
	if rest := strings.TrimSpace(sc.s); rest != "" {
		return st, fmt.Errorf("trailing words %q", rest)
	}
	return st, nil
}

// AppendText renders the status in the kernel's format (without the
// trailing space), so parsed lines can be compared and round-tripped.
func (st *Status) AppendText(b []byte) ([]byte, error) {
	b = append(b, "2 "...)
	if st.QueueIO {
		b = append(b, '1')
	} else {
		b = append(b, '0')
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(st.PGInitCount), 10)
	b = append(b, " 0 "...)
	b = strconv.AppendInt(b, int64(len(st.Groups)), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(st.CurrentPG), 10)
	for _, g := range st.Groups {
		b = append(b, ' ', g.State, ' ')
		b = strconv.AppendInt(b, int64(len(g.Selector)), 10)
		b = appendWords(b, g.Selector)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(g.Paths)), 10)
		b = append(b, ' ')
		n := 0
		if len(g.Paths) > 0 {
			n = len(g.Paths[0].Selector)
		}
		b = strconv.AppendInt(b, int64(n), 10)
		for _, p := range g.Paths {
			b = append(b, ' ')
			b = append(b, p.Dev...)
			if p.Failed {
				b = append(b, " F "...)
			} else {
				b = append(b, " A "...)
			}
			b = strconv.AppendInt(b, int64(p.FailCount), 10)
			b = appendWords(b, p.Selector)
		}
	}
	return b, nil
}

// String renders the status line as the kernel prints it.
func (st *Status) String() string {
	b, _ := st.AppendText(nil)
	return string(b)
}

// Path returns the status of dev and its 1-based group number.
func (st *Status) Path(dev string) (PathStatus, int, bool) {
	for i, g := range st.Groups {
		for _, p := range g.Paths {
			if p.Dev == dev {
				return p, i + 1, true
			}
		}
	}
	return PathStatus{}, 0, false
}

// ActiveGroup returns the 1-based number of the group in state A, or 0
// when none is active.
func (st *Status) ActiveGroup() int {
	for i, g := range st.Groups {
		if g.State == GroupActive {
			return i + 1
		}
	}
	return 0
}

// PathLoad is a path's load as its selector reports it.
type PathLoad struct {
	// InFlight is in-flight I/Os (queue-length), bytes (service-time) or
	// outstanding I/Os (historical-service-time).
	InFlight uint64
	// RelativeThroughput is service-time's per-path weight (0–100).
	RelativeThroughput uint32
	// ServiceTime is historical-service-time's estimate (ns, 10-bit fixed
	// point).
	ServiceTime uint64
}

// ParsePathLoad interprets the per-path selector status words of a path in
// a group using selector. round-robin reports nothing; io-affinity reports
// only a selector-wide miss counter, which is not a load.
func ParsePathLoad(selector string, words []string) (PathLoad, error) {
	var l PathLoad
	var n int
	switch selector {
	case "round-robin":
		n = 0
	case "queue-length", "io-affinity":
		n = 1
	case "service-time":
		n = 2
	case "historical-service-time":
		n = 3
	default:
		return l, fmt.Errorf("dm: path status of unknown selector %q", selector)
	}
	if len(words) != n {
		return l, fmt.Errorf("dm: %s path status %q: want %d words", selector, words, n)
	}
	num := func(i int) (uint64, error) {
		v, err := strconv.ParseUint(words[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("dm: %s path status %q: word %d is not a number", selector, words, i+1)
		}
		return v, nil
	}
	var err error
	switch selector {
	case "queue-length":
		l.InFlight, err = num(0)
	case "service-time":
		if l.InFlight, err = num(0); err == nil {
			var rt uint64
			rt, err = num(1)
			l.RelativeThroughput = uint32(min(rt, 1<<32-1))
		}
	case "historical-service-time":
		if l.ServiceTime, err = num(0); err == nil {
			l.InFlight, err = num(1)
		}
	}
	return l, err
}
