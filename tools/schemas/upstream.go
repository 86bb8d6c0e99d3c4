package schemas

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Upstream is a public Git source, at one tag, whose files the validator
// carries, so that a Kustomization reading it is rendered offline from the
// same files Flux would fetch: the repository's installed version of the
// Gateway API CRDs, not the validator's newest.
type Upstream struct {
	// URL and Tag are what a GitRepository names (spec.url, spec.ref.tag).
	URL string
	Tag string
	// Module is the Go module version the files are taken from: upstream
	// publishes the same tree under that tag.
	Module string
	// Dir is the subtree carried; Kustomizations must read inside it.
	Dir string
	// Commit is the upstream commit the tag names; Digest the sha256 of
	// the embedded archive (upstream/README.md lists both).
	Commit string
	Digest string
}

// Upstreams are the sources the binary embeds. Add one here, run
// `go test ./tools/schemas -update` (it takes the tree from the Go module
// cache), record its digest here and list it in upstream/README.md.
func Upstreams() []Upstream {
	return []Upstream{
		{
			URL: "https://github.com/kubernetes-sigs/gateway-api", Tag: "v1.5.1", Module: "sigs.k8s.io/gateway-api@v1.5.1", Dir: "config/crd",
			Commit: "e7677b70ae75d14a4448fba94870e7deea6cf0ad",
			Digest: "sha256:8091649f6ad148b18187152f222a6fcd43244d5e3f09c7984bfae61a3adab9ef",
		},
	}
}

//go:embed upstream/*.tar.gz
var upstreamFS embed.FS

// File is the embedded archive of u.
func (u Upstream) File() string {
	name := strings.NewReplacer("https://", "", "/", "_", "@", "_").Replace(strings.TrimSuffix(u.URL, ".git"))
	return "upstream/" + name + "_" + u.Tag + ".tar.gz"
}

// Extract writes u's files under dst, at their paths in the upstream
// repository.
func (u Upstream) Extract(dst string) error {
	data, err := upstreamFS.ReadFile(u.File())
	if err != nil {
		return fmt.Errorf("embedded %s@%s: %w", u.URL, u.Tag, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("embedded %s@%s: %w", u.URL, u.Tag, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("embedded %s@%s: %w", u.URL, u.Tag, err)
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			continue
		}
		p := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			return err
		}
	}
}
