package mutants

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/validate"
)

var updateDoc = flag.Bool("update-doc", false, "rewrite the mutant table in docs/validator-mutants.md")

// The trees: two trimmed public repositories in testdata and this
// repository's own.
const (
	helmExample = "flux2-kustomize-helm-example"
	monitoring  = "flux2-monitoring-example"
	homelab     = "homelab"
)

// homelabPaths are what the validator reads of this repository.
var homelabPaths = []string{"clusters", "apps", "infrastructure", "charts", ".gitops-validate.yaml", ".sops.yaml"}

// edit changes one file of a tree.
type edit struct {
	file string
	// old is replaced by new and must occur exactly once; an empty old
	// creates the file with new as its content.
	old, new string
}

// mutant is one defect.
type mutant struct {
	tree, kind string
	// edits[0].file is the file the defect is in, the one a pull request
	// touches.
	edits []edit
	// also are other files where the defect must be reported too: each
	// Kustomization of a cycle, each producer of a duplicate object.
	also []string
}

var mutants = []mutant{
	// A missing dependsOn target.
	{tree: helmExample, kind: "dependsOn target missing", edits: []edit{{"clusters/staging/apps.yaml", "    - name: infra-configs\n", "    - name: infra-config\n"}}},
	{tree: monitoring, kind: "dependsOn target missing", edits: []edit{{"clusters/test/monitoring.yaml", "    - name: monitoring-controllers\n", "    - name: monitoring-controller\n"}}},
	{tree: homelab, kind: "dependsOn target missing", edits: []edit{{"clusters/homelab/infrastructure.yaml", "    - name: infra-controllers\n", "    - name: infra-controller\n"}}},

	// A typo in spec.path.
	{tree: helmExample, kind: "path typo", edits: []edit{{"clusters/production/infrastructure.yaml", "path: ./controllers\n", "path: ./controller\n"}}},
	{tree: monitoring, kind: "path typo", edits: []edit{{"clusters/test/monitoring.yaml", "path: ./monitoring/configs\n", "path: ./monitoring/config\n"}}},
	{tree: homelab, kind: "path typo", edits: []edit{{"clusters/homelab/apps.yaml", "path: ./apps/homelab\n", "path: ./apps/homelb\n"}}},

	// A resource that is not there.
	{tree: helmExample, kind: "missing resource", edits: []edit{{"apps/base/podinfo/kustomization.yaml", "  - repository.yaml\n", "  - repositories.yaml\n"}}},
	{tree: monitoring, kind: "missing resource", edits: []edit{{"monitoring/controllers/loki-stack/kustomization.yaml", "  - promtail-release.yaml\n", "  - promtail.yaml\n"}}},
	{tree: homelab, kind: "missing resource", edits: []edit{{"apps/base/fitness/kustomization.yaml", "  - service-web.yaml\n", "  - service-webs.yaml\n"}}},

	// The first key of a mapping indented one space more than the next.
	{tree: helmExample, kind: "YAML indentation", edits: []edit{{"apps/base/podinfo/release.yaml", "  interval: 50m\n", "   interval: 50m\n"}}},
	{tree: monitoring, kind: "YAML indentation", edits: []edit{{"monitoring/controllers/kube-prometheus-stack/release.yaml", "  interval: 1h\n", "   interval: 1h\n"}}},
	{tree: homelab, kind: "YAML indentation", edits: []edit{{"apps/base/fitness/httproute.yaml", "  parentRefs:\n", "   parentRefs:\n"}}},

	// A field the API does not have.
	{tree: helmExample, kind: "unknown field", edits: []edit{{"apps/base/podinfo/release.yaml", "  releaseName: podinfo\n", "  releasename: podinfo\n"}}},
	{tree: monitoring, kind: "unknown field", edits: []edit{{"monitoring/controllers/kube-prometheus-stack/release.yaml", "  interval: 1h\n", "  intervall: 1h\n"}}},
	{tree: homelab, kind: "unknown field", edits: []edit{{"apps/base/fitness/httproute.yaml", "  hostnames:\n", "  hostname:\n"}}},

	// A value of the wrong type.
	{tree: helmExample, kind: "wrong type", edits: []edit{{"apps/base/podinfo/release.yaml", "  interval: 50m\n", "  interval: 50\n"}}},
	{tree: monitoring, kind: "wrong type", edits: []edit{{"clusters/test/monitoring.yaml", "  timeout: 10m\n", "  timeout: [10m]\n"}}},
	{tree: homelab, kind: "wrong type", edits: []edit{{"apps/base/fitness/poddisruptionbudget-web.yaml", "  minAvailable: 1\n", "  minAvailable: [1]\n"}}},

	// An HTTPRoute to a Gateway or Service that does not exist.
	{tree: helmExample, kind: "HTTPRoute Gateway missing", edits: []edit{
		{"infrastructure/configs/route.yaml", "", "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: podinfo\n  namespace: podinfo\nspec:\n  parentRefs:\n    - name: envoy-gw\n      namespace: envoy-gateway\n  rules:\n    - backendRefs:\n        - name: podinfo\n          port: 9898\n"},
		{"infrastructure/configs/kustomization.yaml", "  - gateway.yaml\n", "  - gateway.yaml\n  - route.yaml\n"},
	}},
	{tree: homelab, kind: "HTTPRoute Gateway missing", edits: []edit{{"apps/base/fitness/httproute.yaml", "      name: homelab\n", "      name: homelab-gateway\n"}}},
	{tree: homelab, kind: "HTTPRoute Service missing", edits: []edit{{"apps/base/fitness/httproute.yaml", "          name: fitness-web\n", "          name: fitness-frontend\n"}}},

	// A HelmRelease whose chart source does not exist.
	{tree: helmExample, kind: "chart source missing", edits: []edit{{"apps/base/podinfo/release.yaml", "        kind: HelmRepository\n        name: podinfo\n", "        kind: HelmRepository\n        name: podinfo-charts\n"}}},
	{tree: monitoring, kind: "chart source missing", edits: []edit{{"monitoring/controllers/kube-prometheus-stack/release.yaml", "    kind: OCIRepository\n    name: kube-prometheus-stack\n", "    kind: OCIRepository\n    name: prometheus-stack\n"}}},
	{tree: homelab, kind: "chart source missing", edits: []edit{{"infrastructure/controllers/traefik/release.yaml", "        kind: HelmRepository\n        name: traefik\n", "        kind: HelmRepository\n        name: traefik-charts\n"}}},

	// A variable that postBuild does not define.
	{tree: homelab, kind: "undefined variable", edits: []edit{{"apps/base/fitness/httproute.yaml", "    - fitness.${DOMAIN}\n", "    - fitness.${DOMAIN_NAME}\n"}}},

	// An object two Kustomizations apply.
	{tree: helmExample, kind: "object applied twice", edits: []edit{
		{"infrastructure/configs/podinfo-namespace.yaml", "", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n"},
		{"infrastructure/configs/kustomization.yaml", "  - gateway.yaml\n", "  - gateway.yaml\n  - podinfo-namespace.yaml\n"},
	}, also: []string{"apps/base/podinfo/namespace.yaml"}},
	{tree: monitoring, kind: "object applied twice", edits: []edit{
		{"monitoring/configs/repository.yaml", "", "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: grafana-charts\nspec:\n  interval: 1h\n  url: https://grafana.github.io/helm-charts\n"},
		{"monitoring/configs/kustomization.yaml", "  - podmonitor.yaml\n", "  - podmonitor.yaml\n  - repository.yaml\n"},
	}, also: []string{"monitoring/controllers/loki-stack/repository.yaml"}},
	{tree: homelab, kind: "object applied twice", edits: []edit{
		{"infrastructure/configs/fitness-namespace.yaml", "", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: fitness\n"},
		{"infrastructure/configs/kustomization.yaml", "resources:\n", "resources:\n  - fitness-namespace.yaml\n"},
	}, also: []string{"apps/base/fitness/namespace.yaml"}},

	// A Secret committed in plain text.
	{tree: helmExample, kind: "plaintext Secret", edits: []edit{
		{"apps/base/podinfo/secret.yaml", "", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: podinfo-redis\nstringData:\n  password: hunter2-but-longer\n"},
		{"apps/base/podinfo/kustomization.yaml", "  - release.yaml\n", "  - release.yaml\n  - secret.yaml\n"},
	}},
	{tree: monitoring, kind: "plaintext Secret", edits: []edit{
		{"monitoring/controllers/kube-prometheus-stack/secret.yaml", "", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: grafana-admin\ndata:\n  password: aHVudGVyMi1idXQtbG9uZ2Vy\n"},
		{"monitoring/controllers/kube-prometheus-stack/kustomization.yaml", "  - release.yaml\n", "  - release.yaml\n  - secret.yaml\n"},
	}},
	{tree: homelab, kind: "plaintext Secret", edits: []edit{
		{"apps/base/fitness/secret-api.yaml", "", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: fitness-api\nstringData:\n  token: hunter2-but-longer\n"},
		{"apps/base/fitness/kustomization.yaml", "  - secret-amqp.yaml\n", "  - secret-amqp.yaml\n  - secret-api.yaml\n"},
	}},

	// A dependsOn cycle.
	{tree: helmExample, kind: "dependsOn cycle", edits: []edit{{"clusters/staging/infrastructure.yaml", "  name: infra-controllers\n  namespace: flux-system\nspec:\n", "  name: infra-controllers\n  namespace: flux-system\nspec:\n  dependsOn:\n    - name: apps\n"}},
		also: []string{"clusters/staging/apps.yaml"}},
	{tree: monitoring, kind: "dependsOn cycle", edits: []edit{{"clusters/test/monitoring.yaml", "  name: monitoring-controllers\n  namespace: flux-system\nspec:\n", "  name: monitoring-controllers\n  namespace: flux-system\nspec:\n  dependsOn:\n    - name: monitoring-configs\n"}}},
	{tree: homelab, kind: "dependsOn cycle", edits: []edit{{"clusters/homelab/infrastructure.yaml", "  name: gateway-api\n  namespace: flux-system\nspec:\n", "  name: gateway-api\n  namespace: flux-system\nspec:\n  dependsOn:\n    - name: apps\n"}},
		also: []string{"clusters/homelab/apps.yaml"}},

	// A valuesFrom ConfigMap that does not exist.
	{tree: helmExample, kind: "valuesFrom ConfigMap missing", edits: []edit{{"apps/base/podinfo/release.yaml", "  values:\n    redis:\n", "  valuesFrom:\n    - kind: ConfigMap\n      name: podinfo-values\n  values:\n    redis:\n"}}},
	{tree: monitoring, kind: "valuesFrom ConfigMap missing", edits: []edit{{"monitoring/controllers/kube-prometheus-stack/release.yaml", "    name: flux-kube-state-metrics-config\n", "    name: kube-state-metrics-config\n"}}},
}

type outcome int

const (
	missed outcome = iota
	elsewhere
	caught
)

func (o outcome) String() string {
	return [...]string{"missed", "caught in another file", "caught in the file"}[o]
}

// result is a mutant's row of the table.
type result struct {
	m       mutant
	outcome outcome
	// rules are the rules of the new error findings.
	rules []string
	// notAt are the files of m.also without a new error finding.
	notAt []string
}

func TestMutants(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root: %v", err)
	}
	// The mutants run in parallel: each validation is mostly serial.
	baseline := map[string]map[string]bool{}
	for _, m := range mutants {
		if _, ok := baseline[m.tree]; !ok {
			base := map[string]bool{}
			for _, f := range errorFindings(t, copyTree(t, root, m.tree)) {
				base[key(f)] = true
			}
			baseline[m.tree] = base
		}
	}
	results := make([]result, len(mutants))
	t.Run("mutants", func(t *testing.T) {
		for i, m := range mutants {
			t.Run(m.tree+"/"+m.kind, func(t *testing.T) {
				t.Parallel()
				results[i] = mutate(t, root, m, baseline[m.tree])
			})
		}
	})
	table := markdown(results)
	t.Log("\n" + table)
	for _, r := range results {
		if r.outcome == missed {
			t.Errorf("%s, %s (%s): missed", r.m.tree, r.m.kind, r.m.edits[0].file)
		}
		if len(r.notAt) > 0 {
			t.Errorf("%s, %s: not reported at %s", r.m.tree, r.m.kind, strings.Join(r.notAt, ", "))
		}
	}
	checkDoc(t, filepath.Join(root, "docs", "validator-mutants.md"), table)
}

// mutate applies m to a copy of its tree and classifies what the validator
// reports that the unchanged tree (base) does not.
func mutate(t *testing.T, root string, m mutant, base map[string]bool) result {
	dir := copyTree(t, root, m.tree)
	for _, e := range m.edits {
		if err := apply(dir, e); err != nil {
			t.Fatalf("%s, %s: %v", m.tree, m.kind, err)
		}
	}
	res := result{m: m}
	at := map[string]bool{}
	for _, f := range errorFindings(t, dir) {
		if base[key(f)] {
			continue
		}
		at[f.File] = true
		res.rules = append(res.rules, f.Rule)
		t.Logf("%s: %s %s", f.Position(), f.Rule, f.Message)
	}
	slices.Sort(res.rules)
	res.rules = slices.Compact(res.rules)
	switch {
	case at[m.edits[0].file]:
		res.outcome = caught
	case len(at) > 0:
		res.outcome = elsewhere
	}
	for _, f := range m.also {
		if !at[f] {
			res.notAt = append(res.notAt, f)
		}
	}
	return res
}

// errorFindings validates dir as the command does (without the Rego pack,
// which has tests of its own) and returns its errors and warnings: both
// are shown to the reviewer of the pull request (a byte-identical object
// applied twice is a warning, since no apply conflicts while the copies
// stay the same).
func errorFindings(t *testing.T, dir string) []finding.Finding {
	t.Helper()
	rep, err := validate.Run(context.Background(), validate.Options{Root: dir, Policies: "-"})
	if err != nil {
		t.Fatalf("validate %s: %v", dir, err)
	}
	var out []finding.Finding
	for _, f := range rep.Findings {
		if f.Severity == finding.Error || f.Severity == finding.Warning {
			out = append(out, f)
		}
	}
	return out
}

// key identifies a finding across the baseline and a mutant, without its
// message (which may name the mutated value) or position (which an edit
// above it moves).
func key(f finding.Finding) string {
	return strings.Join([]string{f.Rule, f.File, f.Object.String(), f.Cluster}, "\x00")
}

// copyTree copies a tree into a new temporary directory.
func copyTree(t *testing.T, root, tree string) string {
	t.Helper()
	dst := t.TempDir()
	if tree != homelab {
		if err := os.CopyFS(dst, os.DirFS(filepath.Join("testdata", tree))); err != nil {
			t.Fatalf("copy %s: %v", tree, err)
		}
		return dst
	}
	for _, p := range homelabPaths {
		src := filepath.Join(root, p)
		st, err := os.Stat(src)
		switch {
		case os.IsNotExist(err):
			continue
		case err != nil:
			t.Fatal(err)
		case st.IsDir():
			err = os.CopyFS(filepath.Join(dst, p), os.DirFS(src))
		default:
			var data []byte
			if data, err = os.ReadFile(src); err == nil {
				err = os.WriteFile(filepath.Join(dst, p), data, 0o644)
			}
		}
		if err != nil {
			t.Fatalf("copy %s: %v", p, err)
		}
	}
	return dst
}

func apply(dir string, e edit) error {
	p := filepath.Join(dir, filepath.FromSlash(e.file))
	if e.old == "" {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s already exists", e.file)
		}
		return os.WriteFile(p, []byte(e.new), 0o644)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if n := bytes.Count(data, []byte(e.old)); n != 1 {
		return fmt.Errorf("%s has %q %d times, want once: the tree changed, update the mutant", e.file, e.old, n)
	}
	return os.WriteFile(p, bytes.Replace(data, []byte(e.old), []byte(e.new), 1), 0o644)
}

func markdown(results []result) string {
	var b strings.Builder
	b.WriteString("| tree | defect | file changed | result | reported as |\n| --- | --- | --- | --- | --- |\n")
	counts := map[outcome]int{}
	for _, r := range results {
		counts[r.outcome]++
		fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %s |\n", r.m.tree, r.m.kind, r.m.edits[0].file, r.outcome, strings.Join(r.rules, ", "))
	}
	fmt.Fprintf(&b, "\n%d mutants: %d caught in the file, %d caught in another file, %d missed.\n",
		len(results), counts[caught], counts[elsewhere], counts[missed])
	return b.String()
}

const (
	tableStart = "<!-- mutants table: written by go test ./tools/internal/mutants -update-doc -->\n"
	tableEnd   = "<!-- end of mutants table -->\n"
)

// checkDoc keeps the documented table equal to the one the test computes.
func checkDoc(t *testing.T, path, table string) {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(doc), tableStart)
	_, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s: no table markers %q ... %q", path, tableStart, tableEnd)
	}
	want := before + tableStart + table + tableEnd + after
	if want == string(doc) {
		return
	}
	if *updateDoc {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s has another table than the test computed; run go test ./tools/internal/mutants -update-doc", path)
}
