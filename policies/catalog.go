package policies

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Rule is one rule of the pack, as its METADATA describes it.
type Rule struct {
	ID          string
	Title       string
	Severity    string // "error" for deny rules, "warning" for warn rules
	Package     string // e.g. "homelab.security"
	File        string // path of the .rego file inside the pack
	Line        int
	Rationale   string
	Remediation string
}

// Combined reports whether the rule checks the whole rendered cluster
// (conftest --combine input) rather than one object.
func (r Rule) Combined() bool {
	return strings.HasPrefix(r.Package, "homelab.combined.")
}

// ruleID is the shape of a rule id: lowercase kebab, short enough to be an
// annotation key's name segment.
var ruleID = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)

const maxRuleIDLength = 50

// severities maps the conftest rule names to the severity METADATA declares.
var severities = map[string]string{"deny": "error", "warn": "warning"}

// IsTestFile reports whether a .rego file holds tests rather than rules.
func IsTestFile(name string) bool {
	return strings.HasSuffix(name, "_test.rego")
}

// ParseModules parses every .rego file of the pack in fsys (tests too) as
// Rego v1 with annotations, keyed by slash-separated path.
func ParseModules(fsys fs.FS) (map[string]*ast.Module, error) {
	modules := map[string]*ast.Module{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != "." {
			return fs.SkipDir
		}
		if d.IsDir() || path.Ext(p) != ".rego" {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		m, err := ast.ParseModuleWithOpts(p, string(src), ast.ParserOptions{
			ProcessAnnotation: true,
			RegoVersion:       ast.RegoV1,
		})
		if err != nil {
			return fmt.Errorf("parse %s: %w", p, err)
		}
		modules[p] = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(modules) == 0 {
		return nil, errors.New("no .rego files found")
	}
	return modules, nil
}

// Catalog reads the rules of the pack in fsys from their METADATA, sorted
// by id. It reports every deny or warn rule without proper METADATA, ids
// that are malformed, duplicated or outside their package's area, and
// severities that do not match the rule name, all at once.
func Catalog(fsys fs.FS) ([]Rule, error) {
	modules, err := ParseModules(fsys)
	if err != nil {
		return nil, err
	}
	var (
		rules []Rule
		errs  []error
		seen  = map[string]Rule{}
	)
	for _, p := range sortedKeys(modules) {
		if IsTestFile(p) {
			continue
		}
		m := modules[p]
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		for _, r := range m.Rules {
			name := r.Head.Name.String()
			if name == "" && len(r.Head.Reference) > 0 {
				name = r.Head.Reference[0].String()
			}
			severity, isCheck := severities[name]
			if !isCheck {
				continue
			}
			rule, err := ruleFromAnnotations(p, pkg, r)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if rule.Severity != severity {
				errs = append(errs, fmt.Errorf("%s:%d: rule %s is a %s rule but METADATA says severity %q (want %q)", p, rule.Line, rule.ID, name, rule.Severity, severity))
			}
			if prev, dup := seen[rule.ID]; dup {
				errs = append(errs, fmt.Errorf("%s:%d: rule id %s is already used at %s:%d; give each rule one definition (collect its findings in a helper set)", p, rule.Line, rule.ID, prev.File, prev.Line))
				continue
			}
			seen[rule.ID] = rule
			rules = append(rules, rule)
		}
	}
	slices.SortFunc(rules, func(a, b Rule) int { return strings.Compare(a.ID, b.ID) })
	return rules, errors.Join(errs...)
}

func ruleFromAnnotations(file, pkg string, r *ast.Rule) (Rule, error) {
	loc := fmt.Sprintf("%s:%d", file, r.Location.Row)
	var a *ast.Annotations
	for _, candidate := range r.Annotations {
		if candidate.Scope == "rule" {
			a = candidate
		}
	}
	if a == nil {
		return Rule{}, fmt.Errorf("%s: %s rule has no METADATA block", loc, r.Head.Name)
	}
	rule := Rule{
		Title:   strings.TrimSpace(a.Title),
		Package: pkg,
		File:    file,
		Line:    r.Location.Row,
	}
	var missing []string
	for key, dst := range map[string]*string{
		"id":          &rule.ID,
		"severity":    &rule.Severity,
		"rationale":   &rule.Rationale,
		"remediation": &rule.Remediation,
	} {
		v, _ := a.Custom[key].(string)
		*dst = strings.TrimSpace(v)
		if *dst == "" {
			missing = append(missing, "custom."+key)
		}
	}
	if rule.Title == "" {
		missing = append(missing, "title")
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return Rule{}, fmt.Errorf("%s: METADATA lacks %s", loc, strings.Join(missing, ", "))
	}
	if !ruleID.MatchString(rule.ID) || len(rule.ID) > maxRuleIDLength {
		return Rule{}, fmt.Errorf("%s: rule id %q is not lowercase kebab of at most %d characters", loc, rule.ID, maxRuleIDLength)
	}
	area := pkg[strings.LastIndex(pkg, ".")+1:]
	if !strings.HasPrefix(rule.ID, area+"-") && !strings.HasPrefix(rule.ID, "policy-") {
		return Rule{}, fmt.Errorf("%s: rule id %q does not start with its area %q", loc, rule.ID, area+"-")
	}
	return rule, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
