package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBaseDiffMarkdown(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := brokenRepo(t)
	token := filepath.Join(repo, "apps", "web", "token.yaml")
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "base")
	dep := filepath.Join(repo, "apps", "web", "deployment.yaml")
	data, err := os.ReadFile(dep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dep, bytes.Replace(data, []byte("web:1.0.0"), []byte("web:1.1.0"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(token, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-token\nstringData:\n  token: hunter3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-o", "markdown", "--policies", "-", "--base", "HEAD", repo}, &stdout, &stderr)
	out := stdout.String()
	if code != exitFindings {
		t.Errorf("exit %d, want %d (the plain Secret); stderr %s", code, exitFindings, stderr.String())
	}
	for _, want := range []string{"### gitops-validate", "Changes against `HEAD`", "Deployment/web/web", "+        image: ghcr.io/example/web:1.1.0", "<redacted, changed>"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"hunter2", "hunter3"} {
		if strings.Contains(out, secret) {
			t.Errorf("secret value %q shown:\n%s", secret, out)
		}
	}
	code = run(context.Background(), []string{"--base", "no-such-ref", "--policies", "-", repo}, &stdout, &stderr)
	if code != exitUsage {
		t.Errorf("unknown base: exit %d, want %d", code, exitUsage)
	}
}

// TestBaseDiffClusterScopedNamespace: kustomize gives a custom
// cluster-scoped kind (ClusterIssuer) the kustomization's namespace, which
// the API server ignores; head and base renders normalise it alike, so an
// unchanged ClusterIssuer is no change.
func TestBaseDiffClusterScopedNamespace(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := brokenRepo(t)
	write := func(rel, data string) {
		if err := os.WriteFile(filepath.Join(repo, filepath.FromSlash(rel)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	kus, err := os.ReadFile(filepath.Join(repo, "apps", "web", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	write("apps/web/kustomization.yaml", strings.Replace(string(kus), "  - namespace.yaml\n", "  - namespace.yaml\n  - issuer.yaml\n", 1))
	write("apps/web/issuer.yaml", "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata:\n  name: web-selfsigned\nspec:\n  selfSigned: {}\n")
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-qm", "base")
	dep := filepath.Join(repo, "apps", "web", "deployment.yaml")
	data, err := os.ReadFile(dep)
	if err != nil {
		t.Fatal(err)
	}
	write("apps/web/deployment.yaml", strings.Replace(string(data), "web:1.0.0", "web:1.1.0", 1))
	var stdout, stderr bytes.Buffer
	run(context.Background(), []string{"--policies", "-", "--base", "HEAD", repo}, &stdout, &stderr)
	out := stdout.String()
	if !strings.Contains(out, "Deployment/web/web") {
		t.Fatalf("the changed Deployment is not in the diff:\n%s\n%s", out, stderr.String())
	}
	if strings.Contains(out, "ClusterIssuer") {
		t.Errorf("the unchanged ClusterIssuer is reported as a change:\n%s", out)
	}
}
