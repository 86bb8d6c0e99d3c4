package alertrules

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// alertmanagerImage finds the Alertmanager release in the StatefulSet's
// image.
var alertmanagerImage = regexp.MustCompile(`image: \S+/alertmanager:v([0-9]+\.[0-9]+\.[0-9]+)@sha256:`)

var alertmanagerConfig = filepath.Join(monitoringDir, "config", "alertmanager.yml")

// chatReceiver is the receiver every alert must reach: the chat channel
// Flux's notification Provider posts to as well (docs/monitoring.md).
const chatReceiver = "chat"

// routeBySeverity is the leaf of Alertmanager's routing tree that each
// severity must end in: critical alerts repeat hourly through their own
// route, warnings every four hours through the default one.
var routeBySeverity = map[string]string{
	"critical": `{severity="critical"}`,
	"warning":  "default-route",
}

// mustRoute are alerts the routing test must find in the rule files, so
// that it never passes by testing nothing: Flux's own, and one of each
// severity.
var mustRoute = []string{"FluxObjectNotReady", "NodeNotReady", "FitnessConsumerLag"}

// TestAmtoolCheckConfig runs `amtool check-config` on the deployed
// Alertmanager configuration.
func TestAmtoolCheckConfig(t *testing.T) {
	amtool := findAmtool(t)
	out, err := exec.Command(amtool, "check-config", alertmanagerConfig).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("amtool check-config %s: %v\n%s", alertmanagerConfig, err, out)
	}
	if generated := generatorFiles(t, "alertmanager-config"); !slices.Contains(generated, "config/alertmanager.yml") {
		t.Errorf("config/alertmanager.yml is not in the alertmanager-config configMapGenerator (%v): what is checked is not what is deployed", generated)
	}
}

// TestAmtoolRoutes resolves every alert of the rule files, with its
// labels, through the deployed routing tree: each must reach the chat
// receiver by the route of its severity.
func TestAmtoolRoutes(t *testing.T) {
	amtool := findAmtool(t)
	alerts := repositoryAlerts(t)
	for _, name := range mustRoute {
		if !slices.ContainsFunc(alerts, func(a Alert) bool { return a.Name == name }) {
			t.Errorf("alert %s is not in the rule files: update mustRoute", name)
		}
	}
	for _, p := range routeProblems(t, amtool, alertmanagerConfig, alerts) {
		t.Error(p)
	}
	t.Logf("%d alerts routed to %s", len(alerts), chatReceiver)
}

// TestAmtoolRoutesCatchAMisroute shows that the routing test fails: a
// route sending Flux's alerts to a receiver nobody reads must be reported,
// naming the alert.
func TestAmtoolRoutesCatchAMisroute(t *testing.T) {
	amtool := findAmtool(t)
	cfg, err := os.ReadFile(alertmanagerConfig)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(cfg), "  routes:\n", "  routes:\n    - matchers: ['alertname=~\"Flux.*\"']\n      receiver: blackhole\n", 1)
	changed = strings.Replace(changed, "receivers:\n", "receivers:\n  - name: blackhole\n", 1)
	if changed == string(cfg) {
		t.Fatal("no routes: or receivers: key found in alertmanager.yml; update this test")
	}
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	write(t, path, changed)
	problems := routeProblems(t, amtool, path, repositoryAlerts(t))
	if len(problems) != 1 || !strings.Contains(problems[0], "FluxObjectNotReady") || !strings.Contains(problems[0], "blackhole") {
		t.Errorf("a route to blackhole for Flux's alerts: problems %q, want one naming FluxObjectNotReady and blackhole", problems)
	}
}

// routeProblems runs `amtool config routes test --tree` for each alert
// and returns what does not reach the chat receiver by its severity's
// route.
func routeProblems(t *testing.T, amtool, config string, alerts []Alert) []string {
	t.Helper()
	var problems []string
	for _, a := range alerts {
		labels := []string{"alertname=" + a.Name}
		for _, k := range sortedKeys(a.Labels) {
			labels = append(labels, k+"="+a.Labels[k])
		}
		args := append([]string{"config", "routes", "test", "--config.file=" + config, "--tree"}, labels...)
		out, err := exec.Command(amtool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("amtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		receivers, leaf := parseRoutes(string(out))
		want := routeBySeverity[a.Labels["severity"]]
		if !slices.Equal(receivers, []string{chatReceiver}) || leaf != want {
			problems = append(problems, fmt.Sprintf("%s:%d: alert %s {%s} reaches %v by route %q, want [%s] by route %q",
				a.File, a.Line, a.Name, strings.Join(labels[1:], ","), receivers, leaf, chatReceiver, want))
		}
	}
	return problems
}

// parseRoutes reads amtool's --tree output: the last route of the
// matching tree (its matchers, or "default-route") and the receivers
// printed after it.
func parseRoutes(out string) (receivers []string, leaf string) {
	tree, list, _ := strings.Cut(out, "\n\n\n")
	for _, line := range strings.Split(tree, "\n") {
		if i := strings.Index(line, "── "); i >= 0 {
			leaf = line[i+len("── "):]
			if j := strings.Index(leaf, "  receiver:"); j >= 0 {
				leaf = leaf[:j]
			}
		}
	}
	for _, r := range strings.Split(strings.TrimSpace(list), ",") {
		if r = strings.TrimSpace(r); r != "" {
			receivers = append(receivers, r)
		}
	}
	return receivers, strings.TrimSpace(leaf)
}

func TestParseRoutes(t *testing.T) {
	out := "Matching routes:\n.\n└── default-route\n    └── {severity=\"critical\"}  receiver: chat\n\n\nchat\n"
	receivers, leaf := parseRoutes(out)
	if !slices.Equal(receivers, []string{"chat"}) || leaf != `{severity="critical"}` {
		t.Errorf("parseRoutes = %v, %q", receivers, leaf)
	}
	receivers, leaf = parseRoutes("Matching routes:\n.\n└── default-route  receiver: chat\n\n\nchat,pager\n")
	if !slices.Equal(receivers, []string{"chat", "pager"}) || leaf != "default-route" {
		t.Errorf("parseRoutes = %v, %q", receivers, leaf)
	}
}

func repositoryAlerts(t *testing.T) []Alert {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(rulesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in %s (%v)", rulesDir, err)
	}
	var alerts []Alert
	for _, f := range files {
		a, err := LoadRules(f)
		if err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, a...)
	}
	return alerts
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// findAmtool returns $AMTOOL, or amtool from PATH, if it is the release of
// the Alertmanager the cluster runs (alertmanager-statefulset.yaml; make
// builds it into .cache/tools). Otherwise the test skips, except under
// CI=true where it fails, as findPromtool does.
func findAmtool(t *testing.T) string {
	t.Helper()
	sts, err := os.ReadFile(filepath.Join(monitoringDir, "alertmanager-statefulset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := alertmanagerImage.FindSubmatch(sts)
	if m == nil {
		t.Fatalf("no Alertmanager image (…/alertmanager:vX.Y.Z@sha256:…) in %s/alertmanager-statefulset.yaml", monitoringDir)
	}
	version := string(m[1])
	path := os.Getenv("AMTOOL")
	if path == "" {
		path, _ = exec.LookPath("amtool")
	}
	missing := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s, and CI is set: run the tests through make (it builds amtool %s)", why, version)
		}
		t.Skipf("%s: run the tests through make (it builds amtool %s)", why, version)
	}
	if path == "" {
		missing("amtool not found ($AMTOOL or PATH)")
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		missing("amtool --version failed: " + err.Error())
	}
	if !strings.Contains(string(out), "version "+version+" ") {
		missing(path + " is not amtool " + version + " (" + strings.SplitN(string(out), "\n", 2)[0] + ")")
	}
	return path
}
