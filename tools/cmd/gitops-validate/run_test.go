package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const clean = "../../internal/validate/testdata/repos/clean"

// brokenRepo is the clean fixture with a Secret in plain text.
// TestMain points the user cache directory, where runs without
// --render-cache keep chart renders, at a temporary directory.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gitops-validate-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func brokenRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, clean, dir, func(rel string, data []byte) []byte {
		if rel == filepath.Join("apps", "web", "token.yaml") {
			return []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-token\nstringData:\n  token: hunter2\n")
		}
		return data
	})
	return dir
}

// copyTree copies the files under src into dst, each through edit when
// it is not nil.
func copyTree(t *testing.T, src, dst string, edit func(rel string, data []byte) []byte) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if edit != nil {
			data = edit(rel, data)
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestExitCodes(t *testing.T) {
	broken := brokenRepo(t)
	// A Kubernetes repository without Flux: manifests, but no entry point.
	noFlux := t.TempDir()
	if err := os.WriteFile(filepath.Join(noFlux, "configmap.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"clean repository", []string{"--policies", "-", clean}, exitOK, "0 error(s)", ""},
		{"error finding", []string{"--policies", "-", broken}, exitFindings, "secret-unencrypted", ""},
		{"json output", []string{"-o", "json", "--policies", "-", broken}, exitFindings, `"rule": "secret-unencrypted"`, ""},
		{"unknown output format", []string{"-o", "xml", clean}, exitUsage, "", "unknown output format"},
		{"unknown flag", []string{"--nope", clean}, exitUsage, "", "flag provided but not defined"},
		{"not a directory", []string{"/nonexistent/repo"}, exitUsage, "", "not a directory"},
		{"unknown check class", []string{"--skip", "nope", clean}, exitUsage, "", "unknown check class"},
		{"skip a class", []string{"--policies", "-", "--skip", "secret", broken}, exitOK, "0 error(s)", ""},
		{"entry point flag", []string{"--policies", "-", "--path", "clusters/home", clean}, exitOK, "4 Kustomization(s)", ""},
		{"missing entry point", []string{"--path", "clusters/none", clean}, exitUsage, "", "not a directory of the repository"},
		{"help", []string{"-h"}, exitOK, "", "usage: gitops-validate"},
		{"no Flux here", []string{noFlux}, exitUsage, "", "gitops-validate: no Flux entry point in "},
		{"no Flux here: what was looked for", []string{noFlux}, exitUsage, "", "looked for clusters/<name>/, <dir>/clusters/<name>/, kubernetes/flux/cluster"},
		{"no Flux here: how to name one", []string{noFlux}, exitUsage, "", "with --path DIR or entryPoints in .gitops-validate.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
		})
	}
}

func TestJSONSchema(t *testing.T) {
	var stdout, stderr bytes.Buffer
	run(context.Background(), []string{"-o", "json", "--policies", "-", brokenRepo(t)}, &stdout, &stderr)
	var rep struct {
		Version  int `json:"version"`
		Findings []struct {
			Rule, Class, Severity, File, Message, Hint string
			Line, Column                               int
			Object                                     struct{ APIVersion, Kind, Namespace, Name string }
		} `json:"findings"`
		Stats struct {
			Kustomizations int                  `json:"kustomizations"`
			Findings       struct{ Errors int } `json:"findings"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, stdout.String())
	}
	if rep.Version != 1 || rep.Stats.Kustomizations != 4 || rep.Stats.Findings.Errors != 1 {
		t.Fatalf("unexpected report: %+v", rep)
	}
	f := rep.Findings[len(rep.Findings)-1]
	for _, x := range rep.Findings {
		if x.Rule == "secret-unencrypted" {
			f = x
		}
	}
	if f.Class != "secret" || f.Severity != "error" || f.File != "apps/web/token.yaml" || f.Line != 1 || f.Object.Kind != "Secret" || f.Object.Namespace != "web" || f.Hint == "" {
		t.Errorf("finding lacks fields: %+v", f)
	}
	if strings.Contains(stdout.String(), "hunter2") {
		t.Error("secret value printed")
	}
}

// TestDeterministicOutput: two runs over a repository with several
// aggregated warnings (objects without a schema, checked in parallel) give
// the same bytes.
func TestDeterministicOutput(t *testing.T) {
	repo := brokenRepo(t)
	kus := filepath.Join(repo, "apps", "web", "kustomization.yaml")
	data, err := os.ReadFile(kus)
	if err != nil {
		t.Fatal(err)
	}
	var resources strings.Builder
	for f := range 3 {
		var docs strings.Builder
		for i := range 40 {
			for _, kind := range []string{"Widget", "Gadget"} {
				fmt.Fprintf(&docs, "---\napiVersion: example.com/v1\nkind: %s\nmetadata:\n  name: %s-%d-%d\nspec: {size: %d}\n", kind, strings.ToLower(kind), f, i, i)
			}
		}
		name := fmt.Sprintf("widgets-%d.yaml", f)
		if err := os.WriteFile(filepath.Join(repo, "apps", "web", name), []byte(docs.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		resources.WriteString("  - " + name + "\n")
	}
	if err := os.WriteFile(kus, []byte(strings.Replace(string(data), "resources:\n", "resources:\n"+resources.String(), 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	durationRe := regexp.MustCompile(`"durationMs": \d+`)
	var outs []string
	for range 2 {
		var stdout, stderr bytes.Buffer
		run(context.Background(), []string{"-o", "json", "--policies", "-", repo}, &stdout, &stderr)
		outs = append(outs, durationRe.ReplaceAllString(stdout.String(), ""))
	}
	if !strings.Contains(outs[0], "more Widget object(s)") || !strings.Contains(outs[0], "more Gadget object(s)") {
		t.Fatalf("no aggregated warnings:\n%s", outs[0])
	}
	if outs[0] != outs[1] {
		t.Errorf("two runs differ:\n%s\n---\n%s", outs[0], outs[1])
	}
}

// TestSharedFileNamesCluster: a finding in a file that two clusters render
// is reported for each cluster, and says which.
func TestSharedFileNamesCluster(t *testing.T) {
	repo := brokenRepo(t)
	home := filepath.Join(repo, "clusters", "home")
	err := filepath.WalkDir(home, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(home, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(repo, "clusters", "staging", rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, bytes.ReplaceAll(data, []byte("clusters/home"), []byte("clusters/staging")), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	run(context.Background(), []string{"--policies", "-", repo}, &stdout, &stderr)
	out := stdout.String()
	for _, cluster := range []string{"home", "staging"} {
		want := "in cluster " + cluster + "]"
		found := false
		for l := range strings.Lines(out) {
			if strings.Contains(l, "secret-unencrypted") && strings.Contains(l, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no secret-unencrypted finding %q:\n%s", want, out)
		}
	}
	var single bytes.Buffer
	run(context.Background(), []string{"--policies", "-", brokenRepo(t)}, &single, &stderr)
	if strings.Contains(single.String(), "in cluster") {
		t.Errorf("a one-cluster repository names the cluster:\n%s", single.String())
	}
}
