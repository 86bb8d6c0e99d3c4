package validate

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/homelab-gitops/homelab/tools/internal/chartfetch"
	"github.com/homelab-gitops/homelab/tools/internal/config"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/helmcheck"
	"github.com/homelab-gitops/homelab/tools/internal/helmrender"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// chartCacheDirs are the chart cache directories from the flag (relative
// to the working directory) and the config (relative to the repository).
func chartCacheDirs(root string, flagDirs, configDirs []string) ([]string, error) {
	var out []string
	for _, d := range flagDirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("chart cache %s: %w", d, err)
		}
		out = append(out, abs)
	}
	for _, d := range configDirs {
		if !filepath.IsAbs(d) {
			d = filepath.Join(root, filepath.FromSlash(d))
		}
		out = append(out, d)
	}
	return out, nil
}

// chartFetcher is the fetcher of the run when fetching is on (the flag,
// else the config), nil otherwise.
func chartFetcher(root string, opts Options, cfg *config.Config, log *slog.Logger) (*chartfetch.Fetcher, error) {
	on := cfg.FetchCharts
	if opts.FetchCharts != nil {
		on = *opts.FetchCharts
	}
	if !on {
		return nil, nil
	}
	dir := opts.FetchCache
	switch {
	case dir != "":
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("fetch cache %s: %w", dir, err)
		}
		dir = abs
	case cfg.FetchCache != "":
		dir = cfg.FetchCache
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, filepath.FromSlash(dir))
		}
	default:
		d, err := chartfetch.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	log.Debug("fetching charts", "cache", dir)
	return chartfetch.New(chartfetch.Options{Dir: dir, Logger: log})
}

// renderCharts renders the chart of every HelmRelease of the cluster that
// is available (offline, or fetched when that is on), and adds the chart's objects to the cluster
// (attributed to the HelmRelease). Charts found nowhere are left to
// helmcheck, which reports them as not rendered.
func (c *clusterRun) renderCharts(ctx context.Context) []finding.Finding {
	var releases []*render.Object
	for _, o := range c.cluster.Objects {
		if helmcheck.IsHelmRelease(o) {
			releases = append(releases, o)
		}
	}
	if len(releases) == 0 {
		return nil
	}
	srcs := &chartSources{c: c, index: map[objectKey]*render.Object{}}
	var crdVersions []string
	for _, o := range c.cluster.Objects {
		id := o.ID()
		k := objectKey{id.Kind, id.Namespace, id.Name}
		if _, ok := srcs.index[k]; !ok {
			srcs.index[k] = o
		}
		if id.Kind == "CustomResourceDefinition" {
			crdVersions = append(crdVersions, helmrender.ServedVersions(o.U)...)
		}
	}
	// Locating a chart may fetch it: releases are located, like rendered,
	// in parallel.
	type job struct {
		loc      helmrender.Location
		why      string
		rendered bool
		res      helmrender.Result
	}
	jobs := make([]job, len(releases))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0) + 1)
	for i, hr := range releases {
		g.Go(func() error {
			j := &jobs[i]
			j.loc, j.why, j.rendered = c.run.charts.Locate(gctx, hr, srcs)
			if j.rendered {
				j.res = c.run.charts.Render(gctx, helmrender.Release{HR: hr, Location: j.loc, Sources: srcs, APIVersions: crdVersions})
			}
			return nil
		})
	}
	_ = g.Wait()
	c.cluster.Charts = map[*render.Object]string{}
	c.cluster.ChartsMissing = map[*render.Object]string{}
	var out []finding.Finding
	for i, j := range jobs {
		hr := releases[i]
		if !j.rendered {
			c.cluster.ChartsMissing[hr] = j.why
			continue
		}
		c.cluster.Charts[hr] = j.loc.Describe
		out = append(out, j.res.Findings...)
		for _, o := range j.res.Objects {
			c.cluster.Objects = append(c.cluster.Objects, o)
			c.run.preload(o)
		}
	}
	return out
}

type objectKey struct{ kind, namespace, name string }

// chartSources answers helmrender's questions from the cluster's render.
type chartSources struct {
	c     *clusterRun
	index map[objectKey]*render.Object
}

func (s *chartSources) Object(kind, namespace, name string) *render.Object {
	return s.index[objectKey{kind, namespace, name}]
}

func (s *chartSources) Repository(kind, namespace, name string) (render.Source, bool) {
	k := &render.Kustomization{SourceRef: render.SourceRef{Kind: kind, Name: name, Namespace: namespace}}
	src, res, _ := s.c.resolveSource(k)
	return src, res == resolved
}

func (s *chartSources) Made(kind, namespace, name string) bool {
	if s.c.run.cfg.IsExternal(kind, namespace, name) {
		return true
	}
	s.c.vars.mu.Lock()
	defer s.c.vars.mu.Unlock()
	return s.c.vars.made[render.Ref{Namespace: namespace, Name: kind + "/" + name}]
}
