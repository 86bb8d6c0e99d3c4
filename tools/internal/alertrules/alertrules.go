// Package alertrules reads Prometheus alerting-rule files and promtool
// rule-test files and checks what promtool cannot: that every alert is unit
// tested both ways (a case that fires it and a case that keeps it quiet) and
// carries what the person it wakes needs (a severity, a summary, a
// description and a runbook link to a section that exists).
//
// promtool itself checks the syntax of the rules and runs the tests; see
// the package's tests for how the repository's rules, Prometheus
// configuration and Grafana dashboards are checked.
package alertrules

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Alert is one alerting rule.
type Alert struct {
	Name        string
	File        string
	Line        int
	Labels      map[string]string
	Annotations map[string]string
}

// Case is one alert_rule_test entry of a promtool test file: whether the
// alert is expected to fire at that evaluation time.
type Case struct {
	Alert string
	Fires bool
	Test  string // the test group's name
	File  string
	Line  int
}

// Problem is a finding about an alert or a test case, at a place in a file.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// ruleFile is the layout of a Prometheus rule file.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
			Line        int               `yaml:"-"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// LoadRules returns the alerting rules of a Prometheus rule file (recording
// rules are skipped), each with the line of its `alert:` key.
func LoadRules(path string) ([]Alert, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var rf ruleFile
	if err := doc.Decode(&rf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	lines := alertLines(&doc)
	var alerts []Alert
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts = append(alerts, Alert{
				Name: r.Alert, File: path, Line: lines[r.Alert],
				Labels: r.Labels, Annotations: r.Annotations,
			})
		}
	}
	return alerts, nil
}

// alertLines maps each alert name to the line of its `alert:` value.
func alertLines(n *yaml.Node) map[string]int {
	out := map[string]int{}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "alert" && n.Content[i+1].Kind == yaml.ScalarNode {
					out[n.Content[i+1].Value] = n.Content[i+1].Line
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return out
}

// testFile is the part of a promtool test file this package reads.
type testFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name  string `yaml:"name"`
		Cases []struct {
			Alert  string      `yaml:"alertname"`
			Expect []yaml.Node `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// LoadTests returns the rule files a promtool test file names (as written,
// relative to the test file) and its alert test cases.
func LoadTests(path string) (ruleFiles []string, cases []Case, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read tests: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var tf testFile
	if err := doc.Decode(&tf); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	lines := caseLines(&doc)
	k := 0
	for _, t := range tf.Tests {
		for _, c := range t.Cases {
			line := 0
			if k < len(lines) {
				line = lines[k]
			}
			k++
			cases = append(cases, Case{Alert: c.Alert, Fires: len(c.Expect) > 0, Test: t.Name, File: path, Line: line})
		}
	}
	return tf.RuleFiles, cases, nil
}

// caseLines returns the line of every `alertname:` key in document order,
// which is the order in which LoadTests meets the cases.
func caseLines(n *yaml.Node) []int {
	var out []int
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "alertname" {
					out = append(out, n.Content[i].Line)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return out
}

// Severities are the values the severity label may take; Alertmanager
// routes on them.
var Severities = []string{"critical", "warning"}

// Runbook is the document that runbook_url annotations point into, and the
// URL prefix under which it is published.
type Runbook struct {
	URL     string          // e.g. https://github.com/o/r/blob/main/docs/alerts.md
	Anchors map[string]bool // the document's heading anchors
}

// Check returns the problems of alerts and their test cases: an alert
// without a case that fires it or without one that keeps it quiet, a case
// naming no known alert, an alert without a known severity, a summary, a
// description, or a runbook_url pointing at a section of rb that exists.
func Check(alerts []Alert, cases []Case, rb Runbook) []Problem {
	var probs []Problem
	fires, quiet := map[string]bool{}, map[string]bool{}
	known := map[string]bool{}
	for _, a := range alerts {
		known[a.Name] = true
	}
	for _, c := range cases {
		if !known[c.Alert] {
			probs = append(probs, Problem{c.File, c.Line, fmt.Sprintf("test %q checks alert %s, which no rule file under test defines", c.Test, c.Alert)})
			continue
		}
		if c.Fires {
			fires[c.Alert] = true
		} else {
			quiet[c.Alert] = true
		}
	}
	seen := map[string]Alert{}
	for _, a := range alerts {
		if prev, dup := seen[a.Name]; dup {
			probs = append(probs, Problem{a.File, a.Line, fmt.Sprintf("alert %s is defined twice (also %s:%d): tests cannot tell them apart", a.Name, prev.File, prev.Line)})
		}
		seen[a.Name] = a
		if !fires[a.Name] {
			probs = append(probs, Problem{a.File, a.Line, fmt.Sprintf("alert %s has no test case that fires it (alert_rule_test with exp_alerts)", a.Name)})
		}
		if !quiet[a.Name] {
			probs = append(probs, Problem{a.File, a.Line, fmt.Sprintf("alert %s has no test case that keeps it quiet (alert_rule_test with exp_alerts: [])", a.Name)})
		}
		if s := a.Labels["severity"]; !slices.Contains(Severities, s) {
			probs = append(probs, Problem{a.File, a.Line, fmt.Sprintf("alert %s: label severity is %q, want one of %s", a.Name, s, strings.Join(Severities, ", "))})
		}
		for _, k := range []string{"summary", "description"} {
			if strings.TrimSpace(a.Annotations[k]) == "" {
				probs = append(probs, Problem{a.File, a.Line, fmt.Sprintf("alert %s has no %s annotation", a.Name, k)})
			}
		}
		if msg := rb.check(a.Annotations["runbook_url"]); msg != "" {
			probs = append(probs, Problem{a.File, a.Line, fmt.Sprintf("alert %s: %s", a.Name, msg)})
		}
	}
	sort.SliceStable(probs, func(i, j int) bool {
		if probs[i].File != probs[j].File {
			return probs[i].File < probs[j].File
		}
		return probs[i].Line < probs[j].Line
	})
	return probs
}

func (rb Runbook) check(link string) string {
	if link == "" {
		return "no runbook_url annotation"
	}
	u, err := url.Parse(link)
	if err != nil {
		return fmt.Sprintf("runbook_url %q: %v", link, err)
	}
	anchor := u.Fragment
	u.Fragment = ""
	if u.String() != rb.URL {
		return fmt.Sprintf("runbook_url %q does not point into %s", link, rb.URL)
	}
	if !rb.Anchors[anchor] {
		return fmt.Sprintf("runbook_url %q: the runbook has no section with anchor #%s", link, anchor)
	}
	return ""
}

var (
	heading  = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$`)
	notInTag = regexp.MustCompile(`[^\p{L}\p{N}\- _]`)
)

// Anchors returns the anchors GitHub gives the headings of a Markdown
// document: lower case, punctuation removed, spaces as hyphens, and -1, -2
// appended to repeated ones. Fenced code blocks are skipped.
func Anchors(markdown []byte) map[string]bool {
	var text strings.Builder
	fenced := false
	for _, line := range strings.Split(string(markdown), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			text.WriteString(line)
			text.WriteByte('\n')
		}
	}
	out := map[string]bool{}
	count := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(text.String(), -1) {
		slug := strings.ToLower(m[1])
		slug = notInTag.ReplaceAllString(slug, "")
		slug = strings.ReplaceAll(slug, " ", "-")
		if n := count[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		count[slug]++
	}
	return out
}
