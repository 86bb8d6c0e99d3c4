package ociimage

import (
	"fmt"
	"io/fs"
	"maps"
	"path"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user every image runs as, as in distroless "nonroot" images: numeric,
// so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
const (
	NonRootUID = 65532
	NonRootGID = 65532
	// BinDir holds the program.
	BinDir = "usr/local/bin"
	// HomeDir is the nonroot user's home and the working directory.
	HomeDir = "home/nonroot"
	// CABundlePath is where CACerts is written, the first file Go (and
	// OpenSSL) look for on Linux.
	CABundlePath = "etc/ssl/certs/ca-certificates.crt"
)

// Spec describes the image of one Go program.
type Spec struct {
	// Name is the program's file name under /usr/local/bin.
	Name string
	// Labels go into the image config and, as annotations, on the index.
	Labels map[string]string
	// Created is the creation time of the image and of its layer's history
	// entry: fixed, so that it does not change the digest.
	Created time.Time
	// CreatedBy describes the build in the image's history.
	CreatedBy string
	// CACerts, if set, is a PEM bundle written to /etc/ssl/certs.
	CACerts []byte
}

// Entrypoint returns the absolute path of the program in the image.
func (s Spec) Entrypoint() string { return "/" + path.Join(BinDir, s.Name) }

const passwd = `root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
`

const group = `root:x:0:
nobody:x:65534:
nonroot:x:65532:
`

// Files returns the entries of the image's only layer: the program, the user
// database, the nonroot home directory, /tmp and the CA bundle if any.
func (s Spec) Files(program []byte) []File {
	files := []File{
		Dir("etc", 0o755, 0, 0),
		Regular("etc/passwd", 0o644, []byte(passwd)),
		Regular("etc/group", 0o644, []byte(group)),
		Dir("home", 0o755, 0, 0),
		Dir(HomeDir, 0o700, NonRootUID, NonRootGID),
		Dir("root", 0o700, 0, 0),
		Dir("tmp", fs.ModeSticky|0o777, 0, 0),
		Dir("usr", 0o755, 0, 0),
		Dir("usr/local", 0o755, 0, 0),
		Dir(BinDir, 0o755, 0, 0),
		Regular(path.Join(BinDir, s.Name), 0o755, program),
	}
	if s.CACerts != nil {
		files = append(files,
			Dir("etc/ssl", 0o755, 0, 0),
			Dir("etc/ssl/certs", 0o755, 0, 0),
			Regular(CABundlePath, 0o644, s.CACerts),
		)
	}
	return files
}

// Image returns the single-layer OCI image of program (a static binary for
// platform) described by s.
func (s Spec) Image(platform v1.Platform, program []byte) (v1.Image, error) {
	if s.Name == "" || path.Base(s.Name) != s.Name {
		return nil, fmt.Errorf("program name %q: want a plain file name", s.Name)
	}
	layer, err := Layer(s.Files(program))
	if err != nil {
		return nil, fmt.Errorf("image %s %s: %w", s.Name, platform, err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: s.Created},
			CreatedBy: s.CreatedBy,
			Comment:   "program, user database and directories in one reproducible layer",
		},
	})
	if err != nil {
		return nil, fmt.Errorf("image %s %s: %w", s.Name, platform, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s %s: config: %w", s.Name, platform, err)
	}
	cf.Created = v1.Time{Time: s.Created}
	cf.OS = platform.OS
	cf.Architecture = platform.Architecture
	cf.Variant = platform.Variant
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", NonRootUID, NonRootGID),
		Entrypoint: []string{s.Entrypoint()},
		WorkingDir: "/" + HomeDir,
		Env:        []string{"PATH=/" + BinDir},
		Labels:     maps.Clone(s.Labels),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image %s %s: config: %w", s.Name, platform, err)
	}
	return img, nil
}

// PlatformImage is one entry of an index.
type PlatformImage struct {
	Platform v1.Platform
	Image    v1.Image
}

// Index returns the OCI image index of images, in the order given, with the
// labels of s as annotations (registries such as GHCR read the source and
// description from there).
func (s Spec) Index(images []PlatformImage) (v1.ImageIndex, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("index %s: no images", s.Name)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	adds := make([]mutate.IndexAddendum, 0, len(images))
	for _, pi := range images {
		platform := pi.Platform
		adds = append(adds, mutate.IndexAddendum{
			Add:        pi.Image,
			Descriptor: v1.Descriptor{Platform: &platform},
		})
	}
	idx = mutate.AppendManifests(idx, adds...)
	if len(s.Labels) > 0 {
		annotated, ok := mutate.Annotations(idx, s.Labels).(v1.ImageIndex)
		if !ok {
			return nil, fmt.Errorf("index %s: annotations dropped the index type", s.Name)
		}
		idx = annotated
	}
	return idx, nil
}
