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
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/homelab-gitops/homelab/tools/internal/manifest"
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
	// From says how it was found: "config", "flag", "clusters",
	// "convention" or "FluxInstance <file>".
	From string
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
	instances, operator, err := fluxInstancePaths(root)
	if err != nil {
		return Result{}, err
	}
	eps, err := find(root, explicit, from, instances)
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

func find(root string, explicit []string, from string, instances []instance) ([]EntryPoint, error) {
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
	add := func(p, how string) {
		p = clean(p)
		if seen[p] {
			return
		}
		if st, err := os.Stat(filepath.Join(root, p)); err != nil || !st.IsDir() {
			return
		}
		seen[p] = true
		eps = append(eps, EntryPoint{Cluster: clusterName(p), Path: p, From: how})
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
	for _, fi := range instances {
		add(fi.path, "FluxInstance "+fi.file)
	}
	if len(eps) == 0 {
		// The bootstrap Kustomization of older layouts (such as
		// kubernetes/<cluster>/flux/config/cluster.yaml) renders the
		// directory it is defined in: its path contains its own file.
		roots, err := selfIncluding(root)
		if err != nil {
			return nil, err
		}
		for _, r := range roots {
			add(r.path, "Kustomization "+r.file)
		}
	}
	slices.SortFunc(eps, func(a, b EntryPoint) int { return strings.Compare(a.Path, b.Path) })
	return eps, nil
}

type instance struct{ file, path string }

// selfIncluding finds the Flux Kustomizations whose spec.path contains the
// file that defines them, outermost paths only. Only files that mention
// the Flux Kustomization API are parsed.
func selfIncluding(root string) ([]instance, error) {
	var found []instance
	skipUnderscore := func(name string) bool { return strings.HasPrefix(name, "_") }
	err := walkYAML(root, skipUnderscore, [][]byte{[]byte("kustomize.toolkit.fluxcd.io/")}, func(f *manifest.File) {
		for _, doc := range f.Docs {
			if doc.Kind != "Kustomization" || !strings.HasPrefix(lookup(doc.Root, "apiVersion"), "kustomize.toolkit.fluxcd.io/") {
				continue
			}
			sp := clean(lookup(doc.Root, "spec", "path"))
			if sp != "." && !strings.Contains(sp, "${") && strings.HasPrefix(f.Path, sp+"/") {
				found = append(found, instance{file: f.Path, path: sp})
			}
		}
	})
	if err != nil {
		return nil, err
	}
	// A self-including path inside another one is rendered by that one.
	var out []instance
	for _, f := range found {
		nested := slices.ContainsFunc(found, func(o instance) bool { return strings.HasPrefix(f.path, o.path+"/") })
		if !nested {
			out = append(out, f)
		}
	}
	return out, nil
}

// fluxInstancePaths reads the sync.path of every FluxInstance in the tree.
// Only files that mention the kind are parsed.
func fluxInstancePaths(root string) ([]instance, bool, error) {
	var out []instance
	operator := false
	mentions := [][]byte{[]byte("FluxInstance"), []byte("flux-instance")}
	err := walkYAML(root, nil, mentions, func(f *manifest.File) {
		for _, d := range f.Docs {
			var sp string
			switch d.Kind {
			case "FluxInstance":
				operator = true
				sp = lookup(d.Root, "spec", "sync", "path")
			case "HelmRelease": // the flux-instance chart: values.instance.sync
				if d.Name == "flux-instance" || lookup(d.Root, "spec", "chart", "spec", "chart") == "flux-instance" {
					operator = true
				}
				sp = lookup(d.Root, "spec", "values", "instance", "sync", "path")
			}
			if sp != "" && !strings.Contains(sp, "${") && !strings.Contains(sp, "{{") {
				out = append(out, instance{file: f.Path, path: sp})
			}
		}
	})
	return out, operator, err
}

// walkYAML parses, in walk order, every YAML file under root whose text
// contains one of mentions, and calls fn with it. Hidden directories,
// skipDirs and directories skip reports true for are not entered; files
// that cannot be read are passed over.
func walkYAML(root string, skip func(dir string) bool, mentions [][]byte, fn func(*manifest.File)) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != root && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".") || skip != nil && skip(d.Name())) {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil || !slices.ContainsFunc(mentions, func(m []byte) bool { return bytes.Contains(data, m) }) {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		fn(manifest.Parse(filepath.ToSlash(rel), data))
		return nil
	})
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
