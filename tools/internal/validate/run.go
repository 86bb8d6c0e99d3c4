// Package validate runs the whole validation: discover entry points, render
// every Flux Kustomization parents first, then run the checks (parse,
// schema, graph, reference, secret, helm, policy) and collect findings.
package validate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/config"
	"github.com/homelab-gitops/homelab/tools/internal/discover"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/helmcheck"
	"github.com/homelab-gitops/homelab/tools/internal/helmrender"
	"github.com/homelab-gitops/homelab/tools/internal/ignore"
	"github.com/homelab-gitops/homelab/tools/internal/manifest"
	"github.com/homelab-gitops/homelab/tools/internal/memo"
	"github.com/homelab-gitops/homelab/tools/internal/render"
	"github.com/homelab-gitops/homelab/tools/internal/schema"
)

// ErrNoEntryPoint is returned when the repository has no Flux entry point:
// there is nothing to render, which is not the same as nothing wrong.
var ErrNoEntryPoint = errors.New("no Flux entry point")

// Options configure a run.
type Options struct {
	// Root is the repository directory.
	Root string
	// ConfigFile overrides <root>/.gitops-validate.yaml.
	ConfigFile string
	// EntryPoints overrides discovery (repository-relative directories).
	EntryPoints []string
	// Policies is the Rego pack directory ("" = config or policies/ when
	// present, else the built-in pack; "-" = none).
	Policies string
	// NoBuiltinPolicies keeps the built-in pack off a repository without
	// a pack of its own.
	NoBuiltinPolicies bool
	// ChartCache are directories of pulled Helm charts (relative to the
	// working directory), besides chartCache in the config.
	ChartCache []string
	// FetchCharts, when set, overrides fetchCharts in the config: fetch
	// the charts found neither in the repository nor in a chart cache from
	// their sources. This is the validator's only network access.
	FetchCharts *bool
	// FetchCache is the directory fetched charts are cached in (relative
	// to the working directory); default fetchCache in the config, else
	// chartfetch.DefaultDir.
	FetchCache string
	// RenderCache is the directory of chart renders kept between runs
	// (helmrender.RenderCache); empty renders every chart.
	RenderCache string
	// Checks turns off checks by class when false; nil runs everything.
	Skip   map[finding.Class]bool
	Logger *slog.Logger
}

// Report is the result of a run.
type Report struct {
	Root     string
	Clusters []*render.Cluster
	Findings []finding.Finding
	Stats    finding.Stats
}

type run struct {
	root      string
	tmp       string
	cfg       *config.Config
	renderer  *render.Renderer
	files     *manifest.Cache
	log       *slog.Logger
	mu        sync.Mutex
	artifacts map[string]render.Source
	// remotes are the checkout's Git remote URLs.
	remotes []string
	// entries are the entry points by cluster name.
	entries   map[string]discover.EntryPoint
	validator *schema.Validator
	// schemas loads the embedded and configured CRDs once: for the schema
	// checks, and for the scopes and API versions a render needs when
	// those checks are off.
	schemas func() (*schema.Validator, error)
	// preinstalled are API groups whose CRDs exist before Flux runs (from
	// bootstrapCRDs and the charts of bootstrap helmfiles).
	preinstalled []string
	preloaded    sync.Map // apiVersion/kind whose CRD is loading
	charts       *helmrender.Renderer
	ignores      memo.Map[string, *ignore.Rules] // by source kind and spec.ignore
	skip         map[finding.Class]bool
}

// Run validates the repository described by opts.
func Run(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("repository root: %w", err)
	}
	if root, err = filepath.EvalSymlinks(root); err != nil {
		return nil, fmt.Errorf("repository root: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := config.Load(root, opts.ConfigFile)
	if err != nil {
		return nil, err
	}
	explicit, from := opts.EntryPoints, "flag"
	if len(explicit) == 0 && len(cfg.EntryPoints) > 0 {
		explicit, from = cfg.EntryPoints, "config"
	}
	found, err := discover.Find(root, explicit, from)
	if err != nil {
		return nil, err
	}
	eps := found.EntryPoints
	if len(eps) == 0 {
		return nil, fmt.Errorf("%w in %s: looked for clusters/<name>/, <dir>/clusters/<name>/, kubernetes/flux/cluster, kubernetes/flux, flux/cluster, "+
			"the spec.sync.path of a FluxInstance and a Flux Kustomization whose spec.path contains its own file; "+
			"if Flux reconciles this repository, name the directory its bootstrap Kustomization applies with --path DIR or entryPoints in %s",
			ErrNoEntryPoint, root, config.FileName)
	}
	tmp, err := os.MkdirTemp("", "gitops-validate-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	renderer := render.New(log)
	r := &run{
		root: root, tmp: tmp, cfg: cfg, renderer: renderer, log: log,
		artifacts: map[string]render.Source{}, remotes: gitRemotes(ctx, root),
		files: manifest.NewCache(func(p string) ([]byte, error) {
			return renderer.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		}),
	}
	r.schemas = sync.OnceValues(r.loadSchemas)
	if r.validator, err = r.newValidator(opts); err != nil {
		return nil, err
	}
	cacheDirs, err := chartCacheDirs(root, opts.ChartCache, cfg.ChartCache)
	if err != nil {
		return nil, err
	}
	// Charts see the same API versions whether the schema checks run or
	// not (--skip schema, the base render of --base): a chart that asks
	// .Capabilities for a kind must render the same objects in both.
	apis := func() []string {
		v, err := r.schemas()
		if err != nil {
			return nil // reported when the scopes are needed, after rendering
		}
		return v.APIVersions()
	}
	fetcher, err := chartFetcher(root, opts, cfg, log)
	if err != nil {
		return nil, err
	}
	var renders *helmrender.RenderCache
	if opts.RenderCache != "" {
		renders = helmrender.NewRenderCache(opts.RenderCache)
	}
	r.charts = helmrender.New(cacheDirs, apis, fetcher, renders)
	r.skip = opts.Skip
	if r.validator != nil && found.FluxOperator {
		r.validator.FluxOperatorKinds()
	}
	r.preinstalled = append(r.preinstalled, cfg.BootstrapCRDs...)
	for _, chart := range found.BootstrapCharts {
		groups, _ := helmcheck.CRDGroups(chart)
		r.preinstalled = append(r.preinstalled, groups...)
	}
	prep := r.prepare(ctx, opts)
	rep := &Report{Root: root}

	r.entries = map[string]discover.EntryPoint{}
	for _, ep := range eps {
		r.entries[ep.Cluster] = ep
		log.Info("entry point", "cluster", ep.Cluster, "path", ep.Path, "from", ep.From)
		rep.Stats.EntryPoints = append(rep.Stats.EntryPoints, finding.EntryPoint{Cluster: ep.Cluster, Path: ep.Path, Reason: ep.From})
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	clusters := make([]*render.Cluster, len(eps))
	for i, ep := range eps {
		g.Go(func() error {
			cr := &clusterRun{run: r, cluster: &render.Cluster{Name: ep.Cluster, Entry: ep.Path}, entry: ep}
			fs := inCluster(ep.Cluster, cr.render(gctx))
			clusters[i] = cr.cluster
			mu.Lock()
			rep.Findings = append(rep.Findings, fs...)
			mu.Unlock()
			log.Debug("rendered cluster", "cluster", ep.Cluster, "kustomizations", len(cr.cluster.Kustomizations), "objects", len(cr.cluster.Objects))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	rep.Clusters = clusters
	if err := r.clearClusterScopedNamespaces(clusters); err != nil {
		return nil, err
	}

	var failed []string
	for _, f := range rep.Findings {
		if f.Class == finding.ClassRender && f.File != "" {
			failed = append(failed, f.File)
		}
	}
	checks, err := r.check(ctx, clusters, failed, prep, opts)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, checks...)
	r.position(rep.Findings, clusters)
	rep.Findings = finding.Dedupe(rep.Findings)
	finding.Sort(rep.Findings)

	files := map[string]bool{}
	for _, c := range clusters {
		rep.Stats.Kustomizations += len(c.Kustomizations)
		rep.Stats.Objects += len(c.Objects)
		for _, o := range c.Objects {
			files[o.File] = true
		}
	}
	rep.Stats.Clusters = len(clusters)
	rep.Stats.Files = len(files)
	rep.Stats.Counts = finding.Count(rep.Findings)
	rep.Stats.DurationMS = time.Since(start).Milliseconds()
	return rep, nil
}

// clusterRun renders one entry point.
type clusterRun struct {
	run        *run
	cluster    *render.Cluster
	entry      discover.EntryPoint
	vars       *varStore
	known      map[render.Ref]*render.Kustomization
	sources    map[render.ObjectID]*render.Object
	generators []*render.Object
	done       bool
	// bootstrapSource is the sourceRef of the bootstrap Kustomization
	// (gotk-sync.yaml): this repository, whatever its name.
	bootstrapSource render.SourceRef
}

// adopt gives the synthetic entry point the definition found for it in
// the repository; its source is then this repository too.
func (c *clusterRun) adopt(root, k *render.Kustomization) {
	root.Obj, root.File, root.Line, root.Synthetic = k.Obj, k.File, k.Line, false
	root.SourceRef, root.DependsOn = k.SourceRef, k.DependsOn
	c.bootstrapSource = k.SourceRef
}

// render renders the entry point and, wave by wave, every Kustomization it
// produces: parents first, so that a child's namespace, patches and
// variables come from its parent's output. A Kustomization waits while its
// source or its substituteFrom objects may still be produced by another.
func (c *clusterRun) render(ctx context.Context) []finding.Finding {
	c.vars = newVarStore()
	for _, e := range c.run.cfg.ExternalObjects {
		if (e.Kind == "Secret" || e.Kind == "ConfigMap") && !strings.ContainsAny(e.Name+e.Namespace, "*?[") {
			c.vars.addMade(e.Kind, e.Namespace, e.Name)
		}
	}
	c.known = map[render.Ref]*render.Kustomization{}
	c.sources = map[render.ObjectID]*render.Object{}
	// The bootstrap: flux bootstrap's flux-system, or the source and
	// Kustomization a FluxInstance's spec.sync names.
	name, kind := cmp.Or(c.entry.SourceName, render.FluxSystemName), cmp.Or(c.entry.SourceKind, "GitRepository")
	rootObj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": render.KustomizeGroup + "/v1",
		"kind":       render.KindKustomizaton,
		"metadata":   map[string]any{"name": name, "namespace": render.FluxNamespace},
		"spec": map[string]any{
			"path":      "./" + c.cluster.Entry,
			"sourceRef": map[string]any{"kind": kind, "name": name},
		},
	}}
	// Rendered with the spec of its definition when the repository has
	// one (postBuild, patches), adopted as it is rendered below.
	if def, _, _ := bootstrapDefinition(c.run.root, c.cluster.Entry, name); def != nil {
		if sp, _, _ := unstructured.NestedMap(def.Object, "spec"); sp != nil {
			// The source is resolved as for any entry point.
			sp["path"] = "./" + c.cluster.Entry
			sp["sourceRef"] = map[string]any{"kind": kind, "name": name}
			rootObj.Object["spec"] = sp
		}
	}
	root, _ := render.NewKustomization(rootObj, nil, c.cluster.Entry, 0)
	root.Synthetic = true
	if c.entry.SourceName != "" {
		c.bootstrapSource = root.SourceRef
	}
	c.known[root.Ref] = root
	c.cluster.Kustomizations = append(c.cluster.Kustomizations, root)

	var findings []finding.Finding
	pending := []*render.Kustomization{root}
	for len(pending) > 0 {
		var ready, wait []*render.Kustomization
		type job struct {
			k   *render.Kustomization
			src render.Source
		}
		var jobs []job
		for _, k := range pending {
			src, res, why := c.resolveSource(k)
			switch {
			case res == pendingSource && !c.done:
				wait = append(wait, k)
			case res == pendingSource || res == missingSource:
				f := finding.New(finding.GraphSource, k.File, k.Line, 0, k.FindingObject(),
					fmt.Sprintf("Kustomization %s: sourceRef %s does not exist in the cluster's manifests", k.Ref, k.SourceRef))
				if why != "" {
					f.Message += ": " + why
				}
				findings = append(findings, f)
			case res == externalSource:
				findings = append(findings, finding.New(finding.RenderSource, k.File, k.Line, 0, k.FindingObject(),
					fmt.Sprintf("Kustomization %s is not rendered: %s", k.Ref, why)))
				c.cluster.Unrendered = append(c.cluster.Unrendered, k)
			case !c.done && !c.vars.ready(k):
				wait = append(wait, k)
			default:
				k.UnknownValues = c.vars.unknownValues(k)
				ready = append(ready, k)
				jobs = append(jobs, job{k, src})
			}
		}
		if len(ready) == 0 {
			if c.done {
				break
			}
			// No progress: render the rest with what is known.
			c.done = true
			pending = wait
			continue
		}
		c.done = false
		results := make([]render.Result, len(jobs))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(runtime.GOMAXPROCS(0) + 1)
		for i, j := range jobs {
			g.Go(func() error {
				results[i] = c.run.renderer.Render(gctx, j.k, j.src, c.vars.client)
				return nil
			})
		}
		_ = g.Wait()
		pending = wait
		for i, res := range results {
			findings = append(findings, res.Findings...)
			next, fs := c.accept(ctx, jobs[i].k, res.Objects)
			findings = append(findings, fs...)
			pending = append(pending, next...)
		}
	}
	for _, f := range c.renderCharts(ctx) {
		if !c.run.skip[f.Class] {
			findings = append(findings, f)
		}
	}
	return admissionSubstitution(c.cluster, findings)
}

// accept adds a render's objects to the cluster and returns the child
// Kustomizations to render next.
func (c *clusterRun) accept(ctx context.Context, parent *render.Kustomization, objs []*render.Object) ([]*render.Kustomization, []finding.Finding) {
	var next []*render.Kustomization
	var findings []finding.Finding
	for _, o := range objs {
		c.cluster.Objects = append(c.cluster.Objects, o)
		c.run.preload(o)
		id := o.ID()
		c.vars.add(o)
		switch {
		case id.Group == render.SourceGroup:
			if _, ok := c.sources[id]; !ok {
				c.sources[id] = o
			}
		case id.Group == "source.extensions.fluxcd.io" && id.Kind == "ArtifactGenerator":
			c.generators = append(c.generators, o)
		case id.Group == render.KustomizeGroup && id.Kind == render.KindKustomizaton:
			line := 0
			if f, err := c.run.files.Get(o.File); err == nil {
				if d := f.Find(id.Kind, id.Name); d != nil {
					line = d.Line()
				}
			}
			k, err := render.NewKustomization(o.U, parent, o.File, line)
			if err != nil {
				findings = append(findings, finding.New(finding.SchemaInvalid, o.File, line, 0, o.FindingObject(), err.Error()))
				continue
			}
			if prev, ok := c.known[k.Ref]; ok {
				if prev.Synthetic && prev.Path == k.Path {
					// The bootstrap Kustomization itself (gotk-sync.yaml).
					c.adopt(prev, k)
				}
				continue // duplicates are reported by the graph check
			}
			if root := c.cluster.Kustomizations[0]; root.Synthetic && parent == root && k.Path == root.Path && k.SourceRef.Kind != "ExternalArtifact" {
				// The bootstrap Kustomization under another name than
				// flux-system (flux bootstrap --name, or written by hand):
				// it is the entry point, not a child to render again.
				delete(c.known, root.Ref)
				root.Ref = k.Ref
				c.known[k.Ref] = root
				c.adopt(root, k)
				continue
			}
			c.known[k.Ref] = k
			c.cluster.Kustomizations = append(c.cluster.Kustomizations, k)
			next = append(next, k)
		}
	}
	return next, findings
}

// clearClusterScopedNamespaces drops metadata.namespace from cluster-scoped
// objects, which the API server ignores: kustomize sets it on custom kinds
// it does not know, helm-controller on every object of a chart. It is part
// of rendering, whichever checks run, so that a render of another revision
// (--base) names the same objects the same way. The scope comes from the
// cluster's own CRDs, else the built-in kinds and embedded CRDs.
func (r *run) clearClusterScopedNamespaces(clusters []*render.Cluster) error {
	v := r.validator
	for _, c := range clusters {
		own := map[string]bool{} // group/kind of the cluster's CRDs: cluster scoped
		for _, o := range c.Objects {
			if o.U.GetKind() != "CustomResourceDefinition" || !strings.HasPrefix(o.U.GetAPIVersion(), "apiextensions.k8s.io/") {
				continue
			}
			group, _, _ := unstructured.NestedString(o.U.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.U.Object, "spec", "names", "kind")
			scope, _, _ := unstructured.NestedString(o.U.Object, "spec", "scope")
			own[group+"/"+kind] = scope == "Cluster"
		}
		for _, o := range c.Objects {
			id := o.ID()
			if id.Namespace == "" {
				continue
			}
			scoped, ok := own[id.Group+"/"+id.Kind]
			if !ok {
				if v == nil {
					// Schema checks are off: the scopes are still needed.
					var err error
					if v, err = r.schemas(); err != nil {
						return err
					}
				}
				scoped = v.ClusterScoped(id.Group, id.Kind)
			}
			if scoped {
				o.U.SetNamespace("")
			}
		}
	}
	return nil
}

// inCluster marks findings with the cluster they come from.
func inCluster(cluster string, fs []finding.Finding) []finding.Finding {
	for i := range fs {
		fs[i].Cluster = cluster
	}
	return fs
}

// gitRemotes lists the URLs of root's Git remotes (none outside a Git
// checkout). It reads the local config only.
func gitRemotes(ctx context.Context, root string) []string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "config", "--get-regexp", `^remote\..*\.url$`).Output()
	if err != nil {
		return nil
	}
	var urls []string
	for line := range strings.Lines(string(out)) {
		if _, url, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			urls = append(urls, url)
		}
	}
	return urls
}
