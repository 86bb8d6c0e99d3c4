package ociimage_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/homelab-gitops/homelab/tools/internal/ociimage"
)

var platforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64"},
}

var (
	programsOnce sync.Once
	programs     map[string][]byte
	programsErr  error
)

// helloPrograms compiles testdata/hello once per test binary for every
// platform, the way imagebuild compiles the services.
func helloPrograms(t *testing.T) map[string][]byte {
	t.Helper()
	programsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ociimage-hello-")
		if err != nil {
			programsErr = err
			return
		}
		defer os.RemoveAll(dir)
		programs = map[string][]byte{}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		for _, p := range platforms {
			out := filepath.Join(dir, p.Architecture)
			if err := ociimage.Compile(ctx, ".", "./testdata/hello", p, out); err != nil {
				programsErr = err
				return
			}
			data, err := os.ReadFile(out)
			if err != nil {
				programsErr = err
				return
			}
			programs[p.Architecture] = data
		}
	})
	if programsErr != nil {
		t.Fatal(programsErr)
	}
	return programs
}

func testSpec() ociimage.Spec {
	return ociimage.Spec{
		Name:      "hello",
		Labels:    map[string]string{"org.opencontainers.image.source": "https://example.com/hello"},
		Created:   time.Unix(0, 0).UTC(),
		CreatedBy: "go build ./testdata/hello",
		CACerts:   []byte("not a certificate, only bytes\n"),
	}
}

// buildIndex builds the index of spec over progs, one image per platform.
func buildIndex(t *testing.T, spec ociimage.Spec, progs map[string][]byte) v1.ImageIndex {
	t.Helper()
	var images []ociimage.PlatformImage
	for _, p := range platforms {
		img, err := spec.Image(p, progs[p.Architecture])
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, ociimage.PlatformImage{Platform: p, Image: img})
	}
	idx, err := spec.Index(images)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func digest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestBuildIsReproducible(t *testing.T) {
	progs := helloPrograms(t)
	first := buildIndex(t, testSpec(), progs)
	second := buildIndex(t, testSpec(), progs)
	if a, b := digest(t, first), digest(t, second); a != b {
		t.Fatalf("two builds of the same programs: index digests %s and %s", a, b)
	}

	// Written to two layouts and read back, the digest is still the same.
	var read []v1.Hash
	for _, idx := range []v1.ImageIndex{first, second} {
		dir := t.TempDir()
		if err := ociimage.WriteLayout(dir, idx, "hello:test"); err != nil {
			t.Fatal(err)
		}
		back, err := ociimage.ReadLayout(dir)
		if err != nil {
			t.Fatal(err)
		}
		read = append(read, digest(t, back))
	}
	if read[0] != read[1] || read[0] != digest(t, first) {
		t.Fatalf("digests read back from layouts: %v, built: %s", read, digest(t, first))
	}
}

func TestDigestFollowsContent(t *testing.T) {
	progs := helloPrograms(t)
	base := digest(t, buildIndex(t, testSpec(), progs))

	changedProgram := map[string][]byte{}
	for arch, p := range progs {
		changedProgram[arch] = append(slices.Clone(p), 0)
	}
	changedLabel := testSpec()
	changedLabel.Labels = map[string]string{"org.opencontainers.image.source": "https://example.com/other"}
	changedCA := testSpec()
	changedCA.CACerts = []byte("other bytes\n")

	tests := []struct {
		name  string
		spec  ociimage.Spec
		progs map[string][]byte
	}{
		{"program", testSpec(), changedProgram},
		{"label", changedLabel, progs},
		{"ca bundle", changedCA, progs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := digest(t, buildIndex(t, tt.spec, tt.progs)); got == base {
				t.Errorf("changing the %s left the index digest at %s", tt.name, got)
			}
		})
	}
}

func TestIndexListsBothPlatforms(t *testing.T) {
	idx := buildIndex(t, testSpec(), helloPrograms(t))
	mt, err := idx.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	if mt != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", mt, types.OCIImageIndex)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range im.Manifests {
		if m.MediaType != types.OCIManifestSchema1 {
			t.Errorf("manifest %s has media type %s", m.Digest, m.MediaType)
		}
		if m.Platform == nil {
			t.Errorf("manifest %s has no platform", m.Digest)
			continue
		}
		got = append(got, m.Platform.String())
	}
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(got, want) {
		t.Errorf("platforms %v, want %v", got, want)
	}
	if im.Annotations["org.opencontainers.image.source"] != "https://example.com/hello" {
		t.Errorf("index annotations %v lack the source label", im.Annotations)
	}
}

func platformImage(t *testing.T, idx v1.ImageIndex, arch string) v1.Image {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.Architecture == arch {
			img, err := idx.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("no %s image in the index", arch)
	return nil
}

func TestImageConfig(t *testing.T) {
	idx := buildIndex(t, testSpec(), helloPrograms(t))
	for _, p := range platforms {
		t.Run(p.Architecture, func(t *testing.T) {
			img := platformImage(t, idx, p.Architecture)
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			c := cf.Config
			if c.User != "65532:65532" {
				t.Errorf("user %q, want 65532:65532", c.User)
			}
			if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/hello"}) {
				t.Errorf("entrypoint %q", c.Entrypoint)
			}
			if c.Cmd != nil || c.Shell != nil {
				t.Errorf("cmd %q, shell %q: want none", c.Cmd, c.Shell)
			}
			if c.WorkingDir != "/home/nonroot" {
				t.Errorf("working dir %q", c.WorkingDir)
			}
			if c.Labels["org.opencontainers.image.source"] != "https://example.com/hello" {
				t.Errorf("labels %v", c.Labels)
			}
			if !cf.Created.Equal(time.Unix(0, 0)) {
				t.Errorf("created %v, want the fixed time", cf.Created)
			}
			if cf.OS != "linux" || cf.Architecture != p.Architecture {
				t.Errorf("platform %s/%s, want linux/%s", cf.OS, cf.Architecture, p.Architecture)
			}
			if len(cf.RootFS.DiffIDs) != 1 || len(cf.History) != 1 {
				t.Errorf("%d layers and %d history entries, want one each", len(cf.RootFS.DiffIDs), len(cf.History))
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.Config.MediaType != types.OCIConfigJSON || m.Layers[0].MediaType != types.OCILayer {
				t.Errorf("config %s, layer %s: want OCI media types", m.Config.MediaType, m.Layers[0].MediaType)
			}
		})
	}
}

// entry is a tar header with its data.
type entry struct {
	hdr  *tar.Header
	data []byte
}

func layerEntries(t *testing.T, img v1.Image) []entry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var entries []entry
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, entry{hdr, data})
	}
}

func TestLayerContents(t *testing.T) {
	progs := helloPrograms(t)
	img := platformImage(t, buildIndex(t, testSpec(), progs), "amd64")
	entries := layerEntries(t, img)

	byName := map[string]entry{}
	var names []string
	for _, e := range entries {
		names = append(names, e.hdr.Name)
		byName[e.hdr.Name] = e
		if !e.hdr.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: mtime %v, want the Unix epoch", e.hdr.Name, e.hdr.ModTime)
		}
		if e.hdr.Uname != "" || e.hdr.Gname != "" {
			t.Errorf("%s: owner names %q:%q, want numeric ids only", e.hdr.Name, e.hdr.Uname, e.hdr.Gname)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("entries not sorted: %v", names)
	}

	tests := []struct {
		name     string
		typ      byte
		mode     int64
		uid, gid int
		contains string
	}{
		{"usr/local/bin/hello", tar.TypeReg, 0o755, 0, 0, ""},
		{"etc/passwd", tar.TypeReg, 0o644, 0, 0, "nonroot:x:65532:65532:"},
		{"etc/group", tar.TypeReg, 0o644, 0, 0, "nonroot:x:65532:"},
		{"etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, 0, "not a certificate"},
		{"home/nonroot/", tar.TypeDir, 0o700, 65532, 65532, ""},
		{"tmp/", tar.TypeDir, 0o1777, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := byName[tt.name]
			if !ok {
				t.Fatalf("not in the layer (entries: %v)", names)
			}
			h := e.hdr
			if h.Typeflag != tt.typ || h.Mode != tt.mode || h.Uid != tt.uid || h.Gid != tt.gid {
				t.Errorf("type %c mode %o owner %d:%d, want type %c mode %o owner %d:%d",
					h.Typeflag, h.Mode, h.Uid, h.Gid, tt.typ, tt.mode, tt.uid, tt.gid)
			}
			if !strings.Contains(string(e.data), tt.contains) {
				t.Errorf("content %.80q lacks %q", e.data, tt.contains)
			}
		})
	}
	if got := byName["usr/local/bin/hello"].data; !bytes.Equal(got, progs["amd64"]) {
		t.Errorf("program in the layer (%d bytes) differs from the one compiled (%d bytes)", len(got), len(progs["amd64"]))
	}
	for _, shell := range []string{"bin/sh", "bin/bash", "usr/bin/env"} {
		if _, ok := byName[shell]; ok {
			t.Errorf("the image has %s", shell)
		}
	}
}

func TestWriteTarIsCanonical(t *testing.T) {
	files := testSpec().Files([]byte("program"))
	var want bytes.Buffer
	if err := ociimage.WriteTar(&want, files); err != nil {
		t.Fatal(err)
	}
	reversed := slices.Clone(files)
	slices.Reverse(reversed)
	var got bytes.Buffer
	if err := ociimage.WriteTar(&got, reversed); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Error("the same files in another order give another tar archive")
	}
}

func TestWriteTarRejects(t *testing.T) {
	root := ociimage.Dir("etc", 0o755, 0, 0)
	tests := []struct {
		name  string
		files []ociimage.File
		want  string
	}{
		{"missing parent", []ociimage.File{ociimage.Regular("etc/passwd", 0o644, nil)}, "parent directory etc"},
		{"duplicate", []ociimage.File{root, root}, "listed twice"},
		{"absolute", []ociimage.File{ociimage.Dir("/etc", 0o755, 0, 0)}, "clean relative path"},
		{"outside", []ociimage.File{ociimage.Regular("../passwd", 0o644, nil)}, "clean relative path"},
		{"unclean", []ociimage.File{root, ociimage.Regular("etc//passwd", 0o644, nil)}, "clean relative path"},
		{"symlink", []ociimage.File{{Path: "sh", Mode: fs.ModeSymlink | 0o777}}, "unsupported file mode"},
		{"directory with data", []ociimage.File{{Path: "etc", Mode: fs.ModeDir | 0o755, Data: []byte("x")}}, "no data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ociimage.WriteTar(io.Discard, tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestExtractedProgramRuns(t *testing.T) {
	if runtime.GOOS != "linux" || !slices.ContainsFunc(platforms, func(p v1.Platform) bool { return p.Architecture == runtime.GOARCH }) {
		t.Skipf("the images are for linux/amd64 and linux/arm64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := ociimage.WriteLayout(dir, buildIndex(t, testSpec(), helloPrograms(t)), "hello:test"); err != nil {
		t.Fatal(err)
	}
	idx, err := ociimage.ReadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	img := platformImage(t, idx, runtime.GOARCH)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	entrypoint := strings.TrimPrefix(cf.Config.Entrypoint[0], "/")
	var program []byte
	for _, e := range layerEntries(t, img) {
		if e.hdr.Name == entrypoint {
			program = e.data
		}
	}
	if program == nil {
		t.Fatalf("the layer has no %s, the entrypoint", entrypoint)
	}
	bin := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(bin, program, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-name", "test").CombinedOutput()
	if err != nil {
		t.Fatalf("run the extracted program: %v\n%s", err, out)
	}
	if want := "hello, test, from linux/" + runtime.GOARCH + "\n"; string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func TestWriteLayoutReplacesOnlyLayouts(t *testing.T) {
	idx := buildIndex(t, testSpec(), map[string][]byte{"amd64": []byte("a"), "arm64": []byte("b")})
	dir := t.TempDir()
	if err := ociimage.WriteLayout(dir, idx, "hello:test"); err != nil {
		t.Fatal(err)
	}
	// A second write replaces the first: still one entry in index.json.
	if err := ociimage.WriteLayout(dir, idx, "hello:test"); err != nil {
		t.Fatal(err)
	}
	if _, err := ociimage.ReadLayout(dir); err != nil {
		t.Errorf("after a rewrite: %v", err)
	}

	other := t.TempDir()
	keep := filepath.Join(other, "keep.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ociimage.WriteLayout(other, idx, "hello:test"); err == nil {
		t.Error("wrote a layout over a directory that is not one")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the other directory's file is gone: %v", err)
	}
}

func TestSBOM(t *testing.T) {
	progs := helloPrograms(t)
	spec := testSpec()
	h := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	build := func() []byte {
		doc, err := ociimage.NewSBOM(spec, "ghcr.io/example/hello", h, "https://example.com/sbom", progs["amd64"], progs["arm64"])
		if err != nil {
			t.Fatal(err)
		}
		data, err := doc.JSON()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	first := build()
	if !bytes.Equal(first, build()) {
		t.Error("two SBOMs of the same programs differ")
	}
	for _, want := range []string{
		`"spdxVersion": "SPDX-2.3"`,
		`"documentNamespace": "https://example.com/sbom/hello-` + h.Hex + `"`,
		`"referenceLocator": "pkg:golang/stdlib@` + runtime.Version() + `"`,
		`"referenceLocator": "pkg:golang/github.com/homelab-gitops/homelab"`,
		`"referenceLocator": "pkg:oci/hello@` + h.String() + `?repository_url=ghcr.io/example/hello"`,
		`"relationshipType": "DESCRIBES"`,
		`"created": "1970-01-01T00:00:00Z"`,
	} {
		if !strings.Contains(string(first), want) {
			t.Errorf("SBOM lacks %s:\n%s", want, first)
		}
	}
	if _, err := ociimage.NewSBOM(spec, "ghcr.io/example/hello", h, "https://example.com/sbom", []byte("not a binary")); err == nil {
		t.Error("an SBOM of bytes that are no Go program")
	}
}

func TestPublicRoots(t *testing.T) {
	data, err := ociimage.PublicRoots()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rest := data; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Fatalf("certificate %d: %v", n, err)
		}
	}
	if n < 100 {
		t.Errorf("%d root certificates, want the NSS store's 100 or more", n)
	}
}

func TestToolchain(t *testing.T) {
	tests := []struct {
		name  string
		gomod string
		want  string
	}{
		{"toolchain line", "module m\n\ngo 1.27.0\n\ntoolchain go1.27.3\n", "go1.27.3"},
		{"go line only", "module m\n\ngo 1.27.1\n", "go1.27.1"},
		{"neither", "module m\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(tt.gomod), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ociimage.Toolchain(dir)
			if tt.want == "" {
				if err == nil {
					t.Errorf("got %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
