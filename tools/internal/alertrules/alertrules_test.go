package alertrules

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The repository's monitoring tree, relative to this package.
var (
	repoRoot      = filepath.Join("..", "..", "..")
	monitoringDir = filepath.Join(repoRoot, "infrastructure", "controllers", "monitoring")
	rulesDir      = filepath.Join(monitoringDir, "rules")
	alertsDoc     = filepath.Join(repoRoot, "docs", "alerts.md")
	clusterVars   = filepath.Join(repoRoot, "clusters", "homelab", "cluster-vars.yaml")
)

// runbookURL is where docs/alerts.md is published; every runbook_url points
// into it.
const runbookURL = "https://github.com/homelab-gitops/homelab/blob/main/docs/alerts.md"

// prometheusImage finds the Prometheus release in the StatefulSet's image.
var prometheusImage = regexp.MustCompile(`image: \S+/prometheus:v([0-9]+\.[0-9]+\.[0-9]+)@sha256:`)

func TestRepositoryAlerts(t *testing.T) {
	ruleFiles, err := filepath.Glob(filepath.Join(rulesDir, "*.yaml"))
	if err != nil || len(ruleFiles) == 0 {
		t.Fatalf("no rule files in %s (%v)", rulesDir, err)
	}
	var alerts []Alert
	for _, f := range ruleFiles {
		a, err := LoadRules(f)
		if err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, a...)
	}
	testFiles := promtoolTests(t)
	var cases []Case
	tested := map[string]bool{}
	for _, f := range testFiles {
		rf, c, err := LoadTests(f)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c...)
		for _, r := range rf {
			tested[filepath.Clean(filepath.Join(filepath.Dir(f), r))] = true
		}
	}
	for _, f := range ruleFiles {
		if !tested[filepath.Clean(f)] {
			t.Errorf("%s: no promtool test file in testdata/ names it in rule_files", f)
		}
	}
	doc, err := os.ReadFile(alertsDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Check(alerts, cases, Runbook{URL: runbookURL, Anchors: Anchors(doc)}) {
		t.Error(p)
	}
	t.Logf("%d alerts, %d test cases", len(alerts), len(cases))

	// What is tested must be what is deployed: the rules ConfigMap carries
	// every rule file.
	generated := generatorFiles(t, "prometheus-rules")
	for _, f := range ruleFiles {
		rel := filepath.ToSlash(filepath.Join("rules", filepath.Base(f)))
		if !slices.Contains(generated, rel) {
			t.Errorf("%s: not in the prometheus-rules configMapGenerator of %s/kustomization.yaml, so Prometheus never loads it", f, monitoringDir)
		}
	}
}

func TestCheck(t *testing.T) {
	rb := Runbook{URL: "https://example.com/docs/alerts.md", Anchors: map[string]bool{"a": true}}
	good := Alert{
		Name: "A", File: "r.yaml", Line: 3,
		Labels:      map[string]string{"severity": "warning"},
		Annotations: map[string]string{"summary": "s", "description": "d", "runbook_url": "https://example.com/docs/alerts.md#a"},
	}
	both := []Case{{Alert: "A", Fires: true}, {Alert: "A"}}
	with := func(f func(*Alert)) Alert {
		a := good
		a.Labels = maps.Clone(good.Labels)
		a.Annotations = maps.Clone(good.Annotations)
		f(&a)
		return a
	}
	tests := []struct {
		name   string
		alerts []Alert
		cases  []Case
		want   []string
	}{
		{"tested both ways", []Alert{good}, both, nil},
		{"never fired", []Alert{good}, []Case{{Alert: "A"}}, []string{"r.yaml:3: alert A has no test case that fires it"}},
		{"never quiet", []Alert{good}, []Case{{Alert: "A", Fires: true}}, []string{"no test case that keeps it quiet"}},
		{"untested", []Alert{good}, nil, []string{"fires it", "keeps it quiet"}},
		{"case for an unknown alert", []Alert{good}, append(both, Case{Alert: "B", Test: "t", File: "t.yaml", Line: 9}), []string{`t.yaml:9: test "t" checks alert B, which no rule file under test defines`}},
		{"no severity", []Alert{with(func(a *Alert) { delete(a.Labels, "severity") })}, both, []string{`label severity is ""`}},
		{"unknown severity", []Alert{with(func(a *Alert) { a.Labels["severity"] = "page" })}, both, []string{`label severity is "page"`}},
		{"no summary", []Alert{with(func(a *Alert) { a.Annotations["summary"] = " " })}, both, []string{"no summary annotation"}},
		{"no description", []Alert{with(func(a *Alert) { delete(a.Annotations, "description") })}, both, []string{"no description annotation"}},
		{"no runbook", []Alert{with(func(a *Alert) { delete(a.Annotations, "runbook_url") })}, both, []string{"no runbook_url annotation"}},
		{"runbook elsewhere", []Alert{with(func(a *Alert) { a.Annotations["runbook_url"] = "https://example.com/wiki#a" })}, both, []string{"does not point into https://example.com/docs/alerts.md"}},
		{"runbook section missing", []Alert{with(func(a *Alert) { a.Annotations["runbook_url"] = rb.URL + "#b" })}, both, []string{"has no section with anchor #b"}},
		{"defined twice", []Alert{good, with(func(a *Alert) { a.Line = 20 })}, both, []string{"alert A is defined twice (also r.yaml:3)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(tt.alerts, tt.cases, rb)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems %v, want %d %q", len(got), got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i].String(), w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "r.yaml")
	write(t, rules, `groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        labels: {severity: critical}
`)
	alerts, err := LoadRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || alerts[0].Name != "Down" || alerts[0].Line != 6 || alerts[0].Labels["severity"] != "critical" {
		t.Errorf("LoadRules = %+v, want the one alert Down at line 6", alerts)
	}
	tests := filepath.Join(dir, "t.yaml")
	write(t, tests, `rule_files: [r.yaml]
tests:
  - name: fires
    alert_rule_test:
      - eval_time: 1m
        alertname: Down
        exp_alerts:
          - exp_labels: {severity: critical}
  - name: quiet
    alert_rule_test:
      - eval_time: 1m
        alertname: Down
        exp_alerts: []
`)
	rf, cases, err := LoadTests(tests)
	if err != nil {
		t.Fatal(err)
	}
	want := []Case{
		{Alert: "Down", Fires: true, Test: "fires", File: tests, Line: 6},
		{Alert: "Down", Fires: false, Test: "quiet", File: tests, Line: 12},
	}
	if !slices.Equal(rf, []string{"r.yaml"}) || !slices.Equal(cases, want) {
		t.Errorf("LoadTests = %v, %+v; want [r.yaml], %+v", rf, cases, want)
	}
	write(t, rules, "groups: [\n")
	if _, err := LoadRules(rules); err == nil || !strings.Contains(err.Error(), rules) {
		t.Errorf("LoadRules of broken YAML: error %v, want one naming %s", err, rules)
	}
}

func TestAnchors(t *testing.T) {
	got := Anchors([]byte("# Alerts\n\n## Fitness data path\n\n### FitnessConsumerLag\n\n```sh\n# not a heading\n```\n\n### Node: lost (again)\n\n## Fitness data path\n"))
	want := []string{"alerts", "fitness-data-path", "fitnessconsumerlag", "node-lost-again", "fitness-data-path-1"}
	for _, w := range want {
		if !got[w] {
			t.Errorf("anchor %q missing from %v", w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Anchors = %v, want exactly %v", got, want)
	}
}

// TestPromtool runs the pinned promtool over the deployed files: the rule
// files' syntax, every unit test of testdata/, and the Prometheus
// configuration as Flux substitutes it.
func TestPromtool(t *testing.T) {
	promtool := findPromtool(t)
	ruleFiles, _ := filepath.Glob(filepath.Join(rulesDir, "*.yaml"))
	run(t, promtool, append([]string{"check", "rules"}, ruleFiles...)...)
	run(t, promtool, append([]string{"test", "rules"}, promtoolTests(t)...)...)

	config := substitute(t, filepath.Join(monitoringDir, "config", "prometheus.yml"))
	run(t, promtool, "check", "config", "--syntax-only", config)
}

// TestPromtoolFailsOnChangedRule shows that the unit tests pin behaviour:
// the same tests against a rule whose threshold was raised must fail.
func TestPromtoolFailsOnChangedRule(t *testing.T) {
	promtool := findPromtool(t)
	dir := t.TempDir()
	rules, err := os.ReadFile(filepath.Join(rulesDir, "fitness.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(rules), `{queue="workouts.log"}) > 1000`, `{queue="workouts.log"}) > 100000`, 1)
	if changed == string(rules) {
		t.Fatal("the FitnessConsumerLag threshold was not found in fitness.yaml; update this test")
	}
	write(t, filepath.Join(dir, "fitness.yaml"), changed)
	tests, err := os.ReadFile(filepath.Join("testdata", "fitness_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(tests, &doc); err != nil {
		t.Fatal(err)
	}
	doc["rule_files"] = []string{"fitness.yaml"}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "fitness_test.yaml"), string(out))
	cmd := exec.Command(promtool, "test", "rules", "fitness_test.yaml")
	cmd.Dir = dir
	res, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("promtool test rules passed against a changed rule:\n%s", res)
	}
	if !strings.Contains(string(res), "FitnessConsumerLag") {
		t.Errorf("promtool failed without naming FitnessConsumerLag:\n%s", res)
	}
}

func promtoolTests(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*_test.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no promtool test files in testdata (%v)", err)
	}
	return files
}

// findPromtool returns $PROMTOOL, or promtool from PATH, if it is the
// release of the Prometheus the cluster runs (prometheus-statefulset.yaml;
// make builds it from tools/promtool). Otherwise the test skips, except
// under CI=true where it fails: a Prometheus bump without its promtool
// fails there.
func findPromtool(t *testing.T) string {
	t.Helper()
	sts, err := os.ReadFile(filepath.Join(monitoringDir, "prometheus-statefulset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := prometheusImage.FindSubmatch(sts)
	if m == nil {
		t.Fatalf("no Prometheus image (…/prometheus:vX.Y.Z@sha256:…) in %s/prometheus-statefulset.yaml", monitoringDir)
	}
	promtoolVersion := string(m[1])
	path := os.Getenv("PROMTOOL")
	if path == "" {
		path, _ = exec.LookPath("promtool")
	}
	missing := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s, and CI is set: run the tests through make (it builds promtool %s)", why, promtoolVersion)
		}
		t.Skipf("%s: run the tests through make (it builds promtool %s)", why, promtoolVersion)
	}
	if path == "" {
		missing("promtool not found ($PROMTOOL or PATH)")
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		missing("promtool --version failed: " + err.Error())
	}
	if !strings.Contains(string(out), "version "+promtoolVersion+" ") {
		missing(path + " is not promtool " + promtoolVersion + " (" + strings.SplitN(string(out), "\n", 2)[0] + ")")
	}
	return path
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args[:2], " "), err, out)
	}
}

var variable = regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`)

// substitute writes path with ${VAR} replaced from cluster-vars, as Flux's
// postBuild does, into a temporary file and returns its path. A variable
// cluster-vars lacks fails the test.
func substitute(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(clusterVars)
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatalf("%s: %v", clusterVars, err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := variable.ReplaceAllStringFunc(string(src), func(m string) string {
		name := variable.FindStringSubmatch(m)[1]
		v, ok := cm.Data[name]
		if !ok {
			t.Errorf("%s uses ${%s}, which %s does not define", path, name, clusterVars)
		}
		return v
	})
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	write(t, dst, out)
	return dst
}

// generatorFiles returns the files (the part after "key=", if any) of the
// named configMapGenerator in the monitoring kustomization.
func generatorFiles(t *testing.T, name string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(monitoringDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		ConfigMapGenerator []struct {
			Name  string   `yaml:"name"`
			Files []string `yaml:"files"`
		} `yaml:"configMapGenerator"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	for _, g := range k.ConfigMapGenerator {
		if g.Name != name {
			continue
		}
		var files []string
		for _, f := range g.Files {
			if _, src, ok := strings.Cut(f, "="); ok {
				f = src
			}
			files = append(files, f)
		}
		return files
	}
	t.Fatalf("no configMapGenerator %q in %s/kustomization.yaml", name, monitoringDir)
	return nil
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
