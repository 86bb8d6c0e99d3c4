package validate

import (
	"bytes"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v4"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/manifest"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// bootstrapDefinition finds, under the entry directory, the Flux
// Kustomization that applies it (gotk-sync.yaml of flux bootstrap, or one
// written by hand): named name in flux-system, with spec.path the entry.
// The synthetic entry point is rendered with its spec, so that its
// postBuild substitution, patches and target namespace apply to what it
// renders, as in the cluster. It returns nil when there is none.
func bootstrapDefinition(root, entry, name string) (obj *unstructured.Unstructured, file string, line int) {
	want := path.Clean(strings.TrimPrefix(filepath.ToSlash(entry), "./"))
	dir := filepath.Join(root, filepath.FromSlash(want))
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || obj != nil {
			return filepath.SkipDir
		}
		if d.IsDir() {
			if p != dir && (strings.HasPrefix(d.Name(), ".") || skipDir[d.Name()]) {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(data, []byte(render.KustomizeGroup+"/")) {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		for _, doc := range manifest.Parse(filepath.ToSlash(rel), data).Docs {
			if doc.Kind != render.KindKustomizaton || !strings.HasPrefix(doc.APIVersion, render.KustomizeGroup+"/") ||
				doc.Name != name || (doc.Namespace != "" && doc.Namespace != render.FluxNamespace) {
				continue
			}
			u := decodeDoc(doc.Root)
			if u == nil {
				continue
			}
			sp, _, _ := unstructured.NestedString(u.Object, "spec", "path")
			if path.Clean(strings.TrimPrefix(sp, "./")) != want {
				continue
			}
			obj, file, line = u, doc.File, doc.Line()
			return filepath.SkipAll
		}
		return nil
	})
	return obj, file, line
}

// skipDir are directories that hold no manifests Flux applies.
var skipDir = map[string]bool{"node_modules": true, "testdata": true}

// decodeDoc turns a parsed document into an object with JSON types.
func decodeDoc(n *yaml.Node) *unstructured.Unstructured {
	data, err := yaml.Marshal(n)
	if err != nil {
		return nil
	}
	var m map[string]any
	if err := sigsyaml.Unmarshal(data, &m); err != nil || m == nil {
		return nil
	}
	return &unstructured.Unstructured{Object: m}
}
