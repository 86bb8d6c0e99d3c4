// Package cni applies the tree's CNI before Flux, as
// scripts/bootstrap-cni.sh does on a cluster, and proves that Flux's
// HelmRelease adopts those objects instead of failing on them or
// recreating them.
package cni

import (
	"context"
	"fmt"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/flux"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/report"
	"github.com/homelab-gitops/homelab/tools/internal/helmadopt"
)

// The CNI's HelmRelease, installed before Flux by scripts/bootstrap-cni.sh
// and adopted by Flux (docs/bootstrap.md).
const (
	namespace = "kube-system"
	release   = "cilium"
)

// Bootstrap is what the bootstrap applied: each object's identity and
// the UID the API server gave it.
type Bootstrap struct {
	chart   string
	objects []*unstructured.Unstructured // apiVersion, kind, namespace, name, uid
	took    time.Duration
}

// Apply does in the test what scripts/bootstrap-cni.sh does on a
// cluster, before the HelmRelease exists: render the tree's HelmRelease
// with the validator's renderer (bootstrap-render's code), apply the
// objects with Helm's ownership metadata, and record their UIDs.
func Apply(ctx context.Context, c client.Client, dir string) (*Bootstrap, error) {
	start := time.Now()
	res, err := helmadopt.Render(ctx, dir, "homelab", namespace, release, nil)
	if err != nil {
		return nil, fmt.Errorf("render the CNI: %w", err)
	}
	if err := kube.Apply(ctx, c, res.Objects); err != nil {
		return nil, fmt.Errorf("apply the CNI before Flux: %w", err)
	}
	b := &Bootstrap{chart: res.Chart}
	for _, want := range res.Objects {
		got, err := getLike(ctx, c, want)
		if err != nil {
			return nil, err
		}
		b.objects = append(b.objects, got)
	}
	b.took = time.Since(start)
	return b, nil
}

func getLike(ctx context.Context, c client.Client, like *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(like.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(like), u); err != nil {
		return nil, fmt.Errorf("get %s %s: %w", like.GetKind(), client.ObjectKeyFromObject(like), err)
	}
	return u, nil
}

// CheckAdopted proves the adoption once the tree is Ready: the
// HelmRelease says Helm installed (or upgraded) the release, and every
// object the bootstrap applied is still the same object (same UID), now
// owned by the release: Helm adopted it instead of failing on "exists and
// cannot be imported" or recreating it.
func CheckAdopted(ctx context.Context, c client.Client, rep *report.Report, b *Bootstrap) {
	start := time.Now()
	err := func() error {
		var hr helmv2.HelmRelease
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: release}, &hr); err != nil {
			return fmt.Errorf("get HelmRelease %s/%s: %w", namespace, release, err)
		}
		ready := flux.Ready(hr.Status.Conditions)
		if ready.Status != metav1.ConditionTrue {
			return fmt.Errorf("HelmRelease %s/%s is not Ready: %s %s", namespace, release, ready.Reason, ready.Message)
		}
		if !strings.Contains(ready.Message, "Helm install succeeded") && !strings.Contains(ready.Message, "Helm upgrade succeeded") {
			return fmt.Errorf("HelmRelease %s/%s is Ready with %q, not after a Helm install or upgrade", namespace, release, ready.Message)
		}
		var changed []string
		for _, was := range b.objects {
			now, err := getLike(ctx, c, was)
			if err != nil {
				return err
			}
			id := was.GetKind() + " " + client.ObjectKeyFromObject(was).String()
			if now.GetUID() != was.GetUID() {
				changed = append(changed, fmt.Sprintf("%s recreated (uid %s -> %s)", id, was.GetUID(), now.GetUID()))
			}
			if now.GetAnnotations()[helmadopt.ReleaseNameAnnotation] != release {
				changed = append(changed, id+" lost its release annotation")
			}
		}
		if len(changed) > 0 {
			return fmt.Errorf("the bootstrap's objects were not adopted: %s", strings.Join(changed, "; "))
		}
		rep.Note("CNI adoption: HelmRelease %s/%s %q; %d objects applied before Flux kept their UIDs", namespace, release, ready.Message, len(b.objects))
		return nil
	}()
	rep.Check("homelab: CNI adopted", fmt.Sprintf("%s applied before the HelmRelease existed (%d objects in %s), then installed by Flux over them", b.chart, len(b.objects), b.took.Round(time.Millisecond)), time.Since(start), err)
}
