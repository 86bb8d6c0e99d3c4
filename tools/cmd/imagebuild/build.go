package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/homelab-gitops/homelab/tools/internal/ociimage"
)

// source is the repository the images are built from, for their labels.
const source = "https://github.com/homelab-gitops/homelab"

// license is the SPDX expression of the images' license. The repository
// declares none yet, so the label says so rather than guess.
const license = "NOASSERTION"

// created is the fixed creation time of every image: the Unix epoch, as ko
// and most reproducible builders use, so that neither the time of the build
// nor the commit changes the digest.
var created = time.Unix(0, 0).UTC()

// platforms every image is built for, in index order.
var platforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64"},
}

// image is one service image.
type image struct {
	name        string // the program's name and the command line's
	pkg         string // its main package
	repository  string // where CI pushes it
	description string
}

var images = []image{
	{"web", "./src/cmd/web", "ghcr.io/homelab-gitops/fitness-web", "Fitness app: pages and JSON API behind Cloudflare Access"},
	{"consumer", "./src/cmd/consumer", "ghcr.io/homelab-gitops/fitness-consumer", "Fitness app: persists logged workouts from RabbitMQ into MongoDB"},
	{"backup", "./src/cmd/backup", "ghcr.io/homelab-gitops/homelab-backup", "Homelab backups: MongoDB dumps and RabbitMQ definitions, shipped to S3"},
}

func imageNames() []string {
	var names []string
	for _, im := range images {
		names = append(names, im.name)
	}
	return names
}

// usageError is a command-line mistake (exit status 2).
type usageError struct{ error }

// options are the command line's settings.
type options struct {
	out     string
	push    string
	pushTag name.Tag // parsed from push
	sbom    bool
	images  []image
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", filepath.Join(".cache", "images"), "directory for the OCI layouts (one per image) and SBOMs")
	fs.StringVar(&o.push, "push", "", "push the image to this `repository:tag` (one image only; credentials from the Docker config)")
	fs.BoolVar(&o.sbom, "sbom", false, "write an SPDX 2.3 SBOM of each image to <out>/<name>.spdx.json")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: imagebuild [flags] [%s]...\n\nBuilds the service images reproducibly and prints \"<name> sha256:<index digest>\".\n\n", strings.Join(imageNames(), "|"))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, usageError{err}
	}
	names := fs.Args()
	if len(names) == 0 {
		names = imageNames()
	}
	for _, n := range names {
		i := slices.IndexFunc(images, func(im image) bool { return im.name == n })
		if i < 0 {
			return o, usageError{fmt.Errorf("unknown image %q: want one of %s", n, strings.Join(imageNames(), ", "))}
		}
		if !slices.ContainsFunc(o.images, func(im image) bool { return im.name == n }) {
			o.images = append(o.images, images[i])
		}
	}
	if o.push != "" {
		if len(o.images) != 1 {
			return o, usageError{fmt.Errorf("-push takes exactly one image, got %d", len(o.images))}
		}
		tag, err := name.NewTag(o.push, name.StrictValidation)
		if err != nil {
			return o, usageError{fmt.Errorf("-push %s: want repository:tag: %w", o.push, err)}
		}
		o.pushTag = tag
	}
	return o, nil
}

// run builds, and maybe pushes, the images the command line names, in the
// Go module of the current directory.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	want, err := ociimage.Toolchain(".")
	if err != nil {
		return err
	}
	have, err := ociimage.GoVersion(ctx, ".")
	if err != nil {
		return err
	}
	if have != want {
		return fmt.Errorf("the go command is %s but go.mod names %s, which would build other bytes: export GOTOOLCHAIN=%s", have, want, want)
	}
	roots, err := ociimage.PublicRoots()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "imagebuild-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(work)

	for _, im := range o.images {
		start := time.Now()
		repository := im.repository
		if o.push != "" {
			repository = o.pushTag.Context().Name()
		}
		b := builder{image: im, toolchain: have, roots: roots, work: work}
		idx, programs, err := b.build(ctx)
		if err != nil {
			return err
		}
		digest, err := idx.Digest()
		if err != nil {
			return fmt.Errorf("%s: %w", im.name, err)
		}
		dir := filepath.Join(o.out, im.name)
		if err := ociimage.WriteLayout(dir, idx, repository); err != nil {
			return err
		}
		if o.sbom {
			if err := writeSBOM(filepath.Join(o.out, im.name+".spdx.json"), b.spec(), repository, digest, programs); err != nil {
				return err
			}
		}
		log.Info("built", "image", im.name, "digest", digest.String(), "layout", dir, "toolchain", have, "seconds", time.Since(start).Round(100*time.Millisecond).Seconds())
		if o.push != "" {
			if err := push(ctx, dir, o.pushTag, digest); err != nil {
				return err
			}
			log.Info("pushed", "image", im.name, "reference", o.push+"@"+digest.String())
		}
		fmt.Fprintf(stdout, "%s %s\n", im.name, digest)
	}
	return nil
}

// builder compiles one image's program for every platform and assembles the
// index.
type builder struct {
	image     image
	toolchain string
	roots     []byte
	work      string
}

func (b builder) spec() ociimage.Spec {
	return ociimage.Spec{
		Name: b.image.name,
		Labels: map[string]string{
			"org.opencontainers.image.source":      source,
			"org.opencontainers.image.licenses":    license,
			"org.opencontainers.image.title":       "fitness-" + b.image.name,
			"org.opencontainers.image.description": b.image.description,
		},
		Created:   created,
		CreatedBy: fmt.Sprintf("imagebuild: CGO_ENABLED=0 go build %s %s (%s)", strings.Join(ociimage.BuildFlags, " "), b.image.pkg, b.toolchain),
		CACerts:   b.roots,
	}
}

func (b builder) build(ctx context.Context) (v1.ImageIndex, [][]byte, error) {
	spec := b.spec()
	var entries []ociimage.PlatformImage
	var programs [][]byte
	for _, p := range platforms {
		out := filepath.Join(b.work, b.image.name+"-"+p.OS+"-"+p.Architecture)
		if err := ociimage.Compile(ctx, ".", b.image.pkg, p, out); err != nil {
			return nil, nil, err
		}
		program, err := os.ReadFile(out)
		if err != nil {
			return nil, nil, fmt.Errorf("read program: %w", err)
		}
		img, err := spec.Image(p, program)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, ociimage.PlatformImage{Platform: p, Image: img})
		programs = append(programs, program)
	}
	idx, err := spec.Index(entries)
	if err != nil {
		return nil, nil, err
	}
	return idx, programs, nil
}

func writeSBOM(file string, spec ociimage.Spec, repository string, digest v1.Hash, programs [][]byte) error {
	doc, err := ociimage.NewSBOM(spec, repository, digest, source+"/sbom", programs...)
	if err != nil {
		return err
	}
	data, err := doc.JSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return fmt.Errorf("write sbom: %w", err)
	}
	return nil
}

// push uploads the index stored in the layout dir to tag, after checking
// that the layout holds the index just built.
func push(ctx context.Context, dir string, tag name.Tag, want v1.Hash) error {
	ref := tag.String()
	idx, err := ociimage.ReadLayout(dir)
	if err != nil {
		return err
	}
	got, err := idx.Digest()
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	if got != want {
		return fmt.Errorf("push %s: the layout in %s holds %s, not the %s just built", ref, dir, got, want)
	}
	if err := remote.WriteIndex(tag, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}
