package policy

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	conftest "github.com/open-policy-agent/conftest/policy"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/render"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

var objects = []map[string]any{
	{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "a", "namespace": "x"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx:latest"}}}}}},
	{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "b", "namespace": "x", "labels": map[string]any{"app": "b"}},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx:1.0"}}}}}},
	{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "s", "namespace": "x"}},
}

// TestSameResultsAsConftest checks that prepared queries give what
// conftest's engine.Check gives for every object and namespace.
func TestSameResultsAsConftest(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("..", "validate", "testdata", "policies"))
	ctx := context.Background()
	e, err := Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Namespaces(); !slices.Equal(got, []string{"homelab.combined.network", "homelab.security"}) {
		t.Fatalf("namespaces %v", got)
	}
	ref, err := conftest.Load([]string{dir}, conftest.CompilerOptions{RegoVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objects {
		ours, err := e.Evaluate(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range ours {
			got = append(got, string(r.Severity)+":"+r.Metadata["rule"].(string)+":"+r.Message)
		}
		results, err := ref.Check(ctx, map[string]any{"obj.yaml": o}, "homelab.security")
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, cr := range results {
			for _, f := range cr.Failures {
				want = append(want, "error:"+f.Metadata["rule"].(string)+":"+f.Message)
			}
			for _, w := range cr.Warnings {
				want = append(want, "warning:"+w.Metadata["rule"].(string)+":"+w.Message)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: ours %v, conftest %v", o["metadata"], got, want)
		}
	}
	if len(objects) == 0 {
		t.Fatal("no objects")
	}
}

func TestCombined(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("..", "validate", "testdata", "policies"))
	e, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var input []any
	for _, o := range objects {
		input = append(input, map[string]any{"path": "f.yaml", "contents": o})
	}
	rs, err := e.EvaluateCombined(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Metadata["rule"] != "network-default-deny" || rs[0].Metadata["path"] != "f.yaml" {
		t.Fatalf("combined results %+v, want two network-default-deny", rs)
	}
}

// TestLoadSkipsRegoTests: a validation run compiles the policy modules
// only; a Rego test that would not even compile is not loaded, and a
// directory holding nothing but tests is an error.
func TestLoadSkipsRegoTests(t *testing.T) {
	dir := t.TempDir()
	testfs.Write(t, dir, map[string]string{"x/x_test.rego": "package homelab.x_test\n\ntest_broken if data.homelab.x.deny[\n"})
	testfs.Write(t, dir, map[string]string{".hidden/h.rego": "package homelab.hidden\n\ndeny contains \"hidden\"\n"})
	if _, err := Load(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "no Rego policy files") {
		t.Fatalf("Load of tests only: err %v, want no Rego policy files", err)
	}
	testfs.Write(t, dir, map[string]string{"x/x.rego": "package homelab.x\n\ndeny contains {\"msg\": \"always\", \"rule\": \"x-always\"}\n"})
	e, err := Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Namespaces(); !slices.Equal(got, []string{"homelab.x"}) {
		t.Fatalf("namespaces %v, want only homelab.x", got)
	}
}

// TestCheckWithInputs checks that the checks of rendered objects, with
// each object converted once (Convert) or on demand (no Inputs), find what
// Evaluate and EvaluateCombined find from the objects as data, with the
// repository's own pack.
func TestCheckWithInputs(t *testing.T) {
	ctx := context.Background()
	e, err := Load(ctx, filepath.Join("..", "..", "..", "policies"))
	if err != nil {
		t.Fatal(err)
	}
	c := &render.Cluster{Name: "c"}
	var input []any
	for i, o := range objects {
		file := fmt.Sprintf("f%d.yaml", i)
		c.Objects = append(c.Objects, &render.Object{U: &unstructured.Unstructured{Object: o}, File: file, Owner: &render.Kustomization{}})
		input = append(input, map[string]any{"path": file, "contents": o})
	}
	var want []string
	for _, o := range objects {
		rs, err := e.Evaluate(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			want = append(want, r.Message)
		}
	}
	rs, err := e.EvaluateCombined(ctx, input)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		want = append(want, r.Message)
	}
	slices.Sort(want)
	converted, err := Convert(ctx, c.Objects)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]Inputs{"converted": converted, "on demand": nil} {
		fs, err := e.CheckObjects(ctx, c.Objects, in)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := e.CheckCluster(ctx, c, in)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range append(fs, cf...) {
			got = append(got, f.Message)
		}
		slices.Sort(got)
		if len(want) < 5 || !slices.Equal(got, want) {
			t.Errorf("%s: checks found\n%q\nEvaluate and EvaluateCombined found\n%q", name, got, want)
		}
	}
}
