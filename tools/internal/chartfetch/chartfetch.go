// Package chartfetch downloads the Helm charts that HelmReleases install,
// for validator runs that are allowed on the network: from an HTTP chart
// repository (its index.yaml) with Helm's getter, and from an OCI registry
// with Helm's registry client, anonymously. Charts land in a cache keyed by
// source URL, chart and version (or manifest digest), with a metadata file
// recording their sha256; an entry is verified each time it is reused, so a
// second run with exact versions makes no request and a damaged entry is
// never used.
package chartfetch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/repo"

	"github.com/homelab-gitops/homelab/tools/internal/memo"
)

// DefaultTimeout bounds each request to a chart source.
const DefaultTimeout = 2 * time.Minute

// Options configure a Fetcher.
type Options struct {
	// Dir is the cache directory; it is created when missing.
	Dir string
	// Timeout bounds each request (DefaultTimeout when zero).
	Timeout time.Duration
	// Transport carries the requests; nil gives a fresh transport that
	// honours the proxy environment variables. It is never
	// http.DefaultTransport, which the validator keeps offline.
	Transport *http.Transport
	Logger    *slog.Logger
}

// Fetcher fetches charts into its cache. It is safe for concurrent use;
// within one Fetcher each chart and each repository index is fetched once.
type Fetcher struct {
	dir       string
	timeout   time.Duration
	transport *http.Transport
	log       *slog.Logger
	indexes   memo.Map[string, *repo.IndexFile]
	charts    memo.Map[Request, Chart]
}

// New returns a Fetcher caching into o.Dir.
func New(o Options) (*Fetcher, error) {
	if o.Dir == "" {
		return nil, errors.New("chart fetch cache: no directory")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("chart fetch cache %s: %w", o.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("chart fetch cache: %w", err)
	}
	f := &Fetcher{dir: dir, timeout: o.Timeout, transport: o.Transport, log: o.Logger}
	if f.timeout <= 0 {
		f.timeout = DefaultTimeout
	}
	if f.transport == nil {
		f.transport = &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			// An archive served gzip-encoded must reach the digest check
			// as the server holds it.
			DisableCompression:    true,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	return f, nil
}

// DefaultDir is the cache directory used when none is configured:
// gitops-validate/charts under the user's cache directory
// ($XDG_CACHE_HOME or ~/.cache on Linux).
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("chart fetch cache: %w", err)
	}
	return filepath.Join(base, "gitops-validate", "charts"), nil
}

// Dir is the cache directory.
func (f *Fetcher) Dir() string { return f.dir }

// Request names one chart at its source.
type Request struct {
	// URL is an HTTP chart repository (http:// or https://, serving
	// index.yaml) or the OCI repository holding the chart
	// (oci://host/path/name).
	URL string
	// Chart is the chart's name in an HTTP repository's index.
	Chart string
	// Version is an exact version or a semver range ("" or "*": the latest
	// stable version), resolved against the index or the OCI tags as
	// source-controller does.
	Version string
	// Tag is an OCI tag taken as is (OCIRepository spec.ref.tag).
	Tag string
	// Digest pins an OCI manifest (sha256:...); it wins over Tag and
	// Version (OCIRepository spec.ref.digest).
	Digest string
	// TagFilter keeps only the OCI tags it matches when Version is a range
	// (OCIRepository spec.ref.semverFilter).
	TagFilter string
	// PlainHTTP talks to the OCI registry over HTTP (the source's
	// spec.insecure).
	PlainHTTP bool
}

// String names the request in messages.
func (r Request) String() string {
	switch {
	case r.Digest != "":
		return r.URL + "@" + r.Digest
	case r.Tag != "":
		return r.URL + ":" + r.Tag
	case r.Chart != "":
		return fmt.Sprintf("%s %s from %s", r.Chart, versionText(r.Version), r.URL)
	default:
		return fmt.Sprintf("%s %s", r.URL, versionText(r.Version))
	}
}

func versionText(v string) string {
	if v == "" {
		return "(latest)"
	}
	return v
}

// Chart is a fetched chart archive in the cache.
type Chart struct {
	// Path is the .tgz archive.
	Path string
	// Name and Version are the chart's (the version a range resolved to).
	Name, Version string
	// Digest is the archive's sha256 ("sha256:<hex>").
	Digest string
	// ManifestDigest is the OCI manifest's digest, for an OCI chart.
	ManifestDigest string
	// From is where the archive was downloaded.
	From string
	// Cached reports that the archive came from the cache, verified,
	// without downloading it in this run.
	Cached bool
}

// Describe says where the chart comes from, for messages.
func (c Chart) Describe() string {
	how := "fetched"
	if c.Cached {
		how = "cached"
	}
	s := fmt.Sprintf("%s-%s from %s (%s, %s)", c.Name, c.Version, c.From, how, c.Digest)
	if c.ManifestDigest != "" {
		s = fmt.Sprintf("%s-%s from %s (%s, manifest %s)", c.Name, c.Version, c.From, how, c.ManifestDigest)
	}
	return s
}

// Fetch returns the chart req names from the cache, verified, or downloads
// it. The error says what failed (the server, the version, the digest).
func (f *Fetcher) Fetch(ctx context.Context, req Request) (Chart, error) {
	return f.charts.Do(req, func() (Chart, error) {
		var c Chart
		u, err := url.Parse(req.URL)
		if err != nil {
			return c, fmt.Errorf("chart source URL %q: %w", req.URL, err)
		}
		switch u.Scheme {
		case "http", "https":
			c, err = f.fromIndex(ctx, req)
		case "oci":
			c, err = f.fromRegistry(ctx, req)
		default:
			return c, fmt.Errorf("chart source URL %q: scheme %q is neither http(s) nor oci", req.URL, u.Scheme)
		}
		if err == nil {
			f.log.Debug("chart", "request", req.String(), "chart", c.Describe())
		}
		return c, err
	})
}

// tagFilter compiles a semverFilter.
func tagFilter(s string) (*regexp.Regexp, error) {
	if s == "" {
		return nil, nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("semverFilter %q: %w", s, err)
	}
	return re, nil
}

// stripScheme is a URL without its scheme and trailing slash: an OCI
// reference for an oci:// URL.
func stripScheme(u string) string {
	if _, rest, ok := strings.Cut(u, "://"); ok {
		u = rest
	}
	return strings.TrimSuffix(u, "/")
}
