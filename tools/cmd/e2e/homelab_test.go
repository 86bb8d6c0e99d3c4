package main

import (
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ks(name string, status metav1.ConditionStatus, reason, msg string, deps ...string) kustomizev1.Kustomization {
	k := kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: name}}
	for _, d := range deps {
		k.Spec.DependsOn = append(k.Spec.DependsOn, kustomizev1.DependencyReference{Name: d})
	}
	if status != "" {
		k.Status.Conditions = []metav1.Condition{{Type: meta.ReadyCondition, Status: status, Reason: reason, Message: msg}}
	}
	return k
}

func TestSettled(t *testing.T) {
	tests := []struct {
		name string
		list []kustomizev1.Kustomization
		want bool
	}{
		{
			name: "ready, health checking and waiting on an unready dependency",
			list: []kustomizev1.Kustomization{
				ks("flux-system", metav1.ConditionTrue, "ReconciliationSucceeded", ""),
				ks("infra-controllers", metav1.ConditionUnknown, "Progressing", "Running health checks for revision main@sha1:1 with a timeout of 10m0s"),
				ks("infra-configs", metav1.ConditionFalse, "DependencyNotReady", "dependency 'flux-system/infra-controllers' is not ready", "infra-controllers"),
			},
			want: true,
		},
		{
			name: "dependency became ready: the dependant is about to apply",
			list: []kustomizev1.Kustomization{
				ks("gateway-api", metav1.ConditionTrue, "ReconciliationSucceeded", ""),
				ks("infra-controllers", metav1.ConditionFalse, "DependencyNotReady", "dependency 'flux-system/gateway-api' is not ready", "gateway-api"),
			},
			want: false,
		},
		{
			name: "not reconciled yet",
			list: []kustomizev1.Kustomization{ks("apps", "", "", "")},
			want: false,
		},
		{
			name: "failed is settled (and explained as a failure)",
			list: []kustomizev1.Kustomization{ks("apps", metav1.ConditionFalse, "BuildFailed", "kustomize build failed")},
			want: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := settled(tt.list); got != tt.want {
				t.Errorf("settled() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseInventoryID(t *testing.T) {
	tests := []struct {
		id                    string
		ns, name, group, kind string
		ok                    bool
	}{
		{id: "traefik_traefik_helm.toolkit.fluxcd.io_HelmRelease", ns: "traefik", name: "traefik", group: "helm.toolkit.fluxcd.io", kind: "HelmRelease", ok: true},
		{id: "_traefik__Namespace", name: "traefik", kind: "Namespace", ok: true},
		{id: "broken", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			ns, name, group, kind, ok := parseInventoryID(tt.id)
			if ok != tt.ok || ns != tt.ns || name != tt.name || group != tt.group || kind != tt.kind {
				t.Errorf("parseInventoryID(%q) = %q %q %q %q %v", tt.id, ns, name, group, kind, ok)
			}
		})
	}
}

func TestListed(t *testing.T) {
	table := "NAME             \tREVISION\tSUSPENDED\tREADY\tMESSAGE\nflux-system      \tmain@sha1:1\tFalse\tTrue\tApplied\ninfra-configs\t\tFalse\tFalse\tdependency 'flux-system/infra-controllers' is not ready\n"
	tests := []struct {
		name string
		want bool
	}{
		{name: "flux-system", want: true},
		{name: "infra-configs", want: true},
		{name: "infra-controllers", want: false}, // only named in a message
		{name: "apps", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := listed(table, tt.name); got != tt.want {
				t.Errorf("listed(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestNewLines(t *testing.T) {
	before := "a.yaml:1: error x\n1 error(s)\n"
	after := "a.yaml:1: error x\nweb.yaml:8:3: error schema-invalid replicas\n2 error(s)\n"
	got := newLines(before, after)
	want := []string{"web.yaml:8:3: error schema-invalid replicas", "2 error(s)"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("newLines = %q, want %q", got, want)
	}
	if !mentions(got, "replicas") || mentions(got, "traefik") {
		t.Errorf("mentions misreads %q", got)
	}
}
