package policies

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The embedded pack is the pack on disk, without the Rego tests.
func TestExtractIsThePack(t *testing.T) {
	dir := t.TempDir()
	if err := Extract(dir); err != nil {
		t.Fatal(err)
	}
	want := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasPrefix(p, "testdata") {
			return err
		}
		_, statErr := os.Stat(filepath.Join(dir, p))
		if strings.HasSuffix(p, "_test.rego") {
			if statErr == nil {
				t.Errorf("%s: a Rego test was extracted", p)
			}
			return nil
		}
		want++
		if statErr != nil {
			t.Errorf("%s: not in the built-in pack: %v", p, statErr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want == 0 {
		t.Fatal("no policy modules found")
	}
}
