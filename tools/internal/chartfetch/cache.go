package chartfetch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// metaFile is the metadata file of a cache entry, beside the archive.
const metaFile = "meta.json"

// meta records where an archive came from and its digest.
type meta struct {
	// Source is the repository URL the entry is keyed by.
	Source string `json:"source"`
	Chart  string `json:"chart"`
	// Version is the chart's version.
	Version string `json:"version"`
	// Archive is the file name of the .tgz in the entry.
	Archive string `json:"archive"`
	// Digest is the archive's sha256, "sha256:<hex>".
	Digest         string    `json:"digest"`
	ManifestDigest string    `json:"manifestDigest,omitempty"`
	URL            string    `json:"url"`
	Fetched        time.Time `json:"fetched"`
}

func (m meta) chart(dir string, cached bool) Chart {
	return Chart{
		Path: filepath.Join(dir, m.Archive), Name: m.Chart, Version: m.Version,
		Digest: m.Digest, ManifestDigest: m.ManifestDigest, From: m.URL, Cached: cached,
	}
}

var unsafeRe = regexp.MustCompile(`[^A-Za-z0-9._+@-]+`)

// sourceDir is the cache directory of a source URL: readable, and unique
// by a hash of the exact URL.
func (f *Fetcher) sourceDir(source string) string {
	sum := sha256.Sum256([]byte(source))
	readable := unsafeRe.ReplaceAllString(stripScheme(source), "_")
	if len(readable) > 80 {
		readable = readable[:80]
	}
	return filepath.Join(f.dir, readable+"-"+hex.EncodeToString(sum[:6]))
}

// entryDir is the entry of one chart version (or digest) of a source.
func (f *Fetcher) entryDir(source, name string) string {
	return filepath.Join(f.sourceDir(source), unsafeRe.ReplaceAllString(name, "_"))
}

// reuse returns the entry in dir when it exists and verifies: its metadata
// names source, the archive's sha256 is the recorded one, and it is want
// (a digest the source announces now) when want is set; wantManifest
// likewise for an OCI manifest. A damaged or stale entry is removed and
// the reason returned, so that the caller fetches it again.
func (f *Fetcher) reuse(dir, source, want, wantManifest string) (Chart, bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, metaFile))
	problem := func(format string, args ...any) (Chart, bool, error) {
		err := fmt.Errorf("cache entry %s: "+format, append([]any{dir}, args...)...)
		f.log.Warn("discarding a chart cache entry and fetching it again", "reason", err)
		if rmErr := f.remove(dir); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
		return Chart{}, false, err
	}
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			return Chart{}, false, nil
		}
		// Entries are renamed into place whole: this one was changed.
		return problem("no %s", metaFile)
	}
	if err != nil {
		return problem("%w", err)
	}
	var m meta
	if err := json.Unmarshal(data, &m); err != nil {
		return problem("%s: %w", metaFile, err)
	}
	if m.Source != source || m.Archive == "" || filepath.Base(m.Archive) != m.Archive {
		return problem("%s names source %q and archive %q, want source %q", metaFile, m.Source, m.Archive, source)
	}
	got, err := fileDigest(filepath.Join(dir, m.Archive))
	if err != nil {
		return problem("%w", err)
	}
	if got != m.Digest {
		return problem("archive %s has digest %s, recorded %s: it was changed after it was fetched", m.Archive, got, m.Digest)
	}
	if want != "" && want != m.Digest {
		return problem("the source now announces %s for %s-%s, the cache holds %s", want, m.Chart, m.Version, m.Digest)
	}
	if wantManifest != "" && wantManifest != m.ManifestDigest {
		return problem("manifest %s recorded, want %s", m.ManifestDigest, wantManifest)
	}
	return m.chart(dir, true), true, nil
}

// store writes archive and its metadata as the entry dir, atomically: both
// are written into a temporary directory beside it and renamed into place,
// so a concurrent run sees the whole entry or none. When another run
// stored the entry first, its entry is used if it verifies.
func (f *Fetcher) store(dir string, m meta, archive []byte) (Chart, error) {
	m.Digest = digestOf(archive)
	m.Fetched = time.Now().UTC()
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Chart{}, fmt.Errorf("chart cache: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-")
	if err != nil {
		return Chart{}, fmt.Errorf("chart cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Chart{}, fmt.Errorf("chart cache metadata: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, m.Archive), archive, 0o644); err != nil {
		return Chart{}, fmt.Errorf("chart cache: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, metaFile), append(data, '\n'), 0o644); err != nil {
		return Chart{}, fmt.Errorf("chart cache: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Chart{}, fmt.Errorf("chart cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another run stored this entry meanwhile (renaming onto a
		// non-empty directory fails): use it if it is the same chart.
		if c, ok, rerr := f.reuse(dir, m.Source, m.Digest, m.ManifestDigest); ok {
			return c, nil
		} else if rerr != nil {
			err = errors.Join(err, rerr)
		}
		return Chart{}, fmt.Errorf("chart cache: %w", err)
	}
	return m.chart(dir, false), nil
}

// remove deletes an entry: renamed away first, so that no run sees it half
// deleted.
func (f *Fetcher) remove(dir string) error {
	trash, err := os.MkdirTemp(filepath.Dir(dir), ".trash-")
	if err != nil {
		return fmt.Errorf("chart cache: %w", err)
	}
	defer os.RemoveAll(trash)
	if err := os.Rename(dir, filepath.Join(trash, "entry")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("chart cache: remove %s: %w", dir, err)
	}
	return nil
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func fileDigest(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
