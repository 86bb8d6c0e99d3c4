package render

import (
	"context"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

// TestLabels pins kustomize's labels and commonLabels through the patched
// label transformer (third_party/README.md): labels without commonLabels
// skip the commonLabels transformer, which must change nothing.
func TestLabels(t *testing.T) {
	const deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n" +
		"spec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: x}]}\n"
	tests := []struct {
		name          string
		kustomization string
		// label paths and the team value each must have ("" for none)
		want map[string]string
	}{
		{
			name:          "labels only, templates",
			kustomization: "labels: [{pairs: {team: a}, includeTemplates: true}]\n",
			want:          map[string]string{"metadata": "a", "template": "a", "selector": ""},
		},
		{
			name:          "labels only, selectors",
			kustomization: "labels: [{pairs: {team: a}, includeSelectors: true}]\n",
			want:          map[string]string{"metadata": "a", "template": "a", "selector": "a"},
		},
		{
			name:          "labels only, metadata",
			kustomization: "labels: [{pairs: {team: a}}]\n",
			want:          map[string]string{"metadata": "a", "template": "", "selector": ""},
		},
		{
			name:          "commonLabels only",
			kustomization: "commonLabels: {team: b}\n",
			want:          map[string]string{"metadata": "b", "template": "b", "selector": "b"},
		},
		{
			name:          "both, commonLabels last",
			kustomization: "labels: [{pairs: {team: a}}]\ncommonLabels: {team: b}\n",
			want:          map[string]string{"metadata": "b", "template": "b", "selector": "b"},
		},
	}
	paths := map[string][]string{
		"metadata": {"metadata", "labels", "team"},
		"template": {"spec", "template", "metadata", "labels", "team"},
		"selector": {"spec", "selector", "matchLabels", "team"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			testfs.Write(t, filepath.Join(root, "app"), map[string]string{"kustomization.yaml": "resources: [deploy.yaml]\n" + tt.kustomization, "deploy.yaml": deployment})
			res := New(nil).Render(context.Background(), kustomization(t, "path: ./app\n"), Source{Root: root}, fakeVars{})
			o := object(t, res, "Deployment", "web")
			for where, want := range tt.want {
				got, _, _ := unstructured.NestedString(o.U.Object, paths[where]...)
				if got != want {
					t.Errorf("%s label team = %q, want %q", where, got, want)
				}
			}
		})
	}
}
