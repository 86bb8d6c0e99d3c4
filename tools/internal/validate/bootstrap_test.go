package validate

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

const renamedSync = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: home-ops
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  url: ssh://git@github.com/example/home
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./clusters/home
  prune: true
  sourceRef:
    kind: GitRepository
    name: home-ops
`

// renderedOnce runs the validator and fails on an unrendered Kustomization
// or a duplicate object; it returns the Kustomizations rendered.
func renderedOnce(t *testing.T, dir string) []string {
	t.Helper()
	rep, err := Run(context.Background(), Options{Root: dir, Policies: policies(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Rule == finding.RenderSource || f.Rule == finding.GraphDuplicate || f.Rule == finding.GraphSource {
			t.Errorf("%s: %s %s", f.Position(), f.Rule, f.Message)
		}
	}
	var names []string
	for _, k := range rep.Clusters[0].Kustomizations {
		names = append(names, k.Ref.String())
	}
	return names
}

func TestBootstrapUnderAnotherName(t *testing.T) {
	want := strings.Join(renderedOnce(t, fixture(t, "")), " ")
	dir := fixture(t, "")
	testfs.Write(t, dir, map[string]string{"clusters/home/flux-system/gotk-sync.yaml": renamedSync})
	got := strings.Join(renderedOnce(t, dir), " ")
	if strings.Replace(got, "flux-system/cluster", "flux-system/flux-system", 1) != want {
		t.Errorf("Kustomizations %s; want those of the flux-system bootstrap (%s), with the entry point named flux-system/cluster", got, want)
	}
}

// A second GitRepository of the same repository, named otherwise, is this
// repository: by the bootstrap source's URL or by the checkout's remote.
func TestSameRepositoryUnderAnotherName(t *testing.T) {
	const second = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: mirror
  namespace: flux-system
spec:
  interval: 1h
  ref: {branch: main}
  url: %s
`
	for _, tt := range []struct{ name, url, remote string }{
		{"the bootstrap source's URL", "https://github.com/example/home.git", ""},
		{"the checkout's Git remote", "https://git.example.org/me/home-ops", "git@git.example.org:me/home-ops.git"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := fixture(t, "")
			data, err := os.ReadFile(filepath.Join(dir, "clusters", "home", "apps.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			apps := strings.Replace(string(data), "    name: flux-system", "    name: mirror", 1)
			if apps == string(data) {
				t.Fatal("apps.yaml has no sourceRef to flux-system")
			}
			testfs.Write(t, dir, map[string]string{
				"clusters/home/mirror.yaml": strings.Replace(second, "%s", tt.url, 1),
				"clusters/home/apps.yaml":   apps,
			})
			if tt.remote != "" {
				for _, args := range [][]string{{"init", "-q"}, {"remote", "add", "origin", tt.remote}} {
					if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
						t.Fatalf("git %v: %v: %s", args, err, out)
					}
				}
			}
			renderedOnce(t, dir)
		})
	}
}

// A FluxInstance's sync creates the source and the Kustomization under
// sync.name: Kustomizations reading that source read this repository.
func TestFluxInstanceSyncName(t *testing.T) {
	dir := t.TempDir()
	testfs.Write(t, dir, map[string]string{
		"clusters/home/flux.yaml": `apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata: {name: flux, namespace: flux-system}
spec:
  distribution: {version: 2.x, registry: ghcr.io/fluxcd}
  sync: {kind: GitRepository, name: home-ops, url: https://example.com/home-ops.git, ref: refs/heads/main, path: clusters/home}
`,
		"clusters/home/apps.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 1h
  path: ./apps
  prune: true
  sourceRef: {kind: GitRepository, name: home-ops}
`,
		"apps/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {a: b}\n",
	})
	got := strings.Join(renderedOnce(t, dir), " ")
	if got != "flux-system/home-ops flux-system/apps" {
		t.Errorf("Kustomizations %s; want flux-system/home-ops (the FluxInstance's sync) and flux-system/apps", got)
	}
}
