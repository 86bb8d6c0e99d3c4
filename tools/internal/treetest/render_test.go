package treetest

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/envsubst"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// clusterPath is the Flux entry point reconciled by the flux-system Kustomization.
const clusterPath = "clusters/homelab"

// object is one rendered Kubernetes object.
type object struct {
	// Kustomization is the Flux Kustomization that applies the object.
	Kustomization string
	// Encrypted is the object as kustomize built it (Secrets still encrypted).
	Encrypted map[string]any
	// Doc is the object as kustomize-controller applies it: decrypted and
	// substituted.
	Doc map[string]any
}

func (o object) kind() string { s, _ := o.Doc["kind"].(string); return s }

func (o object) apiVersion() string { s, _ := o.Doc["apiVersion"].(string); return s }

func (o object) meta(key string) string {
	m, _ := o.Doc["metadata"].(map[string]any)
	s, _ := m[key].(string)
	return s
}

func (o object) String() string {
	return fmt.Sprintf("%s %s/%s (Kustomization %s)", o.kind(), o.meta("namespace"), o.meta("name"), o.Kustomization)
}

// rendered is the whole cluster, rendered once per test binary.
type rendered struct {
	// Kustomizations are the Flux Kustomizations, in the order found.
	Kustomizations []*kustomizev1.Kustomization
	// Objects are the objects of every Kustomization built from this repository.
	Objects []object
	// External names Kustomizations whose source is not this repository.
	External []string
}

var (
	renderOnce   sync.Once
	renderResult *rendered
	renderErr    error
)

// renderCluster renders clusters/homelab and every Flux Kustomization it
// defines, the way kustomize-controller would.
func renderCluster(t *testing.T) *rendered {
	t.Helper()
	renderOnce.Do(func() {
		renderResult, renderErr = render(repoRoot(t), secretOpener(t))
	})
	if renderErr != nil {
		t.Fatalf("render %s: %v", clusterPath, renderErr)
	}
	return renderResult
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// build runs kustomize on dir like kustomize-controller: no load
// restrictions inside the repository, no plugins.
func build(root, dir string) ([]map[string]any, error) {
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone
	k := krusty.MakeKustomizer(opts)
	rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, dir))
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var out []map[string]any
	for _, r := range rm.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %s: %w", dir, r.CurId(), err)
		}
		out = append(out, m)
	}
	return out, nil
}

func render(root string, open func(map[string]any) (map[string]any, error)) (*rendered, error) {
	top, err := build(root, clusterPath)
	if err != nil {
		return nil, err
	}
	out := &rendered{}
	vars := map[string]string{}
	for _, doc := range top {
		obj := object{Kustomization: "flux-system", Encrypted: doc}
		obj.Doc = doc
		if obj.kind() == "Secret" && len(sopsRecipients(doc)) > 0 {
			if obj.Doc, err = open(doc); err != nil {
				return nil, fmt.Errorf("%s: %w", obj, err)
			}
		}
		out.Objects = append(out.Objects, obj)
		if obj.meta("namespace") == "flux-system" {
			collectVars(vars, obj)
		}
		if obj.kind() == "Kustomization" && obj.apiVersion() == kustomizev1.GroupVersion.String() {
			var ks kustomizev1.Kustomization
			if err := decodeStrict(doc, &ks); err != nil {
				return nil, fmt.Errorf("%s: %w", obj, err)
			}
			out.Kustomizations = append(out.Kustomizations, &ks)
		}
	}
	for _, ks := range out.Kustomizations {
		if ks.Name == "flux-system" {
			continue // its path is clusters/homelab, rendered above
		}
		if ref := ks.Spec.SourceRef; ref.Kind != sourcev1.GitRepositoryKind || ref.Name != "flux-system" {
			out.External = append(out.External, ks.Name)
			continue
		}
		docs, err := build(root, filepath.Clean(ks.Spec.Path))
		if err != nil {
			return nil, fmt.Errorf("Kustomization %s: %w", ks.Name, err)
		}
		values, err := substitutions(ks, vars)
		if err != nil {
			return nil, err
		}
		for _, doc := range docs {
			obj := object{Kustomization: ks.Name, Encrypted: doc, Doc: doc}
			if obj.kind() == "Secret" && len(sopsRecipients(doc)) > 0 {
				if ks.Spec.Decryption == nil {
					return nil, fmt.Errorf("%s is SOPS-encrypted but Kustomization %s has no decryption", obj, ks.Name)
				}
				if obj.Doc, err = open(doc); err != nil {
					return nil, fmt.Errorf("%s: %w", obj, err)
				}
			}
			if values != nil {
				if obj.Doc, err = substitute(obj.Doc, values); err != nil {
					return nil, fmt.Errorf("%s: %w", obj, err)
				}
			}
			out.Objects = append(out.Objects, obj)
		}
	}
	return out, nil
}

// collectVars records the cluster-vars and cluster-secrets values.
func collectVars(vars map[string]string, o object) {
	name := o.meta("name")
	if name != "cluster-vars" && name != "cluster-secrets" {
		return
	}
	if data, ok := o.Doc["data"].(map[string]any); ok {
		for k, v := range data {
			s, _ := v.(string)
			if o.kind() == "Secret" {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					s = string(b)
				}
			}
			vars[o.kind()+"/"+name+"/"+k] = s
		}
	}
	if data, ok := o.Doc["stringData"].(map[string]any); ok {
		for k, v := range data {
			s, _ := v.(string)
			vars[o.kind()+"/"+name+"/"+k] = s
		}
	}
}

// substitutions returns the variables of ks's postBuild, or nil when it has
// none (kustomize-controller then substitutes nothing).
func substitutions(ks *kustomizev1.Kustomization, vars map[string]string) (map[string]string, error) {
	pb := ks.Spec.PostBuild
	if pb == nil {
		return nil, nil
	}
	values := map[string]string{}
	for _, ref := range pb.SubstituteFrom {
		found := false
		prefix := ref.Kind + "/" + ref.Name + "/"
		for k, v := range vars {
			if len(k) > len(prefix) && k[:len(prefix)] == prefix {
				values[k[len(prefix):]] = v
				found = true
			}
		}
		if !found && !ref.Optional {
			return nil, fmt.Errorf("Kustomization %s: substituteFrom %s %s not found in %s", ks.Name, ref.Kind, ref.Name, clusterPath)
		}
	}
	for k, v := range pb.Substitute {
		values[k] = v
	}
	return values, nil
}

// varRef finds ${VAR} references for reporting unresolved variables.
var varRef = regexp.MustCompile(`\$\{([^}:=]+)\}`)

// substitute applies Flux's postBuild substitution to one object, unless the
// object opts out with the kustomize.toolkit.fluxcd.io/substitute annotation.
func substitute(doc map[string]any, values map[string]string) (map[string]any, error) {
	meta, _ := doc["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	if annotations["kustomize.toolkit.fluxcd.io/substitute"] == "disabled" {
		return doc, nil
	}
	raw, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	var missing []string
	out, err := envsubst.Eval(string(raw), func(name string) (string, bool) {
		v, ok := values[name]
		if !ok && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
		return v, ok
	})
	if err != nil {
		return nil, fmt.Errorf("substitute: %w", err)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("variables without a value: %v (add them to cluster-vars or cluster-secrets)", missing)
	}
	if m := varRef.FindStringSubmatch(out); m != nil {
		return nil, fmt.Errorf("variable %s left unsubstituted", m[1])
	}
	var result map[string]any
	if err := yaml.Unmarshal([]byte(out), &result); err != nil {
		return nil, fmt.Errorf("parse substituted object: %w", err)
	}
	return result, nil
}

// scheme knows the built-in kinds and the Flux and Gateway API kinds whose Go
// types are in this module.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		kustomizev1.AddToScheme,
		sourcev1.AddToScheme,
		helmv2.AddToScheme,
		gatewayv1.Install,
		apiregistrationv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

var strictDecoder = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

// decodeStrict decodes doc into into, failing on unknown or duplicate fields.
func decodeStrict(doc map[string]any, into runtime.Object) error {
	raw, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("marshal: %w", err)
	}
	if _, _, err := strictDecoder.Decode(raw, nil, into); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}
