package flux

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Install is what a flux-system directory (gotk-components.yaml, the sync
// objects and the repository's patches) installs, as far as running the
// controllers here needs it.
type Install struct {
	// CRDs are the CustomResourceDefinitions, in file order.
	CRDs []*unstructured.Unstructured
	// Args are the arguments of each controller's manager container that
	// change its behaviour rather than its place in a cluster (feature
	// gates), by Deployment name.
	Args map[string][]string
}

// treeArgPrefixes are the arguments taken from the tree. The others
// (addresses, storage paths, leader election, log format, the events
// address) describe where a controller runs, which here is a local
// process.
var treeArgPrefixes = []string{"--feature-gates="}

// ReadInstall builds dir with kustomize, as kustomize-controller applies
// it.
func ReadInstall(dir string) (*Install, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	in := &Install{Args: map[string][]string{}}
	for _, r := range rm.Resources() {
		// Through JSON: kustomize's own maps hold plain ints, which
		// the API machinery cannot copy.
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, r.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, r.CurId(), err)
		}
		m := u.Object
		switch u.GetKind() {
		case "CustomResourceDefinition":
			in.CRDs = append(in.CRDs, u)
		case "Deployment":
			containers, _, _ := unstructured.NestedFieldNoCopy(m, "spec", "template", "spec", "containers")
			cs, _ := containers.([]any)
			for _, c := range cs {
				cm, _ := c.(map[string]any)
				if cm["name"] != "manager" {
					continue
				}
				args, _ := cm["args"].([]any)
				for _, arg := range args {
					a, _ := arg.(string)
					if slices.ContainsFunc(treeArgPrefixes, func(p string) bool { return strings.HasPrefix(a, p) }) {
						in.Args[u.GetName()] = append(in.Args[u.GetName()], a)
					}
				}
			}
		}
	}
	if len(in.CRDs) == 0 {
		return nil, fmt.Errorf("%s installs no CRDs: gotk-components.yaml is not Flux's install manifest (scripts/flux-components.sh)", dir)
	}
	return in, nil
}
