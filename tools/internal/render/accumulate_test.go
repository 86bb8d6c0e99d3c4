package render

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

// TestAccumulateResources pins how the patched kustomize (third_party/README.md)
// appends a kustomization's resources: files loaded in a row are appended
// together, and the result (objects, their order, the first error and its
// words) must be what kustomize v5.8.2 (api v0.21.2, unpatched) gives.
// Each want* below is that release's `kustomize build --reorder none`.
func TestAccumulateResources(t *testing.T) {
	cm := func(name, meta string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n" + meta
	}
	const notDir = "must build at directory: 'app/%s': file is not directory"
	tests := []struct {
		name  string
		files map[string]string
		// wantNames are the objects in order; wantErr, when set, is the
		// build error after "accumulating resources: ".
		wantNames []string
		wantErr   string
	}{
		{
			name: "a file collides with one before the next",
			files: map[string]string{
				"kustomization.yaml": "resources: [a.yaml, b.yaml, c.yaml, d.yaml]\n",
				"a.yaml":             cm("x", ""), "b.yaml": cm("y", ""), "c.yaml": cm("x", ""), "d.yaml": cm("w", ""),
			},
			wantErr: "accumulation err='merging resources from 'c.yaml': may not add resource with an already registered id: ConfigMap.v1.[noGrp]/x.[noNs]': " + fmt.Sprintf(notDir, "c.yaml"),
		},
		{
			name: "a collision is reported before a later missing file",
			files: map[string]string{
				"kustomization.yaml": "resources: [a.yaml, c.yaml, missing.yaml]\n",
				"a.yaml":             cm("x", ""), "c.yaml": cm("x", ""),
			},
			wantErr: "accumulation err='merging resources from 'c.yaml': may not add resource with an already registered id: ConfigMap.v1.[noGrp]/x.[noNs]': " + fmt.Sprintf(notDir, "c.yaml"),
		},
		{
			name: "a missing file is reported before a later collision",
			files: map[string]string{
				"kustomization.yaml": "resources: [a.yaml, missing.yaml, c.yaml]\n",
				"a.yaml":             cm("x", ""), "c.yaml": cm("x", ""),
			},
			wantErr: "accumulation err='accumulating resources from 'missing.yaml'",
		},
		{
			name: "no namespace and default collide",
			files: map[string]string{
				"kustomization.yaml": "resources: [a.yaml, b.yaml]\n",
				"a.yaml":             cm("x", ""), "b.yaml": cm("x", "  namespace: default\n"),
			},
			wantErr: "accumulation err='merging resources from 'b.yaml': may not add resource with an already registered id: ConfigMap.v1.[noGrp]/x.default': " + fmt.Sprintf(notDir, "b.yaml"),
		},
		{
			name: "cluster-scoped objects collide whatever their namespace",
			files: map[string]string{
				"kustomization.yaml": "resources: [a.yaml, b.yaml]\n",
				"a.yaml":             "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n",
				"b.yaml":             "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  namespace: other\n",
			},
			wantErr: "accumulation err='merging resources from 'b.yaml': may not add resource with an already registered id: Namespace.v1.[noGrp]/n.other': " + fmt.Sprintf(notDir, "b.yaml"),
		},
		{
			name: "a collision within one file",
			files: map[string]string{
				"kustomization.yaml": "resources: [a.yaml]\n",
				"a.yaml":             cm("x", "") + "---\n" + cm("y", "") + "---\n" + cm("x", ""),
			},
			wantErr: "accumulation err='accumulating resources from 'a.yaml': may not add resource with an already registered id: ConfigMap.v1.[noGrp]/x.[noNs]': " + fmt.Sprintf(notDir, "a.yaml"),
		},
		{
			name: "a file collides with a directory before it",
			files: map[string]string{
				"kustomization.yaml": "resources: [a.yaml, base, z.yaml]\n",
				"a.yaml":             cm("a", ""), "z.yaml": cm("z", ""),
				"base/kustomization.yaml": "resources: [z.yaml]\n", "base/z.yaml": cm("z", ""),
			},
			wantErr: "accumulation err='merging resources from 'z.yaml': may not add resource with an already registered id: ConfigMap.v1.[noGrp]/z.[noNs]': " + fmt.Sprintf(notDir, "z.yaml"),
		},
		{
			name: "files and a directory keep their order",
			files: map[string]string{
				"kustomization.yaml": "resources: [f1.yaml, f2.yaml, base, f3.yaml, g.yaml]\nnamePrefix: p-\n",
				"f1.yaml":            cm("f1", ""), "f2.yaml": cm("f2", ""), "f3.yaml": cm("f3", ""), "g.yaml": cm("g", ""),
				"base/kustomization.yaml": "resources: [m.yaml]\n", "base/m.yaml": cm("m", ""),
			},
			wantNames: []string{"p-f1", "p-f2", "p-m", "p-f3", "p-g"},
		},
		{
			name: "local configuration is dropped unless false",
			files: map[string]string{
				"kustomization.yaml": "resources: [a.yaml, b.yaml, c.yaml]\n",
				"a.yaml":             cm("a", "  annotations:\n    config.kubernetes.io/local-config: \"true\"\n"),
				"b.yaml":             cm("b", "  annotations:\n    config.kubernetes.io/local-config: \"false\"\n"),
				"c.yaml":             cm("c", ""),
			},
			wantNames: []string{"b", "c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			testfs.Write(t, filepath.Join(root, "app"), tt.files)
			res := New(nil).Render(context.Background(), kustomization(t, "path: ./app\n"), Source{Root: root}, fakeVars{})
			if tt.wantErr != "" {
				if len(res.Findings) != 1 || !strings.Contains(res.Findings[0].Message, "accumulating resources: "+tt.wantErr) {
					t.Fatalf("findings %+v, want one with %q", res.Findings, tt.wantErr)
				}
				return
			}
			if len(res.Findings) > 0 {
				t.Fatalf("findings %+v", res.Findings)
			}
			var names []string
			for _, o := range res.Objects {
				names = append(names, o.U.GetName())
			}
			if !slices.Equal(names, tt.wantNames) {
				t.Errorf("objects %q, want %q", names, tt.wantNames)
			}
		})
	}
}

// TestTransformerConfigurations pins kustomize's transformer configurations
// through the patched merge (third_party/README.md), which returns a
// config unchanged when what it merges in is empty or equal to it: a base's
// own nameReference, a sibling's commonLabels field spec (each merged
// after a directory with the default config only), the overlay's
// nameReference and commonLabels field specs for a custom kind, and the
// default ones must all apply, as with
// kustomize v5.8.2.
func TestTransformerConfigurations(t *testing.T) {
	files := map[string]string{
		"kustomization.yaml": "resources: [other, labelled, base]\nnamePrefix: p-\ncommonLabels: {team: a}\nconfigurations: [conf.yaml]\n",
		"conf.yaml": "commonLabels:\n- {path: spec/selector/labels, create: true, kind: Widget}\n" +
			"nameReference:\n- kind: Secret\n  fieldSpecs:\n  - {path: spec/secretRef, kind: Widget}\n",
		"base/kustomization.yaml":     "resources: [widget.yaml, cm.yaml]\nconfigurations: [conf.yaml]\n",
		"base/conf.yaml":              "nameReference:\n- kind: ConfigMap\n  version: v1\n  fieldSpecs:\n  - {path: spec/configRef, kind: Widget}\n",
		"base/widget.yaml":            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {configRef: cfg, secretRef: creds}\n",
		"base/cm.yaml":                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n",
		"labelled/kustomization.yaml": "resources: [cm.yaml]\nconfigurations: [conf.yaml]\n",
		"labelled/conf.yaml":          "commonLabels:\n- {path: spec/template/labels, create: true, kind: Widget}\n",
		"labelled/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other-cfg}\n",
		"other/kustomization.yaml":    "resources: [secret.yaml]\n",
		"other/secret.yaml":           "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n",
	}
	root := t.TempDir()
	testfs.Write(t, filepath.Join(root, "app"), files)
	// Twice: the second build merges configs the first one left behind.
	for range 2 {
		res := New(nil).Render(context.Background(), kustomization(t, "path: ./app\n"), Source{Root: root}, fakeVars{})
		w := object(t, res, "Widget", "p-w")
		for field, want := range map[string]string{
			"spec.configRef":            "p-cfg",
			"spec.secretRef":            "p-creds",
			"spec.selector.labels.team": "a",
			"spec.template.labels.team": "a",
			"metadata.labels.team":      "a",
		} {
			got, _, _ := unstructured.NestedString(w.U.Object, strings.Split(field, ".")...)
			if got != want {
				t.Errorf("Widget %s = %q, want %q", field, got, want)
			}
		}
		for _, name := range []string{"p-cfg", "p-creds"} {
			kind := map[string]string{"p-cfg": "ConfigMap", "p-creds": "Secret"}[name]
			if got := object(t, res, kind, name).U.GetLabels()["team"]; got != "a" {
				t.Errorf("%s %s label team = %q, want a", kind, name, got)
			}
		}
	}
}
