package chartfetch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/homelab-gitops/homelab/tools/internal/chartfetch/chartfetchtest"
)

func newFetcher(t testing.TB, dir string) *Fetcher {
	t.Helper()
	f, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// versions are the chart versions both servers hold.
var versions = []string{"1.2.0", "1.2.3", "1.3.0", "2.0.0-rc.1"}

func charts(name string) []*chart.Chart {
	var out []*chart.Chart
	for _, v := range versions {
		out = append(out, chartfetchtest.Chart(name, v))
	}
	return out
}

// loadVersion loads a fetched archive and returns its Chart.yaml version.
func loadVersion(t *testing.T, c Chart) string {
	t.Helper()
	ch, err := loader.Load(c.Path)
	if err != nil {
		t.Fatalf("fetched archive %s does not load: %v", c.Path, err)
	}
	return ch.Metadata.Version
}

func TestHTTPRepository(t *testing.T) {
	srv := chartfetchtest.NewRepository(t, charts("podinfo")...)
	tests := []struct {
		name, version, want string
		// second is the number of requests a second run makes: none for
		// an exact version, the index for a range.
		second int64
	}{
		{"exact version", "1.2.3", "1.2.3", 0},
		{"tilde range", "~1.2.0", "1.2.3", 1},
		{"caret range", "^1.0.0", "1.3.0", 1},
		{"latest stable skips the prerelease", "", "1.3.0", 1},
		{"prerelease by range", ">=2.0.0-0", "2.0.0-rc.1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			req := Request{URL: srv.URL, Chart: "podinfo", Version: tt.version}
			before := srv.Requests()
			c, err := newFetcher(t, cache).Fetch(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if c.Version != tt.want || c.Cached || loadVersion(t, c) != tt.want {
				t.Fatalf("fetched %+v, want version %s downloaded", c, tt.want)
			}
			if n := srv.Requests() - before; n != 2 {
				t.Errorf("first run made %d requests, want 2 (index and archive)", n)
			}
			if !strings.HasPrefix(c.Path, cache) || c.From != srv.URL+"/podinfo-"+tt.want+".tgz" {
				t.Errorf("archive %s from %s, want it in %s from the index's relative URL", c.Path, c.From, cache)
			}
			before = srv.Requests()
			again, err := newFetcher(t, cache).Fetch(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if n := srv.Requests() - before; n != tt.second || !again.Cached || again.Path != c.Path || again.Digest != c.Digest {
				t.Errorf("second run: %d requests, cached %v (%s); want %d requests and the same cached archive", n, again.Cached, again.Path, tt.second)
			}
		})
	}
}

func TestOCIRegistry(t *testing.T) {
	reg := chartfetchtest.NewRegistry(t)
	digests := map[string]string{}
	for _, ch := range charts("podinfo") {
		digests[ch.Metadata.Version] = reg.Push(t, ch, "charts")
	}
	url := "oci://" + reg.Host + "/charts/podinfo"
	tests := []struct {
		name string
		req  Request
		want string
		// cachedFree: a second run makes no request (digest, exact tag).
		cachedFree bool
	}{
		{"tag", Request{URL: url, Tag: "1.2.0"}, "1.2.0", true},
		{"exact version", Request{URL: url, Version: "1.2.3"}, "1.2.3", true},
		{"range", Request{URL: url, Version: "~1.2"}, "1.2.3", false},
		{"range with a tag filter", Request{URL: url, Version: ">=1.0.0", TagFilter: `^1\.2\.`}, "1.2.3", false},
		{"digest", Request{URL: url, Digest: digests["1.3.0"]}, "1.3.0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			tt.req.PlainHTTP = true
			c, err := newFetcher(t, cache).Fetch(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if c.Version != tt.want || c.Cached || loadVersion(t, c) != tt.want || c.ManifestDigest != digests[tt.want] {
				t.Fatalf("fetched %+v, want version %s with manifest %s", c, tt.want, digests[tt.want])
			}
			before := reg.Requests()
			again, err := newFetcher(t, cache).Fetch(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			n := reg.Requests() - before
			if !again.Cached || again.Digest != c.Digest || (n == 0) != tt.cachedFree {
				t.Errorf("second run: %d requests, cached %v; want the cached archive with no request: %v", n, again.Cached, tt.cachedFree)
			}
		})
	}
}

// TestDamagedEntry: an archive changed in the cache, or metadata that no
// longer matches it, is never used: the chart is fetched again, or, with
// the server gone, the error says what was wrong with the entry.
func TestDamagedEntry(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, c Chart)
		want   string
	}{
		{"archive changed", func(t *testing.T, c Chart) {
			data, err := os.ReadFile(c.Path)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0xff
			if err := os.WriteFile(c.Path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "changed after it was fetched"},
		{"archive replaced by another chart", func(t *testing.T, c Chart) {
			other := chartfetchtest.Package(t, chartfetchtest.Chart("podinfo", "1.2.3-evil"), t.TempDir())
			if err := os.Rename(other, c.Path); err != nil {
				t.Fatal(err)
			}
		}, "changed after it was fetched"},
		{"metadata unreadable", func(t *testing.T, c Chart) {
			if err := os.WriteFile(filepath.Join(filepath.Dir(c.Path), metaFile), []byte("{"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, metaFile},
		{"metadata removed", func(t *testing.T, c Chart) {
			if err := os.Remove(filepath.Join(filepath.Dir(c.Path), metaFile)); err != nil {
				t.Fatal(err)
			}
		}, "no " + metaFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := chartfetchtest.NewRepository(t, charts("podinfo")...)
			cache := t.TempDir()
			req := Request{URL: srv.URL, Chart: "podinfo", Version: "1.2.3"}
			c, err := newFetcher(t, cache).Fetch(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			tt.damage(t, c)
			again, err := newFetcher(t, cache).Fetch(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if again.Cached || again.Digest != c.Digest || loadVersion(t, again) != "1.2.3" {
				t.Fatalf("after damage: %+v, want the chart fetched again with digest %s", again, c.Digest)
			}
			tt.damage(t, again)
			srv.Close()
			_, err = newFetcher(t, cache).Fetch(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "index.yaml") {
				t.Fatalf("damaged entry, server down: error %v, want one naming the download and %q", err, tt.want)
			}
		})
	}
}

func TestFetchFailures(t *testing.T) {
	srv := chartfetchtest.NewRepository(t, charts("podinfo")...)
	reg := chartfetchtest.NewRegistry(t)
	reg.Push(t, chartfetchtest.Chart("podinfo", "1.0.0"), "charts")
	// A repository whose index announces another digest for 1.2.3.
	bad := chartfetchtest.NewRepository(t, charts("podinfo")...)
	idx, err := repo.LoadIndexFile(filepath.Join(bad.Dir, "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cv := range idx.Entries["podinfo"] {
		if cv.Version == "1.2.3" {
			cv.Digest = strings.Repeat("0", 64)
		}
	}
	if err := idx.WriteFile(filepath.Join(bad.Dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(srv.Dir, "podinfo-1.2.0.tgz")); err != nil {
		t.Fatal(err)
	}
	oci := "oci://" + reg.Host + "/charts/podinfo"
	tests := []struct {
		name string
		req  Request
		want []string
	}{
		{"unknown chart", Request{URL: srv.URL, Chart: "nope", Version: "1.0.0"}, []string{`no chart "nope"`}},
		{"no matching version", Request{URL: srv.URL, Chart: "podinfo", Version: "~3.0"}, []string{`no version of chart "podinfo" matches "~3.0"`}},
		{"archive missing", Request{URL: srv.URL, Chart: "podinfo", Version: "1.2.0"}, []string{"podinfo-1.2.0.tgz", "404"}},
		{"digest mismatch", Request{URL: bad.URL, Chart: "podinfo", Version: "1.2.3"}, []string{"index.yaml announces sha256:000"}},
		{"no repository", Request{URL: srv.URL + "/none", Chart: "podinfo", Version: "1.2.3"}, []string{"/none/index.yaml", "404"}},
		{"unknown OCI tag", Request{URL: oci, Tag: "9.9.9", PlainHTTP: true}, []string{"pull " + oci + ":9.9.9"}},
		{"OCI range without match", Request{URL: oci, Version: "^2", PlainHTTP: true}, []string{`no tag matches version "^2"`}},
		{"unknown OCI digest", Request{URL: oci, Digest: "sha256:" + strings.Repeat("1", 64), PlainHTTP: true}, []string{"pull " + oci + "@sha256:111"}},
		{"unsupported scheme", Request{URL: "s3://bucket/charts", Chart: "podinfo"}, []string{`scheme "s3"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newFetcher(t, t.TempDir()).Fetch(context.Background(), tt.req)
			if err == nil {
				t.Fatal("fetched, want an error")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestOffline: with the servers stopped, a chart not in the cache fails
// with the connection error, and one in the cache is still served.
func TestOffline(t *testing.T) {
	srv := chartfetchtest.NewRepository(t, charts("podinfo")...)
	reg := chartfetchtest.NewRegistry(t)
	reg.Push(t, chartfetchtest.Chart("podinfo", "1.0.0"), "charts")
	cache := t.TempDir()
	cachedReq := Request{URL: srv.URL, Chart: "podinfo", Version: "1.2.3"}
	if _, err := newFetcher(t, cache).Fetch(context.Background(), cachedReq); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	reg.Close()
	f := newFetcher(t, cache)
	for _, req := range []Request{
		{URL: srv.URL, Chart: "podinfo", Version: "1.3.0"},
		{URL: "oci://" + reg.Host + "/charts/podinfo", Tag: "1.0.0", PlainHTTP: true},
	} {
		if _, err := f.Fetch(context.Background(), req); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("%s with the server down: error %v, want connection refused", req, err)
		}
	}
	if c, err := f.Fetch(context.Background(), cachedReq); err != nil || !c.Cached {
		t.Errorf("cached chart with the server down: %+v, %v", c, err)
	}
}

// TestConcurrentRuns: runs sharing a cache and storing the same chart at
// once all get it whole, and leave one verified entry and no temporary
// directory.
func TestConcurrentRuns(t *testing.T) {
	srv := chartfetchtest.NewRepository(t, charts("podinfo")...)
	cache := t.TempDir()
	req := Request{URL: srv.URL, Chart: "podinfo", Version: "1.2.3"}
	results := make([]Chart, 8)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			c, err := newFetcher(t, cache).Fetch(context.Background(), req)
			if err != nil {
				t.Error(err)
			}
			results[i] = c
		})
	}
	wg.Wait()
	for _, c := range results {
		if c.Path != results[0].Path || c.Digest != results[0].Digest || loadVersion(t, c) != "1.2.3" {
			t.Errorf("run got %+v, another %+v", c, results[0])
		}
	}
	left, err := filepath.Glob(filepath.Join(cache, "*", ".*"))
	if err != nil || len(left) != 0 {
		t.Errorf("temporary files left in the cache: %v %v", left, err)
	}
	if c, err := newFetcher(t, cache).Fetch(context.Background(), req); err != nil || !c.Cached {
		t.Errorf("entry after concurrent runs: %+v, %v", c, err)
	}
}

// TestCancelled: a cancelled run stops waiting for the network.
func TestCancelled(t *testing.T) {
	srv := chartfetchtest.NewRepository(t, charts("podinfo")...)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newFetcher(t, t.TempDir()).Fetch(ctx, Request{URL: srv.URL, Chart: "podinfo", Version: "1.2.3"})
	if err == nil || !strings.Contains(err.Error(), context.Canceled.Error()) {
		t.Fatalf("error %v, want %v", err, context.Canceled)
	}
}

// BenchmarkFetchHTTP is a chart downloaded from a loopback repository into
// an empty cache (index and archive).
func BenchmarkFetchHTTP(b *testing.B) {
	srv := chartfetchtest.NewRepository(b, charts("podinfo")...)
	req := Request{URL: srv.URL, Chart: "podinfo", Version: "1.2.3"}
	for b.Loop() {
		if _, err := newFetcher(b, b.TempDir()).Fetch(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFetchOCI is a chart pulled from the in-process registry into an
// empty cache.
func BenchmarkFetchOCI(b *testing.B) {
	reg := chartfetchtest.NewRegistry(b)
	reg.Push(b, chartfetchtest.Chart("podinfo", "1.2.3"), "charts")
	req := Request{URL: "oci://" + reg.Host + "/charts/podinfo", Version: "1.2.3", PlainHTTP: true}
	for b.Loop() {
		if _, err := newFetcher(b, b.TempDir()).Fetch(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheHit is a run finding the chart in the cache: metadata read
// and archive digest verified, no request.
func BenchmarkCacheHit(b *testing.B) {
	srv := chartfetchtest.NewRepository(b, charts("podinfo")...)
	cache := b.TempDir()
	req := Request{URL: srv.URL, Chart: "podinfo", Version: "1.2.3"}
	if _, err := newFetcher(b, cache).Fetch(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := newFetcher(b, cache).Fetch(context.Background(), req)
		if err != nil || !c.Cached {
			b.Fatal(c, err)
		}
	}
}
