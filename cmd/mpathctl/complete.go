package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/control"
)

// filesMarker tells the shell script to complete file names.
const filesMarker = "__files__"

// candidates lists the completions of the last word, given the words before
// it. names supplies map names or path devices from the daemon.
func candidates(words []string, names func(op string) []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	// Drop options and their values; they may sit anywhere.
	var plain []string
	for i := 0; i < len(words)-1; i++ {
		w := words[i]
		if strings.HasPrefix(w, "-") && len(w) > 1 {
			name, _, hasVal := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if spec, ok := flags[name]; ok && spec.value && !hasVal {
				i++
			}
			continue
		}
		plain = append(plain, w)
	}
	cur := words[len(words)-1]
	if strings.HasPrefix(cur, "-") {
		var out []string
		for name := range flags {
			if len(name) > 1 && strings.HasPrefix("--"+name, cur) {
				out = append(out, "--"+name)
			}
		}
		slices.Sort(out)
		return out
	}
	var out []string
	for _, c := range commands {
		if len(c.pattern) <= len(plain) {
			continue
		}
		ok := true
		for i, w := range plain {
			if t := c.pattern[i]; t.param == "" && t.word != w {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		switch t := c.pattern[len(plain)]; t.param {
		case "":
			out = append(out, t.word)
		case "NAME":
			out = append(out, names(api.OpMaps)...)
		case "DEV":
			out = append(out, names(api.OpPaths)...)
		case "TARGET":
			out = append(out, names(api.OpMaps)...)
			out = append(out, names(api.OpPaths)...)
		case "FILE":
			return []string{filesMarker}
		case "SHELL":
			out = append(out, "bash", "zsh")
		}
	}
	var res []string
	for _, o := range out {
		if strings.HasPrefix(o, cur) && !slices.Contains(res, o) {
			res = append(res, o)
		}
	}
	return res
}

// complete is the hidden `__complete WORDS…` command the shell scripts call.
func complete(ctx context.Context, words []string, out io.Writer) int {
	socket := os.Getenv("MPATHD_SOCKET")
	for i, w := range words {
		if w == "--socket" && i+1 < len(words) {
			socket = words[i+1]
		} else if v, ok := strings.CutPrefix(w, "--socket="); ok {
			socket = v
		}
	}
	if socket == "" {
		socket = control.DefaultSocket
	}
	names := func(op string) []string {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		c, err := control.Dial(ctx, socket)
		if err != nil {
			return nil
		}
		defer c.Close()
		var raw json.RawMessage
		if c.Call(ctx, op, api.Args{}, &raw) != nil {
			return nil
		}
		var res []string
		if op == api.OpPaths {
			var ps []api.PathInfo
			json.Unmarshal(raw, &ps)
			for _, p := range ps {
				res = append(res, p.Dev)
			}
			return res
		}
		var t api.Topology
		json.Unmarshal(raw, &t)
		for _, m := range t.Maps {
			res = append(res, m.Name)
		}
		return res
	}
	for _, c := range candidates(words, names) {
		fmt.Fprintln(out, c)
	}
	return 0
}

const bashCompletion = `# bash completion for mpathctl; load with: source <(mpathctl completion bash)
_mpathctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\n' out
    out=$(mpathctl __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
    if [[ $out == __files__ ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$out" -- "$cur"))
    fi
}
complete -F _mpathctl mpathctl
`

const zshCompletion = `#compdef mpathctl
# zsh completion for mpathctl; install with:
#   mpathctl completion zsh > "${fpath[1]}/_mpathctl"
_mpathctl() {
    local -a cands
    cands=("${(@f)$(mpathctl __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    if [[ ${cands[1]} == __files__ ]]; then
        _files
    else
        compadd -a cands
    fi
}
if [[ $funcstack[1] == _mpathctl ]]; then
    _mpathctl "$@"
else
    compdef _mpathctl mpathctl
fi
`

func runCompletion(ctx context.Context, e *env, p map[string]string) error {
	if p["SHELL"] == "zsh" {
		fmt.Fprint(e.out, zshCompletion)
	} else {
		fmt.Fprint(e.out, bashCompletion)
	}
	return nil
}
