package chartfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"helm.sh/helm/v3/pkg/registry"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// fromRegistry fetches a chart from an OCI registry with Helm's registry
// client: by manifest digest, by tag, or by the highest tag a semver range
// matches. A digest or exact tag already in the cache is used without a
// request.
func (f *Fetcher) fromRegistry(ctx context.Context, req Request) (Chart, error) {
	ref := stripScheme(req.URL)
	source := "oci://" + ref
	name := path.Base(ref)
	var discarded []error
	fail := func(err error) (Chart, error) {
		return Chart{}, errors.Join(append([]error{err}, discarded...)...)
	}
	var entry, pullRef, wantManifest string
	switch {
	case req.Digest != "":
		if !strings.HasPrefix(req.Digest, "sha256:") {
			return Chart{}, fmt.Errorf("%s: digest %q is not sha256:<hex>", source, req.Digest)
		}
		entry, pullRef, wantManifest = name+"@"+req.Digest, ref+"@"+req.Digest, req.Digest
	case req.Tag != "":
		entry, pullRef = name+"-"+req.Tag, ref+":"+req.Tag
	case exactVersion(req.Version):
		entry, pullRef = name+"-"+req.Version, ref+":"+req.Version
	}
	if entry != "" {
		c, ok, err := f.reuse(f.entryDir(source, entry), source, "", wantManifest)
		if ok {
			return c, nil
		}
		discarded = append(discarded, err)
	}
	client, err := f.registryClient(ctx, req.PlainHTTP)
	if err != nil {
		return fail(err)
	}
	if entry == "" {
		filter, err := tagFilter(req.TagFilter)
		if err != nil {
			return fail(err)
		}
		// Helm's client lists the semver tags, "_" read back as "+".
		tags, err := client.Tags(ref)
		if err != nil {
			return fail(fmt.Errorf("list the tags of %s: %w", source, err))
		}
		tag, err := tagVersion(tags, req.Version, filter)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", source, err))
		}
		entry, pullRef = name+"-"+tag, ref+":"+tag
		c, ok, err := f.reuse(f.entryDir(source, entry), source, "", "")
		if ok {
			return c, nil
		}
		discarded = append(discarded, err)
	}
	res, err := client.Pull(pullRef, registry.PullOptWithChart(true))
	if err != nil {
		return fail(fmt.Errorf("pull oci://%s: %w", pullRef, err))
	}
	if wantManifest != "" && res.Manifest.Digest != wantManifest {
		return fail(fmt.Errorf("pull oci://%s: got manifest %s", pullRef, res.Manifest.Digest))
	}
	if got := digestOf(res.Chart.Data); got != res.Chart.Digest {
		return fail(fmt.Errorf("pull oci://%s: chart layer has digest %s, the manifest says %s", pullRef, got, res.Chart.Digest))
	}
	if res.Chart.Meta == nil || res.Chart.Meta.Name == "" || res.Chart.Meta.Version == "" {
		return fail(fmt.Errorf("pull oci://%s: the chart config names no chart and version", pullRef))
	}
	m := meta{
		Source: source, Chart: res.Chart.Meta.Name, Version: res.Chart.Meta.Version,
		Archive:        res.Chart.Meta.Name + "-" + res.Chart.Meta.Version + ".tgz",
		ManifestDigest: res.Manifest.Digest, URL: "oci://" + pullRef,
	}
	return f.store(f.entryDir(source, entry), m, res.Chart.Data)
}

// registryClient is a Helm registry client on the Fetcher's transport,
// bound to ctx, without credentials.
func (f *Fetcher) registryClient(ctx context.Context, plainHTTP bool) (*registry.Client, error) {
	hc := &http.Client{Transport: boundTransport{ctx, f.transport}, Timeout: f.timeout}
	// No Credential: every request is anonymous (a public registry hands
	// out an anonymous token). The Helm and Docker credential stores the
	// client opens are never asked.
	authorizer := auth.Client{Client: hc, Cache: auth.NewCache()}
	authorizer.SetUserAgent(userAgent)
	opts := []registry.ClientOption{
		registry.ClientOptHTTPClient(hc),
		registry.ClientOptAuthorizer(authorizer),
		registry.ClientOptWriter(io.Discard),
	}
	if plainHTTP {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	c, err := registry.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	return c, nil
}

// boundTransport gives every request ctx: Helm's registry client makes its
// requests with context.Background(), which a cancelled run could not
// stop otherwise.
type boundTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t boundTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}
