package flux

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Namespace is where bootstrap installs Flux and its sync objects.
const Namespace = "flux-system"

// Table writes the columns of `flux get kustomizations` (flux-system
// namespace) or `flux get helmreleases -A` from the API objects, for a
// cache without the flux CLI.
func Table(ctx context.Context, c client.Client, what string) (string, error) {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	row := func(cols ...string) { fmt.Fprintln(w, strings.Join(cols, "\t")) }
	switch what {
	case "kustomizations":
		var list kustomizev1.KustomizationList
		if err := c.List(ctx, &list, client.InNamespace(Namespace)); err != nil {
			return "", fmt.Errorf("list Kustomizations: %w", err)
		}
		row("NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE")
		for _, ks := range list.Items {
			r := Ready(ks.Status.Conditions)
			row(ks.Name, ks.Status.LastAppliedRevision, strconv.FormatBool(ks.Spec.Suspend), string(r.Status), oneLine(r.Message))
		}
	case "helmreleases":
		var list helmv2.HelmReleaseList
		if err := c.List(ctx, &list); err != nil {
			return "", fmt.Errorf("list HelmReleases: %w", err)
		}
		row("NAMESPACE", "NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE")
		for _, hr := range list.Items {
			r := Ready(hr.Status.Conditions)
			row(hr.Namespace, hr.Name, hr.Status.LastAttemptedRevision, strconv.FormatBool(hr.Spec.Suspend), string(r.Status), oneLine(r.Message))
		}
	default:
		return "", fmt.Errorf("no table for %q", what)
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return b.String(), nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// RequestReconcile sets Flux's reconcile.fluxcd.io/requestedAt annotation,
// as `flux reconcile` does.
func RequestReconcile(ctx context.Context, c client.Client, obj client.Object, key client.ObjectKey) error {
	if err := c.Get(ctx, key, obj); err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann["reconcile.fluxcd.io/requestedAt"] = time.Now().Format(time.RFC3339Nano)
	obj.SetAnnotations(ann)
	if err := c.Patch(ctx, obj, patch); err != nil {
		return fmt.Errorf("request a reconciliation of %s: %w", key, err)
	}
	return nil
}

// ForceReconcile does what `flux reconcile helmrelease --force` does: a
// forced upgrade at the next reconciliation.
func ForceReconcile(ctx context.Context, c client.Client, hr *helmv2.HelmRelease) error {
	patch := client.MergeFrom(hr.DeepCopy())
	ann := hr.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	now := time.Now().Format(time.RFC3339Nano)
	ann["reconcile.fluxcd.io/requestedAt"] = now
	ann["reconcile.fluxcd.io/forceAt"] = now
	hr.SetAnnotations(ann)
	if err := c.Patch(ctx, hr, patch); err != nil {
		return fmt.Errorf("force a reconciliation of HelmRelease %s/%s: %w", hr.Namespace, hr.Name, err)
	}
	return nil
}
