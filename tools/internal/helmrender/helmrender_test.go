package helmrender

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

func TestShortenName(t *testing.T) {
	long := strings.Repeat("a", 30) + "-" + strings.Repeat("b", 30)
	tests := []struct {
		name string
		want string
	}{
		{"podinfo", "podinfo"},
		{strings.Repeat("x", 53), strings.Repeat("x", 53)},
		// helm-controller: first 40 characters, "-", 12 hex digits of the
		// SHA-256 of the whole name.
		{long, long[:40] + "-0d5805a5e727"},
	}
	for _, tt := range tests {
		if got := shortenName(tt.name); got != tt.want {
			t.Errorf("shortenName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPinned(t *testing.T) {
	tests := map[string]bool{
		"1.2.3": true, "v1.16.2": true, "1.0.0-rc.1": true, "1.0.0+build.5": true,
		"1.x": false, "1.2.*": false, "^1.2.0": false, "~1.2": false, ">=1.0.0 <2.0.0": false, "*": false,
	}
	for v, want := range tests {
		if got := pinned(v); got != want {
			t.Errorf("pinned(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestTemplateOf(t *testing.T) {
	tests := map[string]string{
		`template: hello/templates/deployment.yaml:2:4: executing "hello/templates/deployment.yaml" at <fail .Values.failMessage>: error calling fail: boom`: "hello/templates/deployment.yaml",
		`parse error at (hello/templates/x.yaml:3): unexpected EOF`:           "",
		`template: app/charts/sub/templates/_helpers.tpl:12:3: executing ...`: "app/charts/sub/templates/_helpers.tpl",
	}
	for msg, want := range tests {
		if got := templateOf(msg); got != want {
			t.Errorf("templateOf(%q) = %q, want %q", msg, got, want)
		}
	}
}

// fakeSources serves objects from a list.
type fakeSources struct {
	objects []*render.Object
	made    map[string]bool
}

func (f fakeSources) Object(kind, namespace, name string) *render.Object {
	for _, o := range f.objects {
		if o.U.GetKind() == kind && o.U.GetNamespace() == namespace && o.U.GetName() == name {
			return o
		}
	}
	return nil
}

func (f fakeSources) Repository(string, string, string) (render.Source, bool) {
	return render.Source{}, false
}

func (f fakeSources) Made(kind, namespace, name string) bool {
	return f.made[kind+"/"+namespace+"/"+name]
}

func repoObject(t testing.TB, y string) *render.Object {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatal(err)
	}
	return &render.Object{U: &unstructured.Unstructured{Object: m}, File: "apps/x.yaml", Owner: &render.Kustomization{}}
}

func TestValuesFrom(t *testing.T) {
	srcs := fakeSources{objects: []*render.Object{
		repoObject(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: base, namespace: apps}, data: {values.yaml: "a: {b: 1, c: 2}\nlist: [1, 2]\n", replicas: "3", quoted: "'007'", literal: "x,y"}}`),
		repoObject(t, `{apiVersion: v1, kind: Secret, metadata: {name: creds, namespace: apps}, data: {values.yaml: "YToge2M6IDN9Cg==", password: "ENC[AES256_GCM,data:abc,type:str]"}, sops: {version: 3.9.0}}`),
		repoObject(t, `{apiVersion: v1, kind: Secret, metadata: {name: sealed, namespace: apps}, stringData: {values.yaml: "ENC[AES256_GCM,data:abc,type:str]"}, sops: {version: 3.9.0}}`),
	}, made: map[string]bool{"Secret/apps/external": true}}
	tests := []struct {
		name     string
		spec     string
		want     map[string]any
		findings []string // rule ids
	}{
		{"merge in order, spec.values last",
			`valuesFrom: [{kind: ConfigMap, name: base}, {kind: Secret, name: creds}]
values: {a: {b: 10}}`,
			map[string]any{"a": map[string]any{"b": float64(10), "c": float64(3)}, "list": []any{float64(1), float64(2)}}, nil},
		{"targetPath: typed, quoted as string, literal",
			`valuesFrom:
- {kind: ConfigMap, name: base, valuesKey: replicas, targetPath: replicas}
- {kind: ConfigMap, name: base, valuesKey: quoted, targetPath: id}
- {kind: ConfigMap, name: base, valuesKey: literal, targetPath: raw, literal: true}`,
			map[string]any{"replicas": int64(3), "id": "007", "raw": "x,y"}, nil},
		{"encrypted value at a targetPath becomes a placeholder",
			`valuesFrom: [{kind: Secret, name: creds, valuesKey: password, targetPath: auth.password}]`,
			map[string]any{"auth": map[string]any{"password": "sops-password"}}, nil},
		{"encrypted values file is left out and said so",
			`valuesFrom: [{kind: Secret, name: sealed}]`,
			map[string]any{}, []string{finding.RefUnknown}},
		{"missing object: warning; optional: nothing; made in the cluster: info",
			`valuesFrom: [{kind: ConfigMap, name: nope}, {kind: ConfigMap, name: nope2, optional: true}, {kind: Secret, name: external}]`,
			map[string]any{}, []string{finding.RefMissing, finding.RefUnknown}},
		{"missing key is an error",
			`valuesFrom: [{kind: ConfigMap, name: base, valuesKey: nokey}]`,
			map[string]any{}, []string{finding.RefMissing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hr := repoObject(t, `{apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, metadata: {name: app, namespace: apps}, spec: {`+"}}")
			var spec map[string]any
			if err := yaml.Unmarshal([]byte(tt.spec), &spec); err != nil {
				t.Fatal(err)
			}
			hr.U.Object["spec"] = spec
			var obj helmv2.HelmRelease
			data, _ := json.Marshal(hr.U.Object)
			if err := json.Unmarshal(data, &obj); err != nil {
				t.Fatal(err)
			}
			got, fs := valuesFrom(hr, &obj, srcs)
			if diff := cmp.Diff(tt.want, normalise(got)); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			var rules []string
			for _, f := range fs {
				rules = append(rules, f.Rule)
			}
			if diff := cmp.Diff(tt.findings, rules); diff != "" {
				t.Errorf("findings (-want +got):\n%s\n%v", diff, fs)
			}
		})
	}
}

// normalise turns the values into JSON types (ints from strvals stay
// int64) so they compare independently of the YAML decoder.
func normalise(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch t := v.(type) {
		case map[string]any:
			out[k] = normalise(t)
		case int:
			out[k] = float64(t)
		default:
			out[k] = v
		}
	}
	return out
}

func TestLoadOncePerRun(t *testing.T) {
	dir := t.TempDir()
	chart := filepath.Join(dir, "c")
	testfs.Write(t, chart, map[string]string{
		"Chart.yaml":           "apiVersion: v2\nname: c\nversion: 1.0.0\n",
		"values.yaml":          "count: 1\n",
		"templates/cm.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  count: {{ .Values.count | quote }}\n",
		"templates/_x.tpl":     "{{ define \"x\" }}{{ end }}",
		"templates/NOTES.txt":  "notes",
		"templates/empty.yaml": "{{- if false }}x: y{{ end }}",
	})
	r := New(nil, nil, nil, nil)
	loc := Location{Path: chart, Describe: "test"}
	for i, n := range []string{"2", "3"} {
		hr := repoObject(t, `{apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, metadata: {name: r`+n+`, namespace: apps}, spec: {values: {count: `+n+`}}}`)
		res := r.Render(context.Background(), Release{HR: hr, Location: loc, Sources: fakeSources{}})
		if len(res.Findings) != 0 || len(res.Objects) != 1 {
			t.Fatalf("render %d: %d objects, findings %v; want 1 ConfigMap and no finding", i, len(res.Objects), res.Findings)
		}
		u := res.Objects[0].U
		if v, _, _ := unstructured.NestedString(u.Object, "data", "count"); v != n || u.GetName() != "r"+n || u.GetNamespace() != "apps" {
			t.Errorf("render %d: %s/%s n=%q, want apps/r%s n=%s (values of one release must not leak into the next)", i, u.GetNamespace(), u.GetName(), v, n, n)
		}
		if i == 0 {
			// Loaded once: removing the chart does not matter any more.
			if err := os.RemoveAll(chart); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestInstallOptions(t *testing.T) {
	dir := t.TempDir()
	testfs.Write(t, dir, map[string]string{
		"Chart.yaml":          "apiVersion: v2\nname: hooks\nversion: 1.0.0\n",
		"values.yaml":         "count: 1\n",
		"values.schema.json":  `{"type": "object", "properties": {"count": {"type": "integer"}}}`,
		"templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  count: {{ .Values.count | quote }}\n",
		"templates/job.yaml":  "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: busybox}]\n",
		"templates/test.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: smoke\n  annotations:\n    helm.sh/hook: test\nspec:\n  containers: [{name: t, image: busybox}]\n",
	})
	tests := []struct {
		name    string
		spec    string
		kinds   []string // rendered, in order
		failure string   // substring of a helm-render-failed message
	}{
		{"hooks but not test hooks", `{}`, []string{"ConfigMap", "Job"}, ""},
		{"disableHooks", `{install: {disableHooks: true}}`, []string{"ConfigMap"}, ""},
		{"values.schema.json enforced", `{values: {count: many}}`, nil, "values.schema.json"},
		{"disableSchemaValidation", `{install: {disableSchemaValidation: true}, values: {count: many}}`, []string{"ConfigMap", "Job"}, ""},
	}
	r := New(nil, nil, nil, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hr := repoObject(t, `{apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, metadata: {name: r, namespace: apps}, spec: `+tt.spec+`}`)
			res := r.Render(context.Background(), Release{HR: hr, Location: Location{Path: dir, Describe: "test"}, Sources: fakeSources{}})
			var kinds []string
			for _, o := range res.Objects {
				kinds = append(kinds, o.U.GetKind())
			}
			if diff := cmp.Diff(tt.kinds, kinds); diff != "" {
				t.Errorf("rendered kinds (-want +got):\n%s", diff)
			}
			failed := ""
			for _, f := range res.Findings {
				if f.Rule == finding.HelmRenderFailed {
					failed = f.Message
				}
			}
			if tt.failure == "" && failed != "" || tt.failure != "" && !strings.Contains(failed, tt.failure) {
				t.Errorf("helm-render-failed %q, want one mentioning %q", failed, tt.failure)
			}
		})
	}
}
