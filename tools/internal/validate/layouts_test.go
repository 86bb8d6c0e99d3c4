package validate

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

func findObject(rep *Report, kind, ns, name string) *render.Object {
	for _, c := range rep.Clusters {
		for _, o := range c.Objects {
			if o.U.GetKind() == kind && o.U.GetNamespace() == ns && o.U.GetName() == name {
				return o
			}
		}
	}
	return nil
}

func noErrors(t *testing.T, rep *Report) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Severity == finding.Error {
			t.Errorf("%s: %s %s", f.Position(), f.Rule, f.Message)
		}
	}
}

// The onedr0p/cluster-template layout: entry point kubernetes/flux/cluster
// (made by a FluxInstance), a parent that patches every child Kustomization
// (postBuild defaults), per-app ks.yaml, components, generated
// kustomization.yaml and ${VAR:=default}.
func TestClusterTemplateLayout(t *testing.T) {
	root := testfs.Tree(t, map[string]string{
		"bootstrap/flux-instance.yaml": `apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata: {name: flux, namespace: flux-system}
spec:
  sync:
    kind: GitRepository
    url: https://github.com/example/home-ops
    ref: refs/heads/main
    path: kubernetes/flux/cluster
`,
		"kubernetes/flux/cluster/ks.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: cluster-apps, namespace: flux-system}
spec:
  interval: 1h
  path: ./kubernetes/apps
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  patches:
    - patch: |-
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: _
        spec:
          postBuild:
            substitute:
              TIMEZONE: Europe/Paris
      target:
        group: kustomize.toolkit.fluxcd.io
        kind: Kustomization
`,
		"kubernetes/apps/default/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n",
		"kubernetes/apps/default/echo/ks.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: echo, namespace: flux-system}
spec:
  interval: 1h
  path: ./kubernetes/apps/default/echo/app
  components: [../../../../components/common]
  targetNamespace: default
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
`,
		"kubernetes/apps/default/echo/app/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: echo}
data:
  TZ: ${TIMEZONE}
  LEVEL: ${LOG_LEVEL:=info}
`,
		"kubernetes/components/common/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
commonLabels:
  app.kubernetes.io/managed-by: flux
`,
		"kubernetes/apps/default/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [namespace.yaml, echo/ks.yaml]\n",
		"kubernetes/apps/kustomization.yaml":         "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [default]\n",
		"kubernetes/apps/default/echo/values.yaml":   "# a values file is not a manifest\nimage: {tag: 1.0}\n",
	})
	rep, err := Run(context.Background(), Options{Root: root, Policies: "-"})
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, rep)
	if rep.Stats.Clusters != 1 || rep.Clusters[0].Entry != "kubernetes/flux/cluster" {
		t.Fatalf("entry points %+v", rep.Clusters)
	}
	cm := findObject(rep, "ConfigMap", "default", "echo")
	if cm == nil {
		t.Fatalf("ConfigMap default/echo not rendered; findings %+v", rep.Findings)
	}
	data, _, _ := unstructured.NestedStringMap(cm.U.Object, "data")
	if data["TZ"] != "Europe/Paris" || data["LEVEL"] != "info" {
		t.Errorf("substitution from the parent's patch: %v", data)
	}
	if cm.U.GetLabels()["app.kubernetes.io/managed-by"] != "flux" {
		t.Errorf("component not applied: %v", cm.U.GetLabels())
	}
	if cm.File != "kubernetes/apps/default/echo/app/configmap.yaml" {
		t.Errorf("file %q", cm.File)
	}
}

// Flux 2.7 ArtifactGenerator: Kustomizations read ExternalArtifacts whose
// paths are relative to the generated artifact.
func TestArtifactGenerator(t *testing.T) {
	root := testfs.Tree(t, map[string]string{
		"clusters/prod/flux-system/gotk-sync.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec:
  interval: 1m
  url: https://github.com/example/fleet
  ref: {branch: main}
`,
		"clusters/prod/artifacts.yaml": `apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {name: flux-system, namespace: flux-system}
spec:
  sources:
    - {alias: repo, kind: GitRepository, name: flux-system}
  artifacts:
    - name: apps
      copy:
        - {from: "@repo/apps/base/**", to: "@artifact/base/"}
        - {from: "@repo/apps/prod/**", to: "@artifact/prod/"}
`,
		"clusters/prod/apps.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 1h
  path: ./prod
  prune: true
  sourceRef: {kind: ExternalArtifact, name: apps}
`,
		"apps/base/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [namespace.yaml]\n",
		"apps/base/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata: {name: podinfo}\n",
		"apps/prod/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../base]\nlabels:\n  - pairs: {env: prod}\n",
	})
	rep, err := Run(context.Background(), Options{Root: root, Policies: "-"})
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, rep)
	ns := findObject(rep, "Namespace", "", "podinfo")
	if ns == nil {
		t.Fatalf("Namespace podinfo not rendered; findings %+v", rep.Findings)
	}
	if ns.U.GetLabels()["env"] != "prod" || ns.File != "apps/base/namespace.yaml" {
		t.Errorf("labels %v file %q; want env=prod from apps/base/namespace.yaml", ns.U.GetLabels(), ns.File)
	}
}

func TestExternalObjectsConfig(t *testing.T) {
	dir := fixture(t, "reference-missing")
	cfg := "externalObjects:\n  - kind: Secret\n    namespace: web\n    name: web-tok*\n    reason: made by the bootstrap script\n"
	if err := os.WriteFile(filepath.Join(dir, ".gitops-validate.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{Root: dir, Policies: "-"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Rule == finding.RefMissing {
			t.Errorf("external object reported: %s", f.Message)
		}
	}
}

// An OCI artifact pushed from a subdirectory (flux push artifact
// --path=./kubernetes): entry point kubernetes/clusters/home, Kustomization
// paths relative to kubernetes/.
func TestOCIArtifactFromSubdirectory(t *testing.T) {
	root := testfs.Tree(t, map[string]string{
		"README.md": "",
		"kubernetes/clusters/home/flux-system/gotk-sync.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: flux-system, namespace: flux-system}
spec:
  interval: 10m
  url: oci://registry.example.org/home/manifests
  ref: {tag: latest}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec:
  interval: 10m
  path: ./clusters/home
  prune: true
  sourceRef: {kind: OCIRepository, name: flux-system}
`,
		"kubernetes/clusters/home/apps.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef: {kind: OCIRepository, name: flux-system}
`,
		"kubernetes/apps/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {a: b}\n",
		// An ArtifactGenerator copying a directory (trailing slash) of the
		// same OCI artifact: paths relative to kubernetes/ too.
		"kubernetes/clusters/home/generator.yaml": `apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {name: apps, namespace: flux-system}
spec:
  sources: [{alias: repo, kind: OCIRepository, name: flux-system}]
  artifacts:
    - name: web
      copy: [{from: "@repo/web/app/", to: "@artifact/web/app/"}]
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: web, namespace: flux-system}
spec:
  interval: 10m
  path: ./web/app
  prune: true
  sourceRef: {kind: ExternalArtifact, name: web}
`,
		"kubernetes/web/app/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: default}\ndata: {a: b}\n",
	})
	rep, err := Run(context.Background(), Options{Root: root, Policies: "-"})
	if err != nil {
		t.Fatal(err)
	}
	noErrors(t, rep)
	cm := findObject(rep, "ConfigMap", "default", "settings")
	if cm == nil {
		t.Fatal("kubernetes/apps was not rendered for the OCI Kustomization path ./apps")
	}
	if cm.File != "kubernetes/apps/settings.yaml" {
		t.Errorf("file %q, want the repository path kubernetes/apps/settings.yaml", cm.File)
	}
	web := findObject(rep, "ConfigMap", "default", "web")
	if web == nil {
		t.Fatalf("the ArtifactGenerator's copy of kubernetes/web/app/ was not rendered; findings %+v", rep.Findings)
	}
	if web.File != "kubernetes/web/app/config.yaml" {
		t.Errorf("file %q, want kubernetes/web/app/config.yaml", web.File)
	}
}
