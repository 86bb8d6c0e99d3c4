package edge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// directive is one statement of a keepalived configuration, with its block
// when it opens one.
type directive struct {
	name  string
	args  []string
	line  int
	block []*directive
}

func (d *directive) child(name string) *directive {
	for _, c := range d.block {
		if c.name == name {
			return c
		}
	}
	return nil
}

// parseKeepalived reads keepalived's configuration syntax: one statement a
// line, blocks in braces, comments from # or ! to the end of the line,
// double-quoted arguments (the script lines).
func parseKeepalived(conf []byte) ([]*directive, error) {
	root := &directive{}
	stack := []*directive{root}
	var stmt []string
	flush := func(line int) *directive {
		if len(stmt) == 0 {
			return nil
		}
		d := &directive{name: stmt[0], args: stmt[1:], line: line}
		top := stack[len(stack)-1]
		top.block = append(top.block, d)
		stmt = nil
		return d
	}
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for n := 1; sc.Scan(); n++ {
		tokens, err := tokenize(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		for _, tok := range tokens {
			switch tok {
			case "{":
				d := flush(n)
				if d == nil {
					// A brace on its own line opens the previous statement's block.
					top := stack[len(stack)-1]
					if len(top.block) == 0 {
						return nil, fmt.Errorf("line %d: block without a statement", n)
					}
					d = top.block[len(top.block)-1]
				}
				stack = append(stack, d)
			case "}":
				flush(n)
				if len(stack) == 1 {
					return nil, fmt.Errorf("line %d: unbalanced }", n)
				}
				stack = stack[:len(stack)-1]
			default:
				stmt = append(stmt, tok)
			}
		}
		flush(n)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(stack) > 1 {
		open := stack[len(stack)-1]
		return nil, fmt.Errorf("line %d: %s block is not closed", open.line, open.name)
	}
	return root.block, nil
}

// tokenize splits one line into words, quoted strings and braces.
func tokenize(line string) ([]string, error) {
	var tokens []string
	for i := 0; i < len(line); {
		switch c := line[i]; {
		case c == '#' || c == '!':
			return tokens, nil
		case c == ' ' || c == '\t':
			i++
		case c == '{' || c == '}':
			tokens = append(tokens, string(c))
			i++
		case c == '"':
			end := strings.IndexByte(line[i+1:], '"')
			if end < 0 {
				return nil, errors.New("unterminated quoted string")
			}
			tokens = append(tokens, line[i+1:i+1+end])
			i += end + 2
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(" \t{}\"", rune(line[j])) {
				j++
			}
			tokens = append(tokens, line[i:j])
			i = j
		}
	}
	return tokens, nil
}

// signalProbe matches a shell check that signals a process (kill -0,
// killall -0, pkill -0) to see whether it is alive.
var signalProbe = regexp.MustCompile(`\b(kill|killall|pkill)\s+-0\b`)

// CheckKeepalived reports the defects of a keepalived configuration that
// keepalived itself accepts but that break failover: checks that run as
// root or signal root's processes as an unprivileged user, checks without a
// timeout, a preemption delay that the initial state makes keepalived
// ignore, and a weighted check that makes the failover wait for that delay. name prefixes every finding (file:line); readScript returns the
// text of a check script from its path on the host.
func CheckKeepalived(name string, conf []byte, readScript func(path string) ([]byte, error)) error {
	top, err := parseKeepalived(conf)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	finding := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...)))
	}

	scriptUser, globalLine := "", 1
	var secure bool
	for _, d := range top {
		if d.name != "global_defs" {
			continue
		}
		globalLine = d.line
		if u := d.child("script_user"); u != nil && len(u.args) > 0 {
			scriptUser = u.args[0]
			globalLine = u.line
		}
		secure = d.child("enable_script_security") != nil
	}
	switch scriptUser {
	case "":
		finding(globalLine, "no script_user in global_defs: keepalived runs the checks as keepalived_script if that user exists, else as root; name an unprivileged user")
	case "root":
		finding(globalLine, "script_user root runs the checks with every privilege; name an unprivileged user")
	}
	if !secure {
		finding(globalLine, "no enable_script_security: keepalived would run a check script that a non-root user can rewrite")
	}

	weights := map[string]string{} // vrrp_script name → its weight
	for _, d := range top {
		if d.name == "vrrp_script" && len(d.args) > 0 {
			weights[d.args[0]] = "0"
			if w := d.child("weight"); w != nil && len(w.args) > 0 {
				weights[d.args[0]] = w.args[0]
			}
		}
	}
	for _, d := range top {
		switch d.name {
		case "vrrp_script":
			errs = append(errs, checkScript(name, d, scriptUser, readScript)...)
		case "vrrp_instance":
			state := d.child("state")
			delay := d.child("preempt_delay")
			if delay != nil && (state == nil || len(state.args) == 0 || state.args[0] != "BACKUP") {
				line, got := d.line, "no state"
				if state != nil {
					line, got = state.line, "state "+strings.Join(state.args, " ")
				}
				finding(line, "vrrp_instance %s has preempt_delay but %s: keepalived honours the delay only when the initial state is BACKUP; start every host as BACKUP and let the priority elect the holder", strings.Join(d.args, " "), got)
			}
			if delay != nil && len(delay.args) > 0 && delay.args[0] != "0" {
				for _, tracked := range trackedScripts(d) {
					if tracked.weight(weights) != "0" {
						finding(tracked.line, "vrrp_instance %s tracks %s with weight %s and has preempt_delay %s: a failing check only lowers the master's priority, and the backup then waits the preemption delay before it takes the VIP; track the check without a weight so that a failure means FAULT", strings.Join(d.args, " "), tracked.script, tracked.weight(weights), delay.args[0])
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// trackedScript is one entry of a vrrp_instance's track_script block.
type trackedScript struct {
	script string
	line   int
	// override is the entry's own "weight N", which replaces the script's.
	override string
}

func (ts trackedScript) weight(scripts map[string]string) string {
	if ts.override != "" {
		return ts.override
	}
	if w, ok := scripts[ts.script]; ok {
		return w
	}
	return "0"
}

func trackedScripts(instance *directive) []trackedScript {
	block := instance.child("track_script")
	if block == nil {
		return nil
	}
	var out []trackedScript
	for _, entry := range block.block {
		ts := trackedScript{script: entry.name, line: entry.line}
		if len(entry.args) >= 2 && entry.args[0] == "weight" {
			ts.override = entry.args[1]
		}
		out = append(out, ts)
	}
	return out
}

func checkScript(name string, d *directive, scriptUser string, readScript func(string) ([]byte, error)) []error {
	var errs []error
	finding := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...)))
	}
	label := strings.Join(d.args, " ")
	if d.child("timeout") == nil {
		finding(d.line, "vrrp_script %s has no timeout: a hung check is never counted as a failure", label)
	}
	s := d.child("script")
	if s == nil || len(s.args) == 0 {
		finding(d.line, "vrrp_script %s has no script", label)
		return errs
	}
	command := strings.Join(s.args, " ")
	if scriptUser == "root" {
		return errs // already a finding; root may signal anything
	}
	if signalProbe.MatchString(command) {
		finding(s.line, "vrrp_script %s signals a process (%q): as %s it cannot signal root's nginx (EPERM); probe nginx's health listener over TCP", label, command, userOrDefault(scriptUser))
	}
	path := strings.Fields(command)[0]
	if !strings.HasPrefix(path, "/") {
		return errs // a command line, checked above; there is no file to read
	}
	text, err := readScript(path)
	if err != nil {
		finding(s.line, "vrrp_script %s: %v", label, err)
		return errs
	}
	for i, l := range strings.Split(string(text), "\n") {
		if code, _, _ := strings.Cut(l, "#"); signalProbe.MatchString(code) {
			finding(s.line, "vrrp_script %s runs %s, whose line %d signals a process (%q): as %s it cannot signal root's nginx (EPERM), so the check always fails and the VIP never moves for nginx; probe nginx's health listener over TCP", label, path, i+1, strings.TrimSpace(l), userOrDefault(scriptUser))
		}
	}
	return errs
}

func userOrDefault(u string) string {
	if u == "" {
		return "the script user"
	}
	return u
}
