package treetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	fluxrender "github.com/homelab-gitops/homelab/tools/internal/render"
	"github.com/homelab-gitops/homelab/tools/internal/validate"
)

// clusterPath is the Flux entry point reconciled by the flux-system Kustomization.
const clusterPath = "clusters/homelab"

// object is one rendered Kubernetes object, as the validator rendered it.
type object struct {
	// Kustomization is the Flux Kustomization that applies the object.
	Kustomization string
	// Encrypted is the object as it is in Git (Secrets still encrypted).
	Encrypted map[string]any
	// Doc is the object after postBuild substitution. The validator never
	// decrypts: a SOPS-encrypted Secret keeps its ENC[...] values here too,
	// and the variables it provides take placeholder values.
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

// rendered is clusters/homelab as the validator rendered it.
type rendered struct {
	// Report is the validator's whole report: its findings and every
	// cluster it found.
	Report *validate.Report
	// Kustomizations are the Flux Kustomizations, parents first.
	Kustomizations []*kustomizev1.Kustomization
	// Objects are the objects of every Kustomization built from this
	// repository; not those rendered from the HelmReleases' charts.
	Objects []object
	// External names Kustomizations whose source is not this repository.
	External []string
}

var (
	renderOnce   sync.Once
	renderResult *rendered
	renderErr    error
)

// renderCluster runs the validator (tools/cmd/gitops-validate's entry
// point, with the repository's config and policy pack) on this repository,
// once per test binary, and returns clusters/homelab.
func renderCluster(t *testing.T) *rendered {
	t.Helper()
	renderOnce.Do(func() {
		renderResult, renderErr = render(repoRoot(t))
	})
	if renderErr != nil {
		t.Fatalf("validate %s: %v", clusterPath, renderErr)
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

func render(root string) (*rendered, error) {
	rep, err := validate.Run(context.Background(), validate.Options{Root: root})
	if err != nil {
		return nil, err
	}
	var cluster *fluxrender.Cluster
	for _, c := range rep.Clusters {
		if c.Entry == clusterPath {
			cluster = c
		}
	}
	if cluster == nil {
		return nil, fmt.Errorf("the validator found no cluster at %s", clusterPath)
	}
	out := &rendered{Report: rep}
	for _, k := range cluster.Kustomizations {
		if k.Obj == nil || k.Synthetic {
			return nil, fmt.Errorf("Kustomization %s is not defined in %s", k.Ref, clusterPath)
		}
		var ks kustomizev1.Kustomization
		if err := decodeStrict(k.Obj.Object, &ks); err != nil {
			return nil, fmt.Errorf("Kustomization %s (%s:%d): %w", k.Ref, k.File, k.Line, err)
		}
		out.Kustomizations = append(out.Kustomizations, &ks)
		if ref := ks.Spec.SourceRef; ref.Kind != sourcev1.GitRepositoryKind || ref.Name != "flux-system" {
			out.External = append(out.External, ks.Name)
		}
	}
	for _, o := range cluster.Objects {
		if o.Chart != nil {
			continue
		}
		owner := ""
		if o.Owner != nil {
			owner = o.Owner.Name
		}
		out.Objects = append(out.Objects, object{Kustomization: owner, Encrypted: o.U.Object, Doc: o.U.Object})
	}
	return out, nil
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

// applied is doc as kustomize-controller applies it: without the sops
// metadata, which it removes when it decrypts.
func applied(doc map[string]any) map[string]any {
	if _, ok := doc["sops"]; !ok {
		return doc
	}
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		if k != "sops" {
			out[k] = v
		}
	}
	return out
}
