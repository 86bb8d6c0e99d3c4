package graph

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

func ks(name string, deps ...string) *render.Kustomization {
	k := &render.Kustomization{Ref: render.Ref{Namespace: "flux-system", Name: name}, File: "clusters/x/" + name + ".yaml"}
	for _, d := range deps {
		k.DependsOn = append(k.DependsOn, render.Ref{Namespace: "flux-system", Name: d})
	}
	return k
}

func obj(owner *render.Kustomization, apiVersion, kind, ns, name string, extra map[string]any) *render.Object {
	m := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name, "namespace": ns}}
	for k, v := range extra {
		m[k] = v
	}
	return &render.Object{U: &unstructured.Unstructured{Object: m}, File: "f.yaml", Owner: owner}
}

func rules(fs []finding.Finding) map[string][]finding.Finding {
	out := map[string][]finding.Finding{}
	for _, f := range fs {
		out[f.Rule] = append(out[f.Rule], f)
	}
	return out
}

func TestDependsOnAndCycles(t *testing.T) {
	a, b, c := ks("a", "b"), ks("b", "c"), ks("c", "a")
	d := ks("d", "missing")
	got := rules(Check(&render.Cluster{Name: "x", Kustomizations: []*render.Kustomization{a, b, c, d}}, nil, nil))
	// One finding per member, at its file, each naming the whole cycle.
	cyc := got[finding.GraphCycle]
	if len(cyc) != 3 {
		t.Fatalf("cycle findings %+v, want one at each of a, b and c", cyc)
	}
	for i, k := range []*render.Kustomization{a, b, c} {
		if cyc[i].File != k.File || cyc[i].Object.Name != k.Name ||
			!strings.Contains(cyc[i].Message, "flux-system/a -> flux-system/b -> flux-system/c -> flux-system/a") {
			t.Errorf("cycle finding %d: %+v, want at %s", i, cyc[i], k.File)
		}
	}
	if len(got[finding.GraphDependsOn]) != 1 || got[finding.GraphDependsOn][0].Field != "spec.dependsOn.0" {
		t.Errorf("dependsOn findings %+v", got[finding.GraphDependsOn])
	}
}

func TestCRDOrder(t *testing.T) {
	controllers := ks("controllers")
	configs := ks("configs", "controllers")
	apps := ks("apps")
	hr := obj(controllers, "helm.toolkit.fluxcd.io/v2", "HelmRelease", "cert-manager", "cert-manager",
		map[string]any{"spec": map[string]any{"chart": map[string]any{"spec": map[string]any{"chart": "cert-manager"}}}})
	crd := obj(controllers, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com",
		map[string]any{"spec": map[string]any{"group": "example.com", "names": map[string]any{"kind": "Widget"}}})
	tests := []struct {
		name         string
		objs         []*render.Object
		preinstalled []string
		rule         string
		severity     finding.Severity
	}{
		{"depends on the chart's Kustomization", []*render.Object{hr, obj(configs, "cert-manager.io/v1", "ClusterIssuer", "", "le", nil)}, nil, "", ""},
		{"no dependsOn on the chart", []*render.Object{hr, obj(apps, "cert-manager.io/v1", "ClusterIssuer", "", "le", nil)}, nil, finding.GraphCRDOrder, finding.Warning},
		{"CRDs installed at bootstrap", []*render.Object{hr, obj(apps, "cert-manager.io/v1", "ClusterIssuer", "", "le", nil)}, []string{"cert-manager.io"}, "", ""},
		{"CRD object in another Kustomization", []*render.Object{crd, obj(apps, "example.com/v1", "Widget", "x", "w", nil)}, nil, finding.GraphCRDOrder, finding.Error},
		{"CRD object in the same Kustomization", []*render.Object{crd, obj(controllers, "example.com/v1", "Widget", "x", "w", nil)}, nil, "", ""},
		{"nothing installs the CRD", []*render.Object{obj(apps, "other.io/v1", "Thing", "x", "t", nil)}, nil, finding.GraphCRDUnknown, finding.Info},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &render.Cluster{Name: "x", Kustomizations: []*render.Kustomization{controllers, configs, apps}, Objects: tt.objs}
			fs := Check(c, nil, tt.preinstalled)
			if tt.rule == "" {
				if len(fs) != 0 {
					t.Fatalf("unexpected findings %+v", fs)
				}
				return
			}
			if len(fs) != 1 || fs[0].Rule != tt.rule || fs[0].Severity != tt.severity {
				t.Fatalf("findings %+v, want one %s (%s)", fs, tt.rule, tt.severity)
			}
		})
	}
}

// A chart's custom resource whose CRD another chart installs, both in one
// Kustomization: helm-controller orders them by the HelmReleases' dependsOn.
func TestCRDOrderBetweenReleases(t *testing.T) {
	controllers := ks("controllers")
	release := func(ns, name string, deps ...map[string]any) *render.Object {
		spec := map[string]any{"chart": map[string]any{"spec": map[string]any{"chart": name}}}
		if len(deps) > 0 {
			var list []any
			for _, d := range deps {
				list = append(list, d)
			}
			spec["dependsOn"] = list
		}
		return obj(controllers, "helm.toolkit.fluxcd.io/v2", "HelmRelease", ns, name, map[string]any{"spec": spec})
	}
	fromChart := func(o, hr *render.Object) *render.Object {
		o.Chart = &render.ChartOrigin{Release: hr, Chart: hr.U.GetName()}
		return o
	}
	for _, tt := range []struct {
		name string
		deps []map[string]any
		want int
	}{
		{"the user's release depends on the CRD's release", []map[string]any{{"name": "cert-manager", "namespace": "cert-manager"}}, 0},
		{"no dependsOn between the releases", nil, 1},
		{"dependsOn names another release", []map[string]any{{"name": "other"}}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cm := release("cert-manager", "cert-manager")
			op := release("rabbitmq-system", "operator", tt.deps...)
			crd := fromChart(obj(controllers, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "certificates.cert-manager.io",
				map[string]any{"spec": map[string]any{"group": "cert-manager.io", "names": map[string]any{"kind": "Certificate"}}}), cm)
			cert := fromChart(obj(controllers, "cert-manager.io/v1", "Certificate", "rabbitmq-system", "webhook", nil), op)
			c := &render.Cluster{Name: "x", Kustomizations: []*render.Kustomization{controllers}, Objects: []*render.Object{cm, op, crd, cert}}
			got := rules(Check(c, nil, nil))[finding.GraphCRDOrder]
			if len(got) != tt.want {
				t.Fatalf("crd-order findings %+v, want %d", got, tt.want)
			}
		})
	}
}

func TestDuplicates(t *testing.T) {
	remote := func(name, secret string) *render.Kustomization {
		k := ks(name)
		k.Obj = &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"kubeConfig": map[string]any{"secretRef": map[string]any{"name": secret}}}}}
		return k
	}
	a, b, d := ks("a"), ks("b"), ks("d")
	e, f := remote("e", "staging-kubeconfig"), remote("f", "production-kubeconfig")
	labelled := map[string]any{"metadata": map[string]any{"name": "cfg", "namespace": "web", "labels": map[string]any{"tier": "1"}}}
	changed := map[string]any{"data": map[string]any{"mode": "production"}}
	tests := []struct {
		name     string
		objs     []*render.Object
		severity finding.Severity // of every finding; "" for none
		files    int
	}{
		{"two Kustomizations, different objects: an error at each producer",
			[]*render.Object{obj(a, "v1", "ConfigMap", "web", "cfg", nil), obj(b, "v1", "ConfigMap", "web", "cfg", changed), obj(b, "v1", "Namespace", "", "other", nil)},
			finding.Error, 2},
		{"the same object with each Kustomization's labels: a warning at each",
			[]*render.Object{obj(a, "v1", "ConfigMap", "web", "cfg", nil), obj(b, "v1", "ConfigMap", "web", "cfg", labelled)},
			finding.Warning, 2},
		{"byte-identical in three Kustomizations: a warning at each",
			[]*render.Object{obj(a, "v1", "Namespace", "", "web", nil), obj(b, "v1", "Namespace", "", "web", nil), obj(d, "v1", "Namespace", "", "web", nil)},
			finding.Warning, 3},
		{"the same object for two clusters (spec.kubeConfig) is no duplicate",
			[]*render.Object{obj(e, "v1", "Namespace", "", "web", nil), obj(f, "v1", "Namespace", "", "web", nil)},
			"", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &render.Cluster{Name: "x", Kustomizations: []*render.Kustomization{a, b, d, e, f}, Objects: tt.objs}
			fs := rules(Check(c, nil, nil))[finding.GraphDuplicate]
			if len(fs) != tt.files {
				t.Fatalf("%d findings, want %d: %+v", len(fs), tt.files, fs)
			}
			owners := map[string]bool{}
			for _, f := range fs {
				owners[f.Kustomization] = true
				if f.Severity != tt.severity || !strings.Contains(f.Message, "flux-system/a") {
					t.Errorf("finding %s %q, want severity %s naming every producer", f.Severity, f.Message, tt.severity)
				}
			}
			if len(owners) != tt.files {
				t.Errorf("findings at %v, want one at each of %d producers", owners, tt.files)
			}
		})
	}
}
