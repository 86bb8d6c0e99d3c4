package readiness

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/cluster"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/proc"
)

// SimulatedReason marks the conditions the kwok stages write.
const SimulatedReason = "SimulatedByKwok"

// SimulatedKinds reads the kinds whose status the stages file simulates.
func SimulatedKinds(stages string) ([]schema.GroupVersionKind, error) {
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

// Simulator runs kwok's status simulator for the operator-managed kinds
// once the charts have installed their CRDs.
type Simulator struct {
	// Kinds are the kinds of the stages file.
	Kinds  []schema.GroupVersionKind
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
}

// StartSimulator waits in the background until the API server of cl serves
// every kind of the stages file, then starts the simulator in g. It runs
// beside the fixture's flows, so that the tree converges meanwhile.
func StartSimulator(ctx context.Context, cl *cluster.Cluster, g *proc.Group, binDir, stages string, log *slog.Logger) (*Simulator, error) {
	kinds, err := SimulatedKinds(stages)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	sim := &Simulator{Kinds: kinds, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(sim.done)
		sim.err = proc.WaitFor(ctx, nil, 2*time.Second, func(context.Context) (bool, error) {
			return served(cl.Client, kinds), nil
		})
		if sim.err == nil {
			sim.err = cl.StartStatusSimulator(ctx, g, binDir, stages)
		}
		if sim.err == nil {
			log.Info("kwok simulates the status of operator-managed kinds", "kinds", kindNames(kinds))
		}
	}()
	return sim, nil
}

// Failed returns the simulator's error once it has given up, else nil.
func (sim *Simulator) Failed() error {
	select {
	case <-sim.done:
		return sim.err
	default:
		return nil
	}
}

// Stop ends the wait for the CRDs; the kwok process, if started, belongs
// to the process group.
func (sim *Simulator) Stop() {
	sim.cancel()
	<-sim.done
}

// Simulated lists, per kind, the objects whose status a kwok stage wrote,
// as "Kind ns/name ns/name".
func (sim *Simulator) Simulated(ctx context.Context, c client.Client) ([]string, error) {
	var parts []string
	for _, k := range sim.Kinds {
		var list unstructured.UnstructuredList
		list.SetGroupVersionKind(k.GroupVersion().WithKind(k.Kind + "List"))
		if err := c.List(ctx, &list); err != nil {
			return nil, fmt.Errorf("list %s: %w", k.Kind, err)
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
	return parts, nil
}

// simulated reports whether the object's status was written by a kwok
// stage.
func simulated(o *unstructured.Unstructured) bool {
	if msg, _, _ := unstructured.NestedString(o.Object, "status", "message"); strings.Contains(msg, "simulated by kwok") {
		return true
	}
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["reason"] == SimulatedReason {
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
