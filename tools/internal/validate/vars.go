package validate

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// varStore serves the repository's ConfigMaps and Secrets to Flux's
// LoadVariables through controller-runtime's fake client. SOPS-encrypted
// values are replaced by placeholders: nothing is decrypted.
type varStore struct {
	mu     sync.Mutex
	client client.WithWatch
	have   map[render.Ref]bool
}

func newVarStore() *varStore {
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s)
	return &varStore{client: fake.NewClientBuilder().WithScheme(s).Build(), have: map[render.Ref]bool{}}
}

// Placeholder is the value a SOPS-encrypted variable takes: DNS-label safe,
// so that hostnames and names built from it still validate.
func Placeholder(key string) string {
	k := strings.ToLower(strings.ReplaceAll(key, "_", "-"))
	return "sops-" + strings.Trim(k, "-.")
}

func isEncrypted(v string) bool { return strings.HasPrefix(v, "ENC[") }

// add records a rendered ConfigMap or Secret.
func (v *varStore) add(ctx context.Context, o *render.Object) {
	kind := o.U.GetKind()
	if o.U.GetAPIVersion() != "v1" || (kind != "ConfigMap" && kind != "Secret") {
		return
	}
	meta := metav1.ObjectMeta{Namespace: o.U.GetNamespace(), Name: o.U.GetName()}
	var obj client.Object
	switch kind {
	case "ConfigMap":
		data, _, _ := unstructured.NestedStringMap(o.U.Object, "data")
		obj = &corev1.ConfigMap{ObjectMeta: meta, Data: data}
	case "Secret":
		sec := &corev1.Secret{ObjectMeta: meta, Data: map[string][]byte{}}
		data, _, _ := unstructured.NestedMap(o.U.Object, "data")
		for k, val := range data {
			s, _ := val.(string)
			if isEncrypted(s) {
				sec.Data[k] = []byte(Placeholder(k))
				continue
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				b = []byte(s)
			}
			sec.Data[k] = b
		}
		sd, _, _ := unstructured.NestedMap(o.U.Object, "stringData")
		for k, val := range sd {
			s, _ := val.(string)
			if isEncrypted(s) {
				s = Placeholder(k)
			}
			sec.Data[k] = []byte(s)
		}
		obj = sec
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	ref := render.Ref{Namespace: meta.Namespace, Name: kind + "/" + meta.Name}
	if v.have[ref] {
		return
	}
	if err := v.client.Create(ctx, obj); err == nil {
		v.have[ref] = true
	}
}

// ready reports whether every required substituteFrom of k is known.
func (v *varStore) ready(k *render.Kustomization) bool {
	refs, _, _ := unstructured.NestedSlice(k.Obj.Object, "spec", "postBuild", "substituteFrom")
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range refs {
		m, _ := r.(map[string]any)
		if opt, _ := m["optional"].(bool); opt {
			continue
		}
		kind, _ := m["kind"].(string)
		name, _ := m["name"].(string)
		if !v.have[render.Ref{Namespace: k.Namespace, Name: kind + "/" + name}] {
			return false
		}
	}
	return true
}
