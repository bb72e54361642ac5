// Package mpconf reads multipath-tools' configuration syntax (multipath.conf
// and its conf.d drop-ins) into mpathd's configuration model, and writes the
// model back in that syntax.
//
// The grammar is multipath-tools': one statement per line, `keyword value`
// or `keyword "quoted value"`; inside quotes `""` is a literal quote and `#`
// and `!` are ordinary characters; outside quotes `#` and `!` start a
// comment; a section is `name {` … `}`. A file whose structure cannot be
// read (an unterminated quote, a missing or stray brace) is an error naming
// file and line. Everything multipath-tools would accept but mpathd does
// not implement, and everything multipath-tools itself would log and ignore
// (unknown keywords, invalid values), is kept as a warning in
// config.Config.Warnings, never silently dropped and never fatal.
package mpconf

import (
	"fmt"
	"strings"

	"github.com/mpathd/mpathd/pkg/config"
)

// Node is one statement of a file: a keyword with its value, or a section
// with its statements.
type Node struct {
	Key      string
	Value    string // the value as written, without quotes; "" for sections
	HasValue bool   // a value was given (it may be the empty string "")
	Extra    string // text after the value, which multipath-tools ignores
	Section  bool
	Children []*Node
	File     string
	Line     int
}

func (n *Node) pos() string { return fmt.Sprintf("%s:%d", n.File, n.Line) }

type token struct {
	text   string
	quoted bool
}

// tokenize splits one line as multipath-tools does. Outside quotes,
// whitespace and non-ASCII bytes separate tokens, `{` and `}` are tokens of
// their own, and `#` or `!` end the line. Inside quotes everything is kept
// and `""` stands for one quote.
func tokenize(line string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == '#' || c == '!':
			return toks, nil
		case c == ' ' || (c >= '\t' && c <= '\r') || c >= 0x80:
			i++
		case c == '{' || c == '}':
			toks = append(toks, token{text: string(c)})
			i++
		case c == '"':
			var b strings.Builder
			i++
			for {
				if i >= len(line) {
					return nil, fmt.Errorf("missing closing quote")
				}
				if line[i] == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(line[i])
				i++
			}
			toks = append(toks, token{text: b.String(), quoted: true})
		default:
			j := i
			for j < len(line) {
				d := line[j]
				if d == ' ' || (d >= '\t' && d <= '\r') || d >= 0x80 || d == '#' || d == '!' || d == '{' || d == '}' || d == '"' {
					break
				}
				j++
			}
			toks = append(toks, token{text: line[i:j]})
			i = j
		}
	}
	return toks, nil
}

// sections are the keywords that open a section, by the section they may
// appear in ("" is the top level).
var sections = map[string][]string{
	"":                     {"defaults", "blacklist", "blacklist_exceptions", "devices", "multipaths", "overrides"},
	"devices":              {"device"},
	"blacklist":            {"device"},
	"blacklist_exceptions": {"device"},
	"multipaths":           {"multipath"},
	"overrides":            {"protocol"},
}

func isSection(parent, key string) bool {
	for _, s := range sections[parent] {
		if s == key {
			return true
		}
	}
	return false
}

// Parse reads one file's statements. name is used in messages. The error,
// if any, is a *config.Error naming the line. Unknown sections are kept
// (the builder warns about them), so that nothing is dropped silently.
func Parse(data []byte, name string) ([]*Node, error) {
	type frame struct {
		node *Node
		key  string // the section keyword, for isSection; "" at top level
	}
	root := &Node{Section: true}
	stack := []frame{{node: root}}
	lines := strings.Split(string(data), "\n")
	for n, line := range lines {
		lineNr := n + 1
		fail := func(format string, args ...any) error {
			return &config.Error{File: name, Line: lineNr, Msg: fmt.Sprintf(format, args...)}
		}
		toks, err := tokenize(strings.TrimSuffix(line, "\r"))
		if err != nil {
			return nil, fail("%v", err)
		}
		if len(toks) == 0 {
			continue
		}
		top := stack[len(stack)-1]
		first := toks[0]
		if !first.quoted && first.text == "}" {
			if len(stack) == 1 {
				return nil, fail("'}' without an open section")
			}
			if len(toks) > 1 {
				return nil, fail("text after '}' (a closing brace must be alone on its line)")
			}
			stack = stack[:len(stack)-1]
			continue
		}
		if first.quoted || first.text == "{" {
			return nil, fail("expected a keyword, found %q", first.text)
		}
		node := &Node{Key: first.text, File: name, Line: lineNr}
		rest := toks[1:]
		opens := len(rest) > 0 && !rest[len(rest)-1].quoted && rest[len(rest)-1].text == "{"
		for i, t := range rest {
			if !t.quoted && (t.text == "{" || t.text == "}") && !(opens && i == len(rest)-1) {
				return nil, fail("unexpected %q (each keyword and each brace goes on a line of its own)", t.text)
			}
		}
		switch {
		case opens && len(rest) > 1:
			return nil, fail("text between %q and '{'", first.text)
		case opens:
			node.Section = true
		case isSection(top.key, first.text):
			return nil, fail("%s needs '{' at the end of its line", first.text)
		default:
			if len(rest) > 0 {
				node.Value, node.HasValue = rest[0].text, true
				if len(rest) > 1 {
					var b []string
					for _, t := range rest[1:] {
						b = append(b, t.text)
					}
					node.Extra = strings.Join(b, " ")
				}
			}
		}
		top.node.Children = append(top.node.Children, node)
		if node.Section {
			stack = append(stack, frame{node: node, key: first.text})
		}
	}
	if len(stack) > 1 {
		open := stack[len(stack)-1].node
		return nil, &config.Error{File: name, Line: open.Line, Msg: fmt.Sprintf("section %s is not closed with '}'", open.Key)}
	}
	return root.Children, nil
}
