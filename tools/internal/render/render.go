package render

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	kustomize "github.com/fluxcd/pkg/kustomize"
	securefs "github.com/fluxcd/pkg/kustomize/filesys"
	"golang.org/x/sync/singleflight"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/ignore"
)

const originAnnotation = "config.kubernetes.io/origin"

// Source is where a Kustomization's spec.path is resolved: a directory on
// disk, and how its files map back to repository paths.
type Source struct {
	// Root is the absolute directory holding the source's files.
	Root string
	// RepoPath maps a path relative to Root to a repository-relative path.
	// Nil means the source is the repository itself.
	RepoPath func(rel string) string
	// Ignore are the files source-controller leaves out of the source's
	// artifact (.sourceignore, spec.ignore); nil keeps every file.
	Ignore *ignore.Rules
}

func (s Source) repoPath(abs string) string {
	rel, err := filepath.Rel(s.Root, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(abs)
	}
	rel = filepath.ToSlash(rel)
	if s.RepoPath != nil {
		return s.RepoPath(rel)
	}
	return rel
}

// Result is the output of one render.
type Result struct {
	Objects  []*Object
	Findings []finding.Finding
}

// Renderer renders Kustomizations. It is safe for concurrent use; builds of
// the same generated kustomization over the same directory that run at the
// same time are done once.
type Renderer struct {
	// builds shares a build between the Kustomizations that need it at
	// the same time (those of one wave, across clusters) and keeps none
	// after: keeping every build's resource map for the whole run
	// doubled the peak memory on 1,000 Kustomizations and made the
	// garbage collector scan it again and again, for builds that are
	// rarely asked for twice.
	builds singleflight.Group
	// disk reads the run's files, once each.
	disk *disk
	// Log receives what kustomize prints while building (deprecated
	// fields), at debug level.
	Log *slog.Logger
}

// New returns a Renderer that logs to log (nil: nowhere).
func New(log *slog.Logger) *Renderer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Renderer{Log: log, disk: newDisk()}
}

// ReadFile reads the file at path (absolute) through the run's file
// system: once per run, however many builds and checks read it.
func (r *Renderer) ReadFile(path string) ([]byte, error) {
	return r.disk.ReadFile(path)
}

// Render builds k from src. vars serves the ConfigMaps and Secrets that
// spec.postBuild.substituteFrom names (a fake client over the repository's
// own objects); it may be nil when there are none.
func (r *Renderer) Render(ctx context.Context, k *Kustomization, src Source, vars client.Client) Result {
	var out Result
	kobj := k.FindingObject()
	dir := filepath.Join(src.Root, filepath.FromSlash(k.Path))
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		out.Findings = append(out.Findings, finding.New(finding.GraphPath, k.File, k.Line, 0, kobj,
			fmt.Sprintf("Kustomization %s: spec.path %q does not exist in source %s", k.Ref, "./"+k.Path, k.SourceRef)))
		return out
	}

	if rule, ok := src.Ignore.Ignored(k.Path, true); ok {
		out.Findings = append(out.Findings, finding.New(finding.GraphPath, k.File, k.Line, 0, kobj,
			fmt.Sprintf("Kustomization %s: spec.path %q is not in the artifact of source %s: source-controller leaves it out by the ignore rule %s", k.Ref, "./"+k.Path, k.SourceRef, rule)))
		return out
	}

	gen := kustomize.NewGenerator(src.Root, *k.Obj)
	if hidden := ignoredManifests(src, dir); hidden != "" {
		// The generator reads the directory on disk, which has files the
		// artifact lacks: a workflow YAML there would fail its decoding.
		gen = kustomize.NewGeneratorWithIgnore(src.Root, hidden, *k.Obj)
	}
	fs, err := r.disk.secure(src.Root)
	if err != nil {
		out.Findings = append(out.Findings, r.renderFinding(k, src, err))
		return out
	}
	manifest, kfile, action, err := gen.WithFS(fs).GenerateManifest(dir)
	if err != nil {
		out.Findings = append(out.Findings, r.renderFinding(k, src, err))
		return out
	}
	if action == kustomize.CreatedAction && src.Ignore != nil {
		// Flux generates the kustomization from the artifact, which does
		// not have the ignored files.
		if manifest, err = withoutIgnored(manifest, src, k.Path); err != nil {
			out.Findings = append(out.Findings, r.renderFinding(k, src, err))
			return out
		}
	}
	manifest, addedOrigin, err := withOriginAnnotations(manifest)
	if err != nil {
		out.Findings = append(out.Findings, r.renderFinding(k, src, err))
		return out
	}

	res, remote, err := r.build(src, dir, kfile, manifest)
	if err != nil {
		if action == kustomize.CreatedAction {
			if derr := undecodable(src.Root, dir, manifest); derr != nil {
				err = derr
			}
		}
		out.Findings = append(out.Findings, r.renderFinding(k, src, err))
		return out
	}
	if len(remote) > 0 {
		out.Findings = append(out.Findings, remoteFinding(k, kobj, src, remote))
	}

	subst, ok, err := newSubstituter(ctx, k, vars)
	switch {
	case apierrors.IsNotFound(errors.Unwrap(err)) || apierrors.IsNotFound(err):
		// Flux fails unless the object exists in the cluster; offline it
		// may be one made there (by hand, an operator), so its values are
		// unknown and missing variables are not reported.
		f := finding.New(finding.RefMissing, k.File, k.Line, 0, kobj,
			fmt.Sprintf("Kustomization %s: postBuild.substituteFrom: %v; it is not in the repository, so Flux fails unless it exists in the cluster", k.Ref, err))
		f.Severity = finding.Warning
		f.Hint = "Add the object to the repository, mark the reference optional: true, or list it under externalObjects in .gitops-validate.yaml."
		f.Field = "spec.postBuild.substituteFrom"
		out.Findings = append(out.Findings, f)
		k.UnknownValues = true
	case err != nil:
		out.Findings = append(out.Findings, finding.New(finding.RenderFailed, k.File, k.Line, 0, kobj,
			fmt.Sprintf("Kustomization %s: postBuild.substituteFrom: %v", k.Ref, trimRoot(err.Error(), src.Root))))
	}
	if ok {
		subst.unknown = k.UnknownValues
	}
	unknownVars := map[string]bool{}
	labels, _, _ := unstructured.NestedStringMap(k.Obj.Object, "spec", "commonMetadata", "labels")
	annotations, _, _ := unstructured.NestedStringMap(k.Obj.Object, "spec", "commonMetadata", "annotations")

	for _, rs := range res.Resources() {
		origin := resourceOrigin(rs)
		file := originFile(origin, dir, src, kfile)
		if rs.GetName() == "" || rs.GetKind() == "" || rs.GetApiVersion() == "" {
			out.Findings = append(out.Findings, finding.New(finding.RenderFailed, file, 0, 0, finding.Object{Kind: rs.GetKind(), Name: rs.GetName()},
				fmt.Sprintf("Kustomization %s: object without apiVersion, kind or name; kustomize-controller rejects the whole Kustomization", k.Ref)))
			continue
		}
		if addedOrigin {
			a := rs.GetAnnotations()
			delete(a, originAnnotation)
			if err := rs.SetAnnotations(a); err != nil {
				out.Findings = append(out.Findings, resourceFinding(k, file, rs, err))
				continue
			}
		}
		m, err := toJSONMap(rs)
		if err != nil {
			out.Findings = append(out.Findings, resourceFinding(k, file, rs, err))
			continue
		}
		if ok && subst.wants(rs, m) {
			var missing []MissingVar
			var unknown []string
			m, missing, unknown, err = subst.apply(rs, m)
			for _, v := range unknown {
				unknownVars[v] = true
			}
			obj := finding.Object{APIVersion: rs.GetApiVersion(), Kind: rs.GetKind(), Namespace: rs.GetNamespace(), Name: rs.GetName()}
			for _, v := range missing {
				vfile, line := file, 0
				if gf, gl, ok := generatedVarSource(rs, origin, dir, src, v); ok {
					vfile, line = gf, gl
				}
				f := finding.New(finding.RenderVarMissing, vfile, line, 0, obj,
					fmt.Sprintf("variable ${%s} has no value in Kustomization %s (postBuild.substitute/substituteFrom) and no default; Flux substitutes an empty string", v.Name, k.Ref))
				f.Kustomization = k.Ref.String()
				f.Field, f.Variable = v.Field, v.Name
				out.Findings = append(out.Findings, f)
			}
			if err != nil {
				f := finding.New(finding.RenderSubstitution, file, 0, 0, obj,
					fmt.Sprintf("Kustomization %s: postBuild substitution failed: %v", k.Ref, err))
				f.Kustomization = k.Ref.String()
				out.Findings = append(out.Findings, f)
				continue
			}
		}
		u := &unstructured.Unstructured{Object: m}
		if len(u.GetAnnotations()) == 0 {
			unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
		}
		applyCommonMetadata(u, labels, annotations)
		_, encrypted := m["sops"]
		out.Objects = append(out.Objects, &Object{U: u, File: file, Owner: k, Encrypted: encrypted})
	}
	if len(unknownVars) > 0 {
		names := slices.Sorted(maps.Keys(unknownVars))
		for i, n := range names {
			names[i] = "${" + n + "}"
		}
		f := finding.New(finding.RenderVarUnknown, k.File, k.Line, 0, kobj,
			fmt.Sprintf("Kustomization %s: %s take their values from postBuild.substituteFrom objects that are not in the repository; they stay unknown, and no schema pattern, format or enum check fails on a field that uses them", k.Ref, strings.Join(names, ", ")))
		f.Field = "spec.postBuild.substituteFrom"
		f.Kustomization = k.Ref.String()
		out.Findings = append(out.Findings, f)
	}
	return out
}

// FindingObject names the Kustomization in a finding.
func (k *Kustomization) FindingObject() finding.Object {
	return finding.Object{APIVersion: KustomizeGroup + "/v1", Kind: KindKustomizaton, Namespace: k.Namespace, Name: k.Name}
}

// build runs the kustomize build of a generated kustomization, once for
// the callers that ask for it at the same time, each of which gets its own
// resource map.
//
// remote are the remote sources left out (see kustomizeBuild).
func (r *Renderer) build(src Source, dir, kfile string, manifest []byte) (res resmap.ResMap, remote []remoteSource, err error) {
	root := src.Root
	sum := sha256.Sum256(manifest)
	ign := sha256.Sum256([]byte(src.Ignore.Key()))
	key := root + "\x00" + dir + "\x00" + string(sum[:]) + string(ign[:])
	v, err, shared := r.builds.Do(key, func() (any, error) {
		disk, err := r.disk.secure(root)
		if err != nil {
			return nil, fmt.Errorf("open source %s: %w", root, err)
		}
		var base filesys.FileSystem = disk
		var hidden *ignoreFS
		if src.Ignore != nil {
			hidden = newIgnoreFS(disk, root, src.Ignore)
			base = hidden
		}
		fs := newOverlayFS(base, map[string][]byte{kfile: manifest})
		res, warnings, remote, err := kustomizeBuild(fs, dir)
		for _, w := range warnings {
			r.Log.Debug("kustomize", "dir", src.repoPath(dir), "message", w)
		}
		if err != nil && hidden != nil {
			if why := hidden.explain(); why != "" {
				err = &ignoredError{err: err, why: why}
			}
		}
		return builtMap{res, remote}, err
	})
	if err != nil {
		if b, ok := v.(builtMap); ok && !strings.Contains(err.Error(), "MalformedYAMLError") {
			// The rest may not build without a remote resource (a patch
			// of a remote object, say); a generator builds without its
			// remote files, and a local file that does not parse fails
			// the build either way.
			for _, rs := range b.remote {
				if rs.generator == "" {
					err = &remoteResourceError{url: rs.url, err: err}
					break
				}
			}
		}
		return nil, nil, err
	}
	b := v.(builtMap)
	if shared {
		// Each caller changes its copy (substitution, annotations).
		return b.res.DeepCopy(), b.remote, nil
	}
	return b.res, b.remote, nil
}

// remoteResourceError is a build that fails without its remote resources.
type remoteResourceError struct {
	url string
	err error
}

func (e *remoteResourceError) Error() string {
	return fmt.Sprintf("without the remote resource %s: %v", e.url, e.err)
}

func (e *remoteResourceError) Unwrap() error { return e.err }

// builtMap is what a shared build hands its callers.
type builtMap struct {
	res    resmap.ResMap
	remote []remoteSource
}

// remoteFinding lists what a Kustomization was rendered without.
func remoteFinding(k *Kustomization, kobj finding.Object, src Source, remote []remoteSource) finding.Finding {
	var resources, files []string
	for _, r := range remote {
		if r.generator == "" {
			resources = append(resources, r.url)
		} else {
			files = append(files, fmt.Sprintf("%s (%s in %s)", r.url, r.generator, src.repoPath(r.kustomization)))
		}
	}
	var parts []string
	if len(resources) > 0 {
		parts = append(parts, "the remote resources "+strings.Join(resources, ", ")+", whose objects are not checked")
	}
	if len(files) > 0 {
		parts = append(parts, "the remote generator files "+strings.Join(files, ", ")+", so the objects generated from them lack those keys")
	}
	f := finding.New(finding.RenderSource, k.File, k.Line, 0, kobj,
		fmt.Sprintf("Kustomization %s is rendered without %s: they are not fetched offline", k.Ref, strings.Join(parts, ", and without ")))
	f.Hint = "Vendor the remote manifests and files into the repository (kustomize-controller fetches them on every reconciliation, so a moved or changed URL changes the cluster without a commit)."
	f.Kustomization = k.Ref.String()
	return f
}

// withOriginAnnotations asks kustomize to record each resource's origin
// file, so findings can point at it. It reports whether it added the option
// (the annotation is then removed again from the output).
func withOriginAnnotations(manifest []byte) ([]byte, bool, error) {
	var kus kustypes.Kustomization
	if err := yaml.Unmarshal(manifest, &kus); err != nil {
		return nil, false, fmt.Errorf("read generated kustomization: %w", err)
	}
	if slices.Contains(kus.BuildMetadata, kustypes.OriginAnnotations) {
		return manifest, false, nil
	}
	kus.BuildMetadata = append(kus.BuildMetadata, kustypes.OriginAnnotations)
	out, err := yaml.Marshal(kus)
	if err != nil {
		return nil, false, fmt.Errorf("write generated kustomization: %w", err)
	}
	return out, true, nil
}

// resourceOrigin returns rs.GetOrigin(), or nil when that fails. Nearly
// every origin annotation is "path: <file>\n", which it reads without
// GetOrigin's YAML to JSON to struct decoding (1.6 % of the CPU time on
// 1,000 Kustomizations); anything else, or a path YAML might read as
// another type, takes GetOrigin.
func resourceOrigin(rs *resource.Resource) *resource.Origin {
	a := rs.GetAnnotations()[originAnnotation]
	if p, ok := strings.CutPrefix(a, "path: "); ok && strings.IndexByte(p, '\n') == len(p)-1 {
		p = p[:len(p)-1]
		if v, ok := resolvePlain(p); ok && v == p && plain(p) {
			return &resource.Origin{Path: p}
		}
	}
	o, _ := rs.GetOrigin()
	return o
}

func originFile(o *resource.Origin, dir string, src Source, kfile string) string {
	if o == nil || o.Repo != "" {
		return src.repoPath(kfile)
	}
	p := o.Path
	if p == "" {
		p = o.ConfiguredIn
	}
	if p == "" {
		return src.repoPath(kfile)
	}
	return src.repoPath(filepath.Join(dir, filepath.FromSlash(p)))
}

func applyCommonMetadata(u *unstructured.Unstructured, labels, annotations map[string]string) {
	if len(labels) > 0 {
		l := u.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		for k, v := range labels {
			l[k] = v
		}
		u.SetLabels(l)
	}
	if len(annotations) > 0 {
		a := u.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		for k, v := range annotations {
			a[k] = v
		}
		u.SetAnnotations(a)
	}
}

// accumulatingRe finds the resources kustomize was accumulating when a
// build failed, innermost last.
var accumulatingRe = regexp.MustCompile(`accumulating resources from '([^']+)'`)

// remoteHostRe matches kustomize's remote base forms without a scheme,
// such as github.com/org/repo//path?ref=v1; a local path can look the
// same (app.yaml/nested), so such a form also needs a known Git host, a
// "//" subdirectory or a ref.
var (
	remoteHostRe   = regexp.MustCompile(`^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}/[^/]`)
	knownGitHostRe = regexp.MustCompile(`^(github\.com|gitlab\.com|bitbucket\.org|codeberg\.org|dev\.azure\.com)/`)
)

// remoteResource returns the remote URL a failed build was loading, or "".
func remoteResource(msg string) string {
	for _, m := range accumulatingRe.FindAllStringSubmatch(msg, -1) {
		if isRemote(m[1]) {
			return m[1]
		}
	}
	return ""
}

var quotedPathRe = regexp.MustCompile(`'([^'\s]+)'|File: ([^\s']+)|(/[^\s'":]+)`)

// renderFinding maps a kustomize error to the file that caused it: the file
// that failed to parse, or the kustomization.yaml that names a missing
// resource. kustomize names paths relative to the directory being
// accumulated, so the walk follows the directories as the message does.
func (r *Renderer) renderFinding(k *Kustomization, src Source, err error) finding.Finding {
	var why string
	var rr *remoteResourceError
	if errors.As(err, &rr) {
		why = fmt.Sprintf("without the remote resource %s, which is not fetched offline, kustomize build fails: %v", rr.url, trimRoot(rr.err.Error(), src.Root))
	} else if url := remoteResource(err.Error()); url != "" {
		why = fmt.Sprintf("it includes the remote resource %s, which is not fetched offline", url)
	}
	if why != "" {
		f := finding.New(finding.RenderSource, k.File, k.Line, 0, k.FindingObject(),
			fmt.Sprintf("Kustomization %s is not rendered: %s; its objects are not checked", k.Ref, why))
		f.Hint = "Vendor the remote manifests into the repository (kustomize-controller fetches them on every reconciliation, so a moved or changed URL changes the cluster without a commit)."
		f.Kustomization = k.Ref.String()
		return f
	}
	prefix := "kustomize build failed"
	var ie *ignoredError
	if errors.As(err, &ie) {
		prefix = ie.why + "; so kustomize build fails"
		err = ie.err
	}
	msg := err.Error()
	file, line := k.File, k.Line
	cur := filepath.Join(src.Root, filepath.FromSlash(k.Path))
	var best string
	bestLine := 0
	for _, m := range quotedPathRe.FindAllStringSubmatch(msg, -1) {
		p := m[1] + m[2] + m[3]
		if strings.Contains(p, "://") {
			continue
		}
		var candidates []string
		if filepath.IsAbs(p) {
			candidates = []string{p}
		} else {
			candidates = []string{filepath.Join(cur, p), filepath.Join(src.Root, p)}
		}
		found := false
		for _, c := range candidates {
			if !strings.HasPrefix(c, src.Root) {
				continue
			}
			st, err := os.Stat(c)
			if err != nil || !st.IsDir() && isIgnored(src, c) {
				continue // not in the artifact
			}
			found = true
			if st.IsDir() {
				cur = c
			} else {
				best, bestLine = c, 0
			}
			break
		}
		if !found && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") || !strings.Contains(filepath.Base(p), ".")) {
			// A missing resource: blame the kustomization.yaml that lists it.
			if kf := findKustomizationFile(cur); kf != "" {
				best, bestLine = kf, firstLine(kf, func(l string) bool { return strings.Contains(l, filepath.Base(p)) })
			}
		}
	}
	if best != "" {
		file, line = src.repoPath(best), bestLine
	}
	f := finding.New(finding.RenderFailed, file, line, 0, k.FindingObject(),
		fmt.Sprintf("Kustomization %s: %s: %s", k.Ref, prefix, trimRoot(msg, src.Root)))
	f.Kustomization = k.Ref.String()
	return f
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func findKustomizationFile(dir string) string {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if p := filepath.Join(dir, n); fileExists(p) {
			return p
		}
	}
	return ""
}

// firstLine returns the number of the first line of file that match
// accepts, 0 when none does or the file cannot be read.
func firstLine(file string, match func(line string) bool) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for i, l := range strings.Split(string(data), "\n") {
		if match(l) {
			return i + 1
		}
	}
	return 0
}

func trimRoot(msg, root string) string {
	return strings.ReplaceAll(msg, root+string(filepath.Separator), "")
}

// jsonBytesToMap decodes JSON into JSON-typed data (int64, float64), which
// the apimachinery helpers and CEL expect.
func jsonBytesToMap(data []byte) (map[string]any, error) {
	var m map[string]any
	if err := utiljson.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode rendered object: %w", err)
	}
	return m, nil
}

// resourceFinding reports an error about one rendered resource at the file
// it came from.
func resourceFinding(k *Kustomization, file string, rs *resource.Resource, err error) finding.Finding {
	f := finding.New(finding.RenderFailed, file, 0, 0,
		finding.Object{APIVersion: rs.GetApiVersion(), Kind: rs.GetKind(), Namespace: rs.GetNamespace(), Name: rs.GetName()},
		fmt.Sprintf("Kustomization %s: %s: %v", k.Ref, rs.CurId(), err))
	f.Kustomization = k.Ref.String()
	return f
}

// ignoredManifests lists, as ignore patterns anchored at dir, the YAML
// files and directories under dir that src's artifact leaves out, when
// Flux would generate dir's kustomization (it has none): the walk stops
// where the generator's does, at a directory with its own kustomization.
func ignoredManifests(src Source, dir string) string {
	if src.Ignore == nil || hasKustomization(dir) {
		return ""
	}
	var lines []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, err := filepath.Rel(src.Root, p)
		if err != nil {
			return nil
		}
		under, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if _, ignored := src.Ignore.Ignored(filepath.ToSlash(rel), true); ignored {
				lines = append(lines, "/"+filepath.ToSlash(under)+"/")
				return filepath.SkipDir
			}
			if hasKustomization(p) {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if _, ignored := src.Ignore.Ignored(filepath.ToSlash(rel), false); ignored {
			lines = append(lines, "/"+filepath.ToSlash(under))
		}
		return nil
	})
	return strings.Join(lines, "\n")
}

func hasKustomization(dir string) bool {
	return findKustomizationFile(dir) != ""
}

// withoutIgnored drops from a generated kustomization the resources the
// source's artifact does not have.
func withoutIgnored(manifest []byte, src Source, dir string) ([]byte, error) {
	var kus kustypes.Kustomization
	if err := yaml.Unmarshal(manifest, &kus); err != nil {
		return nil, fmt.Errorf("read generated kustomization: %w", err)
	}
	kept := kus.Resources[:0]
	for _, res := range kus.Resources {
		rel := filepath.ToSlash(filepath.Join(dir, res))
		if filepath.IsAbs(res) {
			if r, err := filepath.Rel(src.Root, res); err == nil {
				rel = filepath.ToSlash(r)
			}
		}
		st, err := os.Stat(filepath.Join(src.Root, filepath.FromSlash(rel)))
		if _, ignored := src.Ignore.Ignored(rel, err == nil && st.IsDir()); !ignored {
			kept = append(kept, res)
		}
	}
	kus.Resources = kept
	out, err := yaml.Marshal(kus)
	if err != nil {
		return nil, fmt.Errorf("write generated kustomization: %w", err)
	}
	return out, nil
}

// undecodable is the error kustomize-controller gives for a generated
// kustomization one of whose files does not decode: its generator decodes
// every file it lists before the build. The patched generator
// (third_party/flux-kustomize.patch) leaves that to the build, which
// decodes them anyway; after a failed build this looks for the file the
// controller would name first, in its words, or returns nil.
func undecodable(root, dir string, manifest []byte) error {
	var kus kustypes.Kustomization
	if err := yaml.Unmarshal(manifest, &kus); err != nil {
		return nil
	}
	disk, err := securefs.MakeFsOnDiskSecure(root)
	if err != nil {
		return nil
	}
	rf := provider.NewDefaultDepProvider().GetResourceFactory()
	for _, res := range kus.Resources {
		path := filepath.Join(dir, res)
		if disk.IsDir(path) {
			continue
		}
		data, err := disk.ReadFile(path)
		if err != nil {
			return err
		}
		if err := decodes(rf, path, data); err != nil {
			return err
		}
	}
	return nil
}

// decodes parses data as the generator does, with its messages, a panic
// of kustomize's parser included.
func decodes(rf *resource.Factory, path string, data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered from panic while parsing YAML file %s: %v", filepath.Base(path), r)
		}
	}()
	if _, err := rf.SliceFromBytes(data); err != nil {
		return fmt.Errorf("failed to decode Kubernetes YAML from %s: %w", path, err)
	}
	return nil
}

// ignoredError is a build error of a source whose artifact lacks files the
// build asked for.
type ignoredError struct {
	err error
	why string
}

func (e *ignoredError) Error() string { return e.err.Error() + "; " + e.why }
func (e *ignoredError) Unwrap() error { return e.err }

// isIgnored reports whether the absolute file p is left out of src's
// artifact.
func isIgnored(src Source, p string) bool {
	rel, err := filepath.Rel(src.Root, p)
	if err != nil {
		return false
	}
	_, ignored := src.Ignore.Ignored(filepath.ToSlash(rel), false)
	return ignored
}
