package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestGetopt(t *testing.T) {
	for _, tc := range []struct {
		spec     string
		args     []string
		opts     string // "name=arg" or "name" per option, space-separated
		operands []string
		err      string
	}{
		{multipathSpec, []string{"-ll"}, "l=l", nil, ""},
		{multipathSpec, []string{"-l"}, "l", nil, ""},
		{multipathSpec, []string{"-l", "mpatha"}, "l", []string{"mpatha"}, ""},
		{multipathSpec, []string{"/dev/sdb", "-ll", "-v3"}, "l=l v=3", []string{"/dev/sdb"}, ""},
		{multipathSpec, []string{"-v", "0", "-F"}, "v=0 F", nil, ""},
		{multipathSpec, []string{"-fv2", "mpatha"}, "f v=2", []string{"mpatha"}, ""},
		{multipathSpec, []string{"-R", "3", "-f", "m"}, "R=3 f", []string{"m"}, ""},
		{multipathSpec, []string{"--", "-ll"}, "", []string{"-ll"}, ""},
		{multipathSpec, []string{"-"}, "", []string{"-"}, ""},
		{multipathSpec, []string{"-x"}, "", nil, "invalid option -- 'x'"},
		{multipathSpec, []string{"-v"}, "", nil, "option requires an argument -- 'v'"},
		{multipathSpec, []string{"--ll"}, "", nil, "invalid option -- '-'"},
		{multipathdSpec, []string{"-kshow maps"}, "k=show maps", nil, ""},
		{multipathdSpec, []string{"-k", "show", "maps"}, "k", []string{"show", "maps"}, ""},
		{multipathdSpec, []string{"-d", "-s", "-v3"}, "d s v=3", nil, ""},
		{multipathdSpec, []string{"show", "paths", "format", "%d %w"}, "", []string{"show", "paths", "format", "%d %w"}, ""},
	} {
		opts, operands, err := getopt(tc.args, tc.spec)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("getopt(%q): err %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("getopt(%q): %v", tc.args, err)
			continue
		}
		if got := optString(opts); got != tc.opts || !reflect.DeepEqual(operands, tc.operands) {
			t.Errorf("getopt(%q) = %q %q, want %q %q", tc.args, got, operands, tc.opts, tc.operands)
		}
	}
}

func optString(opts []option) string {
	var w []string
	for _, o := range opts {
		if o.hasArg {
			w = append(w, string(o.name)+"="+o.arg)
		} else {
			w = append(w, string(o.name))
		}
	}
	return strings.Join(w, " ")
}

// FuzzGetopt: no input panics, and the options and operands found, written
// back in their simplest form (every argument attached, operands after "--"),
// parse to the same result.
func FuzzGetopt(f *testing.F) {
	for _, seed := range []string{"-ll\x00/dev/sdb", "-v\x003\x00-F", "-kshow maps", "-fv2\x00m", "--\x00-x", "-\x00-l", "-R"} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, joined string, mp bool) {
		spec := multipathdSpec
		if mp {
			spec = multipathSpec
		}
		args := strings.Split(joined, "\x00")
		opts, operands, err := getopt(args, spec)
		if err != nil {
			return
		}
		var again []string
		for _, o := range opts {
			if o.hasArg && o.arg == "" { // only a required argument can be empty: the next word
				again = append(again, "-"+string(o.name), "")
				continue
			}
			again = append(again, "-"+string(o.name)+o.arg)
		}
		again = append(again, "--")
		again = append(again, operands...)
		opts2, operands2, err := getopt(again, spec)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", again, err)
		}
		if fmt.Sprint(opts) != fmt.Sprint(opts2) || !reflect.DeepEqual(operands, operands2) && len(operands)+len(operands2) > 0 {
			t.Fatalf("getopt(%q) = %v %q; re-parse of %q = %v %q", args, opts, operands, again, opts2, operands2)
		}
	})
}

func TestJoinCommand(t *testing.T) {
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"show", "status"}, "show status \n"},
		{[]string{"show", "paths", "raw", "format", "%d %t %T"}, "show paths raw format \"%d %t %T\" \n"},
		{[]string{"resize", "map", "dm-3"}, "resize map dm-3 \n"},
	} {
		if got := joinCommand(tc.words); got != tc.want {
			t.Errorf("joinCommand(%q) = %q, want %q", tc.words, got, tc.want)
		}
	}
}
