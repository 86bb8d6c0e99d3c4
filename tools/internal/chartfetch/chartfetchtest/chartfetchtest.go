// Package chartfetchtest serves Helm charts on loopback for tests: an HTTP
// chart repository (index.yaml and archives packaged by Helm) and an
// in-process OCI registry that charts are pushed to with Helm's registry
// client. Both count the requests they receive.
package chartfetchtest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
)

// Chart is a small chart: one ConfigMap named after the release, whose
// data holds the chart's version.
func Chart(name, version string) *chart.Chart {
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: name, Version: version, Type: "application"},
		Templates: []*chart.File{{Name: "templates/configmap.yaml", Data: []byte(
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  version: {{ .Chart.Version | quote }}\n")}},
		Values: map[string]any{},
	}
}

// Package writes ch as <name>-<version>.tgz into dir and returns its path.
func Package(t testing.TB, ch *chart.Chart, dir string) string {
	t.Helper()
	p, err := chartutil.Save(ch, dir)
	if err != nil {
		t.Fatalf("package chart %s: %v", ch.Name(), err)
	}
	return p
}

// counter counts the requests a handler serves.
type counter struct {
	next http.Handler
	n    atomic.Int64
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.next.ServeHTTP(w, r)
}

// Repository is an HTTP chart repository on loopback.
type Repository struct {
	// URL is the repository URL (index.yaml below it).
	URL string
	// Dir holds index.yaml and the archives it serves.
	Dir string
	srv *httptest.Server
	c   *counter
}

// NewRepository packages charts and serves them with an index.yaml whose
// URLs are relative to the repository, as helm repo index writes it. The
// server stops when the test ends.
func NewRepository(t testing.TB, charts ...*chart.Chart) *Repository {
	t.Helper()
	dir := t.TempDir()
	for _, ch := range charts {
		Package(t, ch, dir)
	}
	idx, err := repo.IndexDirectory(dir, "")
	if err != nil {
		t.Fatalf("index charts: %v", err)
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatalf("write index: %v", err)
	}
	c := &counter{next: http.FileServer(http.Dir(dir))}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return &Repository{URL: srv.URL, Dir: dir, srv: srv, c: c}
}

// Requests is the number of requests served so far.
func (r *Repository) Requests() int64 { return r.c.n.Load() }

// Close stops the server: later requests are refused.
func (r *Repository) Close() { r.srv.Close() }

// Registry is an in-process OCI registry on loopback, over plain HTTP.
type Registry struct {
	// Host is host:port of the registry.
	Host string
	srv  *httptest.Server
	c    *counter
}

// NewRegistry starts a registry that stops when the test ends.
func NewRegistry(t testing.TB) *Registry {
	t.Helper()
	c := &counter{next: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://"), srv: srv, c: c}
}

// Push packages ch and pushes it with Helm's registry client as
// <host>/<repository>/<name>:<version>, and returns the manifest digest.
func (r *Registry) Push(t testing.TB, ch *chart.Chart, repository string) string {
	t.Helper()
	data, err := os.ReadFile(Package(t, ch, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	// A transport of its own: a test may have made the default one refuse
	// every request, as the validator does.
	hc := &http.Client{Transport: &http.Transport{}}
	client, err := helmregistry.NewClient(helmregistry.ClientOptHTTPClient(hc), helmregistry.ClientOptPlainHTTP(), helmregistry.ClientOptWriter(io.Discard))
	if err != nil {
		t.Fatalf("registry client: %v", err)
	}
	ref := r.Host + "/" + strings.Trim(repository, "/") + "/" + ch.Name() + ":" + ch.Metadata.Version
	res, err := client.Push(data, ref)
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return res.Manifest.Digest
}

// Requests is the number of requests served so far.
func (r *Registry) Requests() int64 { return r.c.n.Load() }

// Close stops the registry.
func (r *Registry) Close() { r.srv.Close() }
