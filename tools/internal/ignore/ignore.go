// Package ignore decides which files of the repository source-controller
// leaves out of a source's artifact, with the rules of fluxcd/pkg/
// sourceignore: the .sourceignore files of the repository (each applying
// below its directory) and the source's spec.ignore, in gitignore syntax;
// when there are none, source-controller's default exclusions. .git/,
// .gitignore, .gitmodules and .gitattributes are always excluded. Each
// decision names the rule and the file it comes from, so a reviewer can see
// why Flux would not have a file.
package ignore

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/fluxcd/pkg/sourceignore"
	"github.com/fluxcd/pkg/sourceignore/gitignore"
)

// Rule is one ignore pattern and where it was written.
type Rule struct {
	// Pattern is the line as written.
	Pattern string
	// File is the repository-relative .sourceignore file, or a description
	// of the rule's origin (spec.ignore of a source, a built-in default).
	File string
	// Line is the line in File (0 for rules not in a file).
	Line    int
	matcher gitignore.Pattern
}

func (r Rule) String() string {
	if r.Line > 0 {
		return fmt.Sprintf("%q (%s:%d)", r.Pattern, r.File, r.Line)
	}
	return fmt.Sprintf("%q (%s)", r.Pattern, r.File)
}

// Rules are the ignore rules of one source, in order (the last matching
// rule decides, as in gitignore).
type Rules struct {
	rules []Rule
	key   string
}

// Key identifies the rules (equal keys, equal decisions).
func (r *Rules) Key() string {
	if r == nil {
		return ""
	}
	return r.key
}

// GitRepository returns the rules source-controller applies to a
// GitRepository artifact of the repository at root: every .sourceignore
// file, then spec.ignore (where names its origin, e.g. "spec.ignore of
// GitRepository flux-system/apps"); without either, its default
// exclusions.
func GitRepository(root, specIgnore, where string) (*Rules, error) {
	var user []Rule
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != sourceignore.IgnoreFile {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		rs, err := readFile(p, rel, domainOf(path.Dir(rel)))
		if err != nil {
			return err
		}
		user = append(user, rs...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load .sourceignore files: %w", err)
	}
	user = append(user, parse(specIgnore, where, nil)...)
	return build(user, true), nil
}

// Bucket returns the rules source-controller applies to a Bucket: the
// .sourceignore at the bucket's root and spec.ignore, without defaults.
func Bucket(root, specIgnore, where string) (*Rules, error) {
	user, err := readFile(filepath.Join(root, sourceignore.IgnoreFile), sourceignore.IgnoreFile, nil)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("load .sourceignore: %w", err)
	}
	user = append(user, parse(specIgnore, where, nil)...)
	return build(user, false), nil
}

// build puts the VCS exclusions first and, when asked and there are no
// user rules, source-controller's defaults (storage.SourceIgnoreFilter).
func build(user []Rule, defaults bool) *Rules {
	var rules []Rule
	if defaults {
		rules = append(rules, parseList(sourceignore.ExcludeVCS, "always excluded by source-controller")...)
		if len(user) == 0 {
			for _, list := range []string{sourceignore.ExcludeExt, sourceignore.ExcludeCI, sourceignore.ExcludeExtra} {
				rules = append(rules, parseList(list, "default exclusion of source-controller without .sourceignore or spec.ignore")...)
			}
		}
	}
	rules = append(rules, user...)
	var key strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&key, "%s\x00%s\x00%d\n", r.Pattern, r.File, r.Line)
	}
	return &Rules{rules: rules, key: key.String()}
}

func domainOf(dir string) []string {
	if dir == "." || dir == "" {
		return nil
	}
	return strings.Split(dir, "/")
}

func readFile(abs, rel string, domain []string) ([]Rule, error) {
	f, err := os.Open(abs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Rule
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if r, ok := rule(sc.Text(), rel, n, domain); ok {
			out = append(out, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	return out, nil
}

// parse reads patterns from text (spec.ignore), as sourceignore.ReadPatterns.
func parse(text, where string, domain []string) []Rule {
	var out []Rule
	for _, l := range strings.Split(text, "\n") {
		if r, ok := rule(l, where, 0, domain); ok {
			out = append(out, r)
		}
	}
	return out
}

func parseList(list, where string) []Rule {
	var out []Rule
	for _, p := range strings.Split(list, ",") {
		out = append(out, Rule{Pattern: p, File: where, matcher: gitignore.ParsePattern(p, nil)})
	}
	return out
}

func rule(line, file string, n int, domain []string) (Rule, bool) {
	if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
		return Rule{}, false
	}
	return Rule{Pattern: line, File: file, Line: n, matcher: gitignore.ParsePattern(line, domain)}, true
}

// Ignored reports whether the file or directory rel (relative to the
// source root, slash-separated) is left out of the artifact, and the rule
// that decides it.
func (r *Rules) Ignored(rel string, isDir bool) (Rule, bool) {
	if r == nil {
		return Rule{}, false
	}
	p := strings.Split(path.Clean(rel), "/")
	for i := len(r.rules) - 1; i >= 0; i-- {
		switch r.rules[i].matcher.Match(p, isDir) {
		case gitignore.Exclude:
			return r.rules[i], true
		case gitignore.Include:
			return Rule{}, false
		}
	}
	return Rule{}, false
}
