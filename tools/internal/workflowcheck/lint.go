package workflowcheck

import (
	"fmt"
	"io"
	"os/exec"
	"path/filepath"

	"github.com/rhysd/actionlint"
)

// LintOptions configures the actionlint run.
type LintOptions struct {
	// Shellcheck is the shellcheck executable that checks run: scripts;
	// empty turns the integration off.
	Shellcheck string
	// Pyflakes is the pyflakes executable that checks Python run: scripts;
	// empty turns the integration off.
	Pyflakes string
}

// DefaultLintOptions turns on the shellcheck and pyflakes integrations
// for the tools found on PATH, and leaves them off otherwise.
func DefaultLintOptions() LintOptions {
	var o LintOptions
	if p, err := exec.LookPath("shellcheck"); err == nil {
		o.Shellcheck = p
	}
	if p, err := exec.LookPath("pyflakes"); err == nil {
		o.Pyflakes = p
	}
	return o
}

// Lint runs actionlint on the given workflow files of the repository at
// root (which may hold .github/actionlint.yaml and local actions) and
// returns its findings with paths relative to root.
func Lint(root string, workflows []string, opts LintOptions) ([]Finding, error) {
	if len(workflows) == 0 {
		return nil, nil
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolve repository root: %w", err)
	}
	paths := make([]string, len(workflows))
	for i, w := range workflows {
		if paths[i], err = filepath.Abs(w); err != nil {
			return nil, fmt.Errorf("resolve workflow path: %w", err)
		}
	}
	project, err := actionlint.NewProject(root)
	if err != nil {
		return nil, fmt.Errorf("load actionlint project %s: %w", root, err)
	}
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{
		Shellcheck: opts.Shellcheck,
		Pyflakes:   opts.Pyflakes,
		WorkingDir: root,
	})
	if err != nil {
		return nil, fmt.Errorf("create actionlint linter: %w", err)
	}
	errs, err := linter.LintFiles(paths, project)
	if err != nil {
		return nil, fmt.Errorf("run actionlint: %w", err)
	}
	findings := make([]Finding, 0, len(errs))
	for _, e := range errs {
		findings = append(findings, Finding{
			File:    relPath(root, e.Filepath),
			Line:    e.Line,
			Column:  e.Column,
			Rule:    e.Kind,
			Message: e.Message,
		})
	}
	sortFindings(findings)
	return findings, nil
}
