package schema

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
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

// crdSet holds CRDs by group and kind. CRD files from an fs.FS are only
// indexed at first (a text scan for each document's group and kind); a
// document is decoded and compiled when an object of its kind is first
// validated.
type crdSet struct {
	// enumAdds extends enums when CRDs are loaded: CRD name -> path below
	// openAPIV3Schema -> values.
	enumAdds map[string]map[string][]string

	mu      sync.Mutex
	files   map[string][]lazyFile           // group (from the file name) -> files not indexed yet
	indexed map[string]*sync.Once           // group -> index its files once
	kinds   map[string]map[string]*crdKind  // group -> kind -> versions
	pending map[string]map[string][]lazyDoc // group -> kind -> documents
	// registered are the documents of every kind, loaded or not: what
	// apiVersions lists, whichever kinds are loading at that moment.
	registered map[string]map[string][]lazyDoc
	loads      map[string]*sync.Once // group/kind -> decode once
	errors     []error
}

type lazyFile struct {
	fsys fs.FS
	name string
}

// lazyDoc is one CRD document not decoded yet: data, or when that is nil
// a compiled file (one CRD as gzipped JSON) read when it is needed.
type lazyDoc struct {
	source string
	data   []byte
	file   *lazyFile
	// obj is a CRD of the repository, encoded when it is read: most of
	// them (Flux's own, a chart's) never are.
	obj map[string]any
}

// read returns the document and its source; a compiled file names its
// source (the upstream YAML file) in its gzip header.
func (d lazyDoc) read() ([]byte, string, error) {
	if d.obj != nil {
		data, err := json.Marshal(d.obj)
		if err != nil {
			return nil, d.source, fmt.Errorf("crd %s: %w", d.source, err)
		}
		return data, d.source, nil
	}
	if d.file == nil {
		return d.data, d.source, nil
	}
	f, err := d.file.fsys.Open(d.file.name)
	if err != nil {
		return nil, d.source, fmt.Errorf("read crd file %s: %w", d.file.name, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, d.source, fmt.Errorf("read crd file %s: %w", d.file.name, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, d.source, fmt.Errorf("read crd file %s: %w", d.file.name, err)
	}
	source := d.source
	if zr.Name != "" {
		source = zr.Name
	}
	return data, source, nil
}

func newCRDSet() *crdSet {
	return &crdSet{
		files:   map[string][]lazyFile{},
		indexed: map[string]*sync.Once{},
		kinds:   map[string]map[string]*crdKind{},
		pending: map[string]map[string][]lazyDoc{},
		loads:   map[string]*sync.Once{},

		registered: map[string]map[string][]lazyDoc{},
	}
}

// addPending registers doc as a document of group/kind; s.mu is held.
func (s *crdSet) addPending(group, kind string, doc lazyDoc) {
	for _, m := range []map[string]map[string][]lazyDoc{s.pending, s.registered} {
		if m[group] == nil {
			m[group] = map[string][]lazyDoc{}
		}
		m[group][kind] = append(m[group][kind], doc)
	}
}

// addFS registers the CRD files of fsys (recursively). A *.yaml file is
// registered under the group its name starts with ("<group>_<plural>.yaml";
// other names under "*", which every lookup indexes) and indexed when that
// group is first needed. A compiled file, "<group>_<Kind>.json.gz", is
// registered under its group and kind at once and read when that kind is
// first validated.
func (s *crdSet) addFS(fsys fs.FS) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		base := path.Base(p)
		if name, ok := strings.CutSuffix(base, ".json.gz"); ok {
			group, kind, ok := strings.Cut(name, "_")
			if !ok || group == "" || kind == "" {
				return fmt.Errorf("crd file %s: the name is not <group>_<Kind>.json.gz", p)
			}
			s.mu.Lock()
			s.addPending(group, kind, lazyDoc{source: p, file: &lazyFile{fsys, p}})
			s.mu.Unlock()
			return nil
		}
		if !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return nil
		}
		group, _, ok := strings.Cut(base, "_")
		if !ok {
			group = "*"
		}
		s.mu.Lock()
		s.files[group] = append(s.files[group], lazyFile{fsys, p})
		s.mu.Unlock()
		return nil
	})
}

// index scans the files of group once, and those of "*", recording each
// CustomResourceDefinition document under its group and kind (a text scan;
// documents are decoded when their kind is needed).
func (s *crdSet) index(group string) {
	for _, g := range []string{"*", group} {
		s.mu.Lock()
		once, ok := s.indexed[g]
		if !ok {
			once = &sync.Once{}
			s.indexed[g] = once
		}
		s.mu.Unlock()
		once.Do(func() {
			s.mu.Lock()
			files := s.files[g]
			delete(s.files, g)
			s.mu.Unlock()
			for _, f := range files {
				if err := s.indexFile(f); err != nil {
					s.fail(err)
				}
			}
		})
	}
}

func (s *crdSet) indexFile(f lazyFile) error {
	data, err := fs.ReadFile(f.fsys, f.name)
	if err != nil {
		return fmt.Errorf("read crd file %s: %w", f.name, err)
	}
	for _, doc := range SplitDocuments(string(data)) {
		if !strings.Contains(doc, "CustomResourceDefinition") {
			continue
		}
		g, k := lineValue(doc, "  group: "), lineValue(doc, "    kind: ")
		if g == "" || k == "" {
			// Not in the usual layout: decode it now.
			if err := s.addYAML([]byte(doc), f.name); err != nil {
				return err
			}
			continue
		}
		s.mu.Lock()
		s.addPending(g, k, lazyDoc{source: f.name, data: []byte(doc)})
		s.mu.Unlock()
	}
	return nil
}

// SplitDocuments splits a YAML stream at its "---" lines (trailing blanks
// allowed). A plain scan: CRD files are megabytes, and a multi-line
// regexp took a tenth of a small repository's run.
func SplitDocuments(data string) []string {
	var docs []string
	start := 0
	for pos := 0; pos < len(data); {
		end := strings.IndexByte(data[pos:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += pos
		}
		if line := data[pos:end]; strings.HasPrefix(line, "---") && strings.TrimRight(line[3:], " \t\r") == "" {
			docs = append(docs, data[start:pos])
			start = end + 1
		}
		pos = end + 1
	}
	if start <= len(data) {
		docs = append(docs, data[start:])
	}
	return docs
}

// lineValue is the plain or quoted scalar of the first line of doc that
// starts with prefix (an indented "key: "), or "" when there is none.
func lineValue(doc, prefix string) string {
	i := 0
	if !strings.HasPrefix(doc, prefix) {
		i = strings.Index(doc, "\n"+prefix)
		if i < 0 {
			return ""
		}
		i++
	}
	v := strings.TrimLeft(doc[i+len(prefix):], `"'`)
	if end := strings.IndexAny(v, "\"' \t\r\n"); end >= 0 {
		v = v[:end]
	}
	return v
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
	delete(s.pending[g], crd.Spec.Names.Kind) // the repository's CRD wins
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

// load decodes and compiles the pending documents of group/kind, once.
func (s *crdSet) load(group, kind string) {
	s.index(group)
	key := group + "/" + kind
	s.mu.Lock()
	once, ok := s.loads[key]
	if !ok {
		once = &sync.Once{}
		s.loads[key] = once
	}
	s.mu.Unlock()
	once.Do(func() {
		s.mu.Lock()
		docs := s.pending[group][kind]
		delete(s.pending[group], kind)
		s.mu.Unlock()
		for _, d := range docs {
			data, source, err := d.read()
			if err == nil {
				err = s.addYAML(data, source)
			}
			if err != nil {
				s.fail(err)
			}
		}
	})
}

// replace makes doc the only pending document of group/kind, unless that
// kind is already being compiled (then it reports false).
func (s *crdSet) replace(group, kind string, doc lazyDoc) bool {
	s.index(group)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, started := s.loads[group+"/"+kind]; started {
		return false
	}
	delete(s.pending[group], kind)
	delete(s.registered[group], kind)
	s.addPending(group, kind, doc)
	return true
}

// kind returns the compiled kind, decoding it first if needed.
func (s *crdSet) kind(group, kind string) (*crdKind, bool) {
	s.load(group, kind)
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.kinds[group][kind]
	return k, ok
}

// kindNames lists the kinds known for group, decoded or not.
func (s *crdSet) kindNames(group string) []string {
	s.index(group)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.kinds[group] {
		out = append(out, k)
	}
	for k := range s.pending[group] {
		out = append(out, k)
	}
	return out
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

// apiVersions lists group/version and group/version/Kind for every served
// version of every CRD known, indexing every group; its documents are
// decoded for their version list only. The list does not depend on which
// kinds are loaded (or loading, in the background) at the time.
func (s *crdSet) apiVersions() []string {
	s.mu.Lock()
	var groups []string
	for g := range s.files {
		groups = append(groups, g)
	}
	s.mu.Unlock()
	for _, g := range groups {
		s.index(g)
	}
	type pendingDoc struct {
		group, kind string
		doc         lazyDoc
	}
	var out []string
	var docs []pendingDoc
	s.mu.Lock()
	for g, kinds := range s.kinds {
		for k, ck := range kinds {
			for v := range ck.versions {
				out = append(out, g+"/"+v, g+"/"+v+"/"+k)
			}
		}
	}
	for g, kinds := range s.registered {
		for k, ds := range kinds {
			for _, d := range ds {
				docs = append(docs, pendingDoc{g, k, d})
			}
		}
	}
	s.mu.Unlock()
	for _, d := range docs {
		data, _, err := d.doc.read()
		if err != nil {
			s.fail(err)
			continue
		}
		var crd struct {
			Spec struct {
				Versions []struct {
					Name   string `json:"name"`
					Served bool   `json:"served"`
				} `json:"versions"`
			} `json:"spec"`
		}
		// Compiled files are JSON, which the YAML decoder would parse
		// ten times slower (every embedded CRD, on every run with a chart).
		if data, err = yaml.ToJSON(data); err == nil {
			err = json.Unmarshal(data, &crd)
		}
		if err != nil {
			s.fail(fmt.Errorf("crd %s/%s: %w", d.group, d.kind, err))
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Served {
				out = append(out, d.group+"/"+v.Name, d.group+"/"+v.Name+"/"+d.kind)
			}
		}
	}
	return out
}
