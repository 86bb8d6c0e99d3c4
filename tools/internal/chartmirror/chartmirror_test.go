package chartmirror

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

// upstream makes a Git repository with a chart directory, a library chart
// and a tag, and returns its directory and the tagged commit.
func upstream(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	testfs.Write(t, dir, map[string]string{
		"charts/app/Chart.template.yaml": "apiVersion: v2\nname: app\n# set at release\nversion: v0.0.0\nappVersion: v0.0.0\ndependencies:\n  - name: lib\n    version: 1.0.0\n",
		"charts/app/README.template.md":  "install --version {{RELEASE_VERSION}}\n",
		"charts/app/signkey.txt":         "fingerprint: ABC\n",
		"charts/app/values.yaml":         "replicas: 1\n",
		"charts/app/templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
		"charts/app/templates/.hidden":   "dotfiles in templates/ are ignored by Helm's defaults\n",
		"charts/app/tests/t.yaml":        "not copied by the release\n",
		"charts/lib/Chart.yaml":          "apiVersion: v2\nname: lib\ntype: library\nversion: 1.0.0\n",
		"charts/lib/.helmignore":         "*.md\n",
		"charts/lib/NOTES.md":            "ignored\n",
		"charts/lib/templates/_h.tpl":    "{{- define \"lib.x\" -}}x{{- end -}}\n",
	})
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "."},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "chart"},
		{"tag", "app-1.2.3"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	commit, err := git(context.Background(), dir, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	return dir, commit
}

func testChart(url, commit string) Chart {
	return Chart{
		Name: "app", Version: "1.2.3",
		Source: Source{
			Upstream: url, Tag: "app-1.2.3", Commit: commit, Path: "charts/app",
			Release: &Release{
				Files: []GeneratedFile{
					{Path: "Chart.yaml", From: "Chart.template.yaml"},
					{Path: "README.md", From: "README.template.md", Replace: map[string]string{"{{RELEASE_VERSION}}": "1.2.3"}},
				},
				Set:         map[string]string{"version": "1.2.3", "appVersion": "v1.2.3"},
				SetFromFile: map[string]string{"annotations.example.com/signKey": "signkey.txt"},
				Include:     []string{"values.yaml", "templates/*"},
			},
		},
		Dependencies: []Dependency{{Name: "lib", Version: "1.0.0", Source: Source{Upstream: url, Tag: "app-1.2.3", Commit: commit, Path: "charts/lib"}}},
	}
}

func TestPackageIsReproducibleAndFollowsTheReleaseSteps(t *testing.T) {
	dir, commit := upstream(t)
	const url = "https://example.com/org/charts"
	srcs := Sources{Dirs: map[string]string{url: dir}}
	c := testChart(url, commit)
	a, err := Package(context.Background(), srcs, c)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Package(context.Background(), srcs, c)
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest != b.Digest || !bytes.Equal(a.Data, b.Data) {
		t.Fatalf("two builds of one commit differ: %s vs %s", a.Digest, b.Digest)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(a.Data))
	if err != nil {
		t.Fatal(err)
	}
	if ch.Metadata.Version != "1.2.3" || ch.Metadata.AppVersion != "v1.2.3" || ch.Metadata.Annotations["example.com/signKey"] != "fingerprint: ABC\n" {
		t.Errorf("Chart.yaml not set as released: %+v", ch.Metadata)
	}
	var names []string
	for _, f := range ch.Raw {
		names = append(names, f.Name)
	}
	got := strings.Join(names, " ")
	for _, want := range []string{"Chart.yaml", "README.md", "values.yaml", "templates/cm.yaml", "charts/lib-1.0.0.tgz"} {
		if !strings.Contains(got, want) {
			t.Errorf("archive lacks %s: %s", want, got)
		}
	}
	for _, unwanted := range []string{"tests/t.yaml", "Chart.template.yaml", "signkey.txt", "templates/.hidden"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("archive has %s, which the release leaves out: %s", unwanted, got)
		}
	}
	if len(ch.Dependencies()) != 1 || ch.Dependencies()[0].Name() != "lib" {
		t.Fatalf("dependency lib not embedded: %v", ch.Dependencies())
	}
	for _, f := range ch.Dependencies()[0].Raw {
		if f.Name == "NOTES.md" {
			t.Error("the dependency's .helmignore was not applied")
		}
	}
}

func TestPackageRefusesAMovedTagOrWrongVersion(t *testing.T) {
	dir, commit := upstream(t)
	const url = "https://example.com/org/charts"
	srcs := Sources{Dirs: map[string]string{url: dir}}
	c := testChart(url, strings.Repeat("0", 40))
	if _, err := Package(context.Background(), srcs, c); err == nil || !strings.Contains(err.Error(), "tag app-1.2.3 is commit "+commit) {
		t.Errorf("a tag that names another commit: err = %v", err)
	}
	c = testChart(url, commit)
	c.Version = "1.2.4"
	if _, err := Package(context.Background(), srcs, c); err == nil || !strings.Contains(err.Error(), "is chart app 1.2.3") {
		t.Errorf("a version the source does not have: err = %v", err)
	}
	if _, err := Package(context.Background(), Sources{SearchDirs: []string{t.TempDir()}}, c); err == nil || !strings.Contains(err.Error(), "no local copy of "+url) {
		t.Errorf("an upstream found nowhere: err = %v", err)
	}
}

func TestBuildAndVerify(t *testing.T) {
	dir, commit := upstream(t)
	const url = "https://example.com/org/charts"
	srcs := Sources{Dirs: map[string]string{url: dir}}
	out := t.TempDir()
	testfs.Write(t, out, map[string]string{SpecFile: "charts:\n  - name: app\n    version: 1.2.3\n    upstream: " + url + "\n    tag: app-1.2.3\n    commit: " + commit + "\n    path: charts/app\n    release:\n      files:\n        - path: Chart.yaml\n          from: Chart.template.yaml\n      set:\n        version: 1.2.3\n    dependencies:\n      - name: lib\n        version: 1.0.0\n        upstream: " + url + "\n        tag: app-1.2.3\n        commit: " + commit + "\n        path: charts/lib\n    digest: \"\"\n"})
	spec, err := LoadSpec(filepath.Join(out, SpecFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), srcs, spec, out, false); err == nil || !strings.Contains(err.Error(), "records") {
		t.Fatalf("a digest that differs from mirror.yaml must fail without -update: %v", err)
	}
	built, err := Build(context.Background(), srcs, spec, out, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteDigests(filepath.Join(out, SpecFile), built); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(out); err != nil {
		t.Fatalf("a fresh build does not verify: %v", err)
	}

	archive := filepath.Join(out, "app-1.2.3.tgz")
	orig, _ := os.ReadFile(archive)
	if err := os.WriteFile(archive, append(bytes.Clone(orig), 0), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "stray-0.1.0.tgz"), orig, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(out)
	for _, want := range []string{"app-1.2.3.tgz: digest sha256:", "stray-0.1.0.tgz: not listed"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Verify of a changed mirror: want %q in %v", want, err)
		}
	}
}

func TestLoadSpecNamesTheBadField(t *testing.T) {
	dir := t.TempDir()
	testfs.Write(t, dir, map[string]string{SpecFile: "charts:\n  - name: x\n    version: 1.0.0\n    upstream: u\n    tag: t\n    commit: abc\n    path: ../out\n    digest: md5:1\n"})
	_, err := LoadSpec(filepath.Join(dir, SpecFile))
	for _, want := range []string{"charts[0] (x).commit", "charts[0] (x).path", "charts[0] (x).digest"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}

// The committed mirror: every archive matches mirror.yaml and index.yaml.
func TestRepositoryMirror(t *testing.T) {
	spec, err := Verify(filepath.Join("..", "..", "..", "charts"))
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Charts) == 0 {
		t.Fatal("the repository's chart mirror lists no charts")
	}
}
