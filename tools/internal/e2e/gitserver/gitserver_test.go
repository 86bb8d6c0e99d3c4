package gitserver

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPushAndCloneOverHTTP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tmp := t.TempDir()
	srv, err := Start(ctx, filepath.Join(tmp, "srv"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url, err := srv.CreateRepo(ctx, "demo", "main")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("repo URL %q is not on loopback", url)
	}

	work := filepath.Join(tmp, "work")
	mustGit(t, ctx, "", "clone", "--quiet", url, work)
	if err := os.WriteFile(filepath.Join(work, "a.yaml"), []byte("kind: ConfigMap\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, ctx, work, "add", "a.yaml")
	mustGit(t, ctx, work, "commit", "--quiet", "-m", "first")
	mustGit(t, ctx, work, "push", "--quiet", "origin", "HEAD:main")
	want := strings.TrimSpace(mustGit(t, ctx, work, "rev-parse", "HEAD"))

	tests := []struct {
		name string
		args []string
	}{
		{name: "ls-remote sees the pushed commit", args: []string{"ls-remote", url, "refs/heads/main"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := mustGit(t, ctx, "", tt.args...)
			if !strings.HasPrefix(out, want) {
				t.Fatalf("git %v = %q, want the commit %s", tt.args, out, want)
			}
		})
	}

	t.Run("a push larger than git's post buffer (chunked) goes through", func(t *testing.T) {
		big := make([]byte, 3<<20)
		if _, err := rand.Read(big); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, "big.bin"), big, 0o644); err != nil {
			t.Fatal(err)
		}
		mustGit(t, ctx, work, "add", "big.bin")
		mustGit(t, ctx, work, "commit", "--quiet", "-m", "big")
		mustGit(t, ctx, work, "push", "--quiet", "origin", "HEAD:main")
	})

	t.Run("a fresh clone has the file", func(t *testing.T) {
		again := filepath.Join(tmp, "again")
		mustGit(t, ctx, "", "clone", "--quiet", url, again)
		got, err := os.ReadFile(filepath.Join(again, "a.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "kind: ConfigMap\n" {
			t.Fatalf("a.yaml = %q", got)
		}
	})
}

func mustGit(t *testing.T, ctx context.Context, dir string, args ...string) string {
	t.Helper()
	out, err := Git(ctx, dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
