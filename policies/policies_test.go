package policies_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/format"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/homelab-gitops/homelab/policies"
)

var update = flag.Bool("update", false, "regenerate README.md's rule table and lib/rule_ids.rego from the rules' METADATA")

// minCoverage is the share of the rules' Rego lines the tests must execute.
const minCoverage = 90.0

func catalog(t *testing.T) []policies.Rule {
	t.Helper()
	rules, err := policies.Catalog(os.DirFS("."))
	if err != nil {
		t.Fatalf("rule catalog:\n%v", err)
	}
	return rules
}

// TestGenerated checks that README.md's table and lib/rule_ids.rego match
// the rules' METADATA; -update rewrites them.
func TestGenerated(t *testing.T) {
	rules := catalog(t)

	ids, err := policies.RenderRuleIDs(rules)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	wantReadme, err := policies.ReplaceTable(readme, policies.RenderTable(rules))
	if err != nil {
		t.Fatal(err)
	}

	for _, f := range []struct {
		path string
		want []byte
	}{
		{policies.RuleIDsFile, ids},
		{"README.md", wantReadme},
	} {
		if *update {
			if err := os.WriteFile(f.path, f.want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.want) {
			t.Errorf("policies/%s is stale: run `go test ./policies -update`", f.path)
		}
	}
}

// TestFormatted fails on Rego that `opa fmt` would change.
func TestFormatted(t *testing.T) {
	modules, err := policies.ParseModules(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	for path := range modules {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		formatted, err := format.SourceWithOpts(path, src, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Errorf("format %s: %v", path, err)
			continue
		}
		if !bytes.Equal(src, formatted) {
			t.Errorf("%s is not formatted: run `opa fmt -w policies` (Rego v1)", path)
		}
	}
}

// TestEveryRuleHasTests checks that every rule has at least one failing and
// one passing test case, by the naming convention
// test_<rule id with underscores>_fail... / _pass....
func TestEveryRuleHasTests(t *testing.T) {
	modules, err := policies.ParseModules(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	var tests []string
	for path, m := range modules {
		if !policies.IsTestFile(path) {
			continue
		}
		for _, r := range m.Rules {
			tests = append(tests, r.Head.Name.String())
		}
	}
	for _, rule := range catalog(t) {
		base := "test_" + strings.ReplaceAll(rule.ID, "-", "_") + "_"
		for _, kind := range []string{"fail", "pass"} {
			if !slices.ContainsFunc(tests, func(name string) bool { return strings.HasPrefix(name, base+kind) }) {
				t.Errorf("rule %s has no %s test: add %s%s... to a _test.rego file", rule.ID, kind, base, kind)
			}
		}
	}
}

// TestTestFilesDefineNoChecks guards against test helpers that conftest
// would evaluate as checks: the validator runs every homelab.* package,
// test packages included.
func TestTestFilesDefineNoChecks(t *testing.T) {
	modules, err := policies.ParseModules(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	check := regexp.MustCompile(`^(deny|violation|warn)(_[a-zA-Z0-9]+)*$`)
	for path, m := range modules {
		if !policies.IsTestFile(path) && !strings.HasPrefix(m.Package.Path.String(), "data.homelab.fixtures") {
			continue
		}
		for _, r := range m.Rules {
			if name := r.Head.Name.String(); check.MatchString(name) {
				t.Errorf("%s:%d: test helper %q would be run by conftest as a check; rename it", path, r.Location.Row, name)
			}
		}
	}
}

// TestRego runs the pack's Rego tests in-process, like `opa test -c`, and
// fails when one fails or when the tests leave more than 10% of the rules'
// lines unexecuted.
func TestRego(t *testing.T) {
	modules, err := policies.ParseModules(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cov := cover.New()
	runner := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithEnablePrintStatements(true)).
		SetModules(modules).
		SetCoverageQueryTracer(cov).
		SetCoverageRuns(nil).
		CapturePrintOutput(true).
		SetTimeout(30 * time.Second)
	results, err := runner.RunTests(ctx, nil)
	if err != nil {
		t.Fatalf("run rego tests: %v", err)
	}
	var passed, failed int
	for r := range results {
		name := fmt.Sprintf("%s.%s", r.Package, r.Name)
		switch {
		case r.Error != nil:
			failed++
			t.Errorf("%s (%s): error: %v", name, r.Location, r.Error)
		case r.Fail:
			failed++
			t.Errorf("%s (%s): FAIL%s", name, r.Location, printed(r))
		case r.Skip:
			t.Logf("%s: skipped", name)
		default:
			passed++
			if testing.Verbose() {
				t.Logf("%s: PASS", name)
			}
		}
	}
	if passed+failed == 0 {
		t.Fatal("no Rego tests found")
	}

	report := cov.Report(modules)
	var covered, notCovered int
	var gaps []string
	for _, path := range slices.Sorted(maps.Keys(report.Files)) {
		if policies.IsTestFile(path) {
			continue
		}
		f := report.Files[path]
		covered += f.CoveredLines
		notCovered += f.NotCoveredLines
		for _, rng := range f.NotCovered {
			gaps = append(gaps, fmt.Sprintf("%s:%d-%d", path, rng.Start.Row, rng.End.Row))
		}
	}
	if covered+notCovered == 0 {
		t.Fatal("coverage report is empty")
	}
	pct := 100 * float64(covered) / float64(covered+notCovered)

	// A check rule fired in some test when the last expression of its body
	// (the one building the result) ran.
	var checks, fired int
	for path, m := range modules {
		if policies.IsTestFile(path) {
			continue
		}
		for _, r := range m.Rules {
			if name := r.Head.Name.String(); name != "deny" && name != "warn" {
				continue
			}
			checks++
			last := r.Body[len(r.Body)-1].Location
			if ran(report.Files[path], last.Row) {
				fired++
			} else {
				t.Errorf("%s:%d: no test makes this %s rule fire", path, r.Location.Row, r.Head.Name)
			}
		}
	}
	fmt.Printf("policies: %d Rego tests passed, %d failed; %d of %d rules fired in tests; line coverage %.1f%% (%d of %d lines)\n",
		passed, failed, fired, checks, pct, covered, covered+notCovered)
	if testing.Verbose() && len(gaps) > 0 {
		t.Logf("lines not covered: %s", strings.Join(gaps, " "))
	}
	if pct < minCoverage {
		t.Errorf("line coverage %.1f%% is below %.0f%%; not covered: %s", pct, minCoverage, strings.Join(gaps, " "))
	}
}

// ran reports whether a line was executed. The report's covered ranges can
// span whole rules, so it asks the not-covered ranges, which are precise.
func ran(f *cover.FileReport, row int) bool {
	if f == nil {
		return false
	}
	return !slices.ContainsFunc(f.NotCovered, func(r cover.Range) bool { return r.In(row) })
}

func printed(r *tester.Result) string {
	if len(r.Output) == 0 {
		return ""
	}
	return "\n" + string(r.Output)
}
