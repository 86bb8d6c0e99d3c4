package flux

import (
	"fmt"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// PointGitRepository rewrites, in a YAML stream, the GitRepository named
// name so that it fetches url without credentials: spec.url is replaced and
// spec.secretRef removed; comments and the other documents are kept. It
// returns the new stream and the branch the GitRepository follows (spec.ref.
// branch, "main" when unset). It is how a clone of the repository is pointed
// at the test's Git server, as anyone serving a fork would do.
func PointGitRepository(data []byte, name, url string) ([]byte, string, error) {
	nodes, err := kio.FromBytes(data)
	if err != nil {
		return nil, "", fmt.Errorf("parse YAML: %w", err)
	}
	branch := ""
	found := false
	for _, n := range nodes {
		if n.GetKind() != "GitRepository" || n.GetName() != name {
			continue
		}
		found = true
		if err := n.PipeE(yaml.LookupCreate(yaml.MappingNode, "spec"), yaml.SetField("url", yaml.NewStringRNode(url))); err != nil {
			return nil, "", fmt.Errorf("set spec.url: %w", err)
		}
		if err := n.PipeE(yaml.Lookup("spec"), yaml.Clear("secretRef")); err != nil {
			return nil, "", fmt.Errorf("remove spec.secretRef: %w", err)
		}
		b, err := n.Pipe(yaml.Lookup("spec", "ref", "branch"))
		if err != nil {
			return nil, "", fmt.Errorf("read spec.ref.branch: %w", err)
		}
		if b != nil {
			branch = yaml.GetValue(b)
		}
	}
	if !found {
		return nil, "", fmt.Errorf("no GitRepository %q", name)
	}
	if branch == "" {
		branch = "main"
	}
	out, err := kio.StringAll(nodes)
	if err != nil {
		return nil, "", fmt.Errorf("write YAML: %w", err)
	}
	return []byte(out), branch, nil
}
