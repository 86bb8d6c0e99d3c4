// Package readiness waits for a reconciled tree to converge: every
// Kustomization Ready at the pushed commit, every HelmRelease Ready at its
// generation, with kwok's status simulator standing in for the operators
// that do not run on the test cluster.
package readiness

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/flux"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/gitserver"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/proc"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/report"
)

// Tree is what the wait looks at.
type Tree struct {
	Client client.Client
	// Commit is the commit the Kustomizations that follow flux-system must
	// have applied.
	Commit string
	// Expected are the Kustomizations that must exist.
	Expected []string
	// Started is when the sync objects were first applied.
	Started time.Time
	Sim     *Simulator
}

// Wait waits, up to timeout, until every Kustomization (the expected ones
// among them) is Ready with the commit applied and every HelmRelease is
// Ready at its current generation, and reports the outcome to rep. It
// returns whether the tree became Ready; err is set only when the wait
// could not be run.
func Wait(ctx context.Context, rep *report.Report, t Tree, timeout time.Duration) (bool, error) {
	var notReady []string
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var simErr error
	err := proc.WaitFor(wctx, nil, 2*time.Second, func(ctx context.Context) (bool, error) {
		if simErr = t.Sim.Failed(); simErr != nil {
			cancel()
			return false, nil
		}
		var err error
		notReady, err = NotReady(ctx, t.Client, t.Commit, t.Expected)
		return err == nil && len(notReady) == 0, err
	})
	if simErr != nil {
		return false, fmt.Errorf("kwok status simulator: %w", simErr)
	}
	took := time.Since(t.Started)
	if err != nil {
		detail := err.Error()
		if len(notReady) > 0 {
			detail = fmt.Sprintf("after %s, not Ready: %s", took.Round(time.Second), strings.Join(notReady, "; "))
		}
		rep.Fail("homelab: every Kustomization and HelmRelease Ready", detail)
		return false, nil
	}
	var hrs helmv2.HelmReleaseList
	if err := t.Client.List(ctx, &hrs); err != nil {
		return false, fmt.Errorf("list HelmReleases: %w", err)
	}
	var releases []string
	for _, hr := range hrs.Items {
		releases = append(releases, fmt.Sprintf("%s/%s (%s)", hr.Namespace, hr.Name, hr.Status.LastAttemptedRevision))
	}
	slices.Sort(releases)
	rep.Pass("homelab: every Kustomization Ready", fmt.Sprintf("%s at %s, from the first apply of the sync objects",
		strings.Join(t.Expected, ", "), gitserver.Short(t.Commit)), took)
	rep.Pass("homelab: every HelmRelease Ready", fmt.Sprintf("%d releases, charts from the chart server: %s", len(releases), strings.Join(releases, ", ")), took)
	parts, err := t.Sim.Simulated(ctx, t.Client)
	if err != nil {
		return false, err
	}
	rep.Note("status simulated by kwok stages (tools/e2e/kwok/simulated-status.yaml), no operator ran: %s", strings.Join(parts, "; "))
	return true, nil
}

// NotReady lists what keeps the tree from being Ready: an expected
// Kustomization missing, a Kustomization not Ready (or not yet at commit
// when it follows flux-system), a HelmRelease not Ready at its generation.
func NotReady(ctx context.Context, c client.Client, commit string, expected []string) ([]string, error) {
	var kss kustomizev1.KustomizationList
	if err := c.List(ctx, &kss); err != nil {
		return nil, fmt.Errorf("list Kustomizations: %w", err)
	}
	var out []string
	seen := map[string]bool{}
	for _, ks := range kss.Items {
		seen[ks.Name] = true
		r := flux.Ready(ks.Status.Conditions)
		switch {
		case r.Status != metav1.ConditionTrue || r.ObservedGeneration != ks.Generation:
			out = append(out, fmt.Sprintf("Kustomization %s: %s: %s", ks.Name, r.Reason, r.Message))
		case ks.Spec.SourceRef.Name == flux.Namespace && !flux.AppliedRevision(commit)(&ks):
			out = append(out, fmt.Sprintf("Kustomization %s: at %s, not yet at %s", ks.Name, ks.Status.LastAppliedRevision, gitserver.Short(commit)))
		}
	}
	for _, name := range expected {
		if !seen[name] {
			out = append(out, "Kustomization "+name+": not created")
		}
	}
	var hrs helmv2.HelmReleaseList
	if err := c.List(ctx, &hrs); err != nil {
		return nil, fmt.Errorf("list HelmReleases: %w", err)
	}
	if len(hrs.Items) == 0 {
		out = append(out, "no HelmRelease yet")
	}
	for _, hr := range hrs.Items {
		if r := flux.Ready(hr.Status.Conditions); r.Status != metav1.ConditionTrue || r.ObservedGeneration != hr.Generation {
			out = append(out, fmt.Sprintf("HelmRelease %s/%s: %s: %s", hr.Namespace, hr.Name, r.Reason, r.Message))
		}
	}
	slices.Sort(out)
	return out, nil
}
