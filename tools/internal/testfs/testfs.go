// Package testfs writes file trees for tests: a repository, a chart, a
// policy directory, given as slash-separated paths and their contents.
package testfs

import (
	"os"
	"path/filepath"
	"testing"
)

// Write creates files (path -> contents) under dir, with their parent
// directories; it fails the test on the first error.
func Write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Tree writes files into a new temporary directory and returns it.
func Tree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	Write(t, dir, files)
	return dir
}
