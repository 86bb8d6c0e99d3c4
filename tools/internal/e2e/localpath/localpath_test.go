package localpath

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestVolumeFor(t *testing.T) {
	class := "local-path"
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: "data-prometheus-0", UID: "1234"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
		},
	}
	pv := volumeFor(pvc, class, "worker-2")
	if pv.Name != "pvc-1234" || pv.Spec.StorageClassName != class {
		t.Errorf("name %q class %q", pv.Name, pv.Spec.StorageClassName)
	}
	if got := pv.Spec.Capacity[corev1.ResourceStorage]; got.Cmp(resource.MustParse("10Gi")) != 0 {
		t.Errorf("capacity %s, want the claim's 10Gi", got.String())
	}
	if ref := pv.Spec.ClaimRef; ref == nil || ref.Namespace != "monitoring" || ref.Name != "data-prometheus-0" || ref.UID != "1234" {
		t.Errorf("claimRef %+v: the controller-manager would not bind it to the claim", ref)
	}
	terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
	if len(terms) != 1 || terms[0].MatchExpressions[0].Key != "kubernetes.io/hostname" || terms[0].MatchExpressions[0].Values[0] != "worker-2" {
		t.Errorf("node affinity %+v: the volume must stay on the node the scheduler chose", terms)
	}
	if pv.Spec.HostPath == nil || pv.Annotations["pv.kubernetes.io/provisioned-by"] != Provisioner {
		t.Errorf("source %+v, annotations %v", pv.Spec.PersistentVolumeSource, pv.Annotations)
	}
}
