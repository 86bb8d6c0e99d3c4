package chartmirror

import (
	"archive/zip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// moduleOf writes the module proxy's files for the tree of commit in dir:
// the zip as module@tag/<file> entries and the .info with its origin.
func moduleOf(t *testing.T, dir, commit, module, tag, url, originHash string) ModuleFiles {
	t.Helper()
	ctx := context.Background()
	list, err := git(ctx, dir, "ls-tree", "-r", "--name-only", commit)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := git(ctx, dir, "show", "-s", "--format=%cI", commit)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	zf, err := os.Create(filepath.Join(out, tag+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	for name := range strings.SplitSeq(list, "\n") {
		data, err := git(ctx, dir, "show", commit+":"+name)
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(module + "@" + tag + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		// git() trims the output; every fixture file ends in one newline.
		if _, err := w.Write([]byte(data + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zf.Close(); err != nil {
		t.Fatal(err)
	}
	info := `{"Version":"` + tag + `","Time":"` + ct + `","Origin":{"VCS":"git","URL":"` + url + `","Hash":"` + originHash + `","Ref":"refs/tags/` + tag + `"}}`
	infoFile := filepath.Join(out, tag+".info")
	if err := os.WriteFile(infoFile, []byte(info), 0o644); err != nil {
		t.Fatal(err)
	}
	return ModuleFiles{Zip: zf.Name(), Info: infoFile}
}

// A chart read from the Go module zip of its tag packages to the same bytes
// as from Git, and a zip whose recorded origin is another commit is refused.
func TestPackageFromModuleEqualsGit(t *testing.T) {
	dir, commit := upstream(t)
	const url = "https://example.com/org/charts"
	const module = "example.com/org/charts"
	c := testChart(url, commit)
	c.Module = module
	for i := range c.Dependencies {
		c.Dependencies[i].Module = module
	}
	fromGit, err := Package(context.Background(), Sources{Dirs: map[string]string{url: dir}}, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, origin, wantErr string
	}{
		{"same commit", commit, ""},
		{"other commit", strings.Repeat("1", 40), "the mirror pins tag app-1.2.3 at " + commit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mf := moduleOf(t, dir, commit, module, "app-1.2.3", url, tc.origin)
			var asked []string
			srcs := Sources{Modules: func(_ context.Context, mod, version string) (ModuleFiles, error) {
				asked = append(asked, mod+"@"+version)
				return mf, nil
			}}
			b, err := Package(context.Background(), srcs, c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Digest != fromGit.Digest {
				t.Errorf("from the module zip %s, from Git %s", b.Digest, fromGit.Digest)
			}
			if len(asked) != 2 || asked[0] != module+"@app-1.2.3" {
				t.Errorf("module downloads = %v, want the chart's and its dependency's at the tag", asked)
			}
		})
	}
	// A local Git copy wins over the module proxy.
	srcs := Sources{Dirs: map[string]string{url: dir}, Modules: func(context.Context, string, string) (ModuleFiles, error) {
		t.Error("the module proxy was asked although a Git copy is given")
		return ModuleFiles{}, os.ErrNotExist
	}}
	if _, err := Package(context.Background(), srcs, c); err != nil {
		t.Fatal(err)
	}
}
