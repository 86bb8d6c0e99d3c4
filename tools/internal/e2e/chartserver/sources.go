package chartserver

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
)

// PointSources points every HelmRepository of the clone in dir at s, which
// serves the archives of the chart mirror chartsDir: an HTTP repository at
// s's Helm URL, an OCI repository (type: oci) at the in-process registry,
// under the same path as upstream, with the charts pushed there and
// spec.insecure set (the registry speaks plain HTTP). It returns one
// "namespace/name: old -> new" line per rewritten source.
func (s *Server) PointSources(ctx context.Context, chartsDir, dir string) ([]string, error) {
	var rewritten []string
	pushed := map[string]string{} // OCI path -> registry URL
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || path == filepath.Join(dir, "tools")) {
			return filepath.SkipDir // the test data of the tools is not the tree
		}
		if d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !strings.Contains(string(data), "kind: HelmRepository") {
			return nil
		}
		nodes, err := kio.FromBytes(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		changed := false
		for _, n := range nodes {
			if n.GetKind() != "HelmRepository" {
				continue
			}
			old := kube.FieldString(n, "spec", "url")
			var next string
			if kube.FieldString(n, "spec", "type") == "oci" {
				u, err := url.Parse(old)
				if err != nil {
					return fmt.Errorf("%s: HelmRepository %s: %w", path, n.GetName(), err)
				}
				repoPath := strings.Trim(u.Path, "/")
				if next = pushed[repoPath]; next == "" {
					if next, err = s.PushOCI(ctx, chartsDir, repoPath); err != nil {
						return err
					}
					pushed[repoPath] = next
				}
				insecure := yaml.NewScalarRNode("true")
				insecure.YNode().Tag = yaml.NodeTagBool
				if err := n.PipeE(yaml.Lookup("spec"), yaml.SetField("insecure", insecure)); err != nil {
					return err
				}
			} else {
				next = s.HelmURL()
			}
			if err := n.PipeE(yaml.Lookup("spec"), yaml.SetField("url", yaml.NewStringRNode(next))); err != nil {
				return err
			}
			changed = true
			rewritten = append(rewritten, fmt.Sprintf("%s/%s: %s -> %s", n.GetNamespace(), n.GetName(), old, next))
		}
		if !changed {
			return nil
		}
		out, err := kio.StringAll(nodes)
		if err != nil {
			return err
		}
		return os.WriteFile(path, []byte(out), 0o644)
	})
	if err != nil {
		return nil, fmt.Errorf("point the chart sources at the chart server: %w", err)
	}
	return rewritten, nil
}
