package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRemoteResourcesStayOffline: a Kustomization with a remote resource
// (an HTTP URL, a git base) is reported as not available offline, an info,
// and nothing is fetched: a local server that would serve the URL sees no
// request.
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
	for _, remote := range []string{srv.URL + "/remote.yaml", "github.com/example/manifests//deploy?ref=v1.0.0"} {
		t.Run(remote, func(t *testing.T) {
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
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"--policies", "-", repo}, &stdout, &stderr)
			if code != exitOK {
				t.Fatalf("exit %d, want %d (an unavailable remote resource is not an error)\n%s%s", code, exitOK, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "info render-source-unavailable") || !strings.Contains(stdout.String(), remote) {
				t.Errorf("no render-source-unavailable info naming %s:\n%s", remote, stdout.String())
			}
		})
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
