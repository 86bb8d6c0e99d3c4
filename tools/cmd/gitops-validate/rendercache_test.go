package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestRenderCacheFlag: charts are rendered into --render-cache DIR, into
// the user cache directory by default, and nowhere with "off".
func TestRenderCacheFlag(t *testing.T) {
	repo, err := filepath.Abs(brokenRepo(t))
	if err != nil {
		t.Fatal(err)
	}
	copyTree(t, filepath.Join("..", "..", "internal", "validate", "testdata", "cases", "helm-chart"), repo, nil)
	entries := func(dir string) int {
		t.Helper()
		es, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	dir := filepath.Join(t.TempDir(), "renders")
	for _, tt := range []struct {
		flag  []string
		dir   string // relative: to the user cache directory
		count int
	}{
		{[]string{"--render-cache", dir}, dir, 1},
		{nil, filepath.Join("gitops-validate", "renders"), 1},
		{[]string{"--render-cache", "off"}, filepath.Join("gitops-validate", "renders"), 0},
	} {
		userCache := t.TempDir()
		t.Setenv("XDG_CACHE_HOME", userCache)
		// A relative --render-cache would land here.
		work := t.TempDir()
		t.Chdir(work)
		var stdout, stderr bytes.Buffer
		run(context.Background(), append(tt.flag, "--policies", "-", "-o", "json", repo), &stdout, &stderr)
		if !bytes.Contains(stdout.Bytes(), []byte(`"objects"`)) {
			t.Fatalf("%v: no report:\n%s\n%s", tt.flag, stdout.String(), stderr.String())
		}
		if !filepath.IsAbs(tt.dir) {
			tt.dir = filepath.Join(userCache, tt.dir)
		}
		if n := entries(tt.dir); n != tt.count {
			t.Errorf("%v: %d entries in %s, want %d", tt.flag, n, tt.dir, tt.count)
		}
		if es, _ := os.ReadDir(work); len(es) != 0 {
			t.Errorf("%v: wrote %s in the working directory", tt.flag, es[0].Name())
		}
	}
}
