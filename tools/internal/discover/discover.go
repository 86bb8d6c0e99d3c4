// Package discover finds the entry points of a Flux repository: the
// directories that the cluster's bootstrap Kustomization (flux-system)
// reconciles.
package discover

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"go.yaml.in/yaml/v4"
	"sigs.k8s.io/kustomize/api/konfig"

	"github.com/homelab-gitops/homelab/tools/internal/manifest"
	"github.com/homelab-gitops/homelab/tools/internal/memo"
)

// Result is what discovery found.
type Result struct {
	EntryPoints []EntryPoint
	// FluxOperator is set when the repository installs Flux with the Flux
	// Operator (a FluxInstance, or the flux-instance chart).
	FluxOperator bool
	// BootstrapCharts are the charts (release and chart names) that a
	// helmfile in the repository installs before Flux runs: their CRDs exist
	// before any Kustomization is applied.
	BootstrapCharts []string
}

// EntryPoint is a directory rendered as a root Kustomization; each one is a
// cluster.
type EntryPoint struct {
	// Cluster names the cluster (the directory's base name under clusters/,
	// else the path).
	Cluster string
	// Path is repository-relative, slash separated.
	Path string
	// From says how it was found and why it was chosen: "config", "flag",
	// "clusters", "convention", "FluxInstance <file>" or "Kustomization
	// <file>", with the candidate it replaced if any.
	From string
	// SourceKind and SourceName name the bootstrap source and Kustomization
	// when a FluxInstance creates them (its spec.sync.kind and name);
	// empty for flux bootstrap's GitRepository flux-system.
	SourceKind, SourceName string
	// FluxVersion is the spec.distribution.version of the FluxInstance
	// whose sync this entry point is, and FluxVersionFile its file.
	FluxVersion, FluxVersionFile string
}

// skipDirs are never walked.
var skipDirs = map[string]bool{".git": true, "node_modules": true, "vendor": true, ".cache": true, "testdata": true}

// Find returns the entry points of the repository at root. Explicit paths
// (from a flag or the config file) win; otherwise every clusters/<name>,
// kubernetes/flux/cluster, or failing those every <dir>/clusters/<name>,
// and the sync.path of every FluxInstance (or HelmRelease of the
// flux-instance chart) in the tree; when none of these exists, every Flux
// Kustomization whose path contains its own file.
func Find(root string, explicit []string, from string) (Result, error) {
	// Both walks read the YAML files: each file once.
	var files memo.Map[string, []byte]
	read := func(p string) ([]byte, error) {
		return files.Do(p, func() ([]byte, error) { return os.ReadFile(p) })
	}
	instances, operator, err := fluxInstancePaths(root, read)
	if err != nil {
		return Result{}, err
	}
	eps, err := find(root, explicit, from, instances, read)
	if err != nil {
		return Result{}, err
	}
	charts, err := helmfileCharts(root)
	return Result{EntryPoints: eps, FluxOperator: operator, BootstrapCharts: charts}, err
}

var (
	releaseNameRe = regexp.MustCompile(`^\s*-\s*name:\s*["']?([A-Za-z0-9._-]+)["']?\s*$`)
	chartRe       = regexp.MustCompile(`^\s*chart:\s*["']?([^"'\s{}]+)["']?\s*$`)
)

// helmfileCharts reads the releases of the repository's helmfiles (files
// named helmfile*.yaml, or YAML under a helmfile*/ directory, with a
// releases: list). Helmfiles are Go templates, so they are read line by
// line rather than parsed.
func helmfileCharts(root string) ([]string, error) {
	var charts []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != root && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if !strings.Contains(strings.ToLower(filepath.ToSlash(rel)), "helmfile") {
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" && ext != ".gotmpl" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(data, []byte("releases:")) {
			return nil
		}
		for _, line := range strings.Split(string(data), "\n") {
			if m := releaseNameRe.FindStringSubmatch(line); m != nil {
				charts = append(charts, m[1])
			}
			if m := chartRe.FindStringSubmatch(line); m != nil {
				charts = append(charts, path.Base(m[1]))
			}
		}
		return nil
	})
	slices.Sort(charts)
	return slices.Compact(charts), err
}

func find(root string, explicit []string, from string, instances []instance, read func(string) ([]byte, error)) ([]EntryPoint, error) {
	if len(explicit) > 0 {
		var eps []EntryPoint
		for _, p := range explicit {
			p = clean(p)
			if st, err := os.Stat(filepath.Join(root, p)); err != nil || !st.IsDir() {
				return nil, fmt.Errorf("entry point %q is not a directory of the repository", p)
			}
			eps = append(eps, EntryPoint{Cluster: clusterName(p), Path: p, From: from})
		}
		return eps, nil
	}
	seen := map[string]bool{}
	var eps []EntryPoint
	add := func(p, how string) *EntryPoint {
		p = clean(p)
		if seen[p] {
			return nil
		}
		if st, err := os.Stat(filepath.Join(root, p)); err != nil || !st.IsDir() {
			return nil
		}
		seen[p] = true
		eps = append(eps, EntryPoint{Cluster: clusterName(p), Path: p, From: how})
		return &eps[len(eps)-1]
	}
	if ents, err := os.ReadDir(filepath.Join(root, "clusters")); err == nil {
		for _, e := range ents {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				add("clusters/"+e.Name(), "clusters")
			}
		}
	}
	for _, p := range []string{"kubernetes/flux/cluster", "kubernetes/flux", "flux/cluster"} {
		if len(eps) == 0 {
			add(p, "convention")
		}
	}
	if len(eps) == 0 {
		// One level down, as in kubernetes/clusters/<name>: a repository
		// that keeps everything Flux reads under one directory (often the
		// directory CI pushes as an OCI artifact).
		tops, _ := os.ReadDir(root)
		for _, top := range tops {
			if !top.IsDir() || strings.HasPrefix(top.Name(), ".") || skipDirs[top.Name()] {
				continue
			}
			ents, err := os.ReadDir(filepath.Join(root, top.Name(), "clusters"))
			if err != nil {
				continue
			}
			for _, e := range ents {
				if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
					add(top.Name()+"/clusters/"+e.Name(), "clusters")
				}
			}
		}
	}
	// The bootstrap Kustomization of older layouts (such as
	// kubernetes/<cluster>/flux/config/cluster.yaml) renders the directory
	// it is defined in: its path contains its own file.
	roots, err := selfIncluding(root, read)
	if err != nil {
		return nil, err
	}
	// A FluxInstance's sync.path, or a bootstrap Kustomization that
	// defines its own source, inside a directory found by layout is what
	// Flux reconciles: it replaces that directory (clusters/<name> holding
	// talos/ or .sops.yaml next to flux/ is not applied as a whole).
	bootstraps := slices.Clone(instances)
	for _, r := range roots {
		if r.ownSource {
			bootstraps = append(bootstraps, r)
		}
	}
	for _, b := range bootstraps {
		bp := clean(b.path)
		for i := 0; i < len(eps); i++ {
			if strings.HasPrefix(bp, eps[i].Path+"/") {
				delete(seen, eps[i].Path)
				b.replaced = append(b.replaced, eps[i].Path)
				eps = slices.Delete(eps, i, i+1)
				i--
			}
		}
		if ep := add(bp, b.how()); ep != nil {
			b.describe(ep)
		} else if b.kind == "FluxInstance" {
			// The same directory found by layout: it is this instance's.
			for i := range eps {
				if eps[i].Path == bp {
					eps[i].From += "; " + b.how()
					b.describe(&eps[i])
				}
			}
		}
	}
	if len(eps) == 0 {
		for _, r := range roots {
			add(r.path, r.how())
		}
	}
	eps = withoutRendered(root, eps, roots)
	slices.SortFunc(eps, func(a, b EntryPoint) int { return strings.Compare(a.Path, b.Path) })
	return eps, nil
}

// withoutRendered drops the entry points that a bootstrap Kustomization
// (one that defines its own source) renders from a directory above them,
// as kubernetes/flux renders kubernetes/flux/cluster in a repository that
// moved to the Flux Operator and still applies its old bootstrap: both
// are one cluster, and the inner one alone lacks what the bootstrap
// applies besides it (sources, variables). Its reason joins the
// bootstrap's.
func withoutRendered(root string, eps []EntryPoint, roots []instance) []EntryPoint {
	for _, r := range roots {
		rp := clean(r.path)
		outer := slices.IndexFunc(eps, func(e EntryPoint) bool { return e.Path == rp })
		if !r.ownSource || outer < 0 {
			continue
		}
		var absorbed []string
		for _, e := range eps {
			if e.Path != rp && (rp == "." || strings.HasPrefix(e.Path, rp+"/")) && renders(root, rp, e.Path) {
				absorbed = append(absorbed, e.Path)
				eps[outer].From += fmt.Sprintf("; it renders %s (%s)", e.Path, e.From)
			}
		}
		eps = slices.DeleteFunc(eps, func(e EntryPoint) bool { return slices.Contains(absorbed, e.Path) })
	}
	return eps
}

// renders reports whether building the directory outer reaches inner, a
// directory under it: Flux generates a kustomization that takes in every
// subdirectory where there is none, and an existing one must list inner,
// a file in it, or a directory on the way down among its resources or
// components.
func renders(root, outer, inner string) bool {
	for dir := outer; dir != inner; {
		entries, ok := kustomizationEntries(filepath.Join(root, filepath.FromSlash(dir)))
		if !ok {
			rest := inner
			if dir != "." {
				rest = strings.TrimPrefix(inner, dir+"/")
			}
			first, _, _ := strings.Cut(rest, "/")
			dir = path.Join(dir, first)
			continue
		}
		down := ""
		for _, e := range entries {
			p := path.Join(dir, e)
			if p == inner || strings.HasPrefix(p, inner+"/") {
				return true
			}
			if strings.HasPrefix(inner, p+"/") && len(p) > len(dir) {
				down = p
			}
		}
		if down == "" {
			return false
		}
		dir = down
	}
	return true
}

// kustomizationEntries returns the resources and components of the
// kustomization file in dir; false when there is none.
func kustomizationEntries(dir string) ([]string, bool) {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		var k struct {
			Resources  []string `yaml:"resources"`
			Components []string `yaml:"components"`
		}
		// A kustomization that does not parse lists nothing reachable.
		_ = yaml.Unmarshal(data, &k)
		return append(k.Resources, k.Components...), true
	}
	return nil, false
}

// instance is a bootstrap found in a file: a FluxInstance's sync or a
// Kustomization whose path contains its own file.
type instance struct {
	file, path string
	kind       string // "FluxInstance" or "Kustomization"
	// ownSource is set for a Kustomization when a YAML file under its path
	// defines the source it reads (as gotk-sync.yaml does): an
	// application's ks.yaml reads a source defined elsewhere.
	ownSource bool
	// syncKind and syncName are a FluxInstance's spec.sync.kind and name,
	// version its spec.distribution.version.
	syncKind, syncName, version string
	// replaced are the directories found by layout it replaces.
	replaced []string
}

// describe copies what a FluxInstance says about its sync to ep.
func (in instance) describe(ep *EntryPoint) {
	if in.kind != "FluxInstance" {
		return
	}
	ep.SourceKind, ep.SourceName = in.syncKind, in.syncName
	if in.version != "" {
		ep.FluxVersion, ep.FluxVersionFile = in.version, in.file
	}
}

// how says why the entry point was chosen.
func (in instance) how() string {
	h := in.kind + " " + in.file
	if in.kind == "Kustomization" {
		h += " (its spec.path contains its own file"
		if in.ownSource {
			h += " and the source it reads"
		}
		h += ")"
	}
	if len(in.replaced) > 0 {
		h += ", inside " + strings.Join(in.replaced, ", ")
	}
	return h
}

// selfIncluding finds the Flux Kustomizations whose spec.path contains the
// file that defines them, outermost paths only. Only files that mention
// the Flux APIs are parsed. When some of them find the source they read
// under their path (a bootstrap: gotk-sync.yaml defines both), the others
// are applications' own ks.yaml files, not entry points. A path of "."
// counts only for such a bootstrap (flux bootstrap --path=./).
func selfIncluding(root string, read func(string) ([]byte, error)) ([]instance, error) {
	type sourceDef struct{ file, name string }
	// Only a GitRepository is this repository: a Kustomization reading an
	// OCIRepository of flux-manifests with path "./" renders that artifact.
	var (
		found   []instance
		sources []sourceDef
		refs    []string // sourceRef.name of found, by index
	)
	skipUnderscore := func(name string) bool { return strings.HasPrefix(name, "_") }
	err := walkYAML(root, read, skipUnderscore, [][]byte{[]byte("kustomize.toolkit.fluxcd.io/"), []byte("source.toolkit.fluxcd.io/")}, func(f *manifest.File) {
		for _, doc := range f.Docs {
			av := lookup(doc.Root, "apiVersion")
			if strings.HasPrefix(av, "source.toolkit.fluxcd.io/") {
				if doc.Kind == "GitRepository" {
					sources = append(sources, sourceDef{f.Path, lookup(doc.Root, "metadata", "name")})
				}
				continue
			}
			if doc.Kind != "Kustomization" || !strings.HasPrefix(av, "kustomize.toolkit.fluxcd.io/") {
				continue
			}
			sp := clean(lookup(doc.Root, "spec", "path"))
			// "." counts for flux bootstrap --path=./ only (a Kustomization
			// of another repository's root can sit in any file).
			root := sp == "." && (path.Base(f.Path) == "gotk-sync.yaml" || doc.Name == "flux-system")
			if !strings.Contains(sp, "${") && (root || sp != "." && strings.HasPrefix(f.Path, sp+"/")) {
				found = append(found, instance{file: f.Path, path: sp, kind: "Kustomization"})
				ref := lookup(doc.Root, "spec", "sourceRef", "name")
				if kind := lookup(doc.Root, "spec", "sourceRef", "kind"); kind != "GitRepository" {
					ref = ""
				}
				refs = append(refs, ref)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	bootstraps := false
	for i := range found {
		found[i].ownSource = refs[i] != "" && slices.ContainsFunc(sources, func(s sourceDef) bool {
			// Everything is under ".": there the source must be in the same file.
			return s.name == refs[i] && (s.file == found[i].file || found[i].path != "." && strings.HasPrefix(s.file, found[i].path+"/"))
		})
		bootstraps = bootstraps || found[i].ownSource
	}
	if bootstraps {
		found = slices.DeleteFunc(found, func(in instance) bool { return !in.ownSource })
	} else {
		found = slices.DeleteFunc(found, func(in instance) bool { return in.path == "." })
	}
	// A self-including path inside another one is rendered by that one.
	var out []instance
	for _, f := range found {
		nested := slices.ContainsFunc(found, func(o instance) bool {
			return o.path != f.path && (o.path == "." || strings.HasPrefix(f.path, o.path+"/"))
		})
		if !nested {
			out = append(out, f)
		}
	}
	return out, nil
}

// fluxInstancePaths reads the sync.path of every FluxInstance in the tree.
// Only files that mention the kind are parsed.
func fluxInstancePaths(root string, read func(string) ([]byte, error)) ([]instance, bool, error) {
	var out []instance
	operator := false
	mentions := [][]byte{[]byte("FluxInstance"), []byte("flux-instance"), []byte("instance:")}
	err := walkYAML(root, read, nil, mentions, func(f *manifest.File) {
		for _, d := range f.Docs {
			var spec []string
			switch {
			case d.Kind == "FluxInstance":
				operator = true
				spec = []string{"spec"}
			case d.Kind == "HelmRelease": // the flux-instance chart: values.instance
				if d.Name == "flux-instance" || lookup(d.Root, "spec", "chart", "spec", "chart") == "flux-instance" {
					operator = true
				}
				spec = []string{"spec", "values", "instance"}
			case d.Kind == "" && (lookup(d.Root, "instance", "distribution", "version") != "" ||
				lookup(d.Root, "instance", "sync", "path") != "" && (lookup(d.Root, "instance", "sync", "kind") != "" || lookup(d.Root, "instance", "sync", "url") != "")):
				// A values file of the flux-instance chart (given to it by
				// valuesFrom or a helmfile), which may leave the version
				// to the chart's default.
				operator = true
				spec = []string{"instance"}
			default:
				continue
			}
			field := func(path ...string) string { return lookup(d.Root, append(slices.Clone(spec), path...)...) }
			sp := field("sync", "path")
			if sp != "" && !strings.Contains(sp, "${") && !strings.Contains(sp, "{{") {
				out = append(out, instance{file: f.Path, path: sp, kind: "FluxInstance",
					syncKind: field("sync", "kind"), syncName: field("sync", "name"), version: field("distribution", "version")})
			}
		}
	})
	return out, operator, err
}

// walkYAML parses every YAML file under root whose text contains one of
// mentions, and calls fn with each, in walk order. Hidden directories,
// skipDirs and directories skip reports true for are not entered; files
// that cannot be read are passed over. The files are read and parsed on
// every core: a repository of thousands of files spends most of this in
// system calls, one file at a time.
func walkYAML(root string, read func(string) ([]byte, error), skip func(dir string) bool, mentions [][]byte, fn func(*manifest.File)) error {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != root && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".") || skip != nil && skip(d.Name())) {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(p); ext == ".yaml" || ext == ".yml" {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	files := make([]*manifest.File, len(paths))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(paths)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(paths); i = int(next.Add(1)) - 1 {
				data, err := read(paths[i])
				if err != nil || !slices.ContainsFunc(mentions, func(m []byte) bool { return bytes.Contains(data, m) }) {
					continue
				}
				rel, _ := filepath.Rel(root, paths[i])
				files[i] = manifest.Parse(filepath.ToSlash(rel), data)
			}
		})
	}
	wg.Wait()
	for _, f := range files {
		if f != nil {
			fn(f)
		}
	}
	return nil
}

// lookup returns the scalar at path under n, or "".
func lookup(n *yaml.Node, path ...string) string {
	for _, key := range path {
		var next *yaml.Node
		if n != nil && n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					next = n.Content[i+1]
				}
			}
		}
		if next == nil {
			return ""
		}
		n = next
	}
	if n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func clean(p string) string {
	p = path.Clean("/" + filepath.ToSlash(strings.TrimSpace(p)))
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return "."
	}
	return p
}

func clusterName(p string) string {
	if strings.HasPrefix(p, "clusters/") && strings.Count(p, "/") == 1 {
		return strings.TrimPrefix(p, "clusters/")
	}
	return p
}
