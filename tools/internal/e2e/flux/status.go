package flux

import (
	"context"
	"fmt"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/proc"
)

// Ready returns the Ready condition of a Flux object's conditions, or one
// with status Unknown and reason "NoStatus" when there is none yet.
func Ready(conds []metav1.Condition) metav1.Condition {
	if c := apimeta.FindStatusCondition(conds, meta.ReadyCondition); c != nil {
		return *c
	}
	return metav1.Condition{Type: meta.ReadyCondition, Status: metav1.ConditionUnknown, Reason: "NoStatus", Message: "not reconciled yet"}
}

// WaitKustomization polls the Kustomization until done returns true for it
// or ctx ends; the error then carries the last Ready condition seen.
func WaitKustomization(ctx context.Context, c client.Client, key client.ObjectKey, done func(*kustomizev1.Kustomization) bool) (*kustomizev1.Kustomization, error) {
	var ks kustomizev1.Kustomization
	err := proc.WaitFor(ctx, nil, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, key, &ks); err != nil {
			return false, err
		}
		if done(&ks) {
			return true, nil
		}
		r := Ready(ks.Status.Conditions)
		return false, fmt.Errorf("Kustomization %s: Ready=%s %s: %s", key, r.Status, r.Reason, r.Message)
	})
	if err != nil {
		return nil, err
	}
	return &ks, nil
}

// AppliedRevision returns a check that the Kustomization is Ready with the
// given Git commit applied (Flux writes revisions as "<branch>@sha1:<sha>").
func AppliedRevision(commit string) func(*kustomizev1.Kustomization) bool {
	return func(ks *kustomizev1.Kustomization) bool {
		r := Ready(ks.Status.Conditions)
		return r.Status == metav1.ConditionTrue && r.ObservedGeneration == ks.Generation &&
			revisionIs(ks.Status.LastAppliedRevision, commit)
	}
}

// FailedAt returns a check that the Kustomization is not Ready after an
// attempt at the given Git commit.
func FailedAt(commit string) func(*kustomizev1.Kustomization) bool {
	return func(ks *kustomizev1.Kustomization) bool {
		r := Ready(ks.Status.Conditions)
		return r.Status == metav1.ConditionFalse && revisionIs(ks.Status.LastAttemptedRevision, commit)
	}
}

func revisionIs(revision, commit string) bool {
	n := len(revision) - len(commit)
	return n >= 0 && revision[n:] == commit
}
