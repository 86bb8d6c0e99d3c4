// Package helmrender renders the charts of Flux HelmReleases, the way
// helm-controller installs them: a chart directory in this repository, a
// chart from a local cache of pulled charts, or (when allowed) a chart
// fetched from its source by package chartfetch is loaded once per run,
// its values are the chart defaults merged with spec.valuesFrom and
// spec.values, and Helm's engine renders it with a fixed Kubernetes version
// and no cluster (lookup returns nothing). spec.postRenderers (Kustomize
// patches and images) and commonMetadata are applied to the output.
package helmrender

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/chartfetch"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/memo"
	"github.com/homelab-gitops/homelab/tools/internal/render"
	"github.com/homelab-gitops/homelab/tools/internal/schema"
)

// KubeVersion is the Kubernetes version charts are rendered for
// (.Capabilities.KubeVersion): the release that the k8s.io v0.37 modules
// the schemas come from belong to.
const KubeVersion = "v1.37.0"

// Renderer renders HelmRelease charts. It is safe for concurrent use; each
// chart is loaded once.
type Renderer struct {
	cacheDirs []string
	fetcher   *chartfetch.Fetcher
	apis      func() []string
	charts    memo.Map[string, *chart.Chart]
	cache     *RenderCache
}

// New returns a Renderer looking charts up in cacheDirs (absolute
// directories) and announcing the API versions (group/version and
// group/version/Kind) apiVersions returns besides Helm's built-in set in
// .Capabilities; it is called once, when the first chart is rendered.
// With a fetcher, a chart found neither in the repository nor in the cache
// directories is fetched from its HelmRepository or OCIRepository; nil
// keeps the Renderer offline. With a render cache, a chart rendered
// before with the same inputs is not rendered again.
func New(cacheDirs []string, apiVersions func() []string, fetcher *chartfetch.Fetcher, cache *RenderCache) *Renderer {
	if apiVersions == nil {
		apiVersions = func() []string { return nil }
	}
	return &Renderer{cacheDirs: cacheDirs, fetcher: fetcher, apis: sync.OnceValue(apiVersions), cache: cache}
}

// Result is the output of rendering one HelmRelease.
type Result struct {
	Objects  []*render.Object
	Findings []finding.Finding
}

// Release is one HelmRelease to render.
type Release struct {
	HR       *render.Object
	Location Location
	Sources  Sources
	// APIVersions are further API versions the cluster serves (the CRDs
	// the repository installs).
	APIVersions []string
}

// load returns the chart at p, loading it once per run.
func (r *Renderer) load(p string) (*chart.Chart, error) {
	c, err := r.charts.Do(p, func() (*chart.Chart, error) {
		c, err := loader.Load(p)
		if err == nil {
			err = checkDependencies(c)
		}
		return c, err
	})
	if err != nil {
		return nil, err
	}
	return cloneChart(c), nil
}

// Render renders rel's chart and returns its objects, attributed to the
// HelmRelease's file, and the findings of the render.
func (r *Renderer) Render(ctx context.Context, rel Release) Result {
	hr := rel.HR
	var out Result
	if ctx.Err() != nil {
		return out // the run is cancelled
	}
	fail := func(field, msg string) Result {
		f := finding.New(finding.HelmRenderFailed, hr.File, 0, 0, hr.FindingObject(), msg)
		f.Field = field
		f.Kustomization = hr.Owner.Ref.String()
		out.Findings = append(out.Findings, f)
		return out
	}
	name := fmt.Sprintf("HelmRelease %s/%s", hr.U.GetNamespace(), hr.U.GetName())
	var obj helmv2.HelmRelease
	data, err := json.Marshal(hr.U.Object)
	if err == nil {
		err = json.Unmarshal(data, &obj)
	}
	if err != nil {
		return fail("spec", fmt.Sprintf("%s cannot be read: %v", name, err))
	}
	chrt, err := r.load(rel.Location.Path)
	if err != nil {
		return fail("spec.chart", fmt.Sprintf("%s: chart from %s cannot be loaded: %v", name, rel.Location.Describe, trimPath(err, rel.Location.Path)))
	}
	chartID := chrt.Metadata.Name + "-" + chrt.Metadata.Version
	if len(rel.Location.ValuesFiles) > 0 {
		defaults, err := valuesFiles(chrt, rel.Location)
		if err != nil {
			return fail("spec.chart.spec.valuesFiles", fmt.Sprintf("%s: chart %s: valuesFiles: %v", name, chartID, err))
		}
		chrt.Values = defaults
	}

	vals, fs := valuesFrom(hr, &obj, rel.Sources)
	out.Findings = append(out.Findings, fs...)
	for _, f := range fs {
		if f.Severity == finding.Error {
			return out
		}
	}
	if ds := imageDrift(chrt.Values, vals, chrt.Metadata.AppVersion); len(ds) > 0 {
		var parts []string
		for _, d := range ds {
			parts = append(parts, d.String())
		}
		f := finding.New(finding.HelmImageDrift, hr.File, 0, 0, hr.FindingObject(),
			fmt.Sprintf("%s: chart %s: %s", name, chartID, strings.Join(parts, "; ")))
		f.Field = "spec.values"
		f.Kustomization = hr.Owner.Ref.String()
		out.Findings = append(out.Findings, f)
	}
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return fail("spec.values", fmt.Sprintf("%s: chart %s: dependencies: %v", name, chartID, err))
	}
	install := obj.GetInstall()
	// Helm installs the chart's crds/ first and then asks the cluster
	// for its API versions: they count for .Capabilities.
	var crdDocs []doc
	if install.CRDs != helmv2.Skip {
		for _, crd := range chrt.CRDObjects() {
			crdDocs = append(crdDocs, splitDocs(crd.Filename, string(crd.File.Data))...)
		}
	}
	crds, err := decode(crdDocs)
	if err != nil {
		return fail("spec.chart", fmt.Sprintf("%s: chart %s: %v", name, chartID, err))
	}
	extra := slices.Clone(rel.APIVersions)
	for _, o := range crds {
		if o.u.GetKind() == "CustomResourceDefinition" {
			extra = append(extra, ServedVersions(o.u)...)
		}
	}
	caps := r.capabilities(extra)
	if kv := chrt.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return fail("spec.chart", fmt.Sprintf("%s: chart %s requires kubeVersion %s, which Kubernetes %s does not satisfy", name, chartID, kv, caps.KubeVersion.String()))
	}
	relNS := obj.GetReleaseNamespace()
	opts := chartutil.ReleaseOptions{Name: shortenName(obj.GetReleaseName()), Namespace: relNS, Revision: 1, IsInstall: true}
	// The schema is checked with the render, which the cache may spare:
	// its entries hold renders of values that passed.
	values, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, vals, opts, caps, true)
	if err != nil {
		return fail("spec.values", fmt.Sprintf("%s: chart %s: values: %v", name, chartID, err))
	}
	var key string
	if r.cache != nil {
		key, _ = r.cache.key(chrt, values, install.DisableHooks, obj.Spec.PostRenderers) // values that do not marshal are rendered every time
	}
	objs, hookObjs, hit := []object(nil), []object(nil), false
	if key != "" {
		objs, hookObjs, hit = r.cache.get(key)
	}
	if !hit {
		if !install.DisableSchemaValidation {
			if err := chartutil.ValidateAgainstSchema(chrt, values["Values"].(chartutil.Values)); err != nil {
				return fail("spec.values", fmt.Sprintf("%s: chart %s: values do not match the chart's values.schema.json: "+
					"values don't meet the specifications of the schema(s) in the following chart(s):\n%v", name, chartID, err))
			}
		}
		files, err := engine.Render(chrt, values)
		if err != nil {
			msg := fmt.Sprintf("%s: chart %s does not render: %v", name, chartID, err)
			if t := templateOf(err.Error()); t != "" {
				msg = fmt.Sprintf("%s: chart %s: template %s does not render: %v", name, chartID, t, err)
			}
			return fail("spec.values", msg)
		}
		for k := range files {
			if strings.HasSuffix(k, "NOTES.txt") || strings.HasPrefix(path.Base(k), "_") {
				delete(files, k)
			}
		}
		if objs, hookObjs, err = sortManifests(files, install.DisableHooks); err != nil {
			return fail("spec.values", fmt.Sprintf("%s: chart %s renders invalid YAML: %v", name, chartID, err))
		}
		// As in Helm 3, post-renderers see the manifests, not the hooks
		// or crds/.
		if objs, err = postRender(objs, obj.Spec.PostRenderers); err != nil {
			return fail("spec.postRenderers", fmt.Sprintf("%s: chart %s: post-renderer failed: %v", name, chartID, err))
		}
		if key != "" {
			_ = r.cache.put(key, objs, hookObjs) // a cache that cannot be written costs the next run a render
		}
	}
	objs = slices.Concat(crds, objs, hookObjs)
	for _, o := range objs {
		u := o.u
		if u.GetNamespace() == "" {
			u.SetNamespace(relNS) // cluster-scoped kinds drop it again before the checks
		}
		if cm := obj.Spec.CommonMetadata; cm != nil {
			setMeta(u, cm.Labels, cm.Annotations)
		}
		setMeta(u, map[string]string{
			helmv2.GroupVersion.Group + "/name":      hr.U.GetName(),
			helmv2.GroupVersion.Group + "/namespace": hr.U.GetNamespace(),
		}, nil)
		out.Objects = append(out.Objects, &render.Object{
			U: u, File: hr.File, Owner: hr.Owner,
			Chart: &render.ChartOrigin{Release: hr, Chart: chartID, Template: o.template},
		})
	}
	return out
}

// capabilities are Helm's defaults with KubeVersion fixed and the API
// versions the validator knows added.
func (r *Renderer) capabilities(extra []string) *chartutil.Capabilities {
	caps := chartutil.DefaultCapabilities.Copy()
	kv, _ := chartutil.ParseKubeVersion(KubeVersion)
	caps.KubeVersion = *kv
	// Sorted and without duplicates: charts see the same list on every
	// run, and the render cache's key is the same.
	versions := slices.Concat(caps.APIVersions, r.apis(), extra)
	slices.Sort(versions)
	caps.APIVersions = slices.Compact(versions)
	return caps
}

// doc is one YAML document and the chart file it came from.
type doc struct {
	template string
	content  string
}

type object struct {
	u        *unstructured.Unstructured
	template string
}

// splitDocs splits a file of the chart's crds/ into its documents.
func splitDocs(name, content string) []doc {
	var out []doc
	for _, d := range schema.SplitDocuments(content) {
		out = append(out, doc{name, d})
	}
	return out
}

// decode parses the rendered documents; empty ones are skipped, as Helm
// does.
func decode(docs []doc) ([]object, error) {
	var out []object
	for _, d := range docs {
		u, err := decodeDoc(d.content)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", d.template, err)
		}
		if u == nil {
			continue
		}
		o := object{u, d.template}
		if err := o.identified(); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// postRender applies helm-controller's Kustomize post-renderers: each one
// builds a kustomization of the previous output with its patches and
// images. Objects keep the template they came from by identity.
func postRender(objs []object, prs []helmv2.PostRenderer) ([]object, error) {
	for _, pr := range prs {
		if pr.Kustomize == nil {
			continue
		}
		templates := map[string]string{}
		var stream strings.Builder
		for _, o := range objs {
			templates[objectKey(o.u)] = o.template
			data, err := yaml.Marshal(o.u.Object)
			if err != nil {
				return nil, err
			}
			stream.WriteString("---\n")
			stream.Write(data)
		}
		kus := kustypes.Kustomization{TypeMeta: kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind}}
		kus.Resources = []string{"helm-output.yaml"}
		for _, img := range pr.Kustomize.Images {
			kus.Images = append(kus.Images, kustypes.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
		}
		for _, p := range pr.Kustomize.Patches {
			kp := kustypes.Patch{Patch: p.Patch}
			if t := p.Target; t != nil {
				kp.Target = &kustypes.Selector{
					ResId: resid.ResId{
						Gvk:  resid.Gvk{Group: t.Group, Version: t.Version, Kind: t.Kind},
						Name: t.Name, Namespace: t.Namespace,
					},
					LabelSelector:      t.LabelSelector,
					AnnotationSelector: t.AnnotationSelector,
				}
			}
			kus.Patches = append(kus.Patches, kp)
		}
		kdata, err := yaml.Marshal(kus)
		if err != nil {
			return nil, err
		}
		res, err := render.BuildFiles(map[string][]byte{
			"/kustomization.yaml": kdata,
			"/helm-output.yaml":   []byte(stream.String()),
		})
		if err != nil {
			return nil, err
		}
		var next []object
		for _, rs := range res.Resources() {
			data, err := rs.MarshalJSON()
			if err != nil {
				return nil, err
			}
			var m map[string]any
			if err := utiljson.Unmarshal(data, &m); err != nil {
				return nil, err
			}
			u := &unstructured.Unstructured{Object: m}
			next = append(next, object{u, templates[objectKey(u)]})
		}
		objs = next
	}
	return objs, nil
}

func objectKey(u *unstructured.Unstructured) string {
	return u.GetAPIVersion() + "/" + u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

// setMeta sets labels and annotations, as helm-controller's common
// metadata and origin label post-renderers do.
func setMeta(u *unstructured.Unstructured, labels, annotations map[string]string) {
	merge := func(cur, add map[string]string) map[string]string {
		if len(add) == 0 {
			return cur
		}
		if cur == nil {
			cur = map[string]string{}
		}
		maps.Copy(cur, add)
		return cur
	}
	if l := merge(u.GetLabels(), labels); l != nil {
		u.SetLabels(l)
	}
	if a := merge(u.GetAnnotations(), annotations); a != nil {
		u.SetAnnotations(a)
	}
}

var templateRe = regexp.MustCompile(`template: ([^:\s]+\.(?:yaml|yml|tpl|txt|json))`)

// templateOf extracts the chart path of the failing template from a Helm
// engine error ("template: chart/templates/x.yaml:3:4: executing ...").
func templateOf(msg string) string {
	ms := templateRe.FindAllStringSubmatch(msg, -1)
	if len(ms) == 0 {
		return ""
	}
	return ms[len(ms)-1][1]
}

// shortenName is helm-controller's release name shortening: a name longer
// than 53 characters becomes its first 40 characters, "-" and the first 12
// hex digits of its SHA-256.
func shortenName(name string) string {
	if len(name) <= 53 {
		return name
	}
	return fmt.Sprintf("%s-%x", name[:40], sha256.Sum256([]byte(name)))[:53]
}

func trimPath(err error, p string) string {
	return strings.ReplaceAll(err.Error(), filepath.Dir(p)+string(filepath.Separator), "")
}

// checkDependencies reports dependencies Chart.yaml declares that are not
// in the chart (not vendored under charts/): source-controller would fetch
// them, offline they are missing.
func checkDependencies(c *chart.Chart) error {
	have := map[string]bool{}
	for _, d := range c.Dependencies() {
		have[d.Name()] = true
	}
	var missing []string
	for _, d := range c.Metadata.Dependencies {
		if !have[d.Name] {
			missing = append(missing, d.Name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("dependencies %s are not vendored in the chart's charts/ directory (run helm dependency build before committing or caching it)", strings.Join(missing, ", "))
	}
	return nil
}

// cloneChart copies what rendering changes (dependencies, values,
// metadata) so the loaded chart can be reused; templates and files are
// shared read-only.
func cloneChart(c *chart.Chart) *chart.Chart {
	cp := *c
	if c.Metadata != nil {
		md := *c.Metadata
		md.Dependencies = nil
		for _, d := range c.Metadata.Dependencies {
			dc := *d
			md.Dependencies = append(md.Dependencies, &dc)
		}
		cp.Metadata = &md
	}
	cp.Values = deepCopy(c.Values)
	var deps []*chart.Chart
	for _, d := range c.Dependencies() {
		deps = append(deps, cloneChart(d))
	}
	cp.SetDependencies(deps...)
	return &cp
}

func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopyValue(v)
	}
	return out
}

func deepCopyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return deepCopy(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopyValue(e)
		}
		return out
	default:
		return v
	}
}

// ServedVersions lists group/version and group/version/Kind for each
// version a CustomResourceDefinition serves, as .Capabilities.APIVersions
// spells them.
func ServedVersions(u *unstructured.Unstructured) []string {
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
	var out []string
	for _, v := range versions {
		m, _ := v.(map[string]any)
		name, _ := m["name"].(string)
		if served, ok := m["served"].(bool); name == "" || ok && !served {
			continue
		}
		out = append(out, group+"/"+name, group+"/"+name+"/"+kind)
	}
	return out
}
