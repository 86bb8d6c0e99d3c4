package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// crdVersion is the compiled schema of one served version of a CRD.
type crdVersion struct {
	validator  validation.SchemaValidator
	structural *structuralschema.Structural
	source     string
	// cel validates x-kubernetes-validations rules; compiled on first use.
	celOnce sync.Once
	cel     *cel.Validator
}

// celValidator compiles the version's CEL rules once (nil when it has none).
func (cv *crdVersion) celValidator() *cel.Validator {
	cv.celOnce.Do(func() {
		if cv.structural != nil {
			cv.cel = cel.NewValidator(cv.structural, true, celconfig.PerCallLimit)
		}
	})
	return cv.cel
}

// crdKind is a kind declared by a CRD, with its versions.
type crdKind struct {
	versions map[string]*crdVersion
	scope    string
}

// crdSet holds CRDs by group and kind. Groups from an fs.FS are loaded
// lazily: the first object of a group parses that group's files only.
type crdSet struct {
	// enumAdds extends enums when CRDs are loaded: CRD name -> JSON path
	// (below spec.versions[].schema.openAPIV3Schema) -> values.
	enumAdds map[string]map[string][]string
	loadMu   sync.Mutex // guards loads
	loads    map[string]*sync.Once
	mu       sync.Mutex
	kinds    map[string]map[string]*crdKind // group -> kind -> versions
	lazy     map[string][]lazyFile          // group -> files not yet loaded
	errors   []error
}

type lazyFile struct {
	fsys fs.FS
	name string
}

func newCRDSet() *crdSet {
	return &crdSet{kinds: map[string]map[string]*crdKind{}, lazy: map[string][]lazyFile{}, loads: map[string]*sync.Once{}}
}

// addFS registers every *.yaml file of fsys (recursively); a file's group is
// the part of its name before the first "_".
func (s *crdSet) addFS(fsys fs.FS) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return nil
		}
		base := p[strings.LastIndex(p, "/")+1:]
		group, _, ok := strings.Cut(base, "_")
		if !ok {
			group = "*"
		}
		s.mu.Lock()
		s.lazy[group] = append(s.lazy[group], lazyFile{fsys, p})
		s.mu.Unlock()
		return nil
	})
}

// addCRD compiles a CRD (an apiextensions.k8s.io/v1 object as JSON-like map
// data already decoded) and registers its kinds.
func (s *crdSet) addCRD(crd *apiextensionsv1.CustomResourceDefinition, source string) error {
	g := crd.Spec.Group
	s.mu.Lock()
	adds := s.enumAdds[crd.Name]
	s.mu.Unlock()
	kind := &crdKind{versions: map[string]*crdVersion{}, scope: string(crd.Spec.Scope)}
	for _, v := range crd.Spec.Versions {
		if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		for path, values := range adds {
			extendEnum(v.Schema.OpenAPIV3Schema, strings.Split(path, "."), values)
		}
		var internal apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
			return fmt.Errorf("crd %s version %s: convert schema: %w", crd.Name, v.Name, err)
		}
		val, _, err := validation.NewSchemaValidator(&internal)
		if err != nil {
			return fmt.Errorf("crd %s version %s: schema validator: %w", crd.Name, v.Name, err)
		}
		st, err := structuralschema.NewStructural(&internal)
		if err != nil {
			st = nil // non-structural (legacy) schemas still validate types
		}
		kind.versions[v.Name] = &crdVersion{validator: val, structural: st, source: source}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kinds[g] == nil {
		s.kinds[g] = map[string]*crdKind{}
	}
	if prev, ok := s.kinds[g][crd.Spec.Names.Kind]; ok {
		// The repository's own CRD wins over the embedded one, version by version.
		for name, v := range kind.versions {
			prev.versions[name] = v
		}
		return nil
	}
	s.kinds[g][crd.Spec.Names.Kind] = kind
	return nil
}

// loadGroup parses the lazy files of group.
func (s *crdSet) loadGroup(group string) {
	s.mu.Lock()
	files := s.lazy[group]
	delete(s.lazy, group)
	s.mu.Unlock()
	for _, f := range files {
		data, err := fs.ReadFile(f.fsys, f.name)
		if err != nil {
			s.fail(fmt.Errorf("read crd file %s: %w", f.name, err))
			continue
		}
		if err := s.addYAML(data, f.name); err != nil {
			s.fail(err)
		}
	}
}

func (s *crdSet) fail(err error) {
	s.mu.Lock()
	s.errors = append(s.errors, err)
	s.mu.Unlock()
}

// addYAML reads every CustomResourceDefinition document of data.
func (s *crdSet) addYAML(data []byte, source string) error {
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var crd apiextensionsv1.CustomResourceDefinition
		err := dec.Decode(&crd)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("crd file %s: %w", source, err)
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		if err := s.addCRD(&crd, source); err != nil {
			return err
		}
	}
}

// lookup returns the kinds of group, loading it first if needed. Groups
// load in parallel; each group's files are parsed once.
func (s *crdSet) lookup(group string) map[string]*crdKind {
	for _, g := range []string{"*", group} {
		s.loadMu.Lock()
		once, ok := s.loads[g]
		if !ok {
			once = &sync.Once{}
			s.loads[g] = once
		}
		s.loadMu.Unlock()
		once.Do(func() { s.loadGroup(g) })
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kinds[group]
}

// extendEnum appends values to the enum at path ("items" steps into array
// items, anything else into properties). A field without an enum is left
// alone.
func extendEnum(p *apiextensionsv1.JSONSchemaProps, path []string, values []string) {
	if p == nil {
		return
	}
	if len(path) == 0 {
		if len(p.Enum) == 0 {
			return
		}
		for _, v := range values {
			raw, _ := json.Marshal(v)
			p.Enum = append(p.Enum, apiextensionsv1.JSON{Raw: raw})
		}
		return
	}
	if path[0] == "items" {
		if p.Items != nil {
			extendEnum(p.Items.Schema, path[1:], values)
		}
		return
	}
	child, ok := p.Properties[path[0]]
	if !ok {
		return
	}
	extendEnum(&child, path[1:], values)
	p.Properties[path[0]] = child
}

// FluxOperatorKinds makes the notification CRDs accept the Flux Operator's
// kinds as event sources and receiver resources, as the operator patches
// them when it installs Flux (flux-operator internal/builder/templates.go).
// Call it before validating.
func (v *Validator) FluxOperatorKinds() {
	kinds := []string{"FluxInstance", "ResourceSet", "ResourceSetInputProvider"}
	v.crds.mu.Lock()
	defer v.crds.mu.Unlock()
	v.crds.enumAdds = map[string]map[string][]string{
		"alerts.notification.toolkit.fluxcd.io":    {"spec.eventSources.items.kind": kinds},
		"receivers.notification.toolkit.fluxcd.io": {"spec.resources.items.kind": kinds},
	}
}
