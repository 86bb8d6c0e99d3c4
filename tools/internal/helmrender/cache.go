package helmrender

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// RenderCache keeps what charts rendered, by everything the render
// depends on: the chart (every file of it and its subcharts), the values,
// the release name and namespace, the capabilities, the install options
// that change the output, the post-renderers and the validator's build.
// A validator run then renders only the charts whose inputs changed since
// an earlier run; on this repository, charts were a third of the CPU time
// of a run, and Cilium's alone made an RSA key for its Hubble CA and for
// each certificate.
//
// A chart that generates keys or random strings renders the same ones
// while its entry is kept, which makes the diff of --base quieter, not
// less true: the cluster gets new ones on every upgrade anyway.
//
// Entries not used for a week are removed, at most once a day. Two
// processes may share the directory: entries are written to a temporary
// file and renamed into place. A cache that cannot be read or written
// costs a render, never the run.
type RenderCache struct {
	dir string
	// build identifies the validator's build, part of every key.
	build string
	now   func() time.Time
}

const (
	cacheFormat = "gitops-validate chart render 2"
	// cacheUnused is how long an entry is kept without being used.
	cacheUnused = 7 * 24 * time.Hour
	// cacheTouch is how stale an entry's time may be before a use renews
	// it: renewing on every use would write on every run.
	cacheTouch = 24 * time.Hour
)

// NewRenderCache returns a cache in dir, created when first written.
func NewRenderCache(dir string) *RenderCache {
	return &RenderCache{dir: dir, build: buildID(), now: time.Now}
}

// buildID identifies the validator's build, so that a new build (another
// Helm, a change to kustomize's patches or to this package) renders
// anew: the Go build ID of the executable, which stays the same when the
// same sources are linked again (go run), else the module versions.
func buildID() string {
	if exe, err := os.Executable(); err == nil {
		if f, err := elf.Open(exe); err == nil {
			defer f.Close()
			if sec := f.Section(".note.go.buildid"); sec != nil {
				if data, err := sec.Data(); err == nil && len(data) > 0 {
					return string(data)
				}
			}
		}
	}
	var b strings.Builder
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
			fmt.Fprintf(&b, "%s@%s %s\n", m.Path, m.Version, m.Sum)
			if r := m.Replace; r != nil {
				fmt.Fprintf(&b, " => %s@%s %s\n", r.Path, r.Version, r.Sum)
			}
		}
	}
	return b.String()
}

// DefaultRenderCacheDir is gitops-validate/renders under the user's cache
// directory ($XDG_CACHE_HOME or ~/.cache on Linux).
func DefaultRenderCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("render cache: %w", err)
	}
	return filepath.Join(base, "gitops-validate", "renders"), nil
}

// renderInput is everything a render depends on besides the chart's files.
type renderInput struct {
	Format        string
	Build         string
	DisableHooks  bool
	PostRenderers []helmv2.PostRenderer
	Values        any
	Release       any
	Capabilities  any
}

// key is the entry of chrt rendered with values (from ToRenderValues) and
// post-rendered with postRenderers.
func (c *RenderCache) key(chrt *chart.Chart, values chartutil.Values, disableHooks bool, postRenderers []helmv2.PostRenderer) (string, error) {
	h := sha256.New()
	in, err := json.Marshal(renderInput{
		Format: cacheFormat, Build: c.build, DisableHooks: disableHooks, PostRenderers: postRenderers,
		Values: values["Values"], Release: values["Release"], Capabilities: values["Capabilities"],
	})
	if err != nil {
		return "", err
	}
	h.Write(in)
	if err := hashChart(h, chrt); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashChart writes chrt and its subcharts, every field the engine reads,
// to h. Each part is preceded by its length, so that no two charts write
// the same bytes.
func hashChart(h io.Writer, chrt *chart.Chart) error {
	part := func(b []byte) {
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	meta, err := json.Marshal(chrt.Metadata)
	if err != nil {
		return err
	}
	part(meta)
	vals, err := json.Marshal(chrt.Values)
	if err != nil {
		return err
	}
	part(vals)
	part(chrt.Schema)
	for _, files := range [][]*chart.File{chrt.Templates, chrt.Files} {
		fmt.Fprintf(h, "%d files:", len(files))
		for _, f := range files {
			part([]byte(f.Name))
			part(f.Data)
		}
	}
	deps := chrt.Dependencies()
	fmt.Fprintf(h, "%d charts:", len(deps))
	for _, d := range deps {
		if err := hashChart(h, d); err != nil {
			return err
		}
	}
	return nil
}

// cachedObject is one rendered object in an entry.
type cachedObject struct {
	Template string          `json:"template"`
	Object   json.RawMessage `json:"object"`
}

type cacheEntry struct {
	Manifests []cachedObject `json:"manifests"`
	Hooks     []cachedObject `json:"hooks"`
}

func (c *RenderCache) path(key string) string {
	return filepath.Join(c.dir, key[:2], key+".json")
}

// get returns the manifests and hooks of key, if the cache has them.
func (c *RenderCache) get(key string) (manifests, hooks []object, ok bool) {
	p := c.path(key)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, false
	}
	var e cacheEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, nil, false // a damaged entry is rendered again and replaced
	}
	if manifests, err = fromCache(e.Manifests); err != nil {
		return nil, nil, false
	}
	if hooks, err = fromCache(e.Hooks); err != nil {
		return nil, nil, false
	}
	if fi, err := os.Stat(p); err == nil && c.now().Sub(fi.ModTime()) > cacheTouch {
		now := c.now()
		_ = os.Chtimes(p, now, now)
	}
	return manifests, hooks, true
}

func fromCache(cos []cachedObject) ([]object, error) {
	out := make([]object, 0, len(cos))
	for _, co := range cos {
		// The numbers as the YAML decoder gives them (int64 or float64).
		var m map[string]any
		if err := utiljson.Unmarshal(co.Object, &m); err != nil {
			return nil, err
		}
		if m == nil {
			return nil, errors.New("empty object")
		}
		out = append(out, object{&unstructured.Unstructured{Object: m}, co.Template})
	}
	return out, nil
}

func toCache(objs []object) ([]cachedObject, error) {
	out := make([]cachedObject, 0, len(objs))
	for _, o := range objs {
		data, err := json.Marshal(o.u.Object)
		if err != nil {
			return nil, err
		}
		out = append(out, cachedObject{o.template, data})
	}
	return out, nil
}

// put stores the manifests (post-rendered) and hooks of key.
func (c *RenderCache) put(key string, manifests, hooks []object) error {
	var e cacheEntry
	var err error
	if e.Manifests, err = toCache(manifests); err != nil {
		return err
	}
	if e.Hooks, err = toCache(hooks); err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	c.trim()
	return nil
}

// trim removes the entries not used for cacheUnused, at most once per
// cacheTouch (the time of the file "trimmed" says when it last did).
func (c *RenderCache) trim() {
	marker := filepath.Join(c.dir, "trimmed")
	now := c.now()
	if fi, err := os.Stat(marker); err == nil && now.Sub(fi.ModTime()) < cacheTouch {
		return
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		return
	}
	_ = os.Chtimes(marker, now, now)
	_ = filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == marker {
			return nil
		}
		if fi, err := d.Info(); err == nil && now.Sub(fi.ModTime()) > cacheUnused {
			os.Remove(p)
		}
		return nil
	})
}
