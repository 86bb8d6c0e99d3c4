package chartmirror

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/ignore"
	"helm.sh/helm/v3/pkg/repo"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// Built is the result of packaging one chart.
type Built struct {
	Chart  Chart
	Data   []byte
	Digest string
	Time   time.Time
	// Meta is the packaged Chart.yaml, as Helm's loader read it.
	Meta *chart.Metadata
}

// Package builds the archive of c from its upstream source, with its
// dependencies embedded. The bytes depend only on the pinned commits.
func Package(ctx context.Context, srcs Sources, c Chart) (*Built, error) {
	co, err := prepare(ctx, srcs, c.Name, c.Version, c.Source)
	if err != nil {
		return nil, err
	}
	for _, d := range c.Dependencies {
		dco, err := prepare(ctx, srcs, d.Name, d.Version, d.Source)
		if err != nil {
			return nil, fmt.Errorf("%s dependency: %w", c.Name, err)
		}
		data, err := archive(d.Name, dco)
		if err != nil {
			return nil, err
		}
		co.files["charts/"+d.Name+"-"+d.Version+".tgz"] = file{data: data}
		co.time = later(co.time, dco.time)
	}
	data, err := archive(c.Name, co)
	if err != nil {
		return nil, err
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s %s: the packaged chart does not load: %w", c.Name, c.Version, err)
	}
	if ch.Metadata.Name != c.Name || ch.Metadata.Version != c.Version {
		return nil, fmt.Errorf("%s %s: the source at %s is chart %s %s", c.Name, c.Version, c.Tag, ch.Metadata.Name, ch.Metadata.Version)
	}
	return &Built{Chart: c, Data: data, Digest: Digest(data), Time: co.time, Meta: ch.Metadata}, nil
}

// Digest is the sha256 of data as "sha256:<hex>".
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// prepare reads a chart directory at its commit, applies the release steps
// and .helmignore, and checks the name and version.
func prepare(ctx context.Context, srcs Sources, name, version string, src Source) (*checkout, error) {
	co, err := readSource(ctx, srcs, src)
	if err != nil {
		return nil, err
	}
	if src.Release != nil {
		if err := src.Release.apply(co); err != nil {
			return nil, fmt.Errorf("%s %s release steps: %w", name, version, err)
		}
	}
	if _, ok := co.files["Chart.yaml"]; !ok {
		return nil, fmt.Errorf("%s: no Chart.yaml in %s at %s", src.Upstream, src.Path, src.Tag)
	}
	if err := co.helmignore(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", name, version, err)
	}
	return co, nil
}

// readSource reads src from a local Git copy, else from its Go module zip
// when it names a module, else from a clone.
func readSource(ctx context.Context, srcs Sources, src Source) (*checkout, error) {
	if src.Module != "" && srcs.Modules != nil && srcs.localGitDir(ctx, src.Upstream) == "" {
		return readModule(ctx, srcs.Modules, src)
	}
	dir, err := srcs.gitDir(ctx, src.Upstream)
	if err != nil {
		return nil, err
	}
	return read(ctx, dir, src)
}

func (r *Release) apply(co *checkout) error {
	generated := map[string]bool{}
	for _, g := range r.Files {
		from, ok := co.files[g.From]
		if !ok {
			return fmt.Errorf("file %s: template %s is not in the chart directory", g.Path, g.From)
		}
		out := string(from.data)
		for _, k := range sortedKeys(g.Replace) {
			out = strings.ReplaceAll(out, k, g.Replace[k])
		}
		co.files[g.Path] = file{data: []byte(out)}
		generated[g.Path] = true
	}
	set := maps.Clone(r.Set)
	if set == nil {
		set = map[string]string{}
	}
	for field, f := range r.SetFromFile {
		src, ok := co.files[f]
		if !ok {
			return fmt.Errorf("setFromFile %s: %s is not in the chart directory", field, f)
		}
		set[field] = string(src.data)
	}
	if len(set) > 0 {
		chart, ok := co.files["Chart.yaml"]
		if !ok {
			return fmt.Errorf("set: no Chart.yaml to change (make it with files)")
		}
		data, err := setFields(chart.data, set)
		if err != nil {
			return fmt.Errorf("Chart.yaml: %w", err)
		}
		co.files["Chart.yaml"] = file{data: data}
	}
	if len(r.Include) > 0 {
		for rel := range co.files {
			if !generated[rel] && !included(r.Include, rel) {
				delete(co.files, rel)
			}
		}
	}
	return nil
}

func included(patterns []string, rel string) bool {
	for _, pat := range patterns {
		if ok, _ := path.Match(pat, rel); ok {
			return true
		}
	}
	return false
}

// setFields sets Chart.yaml fields, keeping the file's order and comments.
// "annotations.<key>" sets one annotation.
func setFields(data []byte, set map[string]string) ([]byte, error) {
	node, err := kyaml.Parse(string(data))
	if err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(set) {
		value := kyaml.NewStringRNode(set[k])
		if key, ok := strings.CutPrefix(k, "annotations."); ok {
			err = node.PipeE(kyaml.LookupCreate(kyaml.MappingNode, "annotations"), kyaml.SetField(key, value))
		} else {
			err = node.PipeE(kyaml.SetField(k, value))
		}
		if err != nil {
			return nil, fmt.Errorf("set %s: %w", k, err)
		}
	}
	s, err := node.String()
	return []byte(s), err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// helmignore drops what `helm package` leaves out: the chart's .helmignore
// rules and Helm's defaults, applied to each file and its directories.
func (co *checkout) helmignore() error {
	rules := ignore.Empty()
	if f, ok := co.files[ignore.HelmIgnore]; ok {
		r, err := ignore.Parse(bytes.NewReader(f.data))
		if err != nil {
			return fmt.Errorf("%s: %w", ignore.HelmIgnore, err)
		}
		rules = r
	}
	rules.AddDefaults()
	for rel := range co.files {
		parts := strings.Split(rel, "/")
		for i := range parts {
			p := strings.Join(parts[:i+1], "/")
			if rules.Ignore(p, fakeInfo{name: parts[i], dir: i < len(parts)-1}) {
				delete(co.files, rel)
				break
			}
		}
	}
	return nil
}

type fakeInfo struct {
	name string
	dir  bool
}

func (f fakeInfo) Name() string { return f.name }
func (f fakeInfo) Size() int64  { return 0 }
func (f fakeInfo) Mode() fs.FileMode {
	if f.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.dir }
func (f fakeInfo) Sys() any           { return nil }

// archive writes a gzipped tar of the chart under <name>/, as `helm
// package` lays it out, with sorted entries, the commit time as every
// mtime, root ownership and no gzip name or time, so that the same
// sources always give the same bytes.
func archive(name string, co *checkout) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	rels := make([]string, 0, len(co.files))
	for rel := range co.files {
		rels = append(rels, rel)
	}
	slices.Sort(rels)
	for _, rel := range rels {
		f := co.files[rel]
		mode := int64(0o644)
		if f.exec {
			mode = 0o755
		}
		h := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     name + "/" + rel,
			Mode:     mode,
			Size:     int64(len(f.data)),
			ModTime:  co.time,
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Build packages every chart of spec into dir and writes index.yaml. A
// digest that differs from the spec's is an error unless update is set;
// with update the spec's digests are replaced (the caller saves it).
func Build(ctx context.Context, srcs Sources, spec *Spec, dir string, update bool) ([]*Built, error) {
	var built []*Built
	for i, c := range spec.Charts {
		b, err := Package(ctx, srcs, c)
		if err != nil {
			return nil, err
		}
		if c.Digest != b.Digest {
			if !update {
				return nil, fmt.Errorf("%s %s: built %s, %s records %s (run with -update after checking why)", c.Name, c.Version, b.Digest, SpecFile, c.Digest)
			}
			spec.Charts[i].Digest = b.Digest
			b.Chart.Digest = b.Digest
		}
		built = append(built, b)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, b := range built {
		if err := os.WriteFile(filepath.Join(dir, b.Chart.Archive()), b.Data, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", b.Chart.Archive(), err)
		}
	}
	index, err := Index(built)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, IndexFile), index, 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", IndexFile, err)
	}
	return built, nil
}

// Index is a Helm repository index of the archives with relative URLs, so
// that any static file server of the directory is a chart repository. Its
// times are the commit times, so it is reproducible too.
func Index(built []*Built) ([]byte, error) {
	idx := repo.NewIndexFile()
	var newest time.Time
	for _, b := range built {
		if err := idx.MustAdd(b.Meta, b.Chart.Archive(), "", strings.TrimPrefix(b.Digest, "sha256:")); err != nil {
			return nil, fmt.Errorf("index %s: %w", b.Chart.Archive(), err)
		}
		cv, err := idx.Get(b.Chart.Name, b.Chart.Version)
		if err != nil {
			return nil, err
		}
		cv.Created = b.Time
		newest = later(newest, b.Time)
	}
	idx.Generated = newest
	idx.SortEntries()
	return marshalIndex(idx)
}
