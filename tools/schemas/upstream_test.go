package schemas

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// archiveModuleDir packs dir/<sub> of a module directory as the embedded
// archive holds it: sorted paths relative to the module root, no times or
// owners, so regenerating from the same module version gives the same bytes.
func archiveModuleDir(t *testing.T, root, sub string) []byte {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(root, filepath.FromSlash(sub)), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f, Mode: 0o644, Size: int64(len(data)), Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// moduleDir downloads (or finds in the module cache) a module version.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", module, err)
	}
	var info struct{ Dir string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		t.Fatalf("go mod download %s: no directory (%v)", module, err)
	}
	return info.Dir
}

// The embedded upstream trees: present, extractable, holding a
// kustomization.yaml under Dir; with -update they are regenerated from
// the Go module cache.
func TestUpstreams(t *testing.T) {
	for _, u := range Upstreams() {
		t.Run(u.URL+"@"+u.Tag, func(t *testing.T) {
			if *update {
				data := archiveModuleDir(t, moduleDir(t, u.Module), u.Dir)
				if err := os.WriteFile(u.File(), data, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s; run the tests again to check the embedded copy", u.File())
				return
			}
			data, err := upstreamFS.ReadFile(u.File())
			if err != nil {
				t.Fatalf("%v (run go test ./tools/schemas -update)", err)
			}
			if sum := sha256.Sum256(data); "sha256:"+hex.EncodeToString(sum[:]) != u.Digest {
				t.Errorf("%s: sha256 %x, Upstreams() records %s (update it and upstream/README.md after a deliberate change)", u.File(), sum, u.Digest)
			}
			dst := t.TempDir()
			if err := u.Extract(dst); err != nil {
				t.Fatalf("%v (run go test ./tools/schemas -update)", err)
			}
			if _, err := os.Stat(filepath.Join(dst, u.Dir, "kustomization.yaml")); err != nil {
				t.Errorf("the embedded tree has no %s/kustomization.yaml: %v", u.Dir, err)
			}
		})
	}
}
