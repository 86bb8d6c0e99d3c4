package helmrender

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// Sources answers the questions locating a chart needs about the cluster's
// rendered objects.
type Sources interface {
	// Object returns the repository object of that kind (any API group),
	// namespace and name, or nil.
	Object(kind, namespace, name string) *render.Object
	// Repository returns the directory of a Flux source when it is this
	// repository (or an artifact assembled from it).
	Repository(kind, namespace, name string) (render.Source, bool)
	// Made reports objects that exist only in the cluster (made by an
	// operator or declared external in the config).
	Made(kind, namespace, name string) bool
}

// Location is where a HelmRelease's chart was found offline.
type Location struct {
	// Path is the absolute chart directory or .tgz archive.
	Path string
	// Describe says where it was found, for messages.
	Describe string
	// ValuesFiles replace the chart's values.yaml, merged in order
	// (spec.chart.spec.valuesFiles): relative to ValuesRoot for a chart of
	// this repository, to the chart for a cached one (ValuesRoot empty).
	ValuesFiles   []string
	ValuesRoot    string
	IgnoreMissing bool
}

// Locate finds the chart of hr: a chart directory in this repository
// (spec.chart.spec with a GitRepository, Bucket or OCIRepository source that
// is this repository, or spec.chartRef to a HelmChart or OCIRepository that
// resolves to it), else the chart cache, by chart name and the pinned
// version, else, when the Renderer may fetch, the chart's HelmRepository
// or OCIRepository. When it finds nothing, the reason says what was looked
// for.
func (r *Renderer) Locate(ctx context.Context, hr *render.Object, srcs Sources) (Location, string, bool) {
	ns := hr.U.GetNamespace()
	if spec, ok, _ := unstructured.NestedMap(hr.U.Object, "spec", "chart", "spec"); ok {
		return r.locateSpec(ctx, spec, ns, srcs)
	}
	ref, ok, _ := unstructured.NestedStringMap(hr.U.Object, "spec", "chartRef")
	if !ok {
		return Location{}, "the HelmRelease has neither spec.chart nor spec.chartRef", false
	}
	rns := ref["namespace"]
	if rns == "" {
		rns = ns
	}
	obj := srcs.Object(ref["kind"], rns, ref["name"])
	if obj == nil {
		return Location{}, fmt.Sprintf("chartRef %s/%s/%s is not in the repository", ref["kind"], rns, ref["name"]), false
	}
	switch ref["kind"] {
	case "HelmChart":
		spec, _, _ := unstructured.NestedMap(obj.U.Object, "spec")
		return r.locateSpec(ctx, spec, rns, srcs)
	case "OCIRepository":
		if src, ok := srcs.Repository("OCIRepository", rns, ref["name"]); ok {
			return r.localChart(src, ".", fmt.Sprintf("OCIRepository %s/%s", rns, ref["name"]))
		}
		url, _, _ := unstructured.NestedString(obj.U.Object, "spec", "url")
		name := path.Base(strings.TrimSuffix(url, "/"))
		version, _, _ := unstructured.NestedString(obj.U.Object, "spec", "ref", "tag")
		if semver, _, _ := unstructured.NestedString(obj.U.Object, "spec", "ref", "semver"); version == "" && semver != "" {
			version = semver
		}
		loc, why, ok := r.cached(name, version)
		if ok || r.fetcher == nil {
			return loc, why, ok
		}
		return r.fetchOCIRepository(ctx, obj, why)
	}
	return Location{}, fmt.Sprintf("chartRef kind %q is not a chart source", ref["kind"]), false
}

// locateSpec resolves a HelmChart template (spec.chart.spec or a HelmChart's
// spec) in namespace ns.
func (r *Renderer) locateSpec(ctx context.Context, spec map[string]any, ns string, srcs Sources) (Location, string, bool) {
	chart, _, _ := unstructured.NestedString(spec, "chart")
	version, _, _ := unstructured.NestedString(spec, "version")
	ref, _, _ := unstructured.NestedStringMap(spec, "sourceRef")
	files, _, _ := unstructured.NestedStringSlice(spec, "valuesFiles")
	ignoreMissing, _, _ := unstructured.NestedBool(spec, "ignoreMissingValuesFiles")
	rns := ref["namespace"]
	if rns == "" {
		rns = ns
	}
	switch ref["kind"] {
	case "GitRepository", "Bucket", "OCIRepository":
		if src, ok := srcs.Repository(ref["kind"], rns, ref["name"]); ok {
			loc, why, ok := r.localChart(src, chart, fmt.Sprintf("%s %s/%s", ref["kind"], rns, ref["name"]))
			loc.ValuesFiles, loc.ValuesRoot, loc.IgnoreMissing = files, src.Root, ignoreMissing
			return loc, why, ok
		}
		if ref["kind"] != "OCIRepository" {
			return Location{}, fmt.Sprintf("%s %s/%s is not this repository", ref["kind"], rns, ref["name"]), false
		}
	}
	loc, why, ok := r.cached(path.Base(chart), version)
	if !ok && r.fetcher != nil && ref["kind"] == "HelmRepository" {
		loc, why, ok = r.fetchHelmRepository(ctx, srcs, rns, ref["name"], chart, version, why)
	}
	loc.ValuesFiles, loc.IgnoreMissing = files, ignoreMissing
	return loc, why, ok
}

// localChart is the chart directory dir of a source that is this
// repository.
func (r *Renderer) localChart(src render.Source, dir, from string) (Location, string, bool) {
	clean := render.CleanPath(dir)
	if rule, ok := src.Ignore.Ignored(path.Join(clean, "Chart.yaml"), false); ok {
		return Location{}, fmt.Sprintf("%s leaves ./%s/Chart.yaml out of its artifact by the ignore rule %s", from, clean, rule), false
	}
	abs := filepath.Join(src.Root, filepath.FromSlash(clean))
	if _, err := os.Stat(filepath.Join(abs, "Chart.yaml")); err != nil {
		return Location{}, fmt.Sprintf("%s has no chart at ./%s (no Chart.yaml)", from, clean), false
	}
	shown := clean
	if src.RepoPath != nil {
		shown = src.RepoPath(clean)
	}
	return Location{Path: abs, Describe: fmt.Sprintf("./%s of %s", shown, from)}, "", true
}

// cached looks name at version up in the chart cache directories:
// <name>-<version>.tgz (helm pull), or an unpacked <name>-<version>/ or
// <name>/ whose Chart.yaml has that version. A leading "v" is optional.
func (r *Renderer) cached(name, version string) (Location, string, bool) {
	if len(r.cacheDirs) == 0 {
		return Location{}, "no chart cache is configured; set chartCache in .gitops-validate.yaml or --chart-cache", false
	}
	if version == "" || !pinned(version) {
		return Location{}, fmt.Sprintf("version %q is not an exact version to look up in the chart cache", version), false
	}
	versions := []string{version}
	if v, ok := strings.CutPrefix(version, "v"); ok {
		versions = append(versions, v)
	} else {
		versions = append(versions, "v"+version)
	}
	for _, dir := range r.cacheDirs {
		for _, v := range versions {
			tgz := filepath.Join(dir, name+"-"+v+".tgz")
			if st, err := os.Stat(tgz); err == nil && !st.IsDir() {
				return Location{Path: tgz, Describe: "chart cache " + tgz}, "", true
			}
			for _, d := range []string{name + "-" + v, name} {
				p := filepath.Join(dir, d)
				if chartVersion(p) == v {
					return Location{Path: p, Describe: "chart cache " + p}, "", true
				}
			}
		}
	}
	return Location{}, fmt.Sprintf("%s %s is not in the chart cache (%s)", name, version, strings.Join(r.cacheDirs, ", ")), false
}

// chartVersion reads the version of the unpacked chart in dir ("" when
// there is none).
func chartVersion(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return ""
	}
	var meta struct {
		Version string `json:"version"`
	}
	if yaml.Unmarshal(data, &meta) != nil {
		return ""
	}
	return meta.Version
}

var wildcardRe = regexp.MustCompile(`(^|\.)[xX*](\.|$)`)

// pinned reports whether v is an exact version rather than a range.
func pinned(v string) bool {
	return !strings.ContainsAny(v, "^~<>|=, ") && !wildcardRe.MatchString(v)
}
