package validate

import (
	"context"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

// The bootstrap Kustomization's own spec applies to what it renders: its
// postBuild substitution fills the variables of the entry directory's
// objects (they were left as ${VAR} and failed schema patterns).
func TestBootstrapDefinitionApplies(t *testing.T) {
	dir := testfs.Tree(t, map[string]string{
		"clusters/home/flux-system/gotk-sync.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, url: https://example.com/repo, ref: {branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec:
  interval: 10m
  path: ./clusters/home
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild:
    substitute: {DOMAIN: example.org}
`,
		"clusters/home/route.yaml": `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  hostnames: ["web.${DOMAIN}"]
  rules: [{backendRefs: [{name: web, port: 80}]}]
`,
	})
	rep, err := Run(context.Background(), Options{Root: dir, Policies: "-"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Rule == finding.SchemaInvalid || f.Rule == finding.RenderVarMissing {
			t.Errorf("%s %s: %s", f.Rule, f.File, f.Message)
		}
	}
	found := false
	for _, c := range rep.Clusters {
		for _, o := range c.Objects {
			if o.U.GetKind() == "HTTPRoute" {
				found = true
				if h, _ := o.U.Object["spec"].(map[string]any)["hostnames"].([]any); len(h) != 1 || h[0] != "web.example.org" {
					t.Errorf("hostnames %v, want [web.example.org]", h)
				}
			}
		}
	}
	if !found {
		t.Fatal("the HTTPRoute was not rendered")
	}
}
