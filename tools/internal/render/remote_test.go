package render

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

func TestRemoteResource(t *testing.T) {
	tests := map[string]string{
		"accumulating resources from 'https://example.com/crd.yaml': Get":                                                       "https://example.com/crd.yaml",
		"accumulating resources from '../web': recursed: accumulating resources from 'github.com/org/repo//deploy?ref=v1': git": "github.com/org/repo//deploy?ref=v1",
		"accumulating resources from 'git@github.com:org/repo.git': x":                                                          "git@github.com:org/repo.git",
		"accumulating resources from 'ssh://git@host/org/repo': x":                                                              "ssh://git@host/org/repo",
		// Local paths, including ones with dots, are not remote.
		"accumulating resources from 'deployment.yaml': missing": "",
		"accumulating resources from '../base/config.d/x': no":   "",
		"accumulating resources from 'app.yaml/nested': no":      "",
		"some other error": "",
	}
	for msg, want := range tests {
		if got := remoteResource(msg); got != want {
			t.Errorf("remoteResource(%q) = %q, want %q", msg, got, want)
		}
	}
}

// countingServer serves body to every request and counts them: a render
// must never fetch what it points at.
func countingServer(t *testing.T, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

// TestRemoteGeneratorFile: a configMapGenerator or secretGenerator file
// given as a URL is left out, like a remote resource, and never
// downloaded: the generator makes its object from the rest, and one info
// names the file.
func TestRemoteGeneratorFile(t *testing.T) {
	srv, requests := countingServer(t, "{}")
	for _, tt := range []struct {
		name, gen, want string
		keys            []string
	}{
		{"configMapGenerator file beside a local one", "configMapGenerator:\n  - name: dash\n    files:\n      - " + srv.URL + "/dash.json\n      - local.json\n",
			"without the remote generator files " + srv.URL + "/dash.json (configMapGenerator dash in app/kustomization.yaml)", []string{"local.json"}},
		{"secretGenerator key=URL", "secretGenerator:\n  - name: ca\n    files:\n      - ca.crt=" + srv.URL + "/ca.crt\n",
			"without the remote generator files " + srv.URL + "/ca.crt (secretGenerator ca in app/kustomization.yaml)", nil},
		{"env file", "configMapGenerator:\n  - name: env\n    envs:\n      - " + srv.URL + "/app.env\n    literals: [A=b]\n",
			"without the remote generator files " + srv.URL + "/app.env (configMapGenerator env in app/kustomization.yaml)", []string{"A"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "app", "kustomization.yaml"), []byte(tt.gen), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "app", "local.json"), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
			k := kustomization(t, "  path: ./app\n  sourceRef: {kind: GitRepository, name: flux-system}\n")
			res := New(nil).Render(context.Background(), k, Source{Root: root}, nil)
			if len(res.Objects) != 1 {
				t.Fatalf("%d objects, want the generated one", len(res.Objects))
			}
			data, _, _ := unstructured.NestedStringMap(res.Objects[0].U.Object, "data")
			if got := slices.Sorted(maps.Keys(data)); !slices.Equal(got, tt.keys) {
				t.Errorf("generated keys %v, want %v", got, tt.keys)
			}
			if len(res.Findings) != 1 {
				t.Fatalf("findings %+v, want one", res.Findings)
			}
			f := res.Findings[0]
			if f.Rule != finding.RenderSource || f.Severity != finding.Info || !strings.Contains(f.Message, tt.want) || f.File != k.File {
				t.Errorf("finding %s %s at %s: %s\nwant render-source-unavailable (info) at %s: %s", f.Rule, f.Severity, f.File, f.Message, k.File, tt.want)
			}
		})
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the remote file was downloaded %d time(s)", n)
	}
}

// A Kustomization whose resources include remote ones (a URL, a remote Git
// base) is rendered without them: the local objects are checked, one info
// lists what was left out, and nothing is fetched. When the rest does not
// build alone (a patch of a remote object), it is not rendered, as before.
func TestRenderWithoutRemoteResources(t *testing.T) {
	srv, requests := countingServer(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: remote}\n")
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: local, namespace: apps}\ndata: {a: b}\n"
	for _, tt := range []struct {
		name, kus string
		objects   int
		want      string
	}{
		{"a URL and a remote base among local files and a local dir with a dotted name",
			"resources:\n  - " + srv.URL + "/crds.yaml\n  - cm.yaml\n  - github.com/org/repo//deploy?ref=v1\n  - sub.d\n", 2,
			"rendered without the remote resources " + srv.URL + "/crds.yaml, github.com/org/repo//deploy?ref=v1, whose objects are not checked"},
		{"a remote component",
			"resources:\n  - cm.yaml\ncomponents:\n  - https://github.com/org/repo//component?ref=v1\n", 1,
			"rendered without the remote resources https://github.com/org/repo//component?ref=v1"},
		{"a patch of a remote object",
			"resources:\n  - " + srv.URL + "/ns.yaml\n  - cm.yaml\npatches:\n  - patch: |-\n      apiVersion: v1\n      kind: Namespace\n      metadata: {name: remote, labels: {a: b}}\n", 0,
			"is not rendered: without the remote resource " + srv.URL + "/ns.yaml, which is not fetched offline, kustomize build fails: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{
				"app/kustomization.yaml":       tt.kus,
				"app/cm.yaml":                  cm,
				"app/sub.d/kustomization.yaml": "resources: [cm.yaml]\n",
				"app/sub.d/cm.yaml":            strings.Replace(cm, "name: local", "name: sub", 1),
			}
			for p, d := range files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, p), []byte(d), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			k := kustomization(t, "  path: ./app\n  sourceRef: {kind: GitRepository, name: flux-system}\n")
			res := New(nil).Render(context.Background(), k, Source{Root: root}, nil)
			if len(res.Objects) != tt.objects {
				t.Errorf("%d objects, want %d", len(res.Objects), tt.objects)
			}
			if len(res.Findings) != 1 {
				t.Fatalf("findings %+v, want one", res.Findings)
			}
			if f := res.Findings[0]; f.Rule != finding.RenderSource || f.Severity != finding.Info || !strings.Contains(f.Message, tt.want) {
				t.Errorf("finding %s %s: %s\nwant render-source-unavailable (info): %s", f.Rule, f.Severity, f.Message, tt.want)
			}
		})
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("a remote resource was fetched %d time(s)", n)
	}
}

// A local file that does not parse fails the build whatever was left out
// remotely: that is the error reported (kustomize-controller fails on it
// too), not the remote entries.
func TestRemoteLeftOutLocalYAMLError(t *testing.T) {
	srv, requests := countingServer(t, "{}")
	for name, kus := range map[string]string{
		"a remote generator file": "resources: [bad.yaml]\nconfigMapGenerator:\n  - name: dash\n    files: [d.json=" + srv.URL + "/d.json]\n",
		"a remote resource":       "resources: [bad.yaml, " + srv.URL + "/crds.yaml]\n",
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
				t.Fatal(err)
			}
			for p, d := range map[string]string{
				"app/kustomization.yaml": kus,
				"app/bad.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: *ns}\n",
			} {
				if err := os.WriteFile(filepath.Join(root, p), []byte(d), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			k := kustomization(t, "  path: ./app\n  sourceRef: {kind: GitRepository, name: flux-system}\n")
			res := New(nil).Render(context.Background(), k, Source{Root: root}, nil)
			if len(res.Findings) != 1 {
				t.Fatalf("findings %+v, want one", res.Findings)
			}
			if f := res.Findings[0]; f.Rule != finding.RenderFailed || f.Severity != finding.Error || !strings.Contains(f.Message, "unknown anchor 'ns'") {
				t.Errorf("finding %s %s at %s: %s\nwant render-failed (error) naming the unknown anchor", f.Rule, f.Severity, f.File, f.Message)
			}
		})
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("a remote source was fetched %d time(s)", n)
	}
}
