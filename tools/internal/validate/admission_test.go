package validate

import (
	"context"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

// A cluster that runs a webhook or admission policy mutating Flux
// Kustomizations (to add postBuild.substituteFrom, as some homelabs do)
// gets variables the manifests do not show: a literal ${VAR} in a
// Kustomization without postBuild is unknown there, not a schema error,
// and a variable without value is not reported missing. Without such a
// mutator both stay errors.
func TestAdmissionMutatedKustomizations(t *testing.T) {
	const apps = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: %s, namespace: flux-system}
spec:
  interval: 1h
  path: ./apps/%s
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
`
	const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %s, namespace: default}
spec:
  hostnames: ["%s.${CLUSTER_DOMAIN}"]
  rules: [{backendRefs: [{name: web, port: 80}]}]
`
	webhook := `apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: flux-substitution}
webhooks:
  - name: flux-substitution.example.com
    admissionReviewVersions: ["v1"]
    sideEffects: None
    clientConfig: {service: {name: hook, namespace: flux-system, path: /mutate}}
    rules:
      - apiGroups: ["kustomize.toolkit.fluxcd.io"]
        apiVersions: ["v1"]
        operations: ["CREATE", "UPDATE"]
        resources: ["kustomizations"]
`
	kyverno := `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: flux-cluster-settings}
spec:
  rules:
    - name: add-substitute-from
      match:
        any:
          - resources: {kinds: [kustomize.toolkit.fluxcd.io/v1/Kustomization]}
      mutate:
        patchStrategicMerge:
          spec: {postBuild: {substituteFrom: [{kind: ConfigMap, name: cluster-settings}]}}
`
	// A webhook on other resources changes nothing.
	unrelated := strings.NewReplacer(`["kustomize.toolkit.fluxcd.io"]`, `["apps"]`, `["kustomizations"]`, `["deployments"]`).Replace(webhook)
	withVars := strings.Replace(apps, "  sourceRef:", "  postBuild: {substitute: {OTHER: x}}\n  sourceRef:", 1)

	for _, tc := range []struct {
		name, mutator string
		mutated       bool
	}{
		{"webhook", webhook, true},
		{"kyverno", kyverno, true},
		{"unrelated webhook", unrelated, false},
		{"none", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture(t, "")
			files := map[string]string{
				"clusters/home/apps-a.yaml": fill(apps, "a", "a"),
				"clusters/home/apps-b.yaml": fill(withVars, "b", "b"),
				"apps/a/route.yaml":         fill(route, "a", "a"),
				"apps/b/config.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: default}\ndata: {domain: \"${CLUSTER_DOMAIN}\"}\n",
			}
			if tc.mutator != "" {
				files["clusters/home/mutator.yaml"] = tc.mutator
			}
			testfs.Write(t, dir, files)
			rep, err := Run(context.Background(), Options{Root: dir, Policies: "-"})
			if err != nil {
				t.Fatal(err)
			}
			var schemaErrs, missing, unknown, info int
			for _, f := range rep.Findings {
				switch {
				case f.Rule == finding.SchemaInvalid && strings.HasPrefix(f.File, "apps/"):
					schemaErrs++
				case f.Rule == finding.RenderVarMissing && f.Variable == "CLUSTER_DOMAIN":
					missing++
				case f.Rule == finding.RenderVarUnknown && f.Variable == "CLUSTER_DOMAIN":
					unknown++
					if f.Severity != finding.Info || !strings.Contains(f.Message, "changes Flux Kustomizations at admission") {
						t.Errorf("unknown variable: %s %s", f.Severity, f.Message)
					}
				case f.Rule == finding.RenderAdmission:
					info++
					if f.File != "clusters/home/mutator.yaml" {
						t.Errorf("admission info at %s", f.File)
					}
				}
			}
			// a keeps the literal (no postBuild, no substitution); b
			// substitutes, without a value for the variable.
			want := map[bool][4]int{true: {0, 0, 1, 1}, false: {1, 1, 0, 0}}[tc.mutated]
			if got := [4]int{schemaErrs, missing, unknown, info}; got != want {
				t.Errorf("schema errors, missing, unknown, admission infos = %v, want %v", got, want)
			}
		})
	}
}
