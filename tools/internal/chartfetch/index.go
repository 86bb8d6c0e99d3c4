package chartfetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/repo"
)

// maxIndexSize bounds a repository index, as source-controller does.
const maxIndexSize = 50 << 20

// userAgent names the validator to chart servers.
const userAgent = "gitops-validate"

// fromIndex fetches a chart of an HTTP chart repository: the version from
// its index.yaml, the archive from the URL the index gives, checked against
// the index's digest. An exact version already in the cache is used
// without reading the index.
func (f *Fetcher) fromIndex(ctx context.Context, req Request) (Chart, error) {
	source := strings.TrimSuffix(req.URL, "/")
	if req.Chart == "" {
		return Chart{}, fmt.Errorf("%s: no chart name", source)
	}
	var discarded []error
	if exactVersion(req.Version) {
		c, ok, err := f.reuse(f.entryDir(source, req.Chart+"-"+req.Version), source, "", "")
		if ok {
			return c, nil
		}
		discarded = append(discarded, err)
	}
	idx, err := f.index(ctx, source)
	if err != nil {
		return Chart{}, errors.Join(append([]error{err}, discarded...)...)
	}
	cv, err := indexVersion(idx, req.Chart, req.Version)
	if err != nil {
		return Chart{}, fmt.Errorf("%s/index.yaml: %w", source, err)
	}
	want := ""
	if cv.Digest != "" {
		want = "sha256:" + strings.TrimPrefix(cv.Digest, "sha256:")
	}
	dir := f.entryDir(source, req.Chart+"-"+cv.Version)
	c, ok, err := f.reuse(dir, source, want, "")
	if ok {
		return c, nil
	}
	discarded = append(discarded, err)
	fail := func(err error) (Chart, error) {
		return Chart{}, errors.Join(append([]error{err}, discarded...)...)
	}
	if len(cv.URLs) == 0 {
		return fail(fmt.Errorf("%s/index.yaml lists no URL for %s %s", source, req.Chart, cv.Version))
	}
	from, err := repo.ResolveReferenceURL(source, cv.URLs[0])
	if err != nil {
		return fail(fmt.Errorf("%s/index.yaml: %s %s: %w", source, req.Chart, cv.Version, err))
	}
	data, err := f.get(ctx, from)
	if err != nil {
		return fail(err)
	}
	if got := digestOf(data); want != "" && got != want {
		return fail(fmt.Errorf("%s has digest %s, but %s/index.yaml announces %s", from, got, source, want))
	}
	return f.store(dir, meta{Source: source, Chart: req.Chart, Version: cv.Version, Archive: req.Chart + "-" + cv.Version + ".tgz", URL: from}, data)
}

// index is the repository's index.yaml, read once per Fetcher.
func (f *Fetcher) index(ctx context.Context, source string) (*repo.IndexFile, error) {
	return f.indexes.Do(source, func() (*repo.IndexFile, error) {
		u := source + "/index.yaml"
		data, err := f.get(ctx, u)
		if err != nil {
			return nil, err
		}
		if len(data) > maxIndexSize {
			return nil, fmt.Errorf("%s is larger than %d bytes", u, maxIndexSize)
		}
		// Helm loads (and validates) an index from a file only.
		tmp, err := os.CreateTemp(f.dir, ".index-*.yaml")
		if err != nil {
			return nil, fmt.Errorf("chart cache: %w", err)
		}
		defer os.Remove(tmp.Name())
		_, err = tmp.Write(data)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("chart cache: %w", err)
		}
		idx, err := repo.LoadIndexFile(tmp.Name())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u, err)
		}
		return idx, nil
	})
}

// get downloads u with Helm's HTTP getter, anonymously, on the Fetcher's
// transport.
func (f *Fetcher) get(ctx context.Context, u string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("download %s: %w", u, err)
	}
	g, err := getter.NewHTTPGetter(getter.WithURL(u), getter.WithTransport(f.transport), getter.WithTimeout(f.timeout), getter.WithUserAgent(userAgent))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", u, err)
	}
	// Helm's getter takes no context: the request runs on its own,
	// bounded by the timeout, and a cancelled run stops waiting for it.
	type result struct {
		buf *bytes.Buffer
		err error
	}
	done := make(chan result, 1)
	go func() {
		buf, err := g.Get(u)
		done <- result{buf, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			// Helm's error names the URL.
			return nil, fmt.Errorf("download: %w", r.err)
		}
		return r.buf.Bytes(), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("download %s: %w", u, ctx.Err())
	}
}
