package validate

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/ignore"
	"github.com/homelab-gitops/homelab/tools/internal/render"
	"github.com/homelab-gitops/homelab/tools/schemas"
)

// sourceKinds are the Flux sources a Kustomization may read from.
var sourceKinds = map[string]string{
	"GitRepository":    render.SourceGroup,
	"OCIRepository":    render.SourceGroup,
	"Bucket":           render.SourceGroup,
	"ExternalArtifact": render.SourceGroup,
}

// resolution is the outcome of resolving a Kustomization's sourceRef.
type resolution int

const (
	resolved resolution = iota
	pendingSource
	externalSource
	missingSource
)

// resolveSource maps k's sourceRef to a directory. The bootstrap source
// (flux-system) and any Git/OCI source with the same URL are this
// repository; an ExternalArtifact made by an ArtifactGenerator from this
// repository is assembled in a temporary directory following its copy rules.
func (c *clusterRun) resolveSource(k *render.Kustomization) (render.Source, resolution, string) {
	ref := k.SourceRef
	repo := render.Source{Root: c.run.root}
	if _, ok := sourceKinds[ref.Kind]; !ok {
		return render.Source{}, missingSource, fmt.Sprintf("sourceRef kind %q is not a Flux source", ref.Kind)
	}
	id := render.ObjectID{Group: render.SourceGroup, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}
	if ref.Kind == "ExternalArtifact" {
		return c.resolveArtifact(ref)
	}
	obj, ok := c.sources[id]
	if ref.Name == render.FluxSystemName && ref.Namespace == render.FluxNamespace || ref == c.bootstrapSource {
		return c.withIgnore(c.artifactRoot(repo, ref.Kind, k.Path), ref.Kind, obj), resolved, ""
	}
	if !ok {
		return render.Source{}, pendingSource, ""
	}
	url, _, _ := unstructured.NestedString(obj.U.Object, "spec", "url")
	for _, own := range c.ownURLs() {
		if sameURL(url, own) {
			return c.withIgnore(c.artifactRoot(repo, ref.Kind, k.Path), ref.Kind, obj), resolved, ""
		}
	}
	tag, _, _ := unstructured.NestedString(obj.U.Object, "spec", "ref", "tag")
	if ref.Kind == "GitRepository" {
		for _, up := range schemas.Upstreams() {
			if up.Tag == tag && sameURL(url, up.URL) {
				return c.upstream(up, obj)
			}
		}
	}
	return render.Source{}, externalSource, fmt.Sprintf("%s points at %s, which is not this repository", id, url)
}

// upstream is a public source whose tree at the pinned tag the validator
// embeds, extracted once per run, with the GitRepository's ignore rules.
func (c *clusterRun) upstream(up schemas.Upstream, obj *render.Object) (render.Source, resolution, string) {
	key := "upstream\x00" + up.URL + "@" + up.Tag
	c.run.mu.Lock()
	defer c.run.mu.Unlock()
	if s, ok := c.run.artifacts[key]; ok {
		return s, resolved, ""
	}
	dir, err := os.MkdirTemp(c.run.tmp, "upstream-")
	if err == nil {
		err = up.Extract(dir)
	}
	if err != nil {
		return render.Source{}, externalSource, fmt.Sprintf("%s: %v", obj.ID(), err)
	}
	spec, _, _ := unstructured.NestedString(obj.U.Object, "spec", "ignore")
	where := fmt.Sprintf("spec.ignore of GitRepository %s/%s in %s", obj.U.GetNamespace(), obj.U.GetName(), obj.File)
	rules, err := ignore.GitRepository(dir, spec, where)
	if err != nil {
		c.run.log.Warn("source ignore rules", "source", where, "error", err)
	}
	prefix := strings.TrimPrefix(up.URL, "https://") + "@" + up.Tag
	s := render.Source{Root: dir, Ignore: rules, RepoPath: func(rel string) string { return prefix + "/" + rel }}
	c.run.artifacts[key] = s
	return s, resolved, ""
}

// artifactRoot is the directory of the repository an OCIRepository's
// artifact was pushed from. CI often pushes a subdirectory (flux push
// artifact --path=./kubernetes), so Kustomization paths are relative to it:
// when path is not in the repository root, the entry point's ancestors are
// tried, nearest first. Git sources are the whole repository.
func (c *clusterRun) artifactRoot(repo render.Source, kind, dirPath string) render.Source {
	if kind != "OCIRepository" || dirExists(filepath.Join(repo.Root, filepath.FromSlash(dirPath))) {
		return repo
	}
	for dir := filepath.Dir(filepath.FromSlash(c.cluster.Entry)); dir != "." && dir != string(filepath.Separator); dir = filepath.Dir(dir) {
		if root := filepath.Join(repo.Root, dir); dirExists(filepath.Join(root, filepath.FromSlash(dirPath))) {
			repo.Root = root
			prefix := filepath.ToSlash(dir)
			// Findings name files as the repository has them.
			repo.RepoPath = func(rel string) string { return path.Join(prefix, rel) }
			return repo
		}
	}
	return repo
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// withIgnore adds the files source-controller leaves out of the source's
// artifact: .sourceignore files and spec.ignore for a GitRepository or a
// Bucket (obj may be nil for the bootstrap source not defined in the
// repository). An OCIRepository's artifact is whatever was pushed; it is
// taken whole.
func (c *clusterRun) withIgnore(src render.Source, kind string, obj *render.Object) render.Source {
	if kind != "GitRepository" && kind != "Bucket" {
		return src
	}
	spec, where := "", ""
	if obj != nil {
		spec, _, _ = unstructured.NestedString(obj.U.Object, "spec", "ignore")
		where = fmt.Sprintf("spec.ignore of %s %s/%s in %s", kind, obj.U.GetNamespace(), obj.U.GetName(), obj.File)
	}
	key := kind + "\x00" + spec + "\x00" + where
	rules, _ := c.run.ignores.Do(key, func() (*ignore.Rules, error) {
		var rules *ignore.Rules
		var err error
		if kind == "Bucket" {
			rules, err = ignore.Bucket(c.run.root, spec, where)
		} else {
			rules, err = ignore.GitRepository(c.run.root, spec, where)
		}
		if err != nil {
			// The rules read so far still apply; the rest is reported once.
			c.run.log.Warn("source ignore rules", "source", key, "error", err)
		}
		return rules, nil
	})
	src.Ignore = rules
	return src
}

// ownURLs are the URLs that name this repository: the bootstrap source's
// (flux-system, or whatever the bootstrap Kustomization reads), the Git
// remotes of the checkout, and repositoryURLs in the config. A second
// GitRepository with one of them is this repository under another name.
func (c *clusterRun) ownURLs() []string {
	urls := slices.Clone(c.run.remotes)
	urls = append(urls, c.run.cfg.RepositoryURLs...)
	ids := []render.ObjectID{}
	for _, kind := range []string{"GitRepository", "OCIRepository"} {
		ids = append(ids, render.ObjectID{Group: render.SourceGroup, Kind: kind, Namespace: render.FluxNamespace, Name: render.FluxSystemName})
	}
	if b := c.bootstrapSource; b.Kind != "" {
		ids = append(ids, render.ObjectID{Group: render.SourceGroup, Kind: b.Kind, Namespace: b.Namespace, Name: b.Name})
	}
	for _, id := range ids {
		if o, ok := c.sources[id]; ok {
			if u, _, _ := unstructured.NestedString(o.U.Object, "spec", "url"); u != "" {
				urls = append(urls, u)
			}
		}
	}
	return urls
}

func sameURL(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(s), "/"), ".git")
		for _, p := range []string{"ssh://git@", "https://", "http://", "git@", "oci://"} {
			s = strings.TrimPrefix(s, p)
		}
		return strings.Replace(s, ":", "/", 1)
	}
	return norm(a) == norm(b)
}

// resolveArtifact assembles the ExternalArtifact produced by an
// ArtifactGenerator whose sources are this repository.
func (c *clusterRun) resolveArtifact(ref render.SourceRef) (render.Source, resolution, string) {
	for _, o := range c.generators {
		if o.U.GetNamespace() != ref.Namespace {
			continue
		}
		arts, _, _ := unstructured.NestedSlice(o.U.Object, "spec", "artifacts")
		for _, a := range arts {
			am, _ := a.(map[string]any)
			if am["name"] != ref.Name {
				continue
			}
			return c.materialise(o, am)
		}
	}
	if c.done {
		return render.Source{}, missingSource, ""
	}
	return render.Source{}, pendingSource, ""
}

func (c *clusterRun) materialise(gen *render.Object, artifact map[string]any) (render.Source, resolution, string) {
	key := c.cluster.Name + "/" + gen.ID().String() + "/" + fmt.Sprint(artifact["name"])
	c.run.mu.Lock()
	defer c.run.mu.Unlock()
	if s, ok := c.run.artifacts[key]; ok {
		return s, resolved, ""
	}
	type aliasSource struct {
		kind  string
		rules *ignore.Rules
	}
	aliases := map[string]aliasSource{} // alias -> the source's kind and ignore rules
	srcs, _, _ := unstructured.NestedSlice(gen.U.Object, "spec", "sources")
	for _, s := range srcs {
		sm, _ := s.(map[string]any)
		alias, _ := sm["alias"].(string)
		name, _ := sm["name"].(string)
		kind, _ := sm["kind"].(string)
		ns, _ := sm["namespace"].(string)
		if ns == "" {
			ns = gen.U.GetNamespace()
		}
		if kind == "ExternalArtifact" {
			continue
		}
		k := &render.Kustomization{SourceRef: render.SourceRef{Kind: kind, Name: name, Namespace: ns}}
		if src, res, _ := c.resolveSource(k); res == resolved {
			aliases[alias] = aliasSource{kind, src.Ignore}
		}
	}
	dir, err := os.MkdirTemp(c.run.tmp, "artifact-")
	if err != nil {
		return render.Source{}, externalSource, err.Error()
	}
	back := map[string]string{}
	copies, _, _ := unstructured.NestedSlice(artifact, "copy")
	for _, cp := range copies {
		cm, _ := cp.(map[string]any)
		from, _ := cm["from"].(string)
		to, _ := cm["to"].(string)
		alias, rest, ok := strings.Cut(strings.TrimPrefix(from, "@"), "/")
		as, known := aliases[alias]
		if !ok || !known {
			return render.Source{}, externalSource, fmt.Sprintf("ArtifactGenerator %s copies from %q, which is not this repository", gen.ID(), from)
		}
		if base, isDir := strings.CutSuffix(rest, "/"); isDir {
			rest = base + "/**" // a directory: its contents
		}
		// An OCIRepository artifact may be a subdirectory of this
		// repository (flux push artifact --path=./kubernetes): find it
		// from the copied path, as for a Kustomization's spec.path.
		root := c.artifactRoot(render.Source{Root: c.run.root}, as.kind, path.Dir(strings.TrimSuffix(rest, "/**"))).Root
		prefix, _ := filepath.Rel(c.run.root, root)
		dest := strings.TrimPrefix(strings.TrimPrefix(to, "@artifact"), "/")
		if err := copyInto(root, filepath.ToSlash(prefix), rest, dir, dest, back, as.rules); err != nil {
			return render.Source{}, externalSource, fmt.Sprintf("ArtifactGenerator %s: %v", gen.ID(), err)
		}
	}
	s := render.Source{Root: dir, RepoPath: func(rel string) string {
		if p, ok := back[rel]; ok {
			return p
		}
		return rel
	}}
	c.run.artifacts[key] = s
	return s, resolved, ""
}

// copyInto copies the source files matched by pattern ("dir/**",
// "dir/*.yaml", "file.yaml") under root (the source's directory in this
// repository, prefix relative to the repository) into dest under dir,
// recording the repository path of each copied file in back. Files the
// source's artifact leaves out (rules) are not there to copy.
func copyInto(root, prefix, pattern, dir, dest string, back map[string]string, rules *ignore.Rules) error {
	put := func(srcRel, dstRel string) error {
		if _, ignored := rules.Ignored(srcRel, false); ignored {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(srcRel)))
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(dstRel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		back[dstRel] = path.Join(prefix, srcRel)
		return os.WriteFile(target, data, 0o644)
	}
	if base, ok := strings.CutSuffix(pattern, "/**"); ok {
		baseAbs := filepath.Join(root, filepath.FromSlash(base))
		return filepath.WalkDir(baseAbs, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(baseAbs, p)
			return put(path.Join(base, filepath.ToSlash(rel)), path.Join(dest, filepath.ToSlash(rel)))
		})
	}
	matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(pattern)))
	if err != nil {
		return err
	}
	if len(matches) == 0 {
		return fmt.Errorf("copy from %q matches nothing", pattern)
	}
	for _, m := range matches {
		rel, _ := filepath.Rel(root, m)
		rel = filepath.ToSlash(rel)
		target := dest
		if dest == "" || strings.HasSuffix(dest, "/") || len(matches) > 1 {
			target = path.Join(dest, path.Base(rel))
		}
		if err := put(rel, target); err != nil {
			return err
		}
	}
	return nil
}
