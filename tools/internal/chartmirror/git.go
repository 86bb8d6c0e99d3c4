package chartmirror

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Sources finds the upstream Git repositories to package from.
type Sources struct {
	// Dirs maps an upstream URL to a local Git directory (a clone or a
	// bare repository) that has the pinned commit.
	Dirs map[string]string
	// SearchDirs are looked through for <owner>+<name>/repo and
	// <owner>+<name> (bare or not), the layout of a directory of mirrored
	// repositories.
	SearchDirs []string
	// Modules, when set, downloads the Go module zip of a source that
	// names its Module and has no local Git copy; it is tried before
	// CloneDir.
	Modules ModuleDownloader
	// CloneDir, when set, receives a bare clone of an upstream that was
	// found nowhere else (this needs network access to the upstream).
	CloneDir string
}

// localGitDir returns a Git directory of upstream given in Dirs or found
// under SearchDirs, or "".
func (s Sources) localGitDir(ctx context.Context, upstream string) string {
	if d, ok := s.Dirs[upstream]; ok {
		return d
	}
	key := repoKey(upstream)
	for _, base := range s.SearchDirs {
		for _, d := range []string{filepath.Join(base, key, "repo"), filepath.Join(base, key)} {
			if isGitDir(ctx, d) {
				return d
			}
		}
	}
	return ""
}

// gitDir returns a Git directory holding upstream.
func (s Sources) gitDir(ctx context.Context, upstream string) (string, error) {
	if d := s.localGitDir(ctx, upstream); d != "" {
		return d, nil
	}
	key := repoKey(upstream)
	if s.CloneDir == "" {
		return "", fmt.Errorf("no local copy of %s (looked for %s under %s); pass -src %s=<git dir>, or -clone-dir to clone it", upstream, key, strings.Join(s.SearchDirs, ", "), upstream)
	}
	d := filepath.Join(s.CloneDir, key+".git")
	if !isGitDir(ctx, d) {
		if err := os.MkdirAll(s.CloneDir, 0o755); err != nil {
			return "", err
		}
		if _, err := git(ctx, "", "clone", "--quiet", "--bare", upstream, d); err != nil {
			return "", fmt.Errorf("clone %s: %w", upstream, err)
		}
	}
	return d, nil
}

// repoKey turns https://github.com/owner/name(.git) into owner+name.
func repoKey(upstream string) string {
	u := strings.TrimSuffix(strings.TrimSuffix(upstream, "/"), ".git")
	name := path.Base(u)
	owner := path.Base(path.Dir(u))
	return owner + "+" + name
}

func isGitDir(ctx context.Context, dir string) bool {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return false
	}
	out, err := git(ctx, dir, "rev-parse", "--git-dir")
	return err == nil && out != ""
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// checkout is a chart directory read from a pinned commit.
type checkout struct {
	files map[string]file // relative to the chart directory
	time  time.Time       // the commit time, used as every file's mtime
}

type file struct {
	data []byte
	exec bool
}

// read takes src.Path at src.Commit from dir, after checking that src.Tag
// names that commit.
func read(ctx context.Context, dir string, src Source) (*checkout, error) {
	tagged, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", src.Tag+"^{commit}")
	if err != nil || tagged == "" {
		return nil, fmt.Errorf("%s: tag %s not found in %s", src.Upstream, src.Tag, dir)
	}
	if tagged != src.Commit {
		return nil, fmt.Errorf("%s: tag %s is commit %s, the mirror pins %s", src.Upstream, src.Tag, tagged, src.Commit)
	}
	ct, err := git(ctx, dir, "show", "-s", "--format=%ct", src.Commit)
	if err != nil {
		return nil, err
	}
	secs, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("commit time of %s: %w", src.Commit, err)
	}
	prefix := strings.TrimSuffix(path.Clean(src.Path), "/") + "/"
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "archive", "--format=tar", src.Commit, "--", prefix)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: read %s at %s: %w: %s", src.Upstream, src.Path, src.Commit, err, strings.TrimSpace(stderr.String()))
	}
	co := &checkout{files: map[string]file{}, time: time.Unix(secs, 0).UTC()}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read archive of %s: %w", src.Upstream, src.Path, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		rel, ok := strings.CutPrefix(h.Name, prefix)
		if !ok {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		co.files[rel] = file{data: data, exec: h.Mode&0o111 != 0}
	}
	return co, nil
}
