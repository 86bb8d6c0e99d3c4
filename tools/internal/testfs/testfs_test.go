package testfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTree(t *testing.T) {
	dir := Tree(t, map[string]string{"a/b/c.yaml": "x: 1\n", "top.txt": "t"})
	Write(t, dir, map[string]string{"a/d.yaml": "y: 2\n"})
	for name, want := range map[string]string{"a/b/c.yaml": "x: 1\n", "top.txt": "t", "a/d.yaml": "y: 2\n"} {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
}
