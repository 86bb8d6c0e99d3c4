package chartmirror

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"
)

// ModuleFiles are the two files the Go module proxy serves for a version:
// the zip of the module's tree and the .info JSON that records the commit
// the version was taken from.
type ModuleFiles struct {
	Zip  string
	Info string
}

// ModuleDownloader fetches module@version and returns its files.
type ModuleDownloader func(ctx context.Context, module, version string) (ModuleFiles, error)

// GoModDownload is a ModuleDownloader that runs `go mod download`, which
// reads the module cache first and the module proxy after.
func GoModDownload(ctx context.Context, module, version string) (ModuleFiles, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = os.TempDir() // outside any module: no go.mod is read or changed
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res struct {
		Zip, Info, Error string
	}
	if jerr := json.Unmarshal(out, &res); jerr == nil && res.Error != "" {
		return ModuleFiles{}, fmt.Errorf("go mod download %s@%s: %s", module, version, res.Error)
	}
	if err != nil {
		return ModuleFiles{}, fmt.Errorf("go mod download %s@%s: %w: %s", module, version, err, strings.TrimSpace(stderr.String()))
	}
	if res.Zip == "" || res.Info == "" {
		return ModuleFiles{}, fmt.Errorf("go mod download %s@%s: no zip or info file in %q", module, version, out)
	}
	return ModuleFiles{Zip: res.Zip, Info: res.Info}, nil
}

// readModule takes src.Path from the Go module zip of src.Module at
// src.Tag, after checking that the proxy took that version from src.Tag at
// src.Commit of src.Upstream (the Origin the go command records). A module
// zip holds the files of the tagged tree, and its .info Time is the
// commit time, so the checkout equals the one read with git archive except
// for executable bits, which module zips do not keep; the digest check of
// the build catches a chart that has such a file.
func readModule(ctx context.Context, dl ModuleDownloader, src Source) (*checkout, error) {
	mf, err := dl(ctx, src.Module, src.Tag)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Upstream, err)
	}
	data, err := os.ReadFile(mf.Info)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Upstream, err)
	}
	var info struct {
		Version string
		Time    time.Time
		Origin  *struct{ VCS, URL, Hash, Ref string }
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("%s: module info %s: %w", src.Upstream, mf.Info, err)
	}
	o := info.Origin
	if o == nil || o.Hash == "" {
		return nil, fmt.Errorf("%s: module %s@%s: the proxy records no origin commit, so the tree cannot be checked against %s", src.Upstream, src.Module, src.Tag, src.Commit)
	}
	if strings.TrimSuffix(o.URL, ".git") != strings.TrimSuffix(src.Upstream, ".git") {
		return nil, fmt.Errorf("%s: module %s@%s comes from %s", src.Upstream, src.Module, src.Tag, o.URL)
	}
	if o.Ref != "refs/tags/"+src.Tag || o.Hash != src.Commit {
		return nil, fmt.Errorf("%s: module %s@%s is %s at commit %s, the mirror pins tag %s at %s", src.Upstream, src.Module, src.Tag, o.Ref, o.Hash, src.Tag, src.Commit)
	}
	zr, err := zip.OpenReader(mf.Zip)
	if err != nil {
		return nil, fmt.Errorf("%s: module zip: %w", src.Upstream, err)
	}
	defer zr.Close()
	prefix := src.Module + "@" + src.Tag + "/" + strings.TrimSuffix(path.Clean(src.Path), "/") + "/"
	co := &checkout{files: map[string]file{}, time: info.Time.UTC().Truncate(time.Second)}
	for _, f := range zr.File {
		rel, ok := strings.CutPrefix(f.Name, prefix)
		if !ok || strings.HasSuffix(f.Name, "/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: module zip %s: %w", src.Upstream, f.Name, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: module zip %s: %w", src.Upstream, f.Name, err)
		}
		co.files[rel] = file{data: b}
	}
	if len(co.files) == 0 {
		return nil, fmt.Errorf("%s: module %s@%s has no files under %s", src.Upstream, src.Module, src.Tag, src.Path)
	}
	return co, nil
}
