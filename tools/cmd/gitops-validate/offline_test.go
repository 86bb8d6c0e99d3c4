package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/chartfetch/chartfetchtest"
)

// TestRemoteResourcesStayOffline: a Kustomization with a remote resource
// (an HTTP URL, a git base) is reported as not available offline, an info,
// and nothing is fetched: a local server that would serve the URL sees no
// request. Fetching charts (--fetch-charts) changes nothing for them: the
// charts are fetched, the remote resources still refused.
func TestRemoteResourcesStayOffline(t *testing.T) {
	if err := goOffline(); err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote\n"))
	}))
	defer srv.Close()
	charts := chartfetchtest.NewRepository(t, chartfetchtest.Chart("cert-manager", "1.16.2"))
	for _, remote := range []string{srv.URL + "/remote.yaml", "github.com/example/manifests//deploy?ref=v1.0.0"} {
		for _, fetch := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s fetch-charts=%v", remote, fetch), func(t *testing.T) {
				repo := brokenRepo(t)
				// Undo brokenRepo's plain Secret: this case is about the remote resource.
				if err := os.WriteFile(filepath.Join(repo, "apps", "web", "token.yaml"), mustRead(t, filepath.Join(clean, "apps", "web", "token.yaml")), 0o644); err != nil {
					t.Fatal(err)
				}
				kfile := filepath.Join(repo, "apps", "web", "kustomization.yaml")
				k := strings.Replace(string(mustRead(t, kfile)), "  - networkpolicy.yaml\n", "  - networkpolicy.yaml\n  - "+remote+"\n", 1)
				if err := os.WriteFile(kfile, []byte(k), 0o644); err != nil {
					t.Fatal(err)
				}
				// The fixture's cert-manager chart comes from the loopback
				// chart repository.
				cm := filepath.Join(repo, "infrastructure", "controllers", "cert-manager.yaml")
				if err := os.WriteFile(cm, []byte(strings.Replace(string(mustRead(t, cm)), "https://charts.jetstack.io", charts.URL, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
				args := []string{"--policies", "-", repo}
				if fetch {
					args = append([]string{"--fetch-charts", "--fetch-cache", t.TempDir()}, args...)
				}
				before := charts.Requests()
				var stdout, stderr bytes.Buffer
				code := run(context.Background(), args, &stdout, &stderr)
				if code != exitOK {
					t.Fatalf("exit %d, want %d (an unavailable remote resource is not an error)\n%s%s", code, exitOK, stdout.String(), stderr.String())
				}
				if !strings.Contains(stdout.String(), "info render-source-unavailable") || !strings.Contains(stdout.String(), remote) {
					t.Errorf("no render-source-unavailable info naming %s:\n%s", remote, stdout.String())
				}
				fetched := charts.Requests() > before
				notRendered := strings.Contains(stdout.String(), "HelmRelease cert-manager/cert-manager: chart cert-manager 1.16.2")
				if fetched != fetch || notRendered == fetch {
					t.Errorf("fetch-charts=%v: chart repository requested %v, cert-manager not rendered %v\n%s", fetch, fetched, notRendered, stdout.String())
				}
			})
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the validator fetched a remote resource %d time(s)", n)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
