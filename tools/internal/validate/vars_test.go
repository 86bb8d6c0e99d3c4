package validate

import (
	"context"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

// A variable from a substituteFrom Secret that is not in Git (an
// ExternalSecret's target) is unknown: it stays ${VAR}, the hostname
// pattern does not fail on it, and an info names the variables. A variable
// from a Secret in Git that lacks it is still missing.
func TestUnknownVariables(t *testing.T) {
	const app = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: %s, namespace: flux-system}
spec:
  interval: 1h
  path: ./apps/%s
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  dependsOn: [{name: secrets}]
  postBuild:
    substituteFrom: [{kind: Secret, name: %s}]
`
	const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  hostnames: ["${app_url}"]
  rules: [{backendRefs: [{name: web, port: 80}]}]
`
	dir := fixture(t, "")
	testfs.Write(t, dir, map[string]string{
		"clusters/home/secrets.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: secrets, namespace: flux-system}
spec:
  interval: 1h
  path: ./secrets
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
`,
		"secrets/external.yaml": `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: web-vars, namespace: flux-system}
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: vault}
  target: {name: web-vars}
  dataFrom: [{extract: {key: web}}]
`,
		"secrets/known.yaml":              "apiVersion: v1\nkind: Secret\nmetadata: {name: known-vars, namespace: flux-system}\nstringData: {other: x}\n",
		"apps/x/route.yaml":               route,
		"apps/y/route.yaml":               strings.Replace(route, "name: web, namespace", "name: web2, namespace", 1),
		"clusters/home/apps-unknown.yaml": fill(app, "x", "x", "web-vars"),
		"clusters/home/apps-known.yaml":   fill(app, "y", "y", "known-vars"),
	})
	rep, err := Run(context.Background(), Options{Root: dir, Policies: "-"})
	if err != nil {
		t.Fatal(err)
	}
	var unknownInfo, missing bool
	for _, f := range rep.Findings {
		switch {
		case f.Rule == finding.RenderVarUnknown && strings.Contains(f.Message, "Kustomization flux-system/x: ${app_url} take their values"):
			unknownInfo = true
		case f.Rule == finding.RenderVarMissing && f.Variable == "app_url" && strings.Contains(f.Message, "flux-system/y"):
			missing = true
		case f.Rule == finding.SchemaInvalid && f.File == "apps/x/route.yaml":
			t.Errorf("schema finding on an unknown variable: %s", f.Message)
		case f.Rule == finding.RenderVarMissing && strings.Contains(f.Message, "flux-system/x"):
			t.Errorf("unknown variable reported missing: %s", f.Message)
		}
	}
	if !unknownInfo {
		t.Error("no render-variable-unknown info for Kustomization x")
	}
	if !missing {
		t.Error("no render-variable-missing for ${app_url} in Kustomization y, whose Secret is in Git without it")
	}
	for _, c := range rep.Clusters {
		for _, o := range c.Objects {
			if o.File == "apps/x/route.yaml" {
				if h, _ := o.U.Object["spec"].(map[string]any)["hostnames"].([]any); len(h) != 1 || h[0] != "${app_url}" {
					t.Errorf("hostnames %v, want the variable kept as ${app_url}", h)
				}
			}
		}
	}
}

// fill replaces the %s of app in order.
func fill(app string, args ...string) string {
	for _, a := range args {
		app = strings.Replace(app, "%s", a, 1)
	}
	return app
}
