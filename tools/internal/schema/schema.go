// Package schema validates rendered objects strictly and offline: built-in
// kinds by strict decoding into the client-go types (unknown and duplicate
// fields, wrong types) plus the required fields the API server insists on;
// custom resources against their CRD's openAPIV3Schema with the
// apiextensions-apiserver validation code (types, enums, patterns, required)
// and structural pruning (unknown fields).
package schema

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// Issue is one schema problem of an object.
type Issue struct {
	// Field is the dotted path of the field (list indexes as numbers).
	Field   string
	Message string
	// UnknownKind is set when no schema knows the object's kind and version
	// although its API group is known (a typo or a wrong version).
	UnknownKind bool
	// NoSchema is set when nothing is known about the object's API group.
	NoSchema bool
	// Composite is set when no branch of a oneOf or anyOf matched: the
	// cause may be anywhere beneath Field.
	Composite bool
	// Dropped is set for an unknown field of a kind of client-go's scheme
	// whose object otherwise decodes into its Go type: a non-strict
	// conversion to the type (which kustomize-controller makes before
	// applying) leaves the field out rather than failing.
	Dropped bool
}

// Validator validates objects. It is safe for concurrent use.
type Validator struct {
	scheme *runtime.Scheme
	// client holds the kinds of client-go's scheme only, which
	// kustomize-controller converts to their Go types before applying
	// (not CustomResourceDefinition or APIService).
	client *runtime.Scheme
	codec  runtime.Decoder
	groups map[string]bool // built-in groups
	crds   *crdSet
	// legacy holds versions of CRD kinds that the embedded CRDs no longer
	// serve (an older Flux release's); consulted when crds lacks a version.
	legacy *crdSet
}

// New returns a validator over the built-in kinds and the CRDs in each of
// crdFS (files named <group>_*.yaml are loaded when that group is first
// needed).
func New(crdFS ...fs.FS) (*Validator, error) {
	client := runtime.NewScheme()
	if err := clientscheme.AddToScheme(client); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	sch := runtime.NewScheme()
	if err := clientscheme.AddToScheme(sch); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	if err := apiextensionsv1.AddToScheme(sch); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	// APIService is built into every API server (the aggregation layer),
	// not a CRD: metrics-server registers one.
	if err := apiregistrationv1.AddToScheme(sch); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	v := &Validator{
		scheme: sch,
		client: client,
		codec:  kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, sch, sch, kjson.SerializerOptions{Strict: true}),
		groups: map[string]bool{},
		crds:   newCRDSet(),
		legacy: newCRDSet(),
	}
	for gvk := range sch.AllKnownTypes() {
		v.groups[gvk.Group] = true
	}
	for _, f := range crdFS {
		if err := v.crds.addFS(f); err != nil {
			return nil, fmt.Errorf("load crds: %w", err)
		}
	}
	return v, nil
}

// AddLegacy registers compiled CRDs (<group>_<Kind>.json.gz) whose versions
// validate objects of a version the other CRDs of that kind do not serve:
// the schemas of releases that served it before.
func (v *Validator) AddLegacy(fsys fs.FS) error {
	if err := v.legacy.addFS(fsys); err != nil {
		return fmt.Errorf("load legacy crds: %w", err)
	}
	return nil
}

// version returns the compiled schema of group/kind at version, from the
// CRDs or, failing that, the legacy ones.
func (v *Validator) version(group, kind, version string) (*crdVersion, bool) {
	if k, ok := v.crds.kind(group, kind); ok {
		if ver, ok := k.versions[version]; ok {
			return ver, true
		}
	}
	if k, ok := v.legacy.kind(group, kind); ok {
		if ver, ok := k.versions[version]; ok {
			return ver, true
		}
	}
	return nil, false
}

// AddCRD registers a CustomResourceDefinition found in the repository; it
// replaces the embedded one of the same kind. It is compiled when an object
// of its kind is first validated.
func (v *Validator) AddCRD(u *unstructured.Unstructured, source string) error {
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
	if group == "" || kind == "" {
		return fmt.Errorf("crd %s: spec.group and spec.names.kind are required", u.GetName())
	}
	if v.crds.replace(group, kind, lazyDoc{source: source, obj: u.Object}) {
		return nil
	}
	// The embedded CRD of that kind is already compiled, or being compiled
	// (a preload in the background): wait until it is, so that it cannot
	// land after this one, then compile this one now, its versions replace
	// the embedded ones.
	v.crds.load(group, kind)
	var crd apiextensionsv1.CustomResourceDefinition
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &crd); err != nil {
		return fmt.Errorf("crd %s: %w", u.GetName(), err)
	}
	return v.crds.addCRD(&crd, source)
}

// HasKind reports whether a schema exists for group/kind (any version).
func (v *Validator) HasKind(group, kind string) bool {
	if v.groups[group] {
		for gvk := range v.scheme.AllKnownTypes() {
			if gvk.Group == group && gvk.Kind == kind {
				return true
			}
		}
	}
	_, ok := v.crds.kind(group, kind)
	return ok
}

// Validate returns the schema issues of obj. obj is not modified.
func (v *Validator) Validate(obj map[string]any) []Issue {
	u := unstructured.Unstructured{Object: obj}
	gvk := u.GroupVersionKind()
	if v.scheme.Recognizes(gvk) {
		return v.validateBuiltin(gvk, obj)
	}
	if ver, ok := v.version(gvk.Group, gvk.Kind, gvk.Version); ok {
		return ver.validate(obj)
	}
	if k, ok := v.crds.kind(gvk.Group, gvk.Kind); ok {
		var served []string
		for name := range k.versions {
			served = append(served, gvk.Group+"/"+name)
		}
		slices.Sort(served)
		return []Issue{{Field: "apiVersion", UnknownKind: true, Message: fmt.Sprintf("%s has no version %s; served versions: %s", gvk.Kind, gvk.Version, strings.Join(served, ", "))}}
	}
	crdKinds := v.crds.kindNames(gvk.Group)
	if v.groups[gvk.Group] || len(crdKinds) > 0 {
		known := crdKinds
		for g := range v.scheme.AllKnownTypes() {
			if g.Group == gvk.Group && g.Version == gvk.Version && !strings.HasSuffix(g.Kind, "List") && !strings.HasSuffix(g.Kind, "Options") {
				known = append(known, g.Kind)
			}
		}
		slices.Sort(known)
		known = slices.Compact(known)
		msg := fmt.Sprintf("unknown kind %s in API group %q", gvk.Kind, gvk.Group)
		if s := closest(gvk.Kind, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return []Issue{{Field: "kind", UnknownKind: true, Message: msg}}
	}
	return []Issue{{Field: "apiVersion", NoSchema: true, Message: fmt.Sprintf("no schema for %s (API group %q): the object was not validated", gvk.Kind, gvk.Group)}}
}

func (cv *crdVersion) validate(obj map[string]any) []Issue {
	norm, err := normalise(obj)
	if err != nil {
		return []Issue{{Message: err.Error()}}
	}
	if cv.structural != nil {
		// As the API server decodes a custom resource: a null where the
		// schema does not allow one is dropped (or defaulted), and
		// defaults are applied, before validation.
		structuraldefaulting.PruneNonNullableNullsWithoutDefaults(norm, cv.structural)
		structuraldefaulting.Default(norm, cv.structural)
	}
	var issues []Issue
	for _, e := range validation.ValidateCustomResource(nil, norm, cv.validator) {
		issues = append(issues, fieldIssue(e))
	}
	if v := cv.celValidator(); v != nil && len(issues) == 0 {
		// CEL rules assume a schema-valid object; like the API server, run
		// them only when the schema passed (on the defaulted object).
		errs, _ := v.Validate(context.Background(), nil, cv.structural, norm, nil, celconfig.RuntimeCELCostBudget)
		for _, e := range errs {
			if strings.Contains(e.Detail, "no such key") {
				continue // a field the rule expects that is absent offline: not a verdict
			}
			issues = append(issues, fieldIssue(e))
		}
	}
	if cv.structural != nil {
		cp := runtime.DeepCopyJSONValue(norm)
		unknown := pruning.PruneWithOptions(cp, cv.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
		for _, p := range unknown {
			issues = append(issues, Issue{Field: dotted(p), Message: fmt.Sprintf("unknown field %q", p)})
		}
	}
	return issues
}

// normalise turns YAML-decoded values into JSON-decoded ones (int64, float64).
func normalise(obj map[string]any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode object: %w", err)
	}
	var out map[string]any
	if err := utiljson.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decode object: %w", err)
	}
	return out, nil
}

func fieldIssue(e *field.Error) Issue {
	if e.Field == "" || e.Field == "<nil>" {
		// kube-openapi reports a oneOf/anyOf failure without a field path
		// and puts the path, quoted, at the head of the detail.
		if m := compositeRe.FindStringSubmatch(e.Detail); m != nil {
			return Issue{Field: dotted(m[1]), Message: m[1] + ": " + m[2], Composite: true}
		}
	}
	msg := e.ErrorBody()
	return Issue{Field: dotted(e.Field), Message: e.Field + ": " + msg}
}

var (
	indexRe   = regexp.MustCompile(`\[(\d+)\]`)
	keyRe     = regexp.MustCompile(`\[([^\]]+)\]`)
	unknownRe = regexp.MustCompile(`(unknown|duplicate) field "([^"]+)"`)
	// compositeRe is kube-openapi's `"spec.addresses[0]" must validate ...`.
	compositeRe = regexp.MustCompile(`^"([^"]+)" (must validate .*)$`)
	typeRe      = regexp.MustCompile(`Go struct field [A-Za-z0-9_]+\.([A-Za-z0-9_.\[\]]+) of type ([^\s]+)`)
)

// dotted turns spec.containers[0].name into spec.containers.0.name.
func dotted(p string) string {
	p = indexRe.ReplaceAllString(p, ".$1")
	p = keyRe.ReplaceAllString(p, ".$1")
	return strings.TrimPrefix(p, ".")
}

func (v *Validator) validateBuiltin(gvk schema.GroupVersionKind, obj map[string]any) []Issue {
	data, err := json.Marshal(obj)
	if err != nil {
		return []Issue{{Message: fmt.Sprintf("encode object: %v", err)}}
	}
	into, err := v.scheme.New(gvk)
	if err != nil {
		return []Issue{{UnknownKind: true, Message: err.Error()}}
	}
	var issues []Issue
	_, _, err = v.codec.Decode(data, &gvk, into)
	if err != nil {
		if se, ok := runtime.AsStrictDecodingError(err); ok {
			for _, e := range se.Errors() {
				m := unknownRe.FindStringSubmatch(e.Error())
				if m == nil {
					issues = append(issues, Issue{Message: e.Error()})
					continue
				}
				issues = append(issues, Issue{Field: dotted(m[2]), Message: fmt.Sprintf("%s field %q", m[1], m[2]), Dropped: m[1] == "unknown" && v.client.Recognizes(gvk)})
			}
		} else {
			msg := err.Error()
			is := Issue{Message: msg}
			if m := typeRe.FindStringSubmatch(msg); m != nil {
				is.Field = dotted(m[1])
				is.Message = fmt.Sprintf("wrong type for field %q: expected %s (%s)", m[1], m[2], msg)
			}
			issues = append(issues, is)
		}
	}
	return append(issues, required(gvk, obj)...)
}

// closest returns the candidate nearest to s (case-insensitive edit
// distance at most 3).
func closest(s string, candidates []string) string {
	best, bestD := "", 4
	for _, c := range candidates {
		if d := distance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// IsBuiltinGroup reports whether group is served by Kubernetes itself.
func (v *Validator) IsBuiltinGroup(group string) bool { return v.groups[group] }

// PreloadKind loads the CRDs of apiVersion's group and compiles the CEL
// rules of kind at that version, so that validation later finds them ready.
func (v *Validator) PreloadKind(apiVersion, kind string) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || v.groups[gv.Group] {
		return
	}
	if ver, ok := v.version(gv.Group, kind, gv.Version); ok {
		ver.celValidator()
	}
}

// LoadErrors returns the CRDs that could not be decoded or compiled.
func (v *Validator) LoadErrors() []error {
	var errs []error
	for _, s := range []*crdSet{v.crds, v.legacy} {
		s.mu.Lock()
		errs = append(errs, s.errors...)
		s.mu.Unlock()
	}
	return errs
}

// APIVersions lists the API versions the validator knows, as Helm's
// .Capabilities.APIVersions spells them: group/version (v1 for the core
// group) and group/version/Kind, for the built-in kinds and every CRD
// (embedded, configured or added from the repository).
func (v *Validator) APIVersions() []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for gvk := range v.scheme.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		gv := gvk.GroupVersion().String()
		add(gv)
		add(gv + "/" + gvk.Kind)
	}
	for _, s := range v.crds.apiVersions() {
		add(s)
	}
	slices.Sort(out)
	return out
}
