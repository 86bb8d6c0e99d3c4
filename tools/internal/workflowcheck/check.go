package workflowcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
)

// Report is the result of checking a repository's .github directory.
type Report struct {
	Workflows []string // workflow files checked, relative to the root
	Actions   []string // action metadata files checked, relative to the root
	Findings  []Finding
}

// Check runs actionlint on every workflow of the repository at root and
// the pin check on every workflow and local action metadata file.
func Check(root string, opts LintOptions) (Report, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return Report{}, fmt.Errorf("resolve repository root: %w", err)
	}
	workflows, actions, err := Files(root)
	if err != nil {
		return Report{}, err
	}
	var r Report
	for _, w := range workflows {
		r.Workflows = append(r.Workflows, relPath(root, w))
	}
	for _, a := range actions {
		r.Actions = append(r.Actions, relPath(root, a))
	}

	lint, err := Lint(root, workflows, opts)
	if err != nil {
		return Report{}, err
	}
	r.Findings = append(r.Findings, lint...)

	for _, path := range slices.Concat(workflows, actions) {
		rel := relPath(root, path)
		src, err := os.ReadFile(path)
		if err != nil {
			return Report{}, fmt.Errorf("read %s: %w", rel, err)
		}
		pins, err := CheckPins(rel, src)
		if err != nil {
			if slices.Contains(workflows, path) {
				// actionlint already reported the syntax error with its
				// position.
				continue
			}
			r.Findings = append(r.Findings, Finding{
				File: rel, Line: yamlErrorLine(err), Column: 1, Rule: "syntax-check", Message: err.Error(),
			})
			continue
		}
		r.Findings = append(r.Findings, pins...)
	}
	sortFindings(r.Findings)
	return r, nil
}

// yamlLine finds the line number in a YAML parser error ("yaml: line 5: ...").
var yamlLine = regexp.MustCompile(`\bline (\d+):`)

// yamlErrorLine returns the line a YAML error names, or 1.
func yamlErrorLine(err error) int {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil && n > 0 {
			return n
		}
	}
	return 1
}
