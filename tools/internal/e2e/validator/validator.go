// Package validator runs the gitops-validate binary on a working tree the
// way a pre-push check would, and compares its output before and after a
// change: the e2e pushes a broken commit only after checking that the
// validator flags it with a finding the last good commit lacks.
package validator

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Validator is the binary and its arguments; it runs in the root of the
// working tree.
type Validator struct {
	Bin  string
	Args []string
}

// Enabled reports whether a binary was given.
func (v Validator) Enabled() bool { return v.Bin != "" }

// Run runs the validator in dir and returns its combined output and exit
// code; err is set only when it could not run.
func (v Validator) Run(ctx context.Context, dir string) (string, int, error) {
	cmd := exec.CommandContext(ctx, v.Bin, v.Args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode(), nil
	}
	if err != nil {
		return string(out), 0, fmt.Errorf("run validator: %w", err)
	}
	return string(out), 0, nil
}

// NewLines returns the lines of after that are not lines of before.
func NewLines(before, after string) []string {
	seen := map[string]bool{}
	for _, l := range strings.Split(before, "\n") {
		seen[strings.TrimSpace(l)] = true
	}
	var out []string
	for _, l := range strings.Split(after, "\n") {
		if l = strings.TrimSpace(l); l != "" && !seen[l] {
			out = append(out, l)
		}
	}
	return out
}

// Mentions reports whether a line contains one of the words.
func Mentions(lines []string, words ...string) bool {
	for _, l := range lines {
		for _, w := range words {
			if strings.Contains(l, w) {
				return true
			}
		}
	}
	return false
}

// FirstLine returns the first line of out containing substr, else the
// first line.
func FirstLine(out, substr string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if strings.Contains(l, substr) {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[0])
}
