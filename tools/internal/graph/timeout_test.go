package graph

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// flux returns a Kustomization with the given spec.
func flux(name string, spec map[string]any) *render.Kustomization {
	k := ks(name)
	k.Obj = &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": name, "namespace": "flux-system"},
		"spec":     spec,
	}}
	return k
}

// hr returns a HelmRelease applied by owner, with retries for both install
// and upgrade and the given extra spec fields.
func hr(owner *render.Kustomization, ns, name, timeout string, retries int64, extra map[string]any) *render.Object {
	spec := map[string]any{
		"install": map[string]any{"remediation": map[string]any{"retries": retries}},
		"upgrade": map[string]any{"remediation": map[string]any{"retries": retries}},
	}
	if timeout != "" {
		spec["timeout"] = timeout
	}
	for k, v := range extra {
		spec[k] = v
	}
	return obj(owner, "helm.toolkit.fluxcd.io/v2", "HelmRelease", ns, name, map[string]any{"spec": spec})
}

func dependsOnRelease(ns, name string) map[string]any {
	return map[string]any{"dependsOn": []any{map[string]any{"name": name, "namespace": ns}}}
}

func TestTimeouts(t *testing.T) {
	waiting := func(timeout string) map[string]any {
		return map[string]any{"interval": "1h", "timeout": timeout, "wait": true}
	}
	tests := []struct {
		name     string
		k        map[string]any
		releases func(k, other *render.Kustomization) []*render.Object
		// want are substrings of the one finding's message; none: no finding.
		want []string
	}{
		{
			// clusters/homelab/infrastructure.yaml before the fix: 10m
			// for releases of 10m × 4 attempts, two of them chained.
			name: "infra-controllers as it was",
			k:    waiting("10m"),
			releases: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{
					hr(k, "cert-manager", "cert-manager", "10m", 3, nil),
					hr(k, "rabbitmq-system", "rabbitmq-operator", "10m", 3, dependsOnRelease("cert-manager", "cert-manager")),
					hr(k, "traefik", "traefik", "10m", 3, nil),
					hr(k, "mongodb-operator", "mongodb-operator", "10m", 3, nil),
				}
			},
			want: []string{
				"waits 10m (spec.timeout)", "may need 1h20m",
				"HelmRelease cert-manager/cert-manager install 10m × 4 attempt(s) = 40m, then (dependsOn) HelmRelease rabbitmq-system/rabbitmq-operator install 10m × 4 attempt(s) = 40m",
				"set spec.timeout to at least 1h20m",
			},
		},
		{
			name: "infra-controllers as fixed",
			k:    waiting("45m"),
			releases: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{
					hr(k, "cert-manager", "cert-manager", "5m", 3, nil),
					hr(k, "rabbitmq-system", "rabbitmq-operator", "5m", 3, dependsOnRelease("cert-manager", "cert-manager")),
					hr(k, "traefik", "traefik", "5m", 3, nil),
				}
			},
		},
		{
			name: "exactly enough",
			k:    waiting("20m"),
			releases: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{hr(k, "a", "a", "", 3, nil)} // helm-controller's default 5m
			},
		},
		{
			name: "default HelmRelease timeout",
			k:    waiting("15m"),
			releases: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{hr(k, "a", "a", "", 3, nil)}
			},
			want: []string{"HelmRelease a/a install 5m × 4 attempt(s) = 20m"},
		},
		{
			name: "no timeout: the interval applies",
			k:    map[string]any{"interval": "10m", "wait": true},
			releases: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{hr(k, "a", "a", "5m", 3, nil)}
			},
			want: []string{"waits 10m (spec.interval, as spec.timeout is not set)"},
		},
		{
			name: "per-action timeout and retries",
			k:    waiting("30m"),
			releases: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{hr(k, "a", "a", "5m", 0, map[string]any{
					"upgrade": map[string]any{"timeout": "8m", "remediation": map[string]any{"retries": int64(4)}},
				})}
			},
			want: []string{"HelmRelease a/a upgrade 8m × 5 attempt(s) = 40m"},
		},
		{
			name: "no wait, no health checks",
			k:    map[string]any{"interval": "1h", "timeout": "1m"},
			releases: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{hr(k, "a", "a", "10m", 3, nil)}
			},
		},
		{
			name: "health checks name a HelmRelease of another Kustomization",
			k: map[string]any{"interval": "1h", "timeout": "5m", "healthChecks": []any{
				map[string]any{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "name": "b", "namespace": "b"},
			}},
			releases: func(k, other *render.Kustomization) []*render.Object {
				return []*render.Object{hr(k, "a", "a", "30m", 3, nil), hr(other, "b", "b", "5m", 1, nil)}
			},
			want: []string{"may need 10m", "HelmRelease b/b install 5m × 2 attempt(s) = 10m"},
		},
		{
			name: "dependency applied by another Kustomization is not counted",
			k:    waiting("20m"),
			releases: func(k, other *render.Kustomization) []*render.Object {
				return []*render.Object{
					hr(other, "cert-manager", "cert-manager", "10m", 3, nil),
					hr(k, "a", "a", "5m", 3, dependsOnRelease("cert-manager", "cert-manager")),
				}
			},
		},
		{
			name: "retrying for ever is not a figure",
			k:    waiting("1m"),
			releases: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{hr(k, "a", "a", "5m", -1, nil)}
			},
		},
		{
			name: "dependsOn cycle does not loop",
			k:    waiting("1m"),
			releases: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{
					hr(k, "a", "a", "1m", 0, dependsOnRelease("b", "b")),
					hr(k, "b", "b", "1m", 0, dependsOnRelease("a", "a")),
				}
			},
			want: []string{"may need 2m"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, other := flux("infra-controllers", tt.k), flux("other", map[string]any{"interval": "1h"})
			c := &render.Cluster{Name: "x", Kustomizations: []*render.Kustomization{other, k}, Objects: tt.releases(k, other)}
			fs := rules(Check(c, nil, nil))[finding.GraphTimeout]
			if len(tt.want) == 0 {
				if len(fs) != 0 {
					t.Fatalf("unexpected findings %+v", fs)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("findings %+v, want one %s", fs, finding.GraphTimeout)
			}
			f := fs[0]
			if f.File != k.File || f.Field != "spec.timeout" || f.Object.Name != "infra-controllers" || f.Severity != finding.Error {
				t.Errorf("finding at %s %s on %v (%s), want %s spec.timeout on the Kustomization", f.File, f.Field, f.Object, f.Severity, k.File)
			}
			for _, w := range tt.want {
				if !strings.Contains(f.Message, w) {
					t.Errorf("message %q lacks %q", f.Message, w)
				}
			}
		})
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]string{"40m": "40m", "1h20m": "1h20m", "2h": "2h", "90s": "1m30s", "1h0m30s": "1h0m30s"} {
		d, err := time.ParseDuration(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := duration(d); got != want {
			t.Errorf("duration(%s) = %s, want %s", in, got, want)
		}
	}
}
