package gitserver

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Worktree is a working clone that the test commits to and pushes from
// (its origin is the local Git server).
type Worktree struct {
	Dir    string
	Branch string
}

// Git runs git in the working tree.
func (r *Worktree) Git(ctx context.Context, args ...string) (string, error) {
	return Git(ctx, r.Dir, args...)
}

// Commit commits everything in the working tree and returns the commit id.
func (r *Worktree) Commit(ctx context.Context, msg string) (string, error) {
	if _, err := r.Git(ctx, "add", "-A"); err != nil {
		return "", err
	}
	if _, err := r.Git(ctx, "commit", "--quiet", "-m", msg); err != nil {
		return "", err
	}
	return r.Head(ctx)
}

// Head returns the commit id of HEAD.
func (r *Worktree) Head(ctx context.Context) (string, error) {
	sha, err := r.Git(ctx, "rev-parse", "HEAD")
	return strings.TrimSpace(sha), err
}

// Push pushes HEAD to the branch on origin.
func (r *Worktree) Push(ctx context.Context) error {
	_, err := r.Git(ctx, "push", "--quiet", "origin", "HEAD:refs/heads/"+r.Branch)
	return err
}

// Edit replaces old with new in a file of the working tree; old must occur.
func (r *Worktree) Edit(path, old, new string) error {
	p := filepath.Join(r.Dir, path)
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if !bytes.Contains(data, []byte(old)) {
		return fmt.Errorf("%s does not contain %q", path, old)
	}
	return os.WriteFile(p, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644)
}

// Short is the abbreviated commit id the report prints.
func Short(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}
