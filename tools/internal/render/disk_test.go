package render

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

// TestDisk checks the run's file system: a file is read once (a change on
// disk afterwards is not seen), callers cannot change each other's bytes,
// writes fail, and Flux's secure file system over it still refuses a
// symlink out of its root, every time it is asked.
func TestDisk(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	testfs.Write(t, root, map[string]string{"app/a.yaml": "a: 1\n"})
	testfs.Write(t, outside, map[string]string{"secret.yaml": "s: 1\n"})
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "app", "escape.yaml")); err != nil {
		t.Fatal(err)
	}
	d := newDisk()
	fs, err := d.secure(root)
	if err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(root, "app", "a.yaml")
	first, err := fs.ReadFile(a)
	if err != nil || string(first) != "a: 1\n" {
		t.Fatalf("ReadFile = %q, %v", first, err)
	}
	_ = append(first, "changed"...)
	testfs.Write(t, root, map[string]string{"app/a.yaml": "a: 2\n"})
	if again, err := fs.ReadFile(a); err != nil || string(again) != "a: 1\n" {
		t.Errorf("second ReadFile = %q, %v; want the first read's a: 1", again, err)
	}
	if !fs.IsDir(filepath.Join(root, "app")) || fs.IsDir(a) || !fs.Exists(a) || fs.Exists(filepath.Join(root, "missing.yaml")) {
		t.Error("IsDir or Exists wrong")
	}
	for range 2 {
		if _, err := fs.ReadFile(filepath.Join(root, "app", "escape.yaml")); err == nil {
			t.Error("read a symlink out of the root")
		}
	}
	if err := fs.WriteFile(a, []byte("x")); !errors.Is(err, errReadOnly) {
		t.Errorf("WriteFile error %v, want read-only", err)
	}
	other, err := d.secure(outside)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := other.ReadFile(filepath.Join(outside, "secret.yaml")); err != nil || string(b) != "s: 1\n" {
		t.Errorf("a file system rooted elsewhere: ReadFile = %q, %v", b, err)
	}
}
