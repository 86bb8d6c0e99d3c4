package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// epoch is the modification time of every entry of a layer.
var epoch = time.Unix(0, 0).UTC()

// File is one entry of a layer: a directory when Mode has fs.ModeDir set,
// a regular file with Data otherwise.
type File struct {
	// Path is slash-separated and relative to the root ("etc/passwd").
	Path string
	// Mode holds the permission bits, fs.ModeDir for a directory and
	// fs.ModeSticky for a sticky directory such as /tmp.
	Mode fs.FileMode
	UID  int
	GID  int
	Data []byte
}

// Dir returns a directory entry.
func Dir(name string, perm fs.FileMode, uid, gid int) File {
	return File{Path: name, Mode: fs.ModeDir | perm, UID: uid, GID: gid}
}

// Regular returns a regular file owned by root.
func Regular(name string, perm fs.FileMode, data []byte) File {
	return File{Path: name, Mode: perm, Data: data}
}

// WriteTar writes files as a tar archive in canonical form: entries sorted
// by path (so every directory precedes what it holds), USTAR headers with
// numeric owners only and the Unix epoch as modification time. The order of
// files does not matter. Every parent directory must be among the files, and
// no path may appear twice.
func WriteTar(w io.Writer, files []File) error {
	sorted, err := canonical(files)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, f := range sorted {
		hdr := &tar.Header{
			Name:    f.Path,
			Mode:    tarMode(f.Mode),
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: epoch,
			Format:  tar.FormatUSTAR,
		}
		if f.Mode.IsDir() {
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar header of %s: %w", f.Path, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return fmt.Errorf("tar data of %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("close tar: %w", err)
	}
	return nil
}

// canonical validates files and returns them sorted by path.
func canonical(files []File) ([]File, error) {
	sorted := slices.Clone(files)
	seen := make(map[string]bool, len(files))
	dirs := make(map[string]bool)
	for i, f := range sorted {
		clean := path.Clean(f.Path)
		if f.Path == "" || clean != strings.TrimSuffix(f.Path, "/") || path.IsAbs(clean) || clean == "." || strings.HasPrefix(clean, "../") || clean == ".." {
			return nil, fmt.Errorf("layer path %q: want a clean relative path", f.Path)
		}
		if f.Mode&^(fs.ModeDir|fs.ModeSticky|fs.ModePerm) != 0 {
			return nil, fmt.Errorf("%s: unsupported file mode %v", clean, f.Mode)
		}
		if f.Mode.IsDir() && len(f.Data) > 0 {
			return nil, fmt.Errorf("%s: a directory has no data", clean)
		}
		if seen[clean] {
			return nil, fmt.Errorf("%s: listed twice", clean)
		}
		seen[clean] = true
		if f.Mode.IsDir() {
			dirs[clean] = true
		}
		sorted[i].Path = clean
	}
	for _, f := range sorted {
		if parent := path.Dir(f.Path); parent != "." && !dirs[parent] {
			return nil, fmt.Errorf("%s: parent directory %s is not in the layer", f.Path, parent)
		}
	}
	slices.SortFunc(sorted, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return sorted, nil
}

func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// Layer returns files as a gzip-compressed OCI layer. The compressed bytes
// are produced here, once, so the layer's digest depends only on files and
// on the standard library's compress/flate (that is, on the Go toolchain).
func Layer(files []File) (v1.Layer, error) {
	var raw bytes.Buffer
	if err := WriteTar(&raw, files); err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, fmt.Errorf("gzip layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip layer: %w", err)
	}
	compressed := gz.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return layer, nil
}
