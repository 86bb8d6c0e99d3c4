package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/flux"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/proc"
)

// simulatedReason marks the conditions the kwok stages write.
const simulatedReason = "SimulatedByKwok"

// simulatedKinds reads the kinds whose status the stages file simulates.
func simulatedKinds(stages string) ([]schema.GroupVersionKind, error) {
	data, err := os.ReadFile(stages)
	if err != nil {
		return nil, fmt.Errorf("read the simulated status stages: %w", err)
	}
	objs, err := kube.DecodeYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stages, err)
	}
	var kinds []schema.GroupVersionKind
	for _, o := range objs {
		apiGroup, _, _ := unstructured.NestedString(o.Object, "spec", "resourceRef", "apiGroup")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "resourceRef", "kind")
		gv, err := schema.ParseGroupVersion(apiGroup)
		if err != nil || kind == "" {
			return nil, fmt.Errorf("%s: Stage %s: spec.resourceRef needs apiGroup (group/version) and kind", stages, o.GetName())
		}
		if gvk := gv.WithKind(kind); !slices.Contains(kinds, gvk) {
			kinds = append(kinds, gvk)
		}
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("%s: no Stage", stages)
	}
	return kinds, nil
}

// served reports whether the API server serves every kind.
func served(c client.Client, kinds []schema.GroupVersionKind) bool {
	for _, k := range kinds {
		if _, err := c.RESTMapper().RESTMapping(k.GroupKind(), k.Version); err != nil {
			return false
		}
	}
	return true
}

// simulator runs kwok's status simulator for the operator-managed kinds
// once the charts have installed their CRDs.
type simulator struct {
	kinds  []schema.GroupVersionKind
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
}

// startSimulator waits in the background until the API server serves
// every kind of the stages file, then starts the simulator. It runs beside
// the fixture's flows, so that the tree converges meanwhile.
func (e *env) startSimulator(ctx context.Context, s *stack) (*simulator, error) {
	kinds, err := simulatedKinds(e.o.simulatedStatus)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	sim := &simulator{kinds: kinds, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(sim.done)
		sim.err = proc.WaitFor(ctx, nil, 2*time.Second, func(context.Context) (bool, error) {
			return served(s.c, kinds), nil
		})
		if sim.err == nil {
			sim.err = s.cluster.StartStatusSimulator(ctx, e.g, e.binDir, e.o.simulatedStatus)
		}
		if sim.err == nil {
			e.log.Info("kwok simulates the status of operator-managed kinds", "kinds", kindNames(kinds))
		}
	}()
	return sim, nil
}

// failed returns the simulator's error once it has given up, else nil.
func (sim *simulator) failed() error {
	select {
	case <-sim.done:
		return sim.err
	default:
		return nil
	}
}

// stop ends the wait for the CRDs; the kwok process, if started, belongs
// to the process group.
func (sim *simulator) stop() {
	sim.cancel()
	<-sim.done
}

// waitHomelabReady waits until every Kustomization (the expected ones
// among them) is Ready with the clone's commit applied and every
// HelmRelease is Ready at its current generation.
func (e *env) waitHomelabReady(ctx context.Context, hl *homelab) error {
	c := hl.stack.c
	var notReady []string
	wctx, cancel := context.WithTimeout(ctx, e.o.readyTimeout)
	defer cancel()
	var simErr error
	err := proc.WaitFor(wctx, nil, 2*time.Second, func(ctx context.Context) (bool, error) {
		if simErr = hl.sim.failed(); simErr != nil {
			cancel()
			return false, nil
		}
		var err error
		notReady, err = homelabNotReady(ctx, c, hl)
		return err == nil && len(notReady) == 0, err
	})
	if simErr != nil {
		return fmt.Errorf("kwok status simulator: %w", simErr)
	}
	took := time.Since(hl.started)
	if err != nil {
		detail := err.Error()
		if len(notReady) > 0 {
			detail = fmt.Sprintf("after %s, not Ready: %s", took.Round(time.Second), strings.Join(notReady, "; "))
		}
		e.rep.Fail("homelab: every Kustomization and HelmRelease Ready", detail)
		return nil
	}
	var hrs helmv2.HelmReleaseList
	if err := c.List(ctx, &hrs); err != nil {
		return fmt.Errorf("list HelmReleases: %w", err)
	}
	var releases []string
	for _, hr := range hrs.Items {
		releases = append(releases, fmt.Sprintf("%s/%s (%s)", hr.Namespace, hr.Name, hr.Status.LastAttemptedRevision))
	}
	slices.Sort(releases)
	e.rep.Pass("homelab: every Kustomization Ready", fmt.Sprintf("%s at %s, from the first apply of the sync objects",
		strings.Join(hl.expected, ", "), short(hl.commit)), took)
	e.rep.Pass("homelab: every HelmRelease Ready", fmt.Sprintf("%d releases, charts from the chart server: %s", len(releases), strings.Join(releases, ", ")), took)
	return e.noteSimulated(ctx, c, hl)
}

// homelabNotReady lists what keeps the tree from being Ready: an expected
// Kustomization missing, a Kustomization not Ready (or not yet at the
// clone's commit when it follows flux-system), a HelmRelease not Ready at
// its generation.
func homelabNotReady(ctx context.Context, c client.Client, hl *homelab) ([]string, error) {
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
		case ks.Spec.SourceRef.Name == fluxNS && !flux.AppliedRevision(hl.commit)(&ks):
			out = append(out, fmt.Sprintf("Kustomization %s: at %s, not yet at %s", ks.Name, ks.Status.LastAppliedRevision, short(hl.commit)))
		}
	}
	for _, name := range hl.expected {
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

// noteSimulated says which objects have a status written by kwok, not by
// an operator.
func (e *env) noteSimulated(ctx context.Context, c client.Client, hl *homelab) error {
	var parts []string
	for _, k := range hl.sim.kinds {
		var list unstructured.UnstructuredList
		list.SetGroupVersionKind(k.GroupVersion().WithKind(k.Kind + "List"))
		if err := c.List(ctx, &list); err != nil {
			return fmt.Errorf("list %s: %w", k.Kind, err)
		}
		var names []string
		for _, o := range list.Items {
			if simulated(&o) {
				names = append(names, strings.TrimPrefix(o.GetNamespace()+"/"+o.GetName(), "/"))
			}
		}
		if len(names) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", k.Kind, strings.Join(names, " ")))
		}
	}
	e.rep.Note("status simulated by kwok stages (tools/e2e/kwok/simulated-status.yaml), no operator ran: %s", strings.Join(parts, "; "))
	if hl.volumes != nil {
		e.rep.Note("volumes of StorageClass %s (WaitForFirstConsumer) created by the driver in place of the nodes' local-path provisioner, once the scheduler chose a node; bound by kube-controller-manager: %s",
			hl.volumes.class, strings.Join(hl.volumes.provisioned(), ", "))
	}
	return nil
}

// simulated reports whether the object's status was written by a kwok
// stage.
func simulated(o *unstructured.Unstructured) bool {
	if msg, _, _ := unstructured.NestedString(o.Object, "status", "message"); strings.Contains(msg, "simulated by kwok") {
		return true
	}
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["reason"] == simulatedReason {
			return true
		}
	}
	return false
}

func kindNames(kinds []schema.GroupVersionKind) []string {
	var out []string
	for _, k := range kinds {
		out = append(out, k.Kind)
	}
	return out
}
