// Package render builds Flux Kustomizations the way kustomize-controller
// does: fluxcd/pkg/kustomize generates the kustomization.yaml in memory over
// a secure read-only view of the source, builds it, and postBuild
// substitution runs with Flux's own rules against the repository's
// ConfigMaps and Secrets.
package render

import (
	"fmt"
	"path"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

// Flux API groups and kinds the renderer understands.
const (
	KustomizeGroup   = "kustomize.toolkit.fluxcd.io"
	SourceGroup      = "source.toolkit.fluxcd.io"
	KindKustomizaton = "Kustomization"
	FluxNamespace    = "flux-system"
	FluxSystemName   = "flux-system"
)

// Ref is a namespaced name.
type Ref struct {
	Namespace string
	Name      string
}

func (r Ref) String() string { return NamespacedName(r.Namespace, r.Name) }

// NamespacedName prints namespace/name, or the name alone when there is no
// namespace (a cluster-scoped object, or one left to a default), never
// "/name".
func NamespacedName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// Kustomization is a Flux Kustomization as its parent rendered it.
type Kustomization struct {
	Ref
	// Obj is the object after its parent's patches and substitution.
	Obj *unstructured.Unstructured
	// Path is spec.path, cleaned, relative to the source root.
	Path      string
	SourceRef SourceRef
	DependsOn []Ref
	// Parent is the Kustomization whose render produced this one (nil for
	// an entry point).
	Parent *Kustomization
	// File and Line locate the object's definition in the repository.
	File string
	Line int
	// Synthetic marks an entry point that is not defined in the repository
	// (bootstrap or a FluxInstance creates it).
	Synthetic bool
	// UnknownValues is set when postBuild.substituteFrom names a ConfigMap
	// or Secret whose values are not in the repository (an ExternalSecret
	// target, an object made in the cluster): a variable without a value
	// is then unknown, not missing, and stays ${VAR} in the output.
	UnknownValues bool
}

// SourceRef is spec.sourceRef with the namespace defaulted.
type SourceRef struct {
	Kind      string
	Name      string
	Namespace string
}

func (s SourceRef) String() string { return s.Kind + "/" + NamespacedName(s.Namespace, s.Name) }

// Object is one rendered object with the file it came from.
type Object struct {
	U *unstructured.Unstructured
	// File is the repository-relative file that defined the object, or the
	// kustomization.yaml of a generator.
	File  string
	Owner *Kustomization
	// Encrypted is true for objects with SOPS metadata.
	Encrypted bool
	// Chart is set for objects rendered from a HelmRelease's chart; File
	// is then the HelmRelease's file.
	Chart *ChartOrigin
}

// ChartOrigin names the HelmRelease and the chart template an object was
// rendered from.
type ChartOrigin struct {
	// Release is the HelmRelease.
	Release *Object
	// Chart is the chart's name and version.
	Chart string
	// Template is the chart path of the template (or crds/ file).
	Template string
}

// ID identifies an object within a cluster.
func (o *Object) ID() ObjectID { return IDOf(o.U) }

// FindingObject names the object in a finding.
func (o *Object) FindingObject() finding.Object {
	return finding.Object{APIVersion: o.U.GetAPIVersion(), Kind: o.U.GetKind(), Namespace: o.U.GetNamespace(), Name: o.U.GetName()}
}

// ObjectID is group, kind, namespace and name.
type ObjectID struct {
	Group     string
	Kind      string
	Namespace string
	Name      string
}

func (id ObjectID) String() string {
	if id.Namespace == "" {
		return id.Kind + "/" + id.Name
	}
	return id.Kind + "/" + id.Namespace + "/" + id.Name
}

// IDOf returns the id of u.
func IDOf(u *unstructured.Unstructured) ObjectID {
	gv := u.GetAPIVersion()
	group := ""
	if i := strings.Index(gv, "/"); i >= 0 {
		group = gv[:i]
	}
	return ObjectID{Group: group, Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}

// NewKustomization reads the fields the renderer needs from a rendered
// Flux Kustomization object.
func NewKustomization(u *unstructured.Unstructured, parent *Kustomization, file string, line int) (*Kustomization, error) {
	k := &Kustomization{Ref: Ref{Namespace: u.GetNamespace(), Name: u.GetName()}, Obj: u, Parent: parent, File: file, Line: line}
	if k.Namespace == "" {
		k.Namespace = FluxNamespace
		if parent != nil && parent.Obj != nil {
			if tn, _, _ := unstructured.NestedString(parent.Obj.Object, "spec", "targetNamespace"); tn != "" {
				k.Namespace = tn
			}
		}
	}
	p, _, err := unstructured.NestedString(u.Object, "spec", "path")
	if err != nil {
		return nil, fmt.Errorf("Kustomization/%s: spec.path: %w", k.Ref, err)
	}
	k.Path = CleanPath(p)
	sr, _, err := unstructured.NestedStringMap(u.Object, "spec", "sourceRef")
	if err != nil {
		return nil, fmt.Errorf("Kustomization/%s: spec.sourceRef: %w", k.Ref, err)
	}
	k.SourceRef = SourceRef{Kind: sr["kind"], Name: sr["name"], Namespace: sr["namespace"]}
	if k.SourceRef.Namespace == "" {
		k.SourceRef.Namespace = k.Namespace
	}
	if k.DependsOn, err = DependsOn(u.Object, k.Namespace); err != nil {
		return nil, fmt.Errorf("Kustomization/%s: %w", k.Ref, err)
	}
	return k, nil
}

// DependsOn reads spec.dependsOn of a Flux object (Kustomization,
// HelmRelease): entries without a namespace are in ns.
func DependsOn(obj map[string]any, ns string) ([]Ref, error) {
	deps, _, err := unstructured.NestedSlice(obj, "spec", "dependsOn")
	if err != nil {
		return nil, fmt.Errorf("spec.dependsOn: %w", err)
	}
	var out []Ref
	for _, d := range deps {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		dns, _ := m["namespace"].(string)
		if dns == "" {
			dns = ns
		}
		out = append(out, Ref{Namespace: dns, Name: name})
	}
	return out, nil
}

// CleanPath turns spec.path ("./apps", "apps/", "") into a clean relative
// path ("apps", ".").
func CleanPath(p string) string {
	p = path.Clean("/" + strings.TrimSpace(p))
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return "."
	}
	return p
}

// Cluster is everything rendered for one entry point.
type Cluster struct {
	Name string
	// Entry is the repository-relative entry directory.
	Entry string
	// Kustomizations in render order, parents first.
	Kustomizations []*Kustomization
	Objects        []*Object
	// Unrendered are Kustomizations whose source is not available offline.
	Unrendered []*Kustomization
	// Charts maps the HelmReleases whose chart was rendered to where the
	// chart was found; ChartsMissing those whose chart is not available
	// offline to what was looked for.
	Charts        map[*Object]string
	ChartsMissing map[*Object]string

	// byName indexes Objects for Named; built on first use after
	// rendering, rebuilt if objects were added since.
	mu     sync.Mutex
	byName map[namedKey][]*Object
	named  int
}

type namedKey struct{ kind, namespace, name string }

// Named returns the objects of a kind, namespace and name, in render
// order. Checks look objects up by name many times per cluster; a scan of
// every object each time made them quadratic.
func (c *Cluster) Named(kind, namespace, name string) []*Object {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName == nil || c.named != len(c.Objects) {
		c.byName = make(map[namedKey][]*Object, len(c.Objects))
		for _, o := range c.Objects {
			k := namedKey{o.U.GetKind(), o.U.GetNamespace(), o.U.GetName()}
			c.byName[k] = append(c.byName[k], o)
		}
		c.named = len(c.Objects)
	}
	return c.byName[namedKey{kind, namespace, name}]
}
