package render

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// overlayFS serves generated files from memory over a read-only disk
// filesystem. Unlike kyaml's in-memory filesystem it accepts any directory
// name (a checkout may live in a directory called "owner+repo").
type overlayFS struct {
	filesys.FileSystem
	files map[string][]byte
}

func newOverlayFS(disk filesys.FileSystem, files map[string][]byte) *overlayFS {
	clean := make(map[string][]byte, len(files))
	for p, d := range files {
		clean[filepath.Clean(p)] = d
	}
	return &overlayFS{FileSystem: disk, files: clean}
}

func (o *overlayFS) Exists(path string) bool {
	if _, ok := o.files[filepath.Clean(path)]; ok {
		return true
	}
	return o.FileSystem.Exists(path)
}

func (o *overlayFS) IsDir(path string) bool {
	if _, ok := o.files[filepath.Clean(path)]; ok {
		return false
	}
	return o.FileSystem.IsDir(path)
}

func (o *overlayFS) ReadFile(path string) ([]byte, error) {
	if d, ok := o.files[filepath.Clean(path)]; ok {
		return bytes.Clone(d), nil
	}
	return o.FileSystem.ReadFile(path)
}

func (o *overlayFS) Open(path string) (filesys.File, error) {
	if d, ok := o.files[filepath.Clean(path)]; ok {
		return &memFile{Reader: bytes.NewReader(d), name: filepath.Base(path), size: int64(len(d))}, nil
	}
	return o.FileSystem.Open(path)
}

// memFile is a read-only filesys.File over bytes.
type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Close() error               { return nil }
func (f *memFile) Write([]byte) (int, error)  { return 0, os.ErrPermission }
func (f *memFile) Stat() (os.FileInfo, error) { return fileInfo{name: f.name, size: f.size}, nil }
func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	return f.Reader.ReadAt(p, off)
}

type fileInfo struct {
	name string
	size int64
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() os.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }
