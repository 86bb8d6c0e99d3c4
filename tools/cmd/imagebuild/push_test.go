package main

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/homelab-gitops/homelab/tools/internal/ociimage"
)

// TestPush pushes a layout to an in-memory registry on loopback and reads
// the index back by tag: the registry serves it under the digest built.
func TestPush(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // anonymous: no credentials of the machine
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()

	spec := builder{image: images[0], toolchain: "go-test", roots: []byte("roots\n")}.spec()
	var entries []ociimage.PlatformImage
	for _, p := range platforms {
		img, err := spec.Image(p, []byte("program for "+p.Architecture))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, ociimage.PlatformImage{Platform: p, Image: img})
	}
	idx, err := spec.Index(entries)
	if err != nil {
		t.Fatal(err)
	}
	want, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "web")
	if err := ociimage.WriteLayout(dir, idx, "web"); err != nil {
		t.Fatal(err)
	}

	host := strings.TrimPrefix(srv.URL, "http://")
	tag, err := name.NewTag(host+"/homelab-gitops/fitness-web:v0.0.1", name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if err := push(ctx, dir, tag, v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}); err == nil {
		t.Error("pushed a layout that does not hold the digest expected")
	}
	if err := push(ctx, dir, tag, want); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Index(tag, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := got.Digest(); err != nil || d != want {
		t.Fatalf("registry serves %s (%v) for %s, want %s", d, err, tag, want)
	}
	im, err := got.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		img, err := got.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := img.Layers(); err != nil {
			t.Errorf("%s: %v", m.Platform, err)
		}
	}
}
