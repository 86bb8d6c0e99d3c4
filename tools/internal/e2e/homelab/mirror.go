package homelab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/flux"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/gitserver"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
)

// moduleMirrors maps Git sources of clusters/homelab that are also
// published as Go modules to their module path: the module proxy serves the
// tree of the same tag, so a local Git mirror of it holds the upstream
// files, not a stand-in.
var moduleMirrors = map[string]string{
	"https://github.com/kubernetes-sigs/gateway-api": "sigs.k8s.io/gateway-api",
}

// mirrorSources points every GitRepository of clusters/homelab in the clone
// dir whose URL has a module mirror at a local repository made from that
// module, tagged like upstream. It returns the mirrored GitRepositories as
// "name (module@tag)".
func mirrorSources(ctx context.Context, e Env, dir string) ([]string, error) {
	var mirrored []string
	err := filepath.WalkDir(filepath.Join(dir, Cluster), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		nodes, err := kio.FromBytes(data)
		if err != nil {
			return nil // not a manifest the mirror cares about
		}
		for _, n := range nodes {
			if n.GetKind() != "GitRepository" {
				continue
			}
			repoURL, tag := kube.FieldString(n, "spec", "url"), kube.FieldString(n, "spec", "ref", "tag")
			module, ok := moduleMirrors[strings.TrimSuffix(repoURL, ".git")]
			if !ok || tag == "" {
				continue
			}
			url, err := moduleMirror(ctx, e, n.GetName(), module, tag)
			if err != nil {
				return fmt.Errorf("mirror %s: %w", n.GetName(), err)
			}
			out, _, err := flux.PointGitRepository(data, n.GetName(), url)
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, out, 0o644); err != nil {
				return err
			}
			data = out
			mirrored = append(mirrored, fmt.Sprintf("%s (%s@%s)", n.GetName(), module, tag))
		}
		return nil
	})
	return mirrored, err
}

// moduleMirror makes a Git repository holding module@tag as the module
// proxy serves it, with the tag, and returns its URL.
func moduleMirror(ctx context.Context, e Env, name, module, tag string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+tag).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", module, tag, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no directory in %s", module, tag, out)
	}
	url, err := e.Git.CreateRepo(ctx, name, "main")
	if err != nil {
		return "", err
	}
	work := filepath.Join(e.WorkDir, "mirror-"+name)
	if err := os.CopyFS(work, os.DirFS(m.Dir)); err != nil {
		return "", fmt.Errorf("copy %s: %w", m.Dir, err)
	}
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		{"add", "-A"},
		{"commit", "--quiet", "-m", module + " " + tag + " as served by the Go module proxy"},
		{"tag", tag},
		{"push", "--quiet", url, "HEAD:refs/heads/main", "refs/tags/" + tag},
	} {
		if _, err := gitserver.Git(ctx, work, args...); err != nil {
			return "", err
		}
	}
	return url, nil
}
