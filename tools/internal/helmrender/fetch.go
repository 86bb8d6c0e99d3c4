package helmrender

import (
	"context"
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/chartfetch"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// fetchHelmRepository fetches chart at version from the HelmRepository
// ns/name: its index for an HTTP repository, <url>/<chart> for type oci.
// cacheWhy is why the chart cache did not have it.
func (r *Renderer) fetchHelmRepository(ctx context.Context, srcs Sources, ns, name, chart, version, cacheWhy string) (Location, string, bool) {
	from := fmt.Sprintf("HelmRepository %s/%s", ns, name)
	obj := srcs.Object("HelmRepository", ns, name)
	if obj == nil {
		return Location{}, r.notFetched(cacheWhy, from+" is not in the repository"), false
	}
	if why := credentials(obj, from); why != "" {
		return Location{}, r.notFetched(cacheWhy, why), false
	}
	url, _, _ := unstructured.NestedString(obj.U.Object, "spec", "url")
	typ, _, _ := unstructured.NestedString(obj.U.Object, "spec", "type")
	insecure, _, _ := unstructured.NestedBool(obj.U.Object, "spec", "insecure")
	req := chartfetch.Request{URL: url, Chart: chart, Version: version}
	if typ == "oci" {
		req = chartfetch.Request{URL: strings.TrimSuffix(url, "/") + "/" + path.Base(chart), Version: version, PlainHTTP: insecure}
	}
	return r.fetchChart(ctx, req, from, cacheWhy)
}

// fetchOCIRepository fetches the chart an OCIRepository names, choosing
// the reference as source-controller does: digest, else semver (with
// semverFilter), else tag, else latest.
func (r *Renderer) fetchOCIRepository(ctx context.Context, obj *render.Object, cacheWhy string) (Location, string, bool) {
	from := fmt.Sprintf("OCIRepository %s/%s", obj.U.GetNamespace(), obj.U.GetName())
	if why := credentials(obj, from); why != "" {
		return Location{}, r.notFetched(cacheWhy, why), false
	}
	spec := func(fields ...string) string {
		s, _, _ := unstructured.NestedString(obj.U.Object, append([]string{"spec"}, fields...)...)
		return s
	}
	insecure, _, _ := unstructured.NestedBool(obj.U.Object, "spec", "insecure")
	req := chartfetch.Request{URL: spec("url"), PlainHTTP: insecure}
	switch {
	case spec("ref", "digest") != "":
		req.Digest = spec("ref", "digest")
	case spec("ref", "semver") != "":
		req.Version, req.TagFilter = spec("ref", "semver"), spec("ref", "semverFilter")
	case spec("ref", "tag") != "":
		req.Tag = spec("ref", "tag")
	default:
		req.Tag = "latest"
	}
	return r.fetchChart(ctx, req, from, cacheWhy)
}

func (r *Renderer) fetchChart(ctx context.Context, req chartfetch.Request, from, cacheWhy string) (Location, string, bool) {
	c, err := r.fetcher.Fetch(ctx, req)
	if err != nil {
		return Location{}, r.notFetched(cacheWhy, fmt.Sprintf("fetching %s (%s) failed: %v", req, from, err)), false
	}
	return Location{Path: c.Path, Describe: c.Describe()}, "", true
}

// notFetched is the reason a chart is not rendered: why it was not
// fetched, after why the chart cache did not have it when one is
// configured.
func (r *Renderer) notFetched(cacheWhy, why string) string {
	if len(r.cacheDirs) == 0 {
		return why
	}
	return cacheWhy + "; " + why
}

// credentials says why a source cannot be fetched anonymously: its
// credentials (secretRef, certSecretRef, a service account's pull secrets,
// a cloud provider's workload identity) are in the cluster, not in Git.
// The empty string means an anonymous fetch is what the cluster does too.
func credentials(obj *render.Object, from string) string {
	var uses []string
	for _, field := range []string{"secretRef", "certSecretRef", "proxySecretRef"} {
		if name, _, _ := unstructured.NestedString(obj.U.Object, "spec", field, "name"); name != "" {
			uses = append(uses, fmt.Sprintf("spec.%s %s", field, name))
		}
	}
	if sa, _, _ := unstructured.NestedString(obj.U.Object, "spec", "serviceAccountName"); sa != "" {
		uses = append(uses, "spec.serviceAccountName "+sa)
	}
	if p, _, _ := unstructured.NestedString(obj.U.Object, "spec", "provider"); p != "" && p != "generic" {
		uses = append(uses, "spec.provider "+p)
	}
	if len(uses) == 0 {
		return ""
	}
	return fmt.Sprintf("%s uses %s: the credentials are in the cluster, not in Git, and charts are fetched anonymously only; pull the chart into a chart cache", from, strings.Join(uses, ", "))
}
