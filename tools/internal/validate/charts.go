package validate

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"

	"golang.org/x/sync/errgroup"

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

// renderCharts renders the chart of every HelmRelease of the cluster that
// is available offline, and adds the chart's objects to the cluster
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
	type job struct {
		hr  *render.Object
		loc helmrender.Location
	}
	var jobs []job
	c.cluster.Charts = map[*render.Object]string{}
	c.cluster.ChartsMissing = map[*render.Object]string{}
	for _, hr := range releases {
		loc, why, ok := c.run.charts.Locate(hr, srcs)
		if !ok {
			c.cluster.ChartsMissing[hr] = why
			continue
		}
		jobs = append(jobs, job{hr, loc})
	}
	results := make([]helmrender.Result, len(jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, j := range jobs {
		g.Go(func() error {
			results[i] = c.run.charts.Render(gctx, helmrender.Release{HR: j.hr, Location: j.loc, Sources: srcs, APIVersions: crdVersions})
			return nil
		})
	}
	_ = g.Wait()
	var out []finding.Finding
	for i, res := range results {
		c.cluster.Charts[jobs[i].hr] = jobs[i].loc.Describe
		out = append(out, res.Findings...)
		for _, o := range res.Objects {
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
