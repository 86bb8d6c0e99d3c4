package chartmirror

import (
	"fmt"
	"os"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// WriteDigests records the built digests in the mirror.yaml at file,
// keeping its comments and order.
func WriteDigests(file string, built []*Built) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	node, err := kyaml.Parse(string(data))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	charts, err := node.Pipe(kyaml.Lookup("charts"))
	if err != nil || charts == nil {
		return fmt.Errorf("%s: no charts list", file)
	}
	items, err := charts.Elements()
	if err != nil {
		return fmt.Errorf("%s: charts: %w", file, err)
	}
	for _, b := range built {
		found := false
		for _, it := range items {
			if kyaml.GetValue(it.Field("name").Value) == b.Chart.Name && kyaml.GetValue(it.Field("version").Value) == b.Chart.Version {
				if err := it.PipeE(kyaml.SetField("digest", kyaml.NewStringRNode(b.Digest))); err != nil {
					return err
				}
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: %s %s is not listed", file, b.Chart.Name, b.Chart.Version)
		}
	}
	s, err := node.String()
	if err != nil {
		return err
	}
	return os.WriteFile(file, []byte(s), 0o644)
}
