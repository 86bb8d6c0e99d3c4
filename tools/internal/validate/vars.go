package validate

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// varStore serves the repository's ConfigMaps and Secrets to Flux's
// LoadVariables through controller-runtime's fake client. SOPS-encrypted
// values are replaced by placeholders: nothing is decrypted.
type varStore struct {
	mu      sync.Mutex
	objects map[render.Ref]client.Object // namespace, Kind/name
	have    map[render.Ref]bool
	// made are Secrets and ConfigMaps that a controller creates in the
	// cluster (ExternalSecret targets) or that the config declares
	// external: their values are unknown offline.
	made   map[render.Ref]bool
	client client.Client
}

func newVarStore() *varStore {
	v := &varStore{objects: map[render.Ref]client.Object{}, have: map[render.Ref]bool{}, made: map[render.Ref]bool{}}
	v.client = &varClient{store: v}
	return v
}

// varClient is the controller-runtime client Flux's LoadVariables reads
// ConfigMaps and Secrets through. It answers Get from the repository's
// rendered objects (NotFound otherwise), like a fake API server holding
// only those; any other call panics through the nil embedded client, which
// LoadVariables never makes.
type varClient struct {
	client.Client
	store *varStore
}

func (c *varClient) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	var kind string
	switch obj.(type) {
	case *corev1.ConfigMap:
		kind = "ConfigMap"
	case *corev1.Secret:
		kind = "Secret"
	default:
		return fmt.Errorf("unsupported object type %T", obj)
	}
	c.store.mu.Lock()
	found, ok := c.store.objects[render.Ref{Namespace: key.Namespace, Name: kind + "/" + key.Name}]
	made := c.store.made[render.Ref{Namespace: key.Namespace, Name: kind + "/" + key.Name}]
	c.store.mu.Unlock()
	if !ok && made {
		obj.SetNamespace(key.Namespace)
		obj.SetName(key.Name)
		return nil // exists in the cluster, values unknown
	}
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Resource: strings.ToLower(kind) + "s"}, key.Name)
	}
	switch dst := obj.(type) {
	case *corev1.ConfigMap:
		found.(*corev1.ConfigMap).DeepCopyInto(dst)
	case *corev1.Secret:
		found.(*corev1.Secret).DeepCopyInto(dst)
	}
	return nil
}

// Placeholder is the value a SOPS-encrypted variable takes: DNS-label safe,
// so that hostnames and names built from it still validate.
func Placeholder(key string) string {
	k := strings.ToLower(strings.ReplaceAll(key, "_", "-"))
	return "sops-" + strings.Trim(k, "-.")
}

func isEncrypted(v string) bool { return strings.HasPrefix(v, "ENC[") }

// addMade records a ConfigMap or Secret that exists only in the cluster.
func (v *varStore) addMade(kind, namespace, name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.made[render.Ref{Namespace: namespace, Name: kind + "/" + name}] = true
}

// unknownValues reports whether k substitutes from an object whose values
// are unknown offline.
func (v *varStore) unknownValues(k *render.Kustomization) bool {
	refs, _, _ := unstructured.NestedSlice(k.Obj.Object, "spec", "postBuild", "substituteFrom")
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range refs {
		m, _ := r.(map[string]any)
		kind, _ := m["kind"].(string)
		name, _ := m["name"].(string)
		ref := render.Ref{Namespace: k.Namespace, Name: kind + "/" + name}
		if v.made[ref] && !v.have[ref] {
			return true
		}
	}
	return false
}

// add records a rendered ConfigMap or Secret, or the Secret an
// ExternalSecret makes.
func (v *varStore) add(o *render.Object) {
	kind := o.U.GetKind()
	if kind == "ExternalSecret" && strings.HasPrefix(o.U.GetAPIVersion(), "external-secrets.io/") {
		name, _, _ := unstructured.NestedString(o.U.Object, "spec", "target", "name")
		if name == "" {
			name = o.U.GetName()
		}
		v.addMade("Secret", o.U.GetNamespace(), name)
		return
	}
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
	v.objects[ref] = obj
	v.have[ref] = true
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
		ref := render.Ref{Namespace: k.Namespace, Name: kind + "/" + name}
		if !v.have[ref] && !v.made[ref] {
			return false
		}
	}
	return true
}
