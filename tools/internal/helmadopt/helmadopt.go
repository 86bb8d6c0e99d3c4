// Package helmadopt turns the objects the validator renders for one
// HelmRelease into a manifest that can be applied before Flux exists and
// that helm-controller's first install then adopts instead of failing with
// "exists and cannot be imported into the current release".
//
// Helm adopts an existing object when it carries the release's ownership
// metadata: the label app.kubernetes.io/managed-by=Helm and the
// annotations meta.helm.sh/release-name and meta.helm.sh/release-namespace
// naming the release being installed. The objects are the validator's
// render of the chart with the HelmRelease's values (substituted like
// kustomize-controller does), so what is applied first is what Flux
// installs later, from the same files.
package helmadopt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
	"github.com/homelab-gitops/homelab/tools/internal/validate"
)

// Helm's ownership metadata (helm.sh/helm/v3/pkg/action, validate.go).
const (
	ManagedByLabel          = "app.kubernetes.io/managed-by"
	ManagedByHelm           = "Helm"
	ReleaseNameAnnotation   = "meta.helm.sh/release-name"
	ReleaseNSAnnotation     = "meta.helm.sh/release-namespace"
	hookAnnotation          = "helm.sh/hook"
	helmReleaseKind         = "HelmRelease"
	helmReleaseAPIGroupPart = "helm.toolkit.fluxcd.io/"
)

// Result is the manifest of one release.
type Result struct {
	// HelmRelease is the HelmRelease's file in the repository.
	HelmRelease string
	// Chart is the chart's name and version.
	Chart string
	// ReleaseName and ReleaseNamespace are what helm-controller installs
	// the release as (spec.releaseName, spec.targetNamespace).
	ReleaseName, ReleaseNamespace string
	// Objects are the release's objects in Helm's install order, with the
	// ownership metadata set.
	Objects []*unstructured.Unstructured
	// Hooks counts the hook objects left out: Helm runs them at install
	// and does not adopt them.
	Hooks int
}

// Render renders the repository at root with the validator's renderer,
// its checks left to `make validate`, and returns FromReport's objects of
// HelmRelease namespace/name in cluster. log may be nil.
func Render(ctx context.Context, root, cluster, namespace, name string, log *slog.Logger) (*Result, error) {
	skip := map[finding.Class]bool{
		finding.ClassSchema: true, finding.ClassGraph: true, finding.ClassReference: true,
		finding.ClassSecret: true, finding.ClassPolicy: true, finding.ClassFlow: true,
	}
	rep, err := validate.Run(ctx, validate.Options{Root: root, Policies: "-", Skip: skip, Logger: log})
	if err != nil {
		return nil, err
	}
	return FromReport(rep, cluster, namespace, name)
}

// FromReport picks the objects rendered for HelmRelease namespace/name in
// cluster (the only cluster when cluster is ""). It fails when the chart
// was not rendered or when rendering it, or its Kustomization, reported
// an error: a partial manifest applied before Flux would be a broken
// network, not a smaller one.
func FromReport(rep *validate.Report, cluster, namespace, name string) (*Result, error) {
	c, err := pickCluster(rep, cluster)
	if err != nil {
		return nil, err
	}
	hr := findRelease(c, namespace, name)
	if hr == nil {
		return nil, fmt.Errorf("cluster %s renders no HelmRelease %s/%s", c.Name, namespace, name)
	}
	if why, missing := c.ChartsMissing[hr]; missing {
		return nil, fmt.Errorf("%s: HelmRelease %s/%s: chart not available offline: %s", hr.File, namespace, name, why)
	}
	var errs []error
	for _, f := range rep.Findings {
		if f.Severity != finding.Error || f.File != hr.File {
			continue
		}
		switch f.Class {
		case finding.ClassParse, finding.ClassRender, finding.ClassHelm:
			errs = append(errs, fmt.Errorf("%s:%d: %s: %s", f.File, f.Line, f.Rule, f.Message))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("HelmRelease %s/%s does not render cleanly: %w", namespace, name, errors.Join(errs...))
	}
	var spec helmv2.HelmRelease
	data, err := json.Marshal(hr.U.Object)
	if err == nil {
		err = json.Unmarshal(data, &spec)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: HelmRelease %s/%s: %w", hr.File, namespace, name, err)
	}
	res := &Result{HelmRelease: hr.File, ReleaseName: spec.GetReleaseName(), ReleaseNamespace: spec.GetReleaseNamespace()}
	for _, o := range c.Objects {
		if o.Chart == nil || o.Chart.Release != hr {
			continue
		}
		res.Chart = o.Chart.Chart
		if _, hook := o.U.GetAnnotations()[hookAnnotation]; hook {
			res.Hooks++
			continue
		}
		u := o.U.DeepCopy()
		own(u, res.ReleaseName, res.ReleaseNamespace)
		res.Objects = append(res.Objects, u)
	}
	if len(res.Objects) == 0 {
		return nil, fmt.Errorf("%s: HelmRelease %s/%s renders no objects", hr.File, namespace, name)
	}
	return res, nil
}

func pickCluster(rep *validate.Report, name string) (*render.Cluster, error) {
	var names []string
	for _, c := range rep.Clusters {
		if c.Name == name || (name == "" && len(rep.Clusters) == 1) {
			return c, nil
		}
		names = append(names, c.Name)
	}
	if name == "" {
		return nil, fmt.Errorf("%d clusters (%s): name one", len(names), strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("no cluster %q (clusters: %s)", name, strings.Join(names, ", "))
}

func findRelease(c *render.Cluster, namespace, name string) *render.Object {
	for _, o := range c.Named(helmReleaseKind, namespace, name) {
		if o.Chart == nil && strings.HasPrefix(o.U.GetAPIVersion(), helmReleaseAPIGroupPart) {
			return o
		}
	}
	return nil
}

// own sets Helm's ownership metadata on u.
func own(u *unstructured.Unstructured, release, namespace string) {
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[ManagedByLabel] = ManagedByHelm
	u.SetLabels(labels)
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[ReleaseNameAnnotation] = release
	ann[ReleaseNSAnnotation] = namespace
	u.SetAnnotations(ann)
}

// Manifest writes the objects as one YAML stream, in order, with a header
// naming where they come from.
func (r *Result) Manifest() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Rendered from %s (chart %s) for Helm release %s/%s: %d objects\n",
		r.HelmRelease, r.Chart, r.ReleaseNamespace, r.ReleaseName, len(r.Objects))
	fmt.Fprintf(&b, "# with Helm's ownership metadata, so that helm-controller's install adopts them.\n")
	for _, u := range r.Objects {
		data, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.Bytes(), nil
}

// Kinds counts the objects by kind, for a summary.
func (r *Result) Kinds() map[string]int {
	n := map[string]int{}
	for _, u := range r.Objects {
		n[u.GetKind()]++
	}
	return n
}

// KindNames lists Kinds sorted, as "Kind=N".
func (r *Result) KindNames() []string {
	var out []string
	for k, n := range r.Kinds() {
		out = append(out, fmt.Sprintf("%s=%d", k, n))
	}
	slices.Sort(out)
	return out
}
