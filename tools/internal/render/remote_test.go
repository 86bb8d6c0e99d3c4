package render

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

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

// TestRemoteGeneratorFile: a configMapGenerator or secretGenerator file
// given as a URL makes the Kustomization "not available offline", like a
// remote resource, and is never downloaded.
func TestRemoteGeneratorFile(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte("{}"))
	}))
	defer srv.Close()
	for _, tt := range []struct{ name, gen, want string }{
		{"configMapGenerator file", "configMapGenerator:\n  - name: dash\n    files:\n      - " + srv.URL + "/dash.json\n",
			"configMapGenerator dash in app/kustomization.yaml generates from the remote file " + srv.URL + "/dash.json"},
		{"secretGenerator key=URL", "secretGenerator:\n  - name: ca\n    files:\n      - ca.crt=" + srv.URL + "/ca.crt\n",
			"secretGenerator ca in app/kustomization.yaml generates from the remote file " + srv.URL + "/ca.crt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "app", "kustomization.yaml"), []byte(tt.gen), 0o644); err != nil {
				t.Fatal(err)
			}
			k := kustomization(t, "  path: ./app\n  sourceRef: {kind: GitRepository, name: flux-system}\n")
			res := New(nil).Render(context.Background(), k, Source{Root: root}, nil)
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
