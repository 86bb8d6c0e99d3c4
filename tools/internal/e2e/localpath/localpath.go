// Package localpath plays the homelab's local-path provisioner on a test
// cluster whose nodes run no kubelet: a WaitForFirstConsumer StorageClass
// named like the one the nodes' provisioner installs, and for each claim
// of that class the scheduler has chosen a node for, a hostPath volume on
// that node, as the provisioner would create it. The kube-controller-manager
// binds claim and volume and the scheduler then binds the pod, for real.
package localpath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Provisioner is the name the StorageClass names, as local-path-provisioner
// registers it.
const Provisioner = "rancher.io/local-path"

// selectedNode is the annotation the scheduler sets on a claim of a
// WaitForFirstConsumer class once it has picked the pod's node.
const selectedNode = "volume.kubernetes.io/selected-node"

// Install creates the StorageClass named class.
func Install(ctx context.Context, c client.Client, class string) error {
	mode := storagev1.VolumeBindingWaitForFirstConsumer
	reclaim := corev1.PersistentVolumeReclaimDelete
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: class},
		Provisioner:       Provisioner,
		VolumeBindingMode: &mode,
		ReclaimPolicy:     &reclaim,
	}
	if err := c.Create(ctx, sc); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create StorageClass %s: %w", class, err)
	}
	return nil
}

// Run provisions volumes for the class's claims until ctx ends, calling
// provisioned with "namespace/name@node" for each.
func Run(ctx context.Context, c client.Client, class string, log *slog.Logger, provisioned func(string)) error {
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		var claims corev1.PersistentVolumeClaimList
		if err := c.List(ctx, &claims); err != nil {
			log.Debug("list claims", "err", err)
			return false, nil
		}
		for i := range claims.Items {
			pvc := &claims.Items[i]
			node := pvc.Annotations[selectedNode]
			if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != class || pvc.Spec.VolumeName != "" || node == "" {
				continue
			}
			pv := volumeFor(pvc, class, node)
			if err := c.Create(ctx, pv); err != nil {
				if !apierrors.IsAlreadyExists(err) {
					log.Warn("provision a volume", "claim", pvc.Namespace+"/"+pvc.Name, "err", err)
				}
				continue
			}
			provisioned(pvc.Namespace + "/" + pvc.Name + "@" + node)
			log.Info("provisioned a local-path volume", "claim", pvc.Namespace+"/"+pvc.Name, "node", node)
		}
		return false, nil
	})
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = nil
	}
	return err
}

// volumeFor is the volume local-path-provisioner creates for pvc on node:
// a directory under /opt/local-path-provisioner, usable on that node only,
// bound to the claim.
func volumeFor(pvc *corev1.PersistentVolumeClaim, class, node string) *corev1.PersistentVolume {
	name := "pvc-" + string(pvc.UID)
	hostPathType := corev1.HostPathDirectoryOrCreate
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": Provisioner},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              class,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{
					Path: path.Join("/opt/local-path-provisioner", name+"_"+pvc.Namespace+"_"+pvc.Name),
					Type: &hostPathType,
				},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
				}}}},
			}},
		},
	}
}
