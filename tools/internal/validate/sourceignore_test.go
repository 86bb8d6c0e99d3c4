package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

func TestSourceIgnore(t *testing.T) {
	tests := []struct {
		name string
		// spec.ignore for the flux-system GitRepository ("" = none)
		specIgnore string
		file       string
		message    []string
	}{
		{".sourceignore file", "", "apps/web/kustomization.yaml",
			[]string{"apps/web/token.yaml is not in the source artifact", `"apps/web/token.yaml" (.sourceignore:2)`}},
		{"GitRepository spec.ignore", "/apps/web/route.yaml\n", "apps/web/kustomization.yaml",
			[]string{"apps/web/route.yaml is not in the source artifact", "spec.ignore of GitRepository flux-system/flux-system in clusters/home/flux-system/gotk-sync.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fixture(t, "sourceignore")
			if tt.specIgnore != "" {
				if err := os.Remove(filepath.Join(dir, ".sourceignore")); err != nil {
					t.Fatal(err)
				}
				sync := filepath.Join(dir, "clusters", "home", "flux-system", "gotk-sync.yaml")
				data, err := os.ReadFile(sync)
				if err != nil {
					t.Fatal(err)
				}
				indented := "  ignore: |\n    " + strings.ReplaceAll(strings.TrimSpace(tt.specIgnore), "\n", "\n    ") + "\n"
				data = []byte(strings.Replace(string(data), "  interval: 1m0s\n", "  interval: 1m0s\n"+indented, 1))
				if err := os.WriteFile(sync, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := Run(context.Background(), Options{Root: dir, Policies: policies(t)})
			if err != nil {
				t.Fatal(err)
			}
			mustFind(t, rep, finding.RenderFailed, tt.file, tt.message)
			for _, c := range rep.Clusters {
				for _, o := range c.Objects {
					if o.U.GetName() == "scratch-notes" {
						t.Errorf("%s was rendered although clusters/home/.sourceignore leaves it out of the artifact", o.File)
					}
				}
			}
		})
	}
}

// A directory Flux generates a kustomization for may hold YAML that is not
// Kubernetes (a CI workflow) when .sourceignore leaves it out of the
// artifact: the generator never sees it, so the build does not fail on it.
func TestGeneratedKustomizationSkipsIgnoredYAML(t *testing.T) {
	dir := t.TempDir()
	testfs.Write(t, dir, map[string]string{
		".sourceignore":             ".forgejo\n",
		".forgejo/workflows/ci.yml": "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
		"flux-system/gotk-sync.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, ref: {branch: main}, url: https://example.com/repo.git}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec:
  interval: 10m
  path: ./
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
`,
		"flux-system/kustomization.yaml": "resources: [gotk-sync.yaml]\n",
		"apps/config.yaml":               "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {a: b}\n",
	})
	rep, err := Run(context.Background(), Options{Root: dir, Policies: policies(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Severity == finding.Error {
			t.Errorf("%s: %s %s", f.Position(), f.Rule, f.Message)
		}
	}
	if rep.Stats.Objects != 3 {
		t.Errorf("%d objects rendered, want 3 (the GitRepository, the Kustomization, the ConfigMap)", rep.Stats.Objects)
	}
}
