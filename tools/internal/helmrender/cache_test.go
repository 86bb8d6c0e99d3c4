package helmrender

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

var cacheChart = map[string]string{
	"Chart.yaml":         "apiVersion: v2\nname: cached\nversion: 1.0.0\n",
	"values.yaml":        "count: 1\n",
	"values.schema.json": `{"type": "object", "properties": {"count": {"type": "integer"}}}`,
	"templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  count: {{ .Values.count | quote }}
  token: {{ randAlphaNum 24 | quote }}
  widgets: {{ .Capabilities.APIVersions.Has "example.com/v1/Widget" | quote }}
`,
	"templates/job.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox}]
`,
}

// renderedObject is what a render gives, for comparison.
type renderedObject struct {
	File, Template string
	Object         map[string]any
}

func rendered(res Result) []renderedObject {
	var out []renderedObject
	for _, o := range res.Objects {
		out = append(out, renderedObject{o.File, o.Chart.Template, o.U.Object})
	}
	return out
}

func configMap(t *testing.T, res Result) *unstructured.Unstructured {
	t.Helper()
	for _, o := range res.Objects {
		if o.U.GetKind() == "ConfigMap" {
			return o.U
		}
	}
	t.Fatalf("no ConfigMap rendered; findings %v", res.Findings)
	return nil
}

func cmData(t *testing.T, res Result, key string) string {
	t.Helper()
	v, _, _ := unstructured.NestedString(configMap(t, res).Object, "data", key)
	return v
}

func cacheEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestRenderCache(t *testing.T) {
	chartDir := t.TempDir()
	testfs.Write(t, chartDir, cacheChart)
	cacheDir := t.TempDir()
	type input struct {
		spec  string
		apis  []string
		chart string
	}
	render := func(cache *RenderCache, in input) Result {
		t.Helper()
		hr := repoObject(t, `{apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, metadata: {name: r, namespace: apps}, spec: `+in.spec+`}`)
		chart := chartDir
		if in.chart != "" {
			chart = in.chart
		}
		return New(nil, nil, nil, cache).Render(context.Background(), Release{HR: hr, Location: Location{Path: chart, Describe: "test"}, Sources: fakeSources{}, APIVersions: in.apis})
	}
	base := input{spec: `{values: {count: 2}}`}

	// Without a cache every render draws a new token, so equal tokens
	// below come from the cache.
	if a, b := cmData(t, render(nil, base), "token"), cmData(t, render(nil, base), "token"); a == b {
		t.Fatalf("two renders without a cache drew the same token %q", a)
	}
	first := render(NewRenderCache(cacheDir), base)
	if len(first.Findings) != 0 || len(first.Objects) != 2 {
		t.Fatalf("first render: %d objects, findings %v", len(first.Objects), first.Findings)
	}
	if n := len(cacheEntries(t, cacheDir)); n != 1 {
		t.Fatalf("%d cache entries after one render, want 1", n)
	}
	// A later run (a new renderer over the same directory) gets the same
	// objects, in the same order, from the same templates.
	second := render(NewRenderCache(cacheDir), base)
	if diff := cmp.Diff(rendered(first), rendered(second)); diff != "" {
		t.Fatalf("render from the cache differs (-first +cached):\n%s", diff)
	}

	otherChart := t.TempDir()
	changed := map[string]string{}
	for k, v := range cacheChart {
		changed[k] = v
	}
	changed["templates/cm.yaml"] = strings.Replace(cacheChart["templates/cm.yaml"], "count: {{ .Values.count | quote }}", "count: {{ add .Values.count 10 | quote }}", 1)
	testfs.Write(t, otherChart, changed)

	// Every input of a render is part of the key: a change renders anew.
	tests := []struct {
		name  string
		in    input
		check func(Result) string
	}{
		{"values", input{spec: `{values: {count: 3}}`}, func(r Result) string { return cmData(t, r, "count") + " want 3" }},
		{"release name", input{spec: `{releaseName: other, values: {count: 2}}`}, func(r Result) string { return configMap(t, r).GetName() + " want other" }},
		{"namespace", input{spec: `{targetNamespace: web, values: {count: 2}}`}, func(r Result) string { return configMap(t, r).GetNamespace() + " want web" }},
		{"capabilities", input{spec: base.spec, apis: []string{"example.com/v1/Widget"}}, func(r Result) string { return cmData(t, r, "widgets") + " want true" }},
		{"disableHooks", input{spec: `{install: {disableHooks: true}, values: {count: 2}}`}, func(r Result) string {
			return strings.Repeat("x", len(r.Objects)) + " want x"
		}},
		{"post-renderers", input{spec: `{values: {count: 2}, postRenderers: [{kustomize: {patches: [{target: {kind: ConfigMap}, patch: '[{"op": "add", "path": "/data/patched", "value": "yes"}]'}]}}]}`},
			func(r Result) string { return cmData(t, r, "patched") + " want yes" }},
		{"a template", input{spec: base.spec, chart: otherChart}, func(r Result) string { return cmData(t, r, "count") + " want 12" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(cacheEntries(t, cacheDir))
			res := render(NewRenderCache(cacheDir), tt.in)
			if got, want, _ := strings.Cut(tt.check(res), " want "); got != want {
				t.Errorf("rendered %q, want %q (a stale entry?)", got, want)
			}
			if after := len(cacheEntries(t, cacheDir)); after != before+1 {
				t.Errorf("%d entries after a render with a new %s, want %d", after, tt.name, before+1)
			}
			again := render(NewRenderCache(cacheDir), tt.in)
			if diff := cmp.Diff(rendered(res), rendered(again)); diff != "" {
				t.Errorf("second render with the new %s differs (-first +cached):\n%s", tt.name, diff)
			}
		})
	}

	t.Run("another build of the validator", func(t *testing.T) {
		before := len(cacheEntries(t, cacheDir))
		c := NewRenderCache(cacheDir)
		if c.build == "" {
			t.Fatal("no build identity")
		}
		c.build += " rebuilt"
		render(c, base)
		if after := len(cacheEntries(t, cacheDir)); after != before+1 {
			t.Errorf("%d entries after a render by another build, want %d", after, before+1)
		}
	})

	t.Run("values against the schema", func(t *testing.T) {
		before := len(cacheEntries(t, cacheDir))
		res := render(NewRenderCache(cacheDir), input{spec: `{values: {count: many}}`})
		if len(res.Findings) != 1 || res.Findings[0].Rule != finding.HelmRenderFailed || !strings.Contains(res.Findings[0].Message, "values.schema.json") {
			t.Errorf("findings %v, want one helm-render-failed naming values.schema.json", res.Findings)
		}
		if after := len(cacheEntries(t, cacheDir)); after != before {
			t.Errorf("a failed render was cached (%d entries, had %d)", after, before)
		}
	})

	t.Run("a damaged entry", func(t *testing.T) {
		entries := cacheEntries(t, cacheDir)
		for _, e := range entries {
			if err := os.WriteFile(e, []byte(`{"manifests": [{"template": "x", "obj`), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		res := render(NewRenderCache(cacheDir), base)
		if got := cmData(t, res, "count"); got != "2" || len(res.Objects) != 2 {
			t.Errorf("render over a damaged entry: count %q, %d objects; want 2 and 2", got, len(res.Objects))
		}
		again := render(NewRenderCache(cacheDir), base)
		if cmData(t, again, "token") != cmData(t, res, "token") {
			t.Error("the damaged entry was not replaced")
		}
	})

	t.Run("an unwritable directory", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		res := render(NewRenderCache(filepath.Join(file, "renders")), base)
		if len(res.Findings) != 0 || cmData(t, res, "count") != "2" {
			t.Errorf("render with a cache that cannot be written: findings %v", res.Findings)
		}
	})
}

func TestRenderCacheTrim(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	c := NewRenderCache(dir)
	c.now = func() time.Time { return now }
	age := func(p string, d time.Duration) {
		t.Helper()
		if err := os.Chtimes(p, now.Add(-d), now.Add(-d)); err != nil {
			t.Fatal(err)
		}
	}
	obj := func(name string) []object {
		return []object{{&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}}}, "c/templates/cm.yaml"}}
	}
	key := func(s string) string { return strings.Repeat(s, 64) }
	for _, k := range []string{"a", "b", "c"} {
		if err := c.put(key(k), obj(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	age(c.path(key("a")), 8*24*time.Hour) // unused for longer than a week
	age(c.path(key("b")), 3*24*time.Hour) // used three days ago
	age(filepath.Join(dir, "trimmed"), 25*time.Hour)
	if _, _, ok := c.get(key("b")); !ok {
		t.Fatal("entry b not found")
	}
	if fi, err := os.Stat(c.path(key("b"))); err != nil || now.Sub(fi.ModTime()) > time.Minute {
		t.Errorf("using entry b did not renew its time (%v)", err)
	}
	if err := c.put(key("d"), obj("d"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.path(key("a"))); !os.IsNotExist(err) {
		t.Errorf("entry a, unused for 8 days, is still there (%v)", err)
	}
	for _, k := range []string{"b", "c", "d"} {
		if m, _, ok := c.get(key(k)); !ok || m[0].u.GetName() != k {
			t.Errorf("entry %s lost by the trim", k)
		}
	}
	// Trimmed less than a day ago: not again.
	age(c.path(key("c")), 30*24*time.Hour)
	if err := c.put(key("e"), obj("e"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.path(key("c"))); err != nil {
		t.Errorf("a second trim within a day removed entry c (%v)", err)
	}
}
