package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

// chartFixture is the clean fixture with the helm-chart overlay (a local
// chart and a HelmRelease of it with valuesFrom) and the files given.
func chartFixture(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := fixture(t, "helm-chart")
	testfs.Write(t, dir, files)
	return dir
}

const cachedRelease = `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: example
spec:
  interval: 24h
  url: https://charts.example.com
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello
spec:
  interval: 30m
  chart:
    spec:
      chart: hello
      version: "0.2.0"
      sourceRef:
        kind: HelmRepository
        name: example
  values:
    replicas: 2
`

// helloRelease is the overlay's HelmRelease, for tests that add to it.
func helloRelease(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "cases", "helm-chart", "apps", "web", "hello.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// chartObject finds an object rendered from a chart.
func chartObject(rep *Report, kind, name string) *render.Object {
	for _, c := range rep.Clusters {
		for _, o := range c.Objects {
			if o.Chart != nil && o.U.GetKind() == kind && o.U.GetName() == name {
				return o
			}
		}
	}
	return nil
}

func logFindings(t *testing.T, rep *Report) {
	t.Helper()
	for _, f := range rep.Findings {
		t.Logf("%s: %s %s %s", f.Position(), f.Severity, f.Rule, f.Message)
	}
}

// cacheChart writes the fixture chart as version 0.2.0 into dir, unpacked
// (dir/hello/) or as helm pull leaves it (dir/hello-0.2.0.tgz).
func cacheChart(t *testing.T, src, dir string, packed bool) {
	t.Helper()
	ch, err := loader.Load(filepath.Join(src, "charts", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	ch.Metadata.Version = "0.2.0"
	if packed {
		if _, err := chartutil.Save(ch, dir); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := chartutil.SaveDir(ch, dir); err != nil {
		t.Fatal(err)
	}
	// SaveDir keeps the loaded Chart.yaml bytes: write the new version.
	data, err := os.ReadFile(filepath.Join(dir, "hello", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "version: 0.1.0", "version: 0.2.0", 1))
	if err := os.WriteFile(filepath.Join(dir, "hello", "Chart.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLocalChartRendered(t *testing.T) {
	rep, err := Run(context.Background(), Options{Root: chartFixture(t, nil), Policies: policies(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Severity != finding.Info || f.Rule == finding.HelmNotRendered && f.Object.Name == "hello" {
			logFindings(t, rep)
			t.Fatalf("unexpected finding on a clean chart: %s %s %s", f.Position(), f.Rule, f.Message)
		}
	}
	dep := chartObject(rep, "Deployment", "hello-hello")
	if dep == nil {
		t.Fatal("the chart's Deployment hello-hello was not rendered")
	}
	if dep.File != "apps/web/hello.yaml" || dep.Chart.Template != "hello/templates/deployment.yaml" || dep.U.GetNamespace() != "web" {
		t.Errorf("Deployment attributed to %s (template %s, namespace %s), want apps/web/hello.yaml, hello/templates/deployment.yaml, web",
			dep.File, dep.Chart.Template, dep.U.GetNamespace())
	}
	replicas, _, _ := unstructured.NestedInt64(dep.U.Object, "spec", "replicas")
	team := dep.U.GetLabels()["team"]
	containers, _, _ := unstructured.NestedSlice(dep.U.Object, "spec", "template", "spec", "containers")
	var port int64
	if ports, ok := containers[0].(map[string]any)["ports"].([]any); ok {
		port, _ = ports[0].(map[string]any)["containerPort"].(int64)
	}
	if replicas != 3 || team != "web" || port != 9090 {
		t.Errorf("values not applied: replicas %d (want 3 from valuesFrom targetPath), label team %q (want web from valuesFrom), containerPort %d (want 9090 from spec.values)", replicas, team, port)
	}
	if dep.U.GetLabels()["helm.toolkit.fluxcd.io/name"] != "hello" {
		t.Errorf("origin labels missing: %v", dep.U.GetLabels())
	}
	if chartObject(rep, "CustomResourceDefinition", "widgets.example.com") == nil || chartObject(rep, "Widget", "hello-hello") == nil {
		t.Error("the chart's CRD (crds/) or its Widget (rendered when .Capabilities has the CRD) is missing")
	}
	if chartObject(rep, "Service", "hello-hello") == nil {
		t.Error("the chart's Service is missing")
	}
}

func TestChartFindings(t *testing.T) {
	values := func(v string) map[string]string {
		return map[string]string{"apps/web/hello-values.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: hello-values
data:
  values.yaml: |
` + v + `  replicas: "3"
`}
	}
	tests := []struct {
		name    string
		files   map[string]string
		rule    string
		file    string
		message []string
	}{
		{"schema error inside the chart output", values("    extraReplica: true\n"), finding.SchemaInvalid, "apps/web/hello.yaml",
			[]string{"spec.replica", "HelmRelease web/hello", "hello/templates/deployment.yaml"}},
		{"template error", values("    failMessage: hello needs a database\n"), finding.HelmRenderFailed, "apps/web/hello.yaml",
			[]string{"hello/templates/deployment.yaml", "hello needs a database"}},
		{"policy on the chart output", values("    image: {tag: latest}\n"), "security-image-pinned", "apps/web/hello.yaml",
			[]string{":latest", "hello/templates/deployment.yaml"}},
		{"enum in the chart's own CRD", values("    widget: {size: huge}\n"), finding.SchemaInvalid, "apps/web/hello.yaml",
			[]string{"huge", "Widget"}},
		{"two releases render the same objects", map[string]string{"apps/web/hello.yaml": helloRelease(t) + `---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello2
spec:
  interval: 30m
  releaseName: hello
  chart:
    spec:
      chart: ./charts/hello
      sourceRef:
        kind: GitRepository
        name: flux-system
        namespace: flux-system
`}, finding.GraphDuplicate, "apps/web/hello.yaml", []string{"Deployment/web/hello-hello", "the chart of HelmRelease web/hello2"}},
		{"missing valuesFrom key", map[string]string{"apps/web/hello-values.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello-values\ndata:\n  values.yaml: \"{}\"\n"},
			finding.RefMissing, "apps/web/hello.yaml", []string{`key "replicas"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(context.Background(), Options{Root: chartFixture(t, tt.files), Policies: policies(t)})
			if err != nil {
				t.Fatal(err)
			}
			got := mustFind(t, rep, tt.rule, tt.file, tt.message)
			if got.Line == 0 || got.Severity != finding.Error {
				t.Errorf("finding %s at line %d with severity %s, want the HelmRelease's line and an error", got.Rule, got.Line, got.Severity)
			}
		})
	}
}

// mustFind returns the last finding of rule in file whose message holds
// every one of message, and fails the test when there is none.
func mustFind(t *testing.T, rep *Report, rule, file string, message []string) *finding.Finding {
	t.Helper()
	var got *finding.Finding
	for i, f := range rep.Findings {
		if f.Rule == rule && f.File == file && containsAll(f.Message, message) {
			got = &rep.Findings[i]
		}
	}
	if got == nil {
		logFindings(t, rep)
		t.Fatalf("no %s finding in %s mentioning %q", rule, file, message)
	}
	return got
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestChartCache(t *testing.T) {
	tests := []struct {
		name     string
		packed   bool
		version  string
		rendered bool
	}{
		{"helm pull archive", true, "0.2.0", true},
		{"unpacked chart", false, "0.2.0", true},
		{"version not cached", true, "0.3.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := chartFixture(t, map[string]string{
				"apps/web/hello.yaml": strings.Replace(cachedRelease, `"0.2.0"`, `"`+tt.version+`"`, 1),
			})
			cache := filepath.Join(dir, ".charts")
			cacheChart(t, dir, cache, tt.packed)
			if err := os.RemoveAll(filepath.Join(dir, "charts")); err != nil {
				t.Fatal(err)
			}
			opts := Options{Root: dir, Policies: policies(t)}
			if tt.packed {
				opts.ChartCache = []string{cache} // the flag
			} else if err := os.WriteFile(filepath.Join(dir, ".gitops-validate.yaml"), []byte("chartCache: [.charts]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			dep := chartObject(rep, "Deployment", "hello-hello")
			notRendered := false
			for _, f := range rep.Findings {
				if f.Rule == finding.HelmNotRendered && f.Object.Name == "hello" {
					notRendered = true
				}
				if f.Severity != finding.Info {
					logFindings(t, rep)
					t.Errorf("unexpected finding: %s %s %s", f.Position(), f.Rule, f.Message)
				}
			}
			if got := dep != nil; got != tt.rendered || notRendered == tt.rendered {
				logFindings(t, rep)
				t.Fatalf("rendered %v, not-rendered info %v; want rendered %v", got, notRendered, tt.rendered)
			}
			if dep != nil {
				if r, _, _ := unstructured.NestedInt64(dep.U.Object, "spec", "replicas"); r != 2 {
					t.Errorf("replicas %d, want 2 from spec.values", r)
				}
			}
		})
	}
}

// requireCharts makes a chart found nowhere an error: a repository with a
// chart mirror fails when a version moves without its archive.
func TestRequireCharts(t *testing.T) {
	for _, require := range []bool{false, true} {
		dir := chartFixture(t, map[string]string{"apps/web/hello.yaml": cachedRelease})
		cache := filepath.Join(dir, ".charts")
		cacheChart(t, dir, cache, true)
		cfg := "chartCache: [.charts]\n"
		if require {
			cfg += "requireCharts: true\n"
		}
		testfs.Write(t, dir, map[string]string{
			".gitops-validate.yaml": cfg,
			// A version bump without its archive in the cache.
			"apps/web/hello.yaml": strings.Replace(cachedRelease, `"0.2.0"`, `"0.2.1"`, 1),
		})
		rep, err := Run(context.Background(), Options{Root: dir, Policies: policies(t)})
		if err != nil {
			t.Fatal(err)
		}
		want := finding.Info
		if require {
			want = finding.Error
		}
		found := false
		for _, f := range rep.Findings {
			if f.Rule == finding.HelmNotRendered && f.Object.Name == "hello" {
				found = true
				if f.Severity != want || require != strings.Contains(f.Message, "requireCharts") {
					t.Errorf("requireCharts %v: %s %s, want severity %s", require, f.Severity, f.Message, want)
				}
			}
		}
		if !found {
			logFindings(t, rep)
			t.Fatalf("requireCharts %v: no %s finding for the missing 0.2.1", require, finding.HelmNotRendered)
		}
	}
}

func TestChartInstallOptions(t *testing.T) {
	release := `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello
spec:
  interval: 30m
  releaseName: greeter
  targetNamespace: web
  install:
    crds: Skip
  chart:
    spec:
      chart: ./charts/hello
      sourceRef:
        kind: GitRepository
        name: flux-system
        namespace: flux-system
  postRenderers:
    - kustomize:
        images:
          - name: ghcr.io/example/hello
            newTag: "1.0.1"
        patches:
          - target:
              kind: Deployment
            patch: |
              - op: add
                path: /metadata/annotations
                value: {patched: "yes"}
`
	rep, err := Run(context.Background(), Options{Root: chartFixture(t, map[string]string{"apps/web/hello.yaml": release}), Policies: policies(t)})
	if err != nil {
		t.Fatal(err)
	}
	dep := chartObject(rep, "Deployment", "greeter-hello")
	if dep == nil {
		logFindings(t, rep)
		t.Fatal("Deployment greeter-hello (spec.releaseName) was not rendered")
	}
	containers, _, _ := unstructured.NestedSlice(dep.U.Object, "spec", "template", "spec", "containers")
	if img := containers[0].(map[string]any)["image"]; img != "ghcr.io/example/hello:1.0.1" {
		t.Errorf("image %v, want the post-renderer's ghcr.io/example/hello:1.0.1", img)
	}
	if dep.U.GetAnnotations()["patched"] != "yes" || dep.Chart.Template != "hello/templates/deployment.yaml" {
		t.Errorf("post-renderer patch not applied or template lost: %v, %q", dep.U.GetAnnotations(), dep.Chart.Template)
	}
	if chartObject(rep, "CustomResourceDefinition", "widgets.example.com") != nil || chartObject(rep, "Widget", "greeter-hello") != nil {
		t.Error("install.crds: Skip still installed the chart's CRD")
	}
}

func TestChartRef(t *testing.T) {
	release := `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata:
  name: hello
spec:
  interval: 10m
  chart: ./charts/hello
  sourceRef:
    kind: GitRepository
    name: flux-system
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello
spec:
  interval: 30m
  chartRef:
    kind: HelmChart
    name: hello
`
	// The HelmChart's sourceRef has no namespace: it is the HelmChart's
	// own (web), where no GitRepository flux-system exists.
	tests := []struct {
		name     string
		patch    func(string) string
		rendered bool
	}{
		{"source in another namespace", func(s string) string {
			return strings.Replace(s, "    name: flux-system\n", "    name: flux-system\n    namespace: flux-system\n", 1)
		}, true},
		{"source missing", func(s string) string { return s }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(context.Background(), Options{Root: chartFixture(t, map[string]string{"apps/web/hello.yaml": tt.patch(release)}), Policies: policies(t)})
			if err != nil {
				t.Fatal(err)
			}
			if got := chartObject(rep, "Deployment", "hello-hello") != nil; got != tt.rendered {
				logFindings(t, rep)
				t.Fatalf("chart rendered: %v, want %v", got, tt.rendered)
			}
		})
	}
}

func TestChartValuesFiles(t *testing.T) {
	release := `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello
spec:
  interval: 30m
  chart:
    spec:
      chart: ./charts/hello
      valuesFiles:
        - charts/hello/values.yaml
        - apps/web/hello-prod.values.yaml
        - apps/web/missing.values.yaml
      ignoreMissingValuesFiles: true
      sourceRef:
        kind: GitRepository
        name: flux-system
        namespace: flux-system
`
	rep, err := Run(context.Background(), Options{Root: chartFixture(t, map[string]string{
		"apps/web/hello.yaml":             release,
		"apps/web/hello-prod.values.yaml": "replicas: 5\nimage:\n  tag: \"1.0.2\"\n",
	}), Policies: policies(t)})
	if err != nil {
		t.Fatal(err)
	}
	dep := chartObject(rep, "Deployment", "hello-hello")
	if dep == nil {
		logFindings(t, rep)
		t.Fatal("chart not rendered")
	}
	replicas, _, _ := unstructured.NestedInt64(dep.U.Object, "spec", "replicas")
	containers, _, _ := unstructured.NestedSlice(dep.U.Object, "spec", "template", "spec", "containers")
	if img := containers[0].(map[string]any)["image"]; replicas != 5 || img != "ghcr.io/example/hello:1.0.2" {
		t.Errorf("replicas %d, image %v; want 5 and ghcr.io/example/hello:1.0.2 from the second values file over the chart's", replicas, img)
	}

	// Without ignoreMissingValuesFiles the missing file fails the release.
	rep, err = Run(context.Background(), Options{Root: chartFixture(t, map[string]string{
		"apps/web/hello.yaml":             strings.Replace(release, "      ignoreMissingValuesFiles: true\n", "", 1),
		"apps/web/hello-prod.values.yaml": "replicas: 5\n",
	}), Policies: policies(t)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range rep.Findings {
		found = found || f.Rule == finding.HelmRenderFailed && strings.Contains(f.Message, "apps/web/missing.values.yaml")
	}
	if !found {
		logFindings(t, rep)
		t.Error("no helm-render-failed finding for the missing values file")
	}
}

// TestChartCapabilitiesWithoutSchemas: a chart that asks .Capabilities for
// a kind (as Traefik's PodDisruptionBudget does) renders the same objects
// with the schema checks off (--skip schema, the base render of --base)
// as with them on. It rendered policy/v1beta1 in one and policy/v1 in the
// other, so `--base HEAD` showed a change where there was none.
func TestChartCapabilitiesWithoutSchemas(t *testing.T) {
	dir := chartFixture(t, map[string]string{"charts/hello/templates/pdb.yaml": `{{- if .Capabilities.APIVersions.Has "policy/v1/PodDisruptionBudget" }}
apiVersion: policy/v1
{{- else }}
apiVersion: policy/v1beta1
{{- end }}
kind: PodDisruptionBudget
metadata:
  name: {{ .Release.Name }}-hello
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app: hello
`})
	for _, skip := range []map[finding.Class]bool{nil, {finding.ClassSchema: true}} {
		rep, err := Run(context.Background(), Options{Root: dir, Policies: "-", Skip: skip})
		if err != nil {
			t.Fatal(err)
		}
		pdb := chartObject(rep, "PodDisruptionBudget", "hello-hello")
		if pdb == nil {
			t.Fatalf("skip %v: the chart's PodDisruptionBudget was not rendered", skip)
		}
		if got := pdb.U.GetAPIVersion(); got != "policy/v1" {
			t.Errorf("skip %v: PodDisruptionBudget rendered as %s, want policy/v1", skip, got)
		}
	}
}
