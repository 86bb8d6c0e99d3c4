package helmrender

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
)

// helmSplit is releaseutil.SplitManifests in document order.
func helmSplit(s string) []string {
	m := releaseutil.SplitManifests(s)
	out := make([]string, len(m))
	for i := range out {
		out[i] = m[fmt.Sprintf("manifest-%d", i)]
	}
	return out
}

var splitSeeds = []string{
	"",
	"---",
	"a: 1",
	"---\na: 1\n---\nb: 2\n",
	"a: 1\n---\n---\nb: 2",
	"a: 1\n  \t\n---   \n\n  b: 2\n---",
	"a: 1\n--- # comment\nb: 2",
	"a: 1\n---b: 2",
	"a: |\n  x\n  ---\n  y\n---\nb: 2",
	"a: 1\r\n---\r\nb: 2\r\n",
	"a: 1\n\v\n---\nb: 2",
	"  \n\n---\na: 1",
	"a: ---\nb: 1",
	"a: 1\n----\nb: 2",
	"x\f\n---\fy",
	"a\n--- \n---\nb",
	"a\n---\t\n---\nb",
	"a\n---\f\n---\nb",
	"a\n---\r\n---\nb",
	"a\n---\v\n---\nb",
}

func FuzzSplitManifests(f *testing.F) {
	for _, s := range splitSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if diff := cmp.Diff(helmSplit(s), splitManifests(s), cmpEmpty); diff != "" {
			t.Errorf("split %q (-helm +ours):\n%s", s, diff)
		}
	})
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })

// helmSorted is what Render did before sortManifests: Helm's sorter, the
// hooks helm-controller installs, each document decoded.
func helmSorted(t *testing.T, files map[string]string, disableHooks bool) (manifests, hooks []object, err error) {
	t.Helper()
	hs, ms, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, nil, err
	}
	var docs, hookDocs []doc
	for _, m := range ms {
		docs = append(docs, doc{m.Name, m.Content})
	}
	for _, h := range hs {
		if !disableHooks && !slices.Contains(h.Events, release.HookTest) {
			hookDocs = append(hookDocs, doc{h.Path, h.Manifest})
		}
	}
	if manifests, err = decode(docs); err != nil {
		return nil, nil, err
	}
	hooks, err = decode(hookDocs)
	return manifests, hooks, err
}

type sortedObject struct {
	Template string
	Object   map[string]any
}

func sorted(objs []object) []sortedObject {
	var out []sortedObject
	for _, o := range objs {
		out = append(out, sortedObject{o.template, o.u.Object})
	}
	return out
}

// compareSort fails unless sortManifests gives Helm's manifests and hooks,
// in Helm's order, or fails where Helm fails.
func compareSort(t *testing.T, files map[string]string, disableHooks bool) {
	t.Helper()
	wantM, wantH, wantErr := helmSorted(t, files, disableHooks)
	gotM, gotH, gotErr := sortManifests(files, disableHooks)
	if (wantErr != nil) != (gotErr != nil) {
		t.Fatalf("disableHooks %v: Helm's error %v, ours %v", disableHooks, wantErr, gotErr)
	}
	if wantErr != nil {
		return
	}
	if diff := cmp.Diff(sorted(wantM), sorted(gotM)); diff != "" {
		t.Errorf("disableHooks %v: manifests (-helm +ours):\n%s", disableHooks, diff)
	}
	if diff := cmp.Diff(sorted(wantH), sorted(gotH)); diff != "" {
		t.Errorf("disableHooks %v: hooks (-helm +ours):\n%s", disableHooks, diff)
	}
}

func TestSortManifests(t *testing.T) {
	cm := func(name string, annotations string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n" + annotations
	}
	hook := func(events string) string { return "  annotations:\n    helm.sh/hook: " + events + "\n" }
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"kinds in install order, unknown kinds last by name, files by path", map[string]string{
			"c/templates/b.yaml": "apiVersion: example.com/v1\nkind: Zebra\nmetadata:\n  name: z\n---\n" + cm("b1", "") +
				"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n---\napiVersion: example.com/v1\nkind: Aardvark\nmetadata:\n  name: a\n",
			"c/templates/a.yaml": cm("a1", "") + "\n---\n# only a comment\n---\n" + cm("a2", ""),
			"c/templates/d.yaml": "\n\n",
			"c/templates/e.yaml": "--- # leading\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n",
		}},
		{"hooks: kept, test hooks and unknown events left out", map[string]string{
			"c/templates/hooks.yaml": cm("pre", hook("pre-install,post-upgrade")) + "---\n" + cm("test", hook("test")) + "---\n" +
				cm("old-test", hook("test-success")) + "---\n" + cm("unknown", hook("pre-install, on-friday")) + "---\n" +
				cm("upper", hook(" Post-Install ")) + "---\n" + cm("empty", hook(`""`)) + "---\n" + cm("plain", "  annotations:\n    team: web\n"),
		}},
		{"numeric annotation", map[string]string{"c/templates/a.yaml": cm("a", "  annotations:\n    replicas: 3\n")}},
		{"annotation a mapping", map[string]string{"c/templates/a.yaml": cm("a", "  annotations:\n    replicas: {a: 3}\n")}},
		{"annotation a list", map[string]string{"c/templates/a.yaml": cm("a", "  annotations:\n    replicas: [3]\n")}},
		{"annotations a list", map[string]string{"c/templates/a.yaml": cm("a", "  annotations: [a]\n")}},
		{"metadata a list", map[string]string{"c/templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n"}},
		{"metadata a string", map[string]string{"c/templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: a\n"}},
		{"kind a number", map[string]string{"c/templates/a.yaml": "apiVersion: v1\nkind: 3\nmetadata:\n  name: a\n"}},
		{"kind a list", map[string]string{"c/templates/a.yaml": "apiVersion: v1\nkind: [a]\nmetadata:\n  name: a\n"}},
		{"name a mapping", map[string]string{"c/templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {a: b}\n"}},
		{"apiVersion a mapping", map[string]string{"c/templates/a.yaml": "apiVersion: {a: b}\nkind: ConfigMap\nmetadata:\n  name: a\n"}},
		{"invalid YAML", map[string]string{"c/templates/a.yaml": cm("a", "") + "---\nkey: [unclosed\n"}},
		{"a document that is a list", map[string]string{"c/templates/a.yaml": "- a\n- b\n"}},
		{"no name", map[string]string{"c/templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n"}},
		{"a hook without a name", map[string]string{"c/templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n" + hook("pre-install")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, disable := range []bool{false, true} {
				compareSort(t, tt.files, disable)
			}
		})
	}
}

// TestSortManifestsMirroredCharts compares with Helm's sorter on what the
// charts of the repository's mirror render with their default values.
func TestSortManifestsMirroredCharts(t *testing.T) {
	archives, err := filepath.Glob(filepath.Join("..", "..", "..", "charts", "*.tgz"))
	if err != nil || len(archives) == 0 {
		t.Fatalf("no mirrored charts (%v)", err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	for _, a := range archives {
		t.Run(path.Base(a), func(t *testing.T) {
			chrt, err := loader.Load(a)
			if err != nil {
				t.Fatal(err)
			}
			if err := chartutil.ProcessDependenciesWithMerge(chrt, map[string]any{}); err != nil {
				t.Fatal(err)
			}
			vals, err := chartutil.ToRenderValues(chrt, map[string]any{}, chartutil.ReleaseOptions{Name: "r", Namespace: "ns", IsInstall: true}, caps)
			if err != nil {
				t.Fatal(err)
			}
			files, err := engine.Render(chrt, vals)
			if err != nil {
				t.Fatal(err)
			}
			for k := range files {
				if strings.HasSuffix(k, "NOTES.txt") || strings.HasPrefix(path.Base(k), "_") {
					delete(files, k)
				}
			}
			m, _, err := sortManifests(files, false)
			if err != nil || len(m) < 5 {
				t.Fatalf("%d objects, error %v", len(m), err)
			}
			for _, disable := range []bool{false, true} {
				compareSort(t, files, disable)
			}
		})
	}
}
