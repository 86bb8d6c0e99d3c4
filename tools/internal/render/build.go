package render

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sync"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// kustomize keeps its OpenAPI schema in package globals (kyaml/openapi),
// which is why fluxcd/pkg/kustomize.Build serialises every build on a
// global lock and resets the schema before each one (re-parsing the
// built-in schema costs 20-40 ms, most of a build). buildMu plays the same
// role for this process; the schema is reset only when the previous build
// changed it (a kustomization with openapi: or crds:), so every build still
// starts from the built-in schema alone, as in kustomize-controller.
var (
	buildMu     sync.Mutex
	schemaDirty = true
)

// kustomizeBuild runs krusty with kustomize-controller's options (load
// restrictions off, plugins off), like fluxcd/pkg/kustomize.Build.
func kustomizeBuild(fs filesys.FileSystem, dir string) (res resmap.ResMap, err error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered from kustomize build panic: %v", r)
			schemaDirty = true
		}
	}()
	if schemaDirty {
		openapi.ResetOpenAPI()
		_ = openapi.Schema()
		schemaDirty = false
	}
	watch := &schemaWatch{FileSystem: fs}
	k := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	})
	res, err = k.Run(watch, dir)
	if watch.dirty {
		schemaDirty = true
	}
	return res, err
}

// schemaFieldRe matches the top-level kustomization fields that change the
// global schema (patches may mention "crds:" deeper down).
var schemaFieldRe = regexp.MustCompile(`(?m)^(openapi|crds):`)

// schemaWatch notes when a kustomization read during a build can change
// the global schema.
type schemaWatch struct {
	filesys.FileSystem
	dirty bool
}

func (w *schemaWatch) ReadFile(path string) ([]byte, error) {
	data, err := w.FileSystem.ReadFile(path)
	if err == nil && !w.dirty && isKustomizationName(filepath.Base(path)) {
		if schemaFieldRe.Match(data) {
			w.dirty = true
		}
	}
	return data, err
}

func isKustomizationName(name string) bool {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if n == name {
			return true
		}
	}
	return false
}

// BuildFiles runs a kustomize build of the kustomization.yaml in files
// (an in-memory tree, paths relative to its root), under the same lock as
// every other build. helm-controller's Kustomize post-renderer builds the
// same way.
func BuildFiles(files map[string][]byte) (resmap.ResMap, error) {
	fs := filesys.MakeFsInMemory()
	for p, data := range files {
		if err := fs.WriteFile(p, data); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
	}
	return kustomizeBuild(fs, ".")
}
