package validate

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/homelab-gitops/homelab/tools/internal/chartfetch/chartfetchtest"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

// fetchedReleases are HelmReleases whose charts are nowhere in the
// repository: from an HTTP chart repository (a version range), through
// chartRef from an OCIRepository of an OCI registry, from a HelmRepository
// of type oci, through chartRef from a HelmChart of the HTTP repository,
// and from a HelmRepository that needs credentials.
const fetchedReleases = `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
spec:
  interval: 24h
  url: REPO_URL
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello
spec:
  interval: 30m
  chart:
    spec:
      chart: hello
      version: "~0.2.0"
      sourceRef:
        kind: HelmRepository
        name: charts
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: hello-oci
spec:
  interval: 24h
  url: oci://REGISTRY/charts/hello
  insecure: true
  layerSelector:
    mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip
    operation: copy
  ref:
    tag: 0.4.0
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello-oci
spec:
  interval: 30m
  chartRef:
    kind: OCIRepository
    name: hello-oci
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts-oci
spec:
  interval: 24h
  type: oci
  url: oci://REGISTRY/charts
  insecure: true
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello-helmoci
spec:
  interval: 30m
  chart:
    spec:
      chart: hello
      version: 0.4.0
      sourceRef:
        kind: HelmRepository
        name: charts-oci
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata:
  name: hello-chart
spec:
  interval: 30m
  chart: hello
  version: 0.3.0
  sourceRef:
    kind: HelmRepository
    name: charts
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: hello-helmchart
spec:
  interval: 30m
  chartRef:
    kind: HelmChart
    name: hello-chart
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: private
spec:
  interval: 24h
  url: REPO_URL
  secretRef:
    name: private-charts
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: private
spec:
  interval: 30m
  chart:
    spec:
      chart: hello
      version: 0.2.0
      sourceRef:
        kind: HelmRepository
        name: private
`

// helloChart is the fixture chart at version with its values.yaml edited.
func helloChart(t *testing.T, version string, edit func(string) string) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(filepath.Join("testdata", "cases", "helm-chart", "charts", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	ch.Metadata.Version = version
	for _, f := range ch.Raw {
		if f.Name == "values.yaml" {
			f.Data = []byte(edit(string(f.Data)))
		}
	}
	return ch
}

// loopbackSources points the fixture's chart sources outside this test
// (the clean fixture's jetstack HelmRepository) at url, a loopback server,
// and fails the test if any HTTP or OCI source URL outside loopback is
// left: a test fetches from its own servers only.
func loopbackSources(t *testing.T, dir, url string) {
	t.Helper()
	file := filepath.Join(dir, "infrastructure", "controllers", "cert-manager.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), "https://charts.jetstack.io", url, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	remote := regexp.MustCompile(`url: *"?(https?|oci)://([^/:"]+)`)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(p)
		for _, m := range remote.FindAllStringSubmatch(string(data), -1) {
			if m[2] != "127.0.0.1" {
				t.Fatalf("%s: source %s is not on loopback", p, m[0])
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFetchedCharts: with fetching on, the charts of an HTTP chart
// repository and of an OCI registry are fetched, rendered and checked like
// any chart; a second run uses the cache without a request; with the
// servers down and no cache, each release is an honest not-rendered info
// saying why; without fetching nothing is requested.
func TestFetchedCharts(t *testing.T) {
	latest := func(s string) string { return strings.Replace(s, `tag: "1.0.0"`, "tag: latest", 1) }
	misspelt := func(s string) string { return strings.Replace(s, "extraReplica: false", "extraReplica: true", 1) }
	same := func(s string) string { return s }
	repo := chartfetchtest.NewRepository(t, helloChart(t, "0.2.0", same), helloChart(t, "0.2.1", latest), helloChart(t, "0.3.0", same))
	reg := chartfetchtest.NewRegistry(t)
	reg.Push(t, helloChart(t, "0.4.0", misspelt), "charts")

	dir := chartFixture(t, map[string]string{"apps/web/hello.yaml": strings.NewReplacer("REPO_URL", repo.URL, "REGISTRY", reg.Host).Replace(fetchedReleases)})
	loopbackSources(t, dir, repo.URL)
	if err := os.RemoveAll(filepath.Join(dir, "charts")); err != nil {
		t.Fatal(err)
	}
	on, off := true, false
	cache := t.TempDir()
	run := func(fetch bool, cache string) *Report {
		t.Helper()
		rep, err := Run(context.Background(), Options{Root: dir, Policies: policies(t), FetchCharts: &fetch, FetchCache: cache})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}

	rep := run(on, cache)
	// The range resolved to 0.2.1, whose image is :latest: a policy
	// finding on an object of the fetched chart.
	mustFind(t, rep, "security-image-pinned", "apps/web/hello.yaml", []string{":latest", "hello/templates/deployment.yaml"})
	t.Log(mustFind(t, rep, finding.HelmVersion, "apps/web/hello.yaml", []string{"~0.2.0", "rendered hello-0.2.1 from " + repo.URL + "/hello-0.2.1.tgz"}).Message)
	// The OCI chart misspells a Deployment field: a schema finding.
	mustFind(t, rep, finding.SchemaInvalid, "apps/web/hello.yaml", []string{"spec.replica", "HelmRelease web/hello-oci"})
	mustFind(t, rep, finding.HelmNotRendered, "apps/web/hello.yaml", []string{"HelmRelease web/private", "HelmRepository web/private uses spec.secretRef private-charts", "anonymously"})
	mustFind(t, rep, finding.SchemaInvalid, "apps/web/hello.yaml", []string{"spec.replica", "HelmRelease web/hello-helmoci"})
	for _, name := range []string{"hello-hello", "hello-oci-hello", "hello-helmoci-hello", "hello-helmchart-hello"} {
		if chartObject(rep, "Deployment", name) == nil {
			logFindings(t, rep)
			t.Fatalf("the fetched chart's Deployment %s is not among the rendered objects", name)
		}
	}
	for _, f := range rep.Findings {
		if f.Rule == finding.HelmNotRendered && f.Object.Name != "private" && f.Object.Name != "cert-manager" {
			t.Errorf("fetched chart not rendered: %s", f.Message)
		}
	}
	requests := repo.Requests() + reg.Requests()
	if requests == 0 {
		t.Fatal("no request reached the chart servers")
	}

	// Second run, same cache: the HTTP range reads the index again (one
	// request); the OCI tag is served from the cache.
	repoBefore, regBefore := repo.Requests(), reg.Requests()
	again := run(on, cache)
	if n, m := repo.Requests()-repoBefore, reg.Requests()-regBefore; n != 1 || m != 0 {
		t.Errorf("second run made %d chart repository and %d registry requests, want 1 (the index for the range) and 0", n, m)
	}
	if len(again.Findings) != len(rep.Findings) {
		t.Errorf("second run: %d findings, first %d", len(again.Findings), len(rep.Findings))
	}

	// Fetching off: not one request, the releases are not rendered.
	repoBefore, regBefore = repo.Requests(), reg.Requests()
	offline := run(off, cache)
	if n := repo.Requests() - repoBefore + reg.Requests() - regBefore; n != 0 {
		t.Errorf("without fetching: %d requests", n)
	}
	mustFind(t, offline, finding.HelmNotRendered, "apps/web/hello.yaml", []string{"HelmRelease web/hello-oci", "no chart cache is configured"})

	// Servers down, empty cache: an info saying what failed, no pass.
	repo.Close()
	reg.Close()
	down := run(on, t.TempDir())
	for _, name := range []string{"hello", "hello-oci", "hello-helmoci", "hello-helmchart"} {
		f := mustFind(t, down, finding.HelmNotRendered, "apps/web/hello.yaml", []string{"HelmRelease web/" + name + ":", "failed", "connection refused"})
		if f.Severity != finding.Info {
			t.Errorf("%s: severity %s, want info", f.Rule, f.Severity)
		}
	}
	if chartObject(down, "Deployment", "hello-hello") != nil {
		t.Error("a chart that could not be fetched was rendered")
	}
}

// TestFetchCacheConfig: fetchCharts and fetchCache in the config file turn
// fetching on and place the cache in the repository; the option turns it
// off again.
func TestFetchCacheConfig(t *testing.T) {
	repo := chartfetchtest.NewRepository(t, helloChart(t, "0.2.0", func(s string) string { return s }))
	dir := chartFixture(t, map[string]string{
		"apps/web/hello.yaml":   strings.Replace(cachedRelease, "https://charts.example.com", repo.URL, 1),
		".gitops-validate.yaml": "fetchCharts: true\nfetchCache: .cache/fetched\n",
	})
	loopbackSources(t, dir, repo.URL)
	if err := os.RemoveAll(filepath.Join(dir, "charts")); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{Root: dir, Policies: policies(t)})
	if err != nil {
		t.Fatal(err)
	}
	if chartObject(rep, "Deployment", "hello-hello") == nil {
		logFindings(t, rep)
		t.Fatal("the chart was not fetched with fetchCharts: true")
	}
	entries, _ := filepath.Glob(filepath.Join(dir, ".cache", "fetched", "*", "hello-0.2.0", "hello-0.2.0.tgz"))
	if len(entries) != 1 {
		t.Errorf("fetched archive not under fetchCache: %v", entries)
	}
	before := repo.Requests()
	off := false
	if _, err := Run(context.Background(), Options{Root: dir, Policies: policies(t), FetchCharts: &off}); err != nil {
		t.Fatal(err)
	}
	if n := repo.Requests() - before; n != 0 {
		t.Errorf("FetchCharts false made %d requests", n)
	}
	testfs.Write(t, dir, map[string]string{".gitops-validate.yaml": "fetchCharts: yes please\n"})
	if _, err := Run(context.Background(), Options{Root: dir}); err == nil || !strings.Contains(err.Error(), ".gitops-validate.yaml") {
		t.Errorf("bad fetchCharts value: error %v, want one naming the config file", err)
	}
}
