package diff

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/render"
)

func cluster(objs ...map[string]any) []*render.Cluster {
	k := &render.Kustomization{Ref: render.Ref{Namespace: "flux-system", Name: "apps"}}
	c := &render.Cluster{Name: "home", Kustomizations: []*render.Kustomization{k}}
	for _, o := range objs {
		c.Objects = append(c.Objects, &render.Object{U: &unstructured.Unstructured{Object: o}, File: "f.yaml", Owner: k})
	}
	return []*render.Cluster{c}
}

func obj(kind, name string, data map[string]any) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": name, "namespace": "web"}, "data": data}
}

func TestCompute(t *testing.T) {
	base := cluster(
		obj("ConfigMap", "same", map[string]any{"a": "1"}),
		obj("ConfigMap", "changed", map[string]any{"a": "1"}),
		obj("ConfigMap", "removed", map[string]any{"a": "1"}),
		obj("Secret", "token", map[string]any{"token": "c2VjcmV0LW9sZA==", "kept": "a2VwdA=="}),
	)
	head := cluster(
		obj("ConfigMap", "same", map[string]any{"a": "1"}),
		obj("ConfigMap", "changed", map[string]any{"a": "2"}),
		obj("ConfigMap", "added", map[string]any{"a": "1"}),
		obj("Secret", "token", map[string]any{"token": "c2VjcmV0LW5ldw==", "kept": "a2VwdA=="}),
	)
	rep, err := Compute("main", base, head)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Kustomizations) != 1 {
		t.Fatalf("got %d Kustomization diffs, want 1", len(rep.Kustomizations))
	}
	got := map[string]string{}
	for _, o := range rep.Kustomizations[0].Objects {
		got[o.Object] = o.Change
		if strings.Contains(o.Diff, "c2VjcmV0") {
			t.Errorf("secret value shown in diff of %s:\n%s", o.Object, o.Diff)
		}
	}
	want := map[string]string{"ConfigMap/web/changed": Changed, "ConfigMap/web/removed": Removed, "ConfigMap/web/added": Added, "Secret/web/token": Changed}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: change %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["ConfigMap/web/same"]; ok {
		t.Error("unchanged object listed")
	}
	a, r, c := rep.Counts()
	if a != 1 || r != 1 || c != 2 {
		t.Errorf("counts %d/%d/%d, want 1/1/2", a, r, c)
	}
	if !strings.Contains(rep.Text(), "<redacted, changed>") {
		t.Errorf("changed secret value not marked:\n%s", rep.Text())
	}
}

func TestCheckout(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := t.TempDir()
	run := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q")
	if err := os.MkdirAll(filepath.Join(repo, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "a", "f.yaml"), []byte("v: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", ".")
	run("commit", "-qm", "one")
	if err := os.WriteFile(filepath.Join(repo, "a", "f.yaml"), []byte("v: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Checkout(context.Background(), repo, "HEAD", dir); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "a", "f.yaml"))
	if err != nil || string(data) != "v: 1\n" {
		t.Fatalf("checked out %q, %v; want the committed content", data, err)
	}
	if err := Checkout(context.Background(), repo, "no-such-ref", t.TempDir()); err == nil {
		t.Fatal("want an error for an unknown revision")
	}
}
