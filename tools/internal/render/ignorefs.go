package render

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/homelab-gitops/homelab/tools/internal/ignore"
)

// ignoreFS hides the files source-controller leaves out of the artifact,
// as if they were not there, and records which ones a build asked for.
type ignoreFS struct {
	filesys.FileSystem
	root  string
	rules *ignore.Rules
	mu    sync.Mutex
	hits  map[string]ignore.Rule // repository-relative path -> rule
}

func newIgnoreFS(fs filesys.FileSystem, root string, rules *ignore.Rules) *ignoreFS {
	return &ignoreFS{FileSystem: fs, root: root, rules: rules, hits: map[string]ignore.Rule{}}
}

// ignored reports whether the absolute path p is left out, and records it.
func (f *ignoreFS) ignored(p string) bool {
	rel, err := filepath.Rel(f.root, filepath.Clean(p))
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false
	}
	rel = filepath.ToSlash(rel)
	// Only files are hidden (a directory holding only ignored files is
	// simply empty), so the common case needs no stat.
	rule, ok := f.rules.Ignored(rel, false)
	if !ok || f.FileSystem.IsDir(p) {
		return false
	}
	f.mu.Lock()
	f.hits[rel] = rule
	f.mu.Unlock()
	return true
}

func notExist(p string) error {
	return &fs.PathError{Op: "open", Path: p, Err: os.ErrNotExist}
}

func (f *ignoreFS) Exists(p string) bool { return !f.ignored(p) && f.FileSystem.Exists(p) }

func (f *ignoreFS) ReadFile(p string) ([]byte, error) {
	if f.ignored(p) {
		return nil, notExist(p)
	}
	return f.FileSystem.ReadFile(p)
}

func (f *ignoreFS) Open(p string) (filesys.File, error) {
	if f.ignored(p) {
		return nil, notExist(p)
	}
	return f.FileSystem.Open(p)
}

func (f *ignoreFS) ReadDir(p string) ([]string, error) {
	names, err := f.FileSystem.ReadDir(p)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(names, func(n string) bool { return f.ignored(filepath.Join(p, n)) }), nil
}

func (f *ignoreFS) Glob(pattern string) ([]string, error) {
	ms, err := f.FileSystem.Glob(pattern)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ms, f.ignored), nil
}

func (f *ignoreFS) Walk(p string, fn filepath.WalkFunc) error {
	return f.FileSystem.Walk(p, func(q string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && f.ignored(q) {
			return nil
		}
		return fn(q, info, err)
	})
}

// explain describes the ignored files a failed build asked for.
func (f *ignoreFS) explain() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.hits) == 0 {
		return ""
	}
	var parts []string
	for p, r := range f.hits {
		parts = append(parts, fmt.Sprintf("%s is not in the source artifact: source-controller leaves it out by the ignore rule %s", p, r))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}
