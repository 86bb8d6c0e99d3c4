package graph

import (
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

func claim(owner *render.Kustomization, name string, spec map[string]any) *render.Object {
	s := map[string]any{"accessModes": []any{"ReadWriteOnce"}}
	for k, v := range spec {
		s[k] = v
	}
	return obj(owner, "v1", "PersistentVolumeClaim", "data", name, map[string]any{"spec": s})
}

func mounting(owner *render.Kustomization, kind, claimName string) *render.Object {
	podSpec := map[string]any{"volumes": []any{map[string]any{"name": "v", "persistentVolumeClaim": map[string]any{"claimName": claimName}}}}
	var spec map[string]any
	switch kind {
	case "CronJob":
		spec = map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": map[string]any{"spec": podSpec}}}}
	case "Pod":
		spec = podSpec
	default:
		spec = map[string]any{"template": map[string]any{"spec": podSpec}}
	}
	apiVersion := "apps/v1"
	if kind == "CronJob" || kind == "Job" {
		apiVersion = "batch/v1"
	} else if kind == "Pod" {
		apiVersion = "v1"
	}
	return obj(owner, apiVersion, kind, "data", "user", map[string]any{"spec": spec})
}

func storageClass(owner *render.Kustomization, name, mode string) *render.Object {
	return obj(owner, "storage.k8s.io/v1", "StorageClass", "", name, map[string]any{"volumeBindingMode": mode})
}

func TestWaitedVolumes(t *testing.T) {
	wait := map[string]any{"interval": "1h", "wait": true}
	tests := []struct {
		name    string
		spec    map[string]any
		objects func(k, other *render.Kustomization) []*render.Object
		// want are substrings of the one finding's message; none: no finding.
		want     []string
		severity finding.Severity
	}{
		{
			// infrastructure/configs/backups before infra-backups: the
			// nightly dump's volume, waited for by infra-configs.
			name: "claim used only by a CronJob",
			spec: wait,
			objects: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{claim(k, "backup", map[string]any{"storageClassName": "local-path"}), mounting(k, "CronJob", "backup")}
			},
			want:     []string{"waits for PersistentVolumeClaim data/backup (spec.wait)", "only CronJob/user mounts the claim", "StorageClass local-path, if it binds on first consumer"},
			severity: finding.Warning,
		},
		{
			name: "claim nothing mounts, class declared WaitForFirstConsumer",
			spec: wait,
			objects: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{claim(k, "backup", map[string]any{"storageClassName": "local-path"}), storageClass(k, "local-path", "WaitForFirstConsumer")}
			},
			want:     []string{"nothing in it mounts the claim", "StorageClass local-path, which binds on first consumer"},
			severity: finding.Error,
		},
		{
			name: "claim mounted by a Deployment of another Kustomization",
			spec: wait,
			objects: func(k, other *render.Kustomization) []*render.Object {
				return []*render.Object{claim(k, "backup", nil), mounting(other, "Deployment", "backup")}
			},
			want:     []string{"nothing in it mounts the claim", "a WaitForFirstConsumer StorageClass"},
			severity: finding.Warning,
		},
		{
			name: "listed in healthChecks",
			spec: map[string]any{"interval": "1h", "healthChecks": []any{map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": "backup", "namespace": "data"}}},
			objects: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{claim(k, "backup", nil)}
			},
			want:     []string{"(spec.healthChecks)"},
			severity: finding.Warning,
		},
		{
			name: "mounted by a Deployment of the same Kustomization",
			spec: wait,
			objects: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{claim(k, "backup", nil), mounting(k, "Deployment", "backup")}
			},
		},
		{
			name: "mounted by a Job of the same Kustomization",
			spec: wait,
			objects: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{claim(k, "backup", nil), mounting(k, "Job", "backup")}
			},
		},
		{
			name: "not waited for",
			spec: map[string]any{"interval": "1h", "wait": false, "healthChecks": []any{map[string]any{"apiVersion": "batch/v1", "kind": "CronJob", "name": "user", "namespace": "data"}}},
			objects: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{claim(k, "backup", nil), mounting(k, "CronJob", "backup")}
			},
		},
		{
			name: "Immediate class declared in the tree",
			spec: wait,
			objects: func(k, other *render.Kustomization) []*render.Object {
				return []*render.Object{claim(k, "backup", map[string]any{"storageClassName": "nfs"}), storageClass(other, "nfs", "Immediate")}
			},
		},
		{
			name: "pre-bound to a named volume",
			spec: wait,
			objects: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{claim(k, "backup", map[string]any{"volumeName": "pv-1"})}
			},
		},
		{
			name: "static binding (storageClassName empty)",
			spec: wait,
			objects: func(k, _ *render.Kustomization) []*render.Object {
				return []*render.Object{claim(k, "backup", map[string]any{"storageClassName": ""})}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, other := flux("infra", tt.spec), flux("apps", map[string]any{"interval": "1h", "wait": true})
			fs := waitedVolumes(&render.Cluster{Kustomizations: []*render.Kustomization{k, other}, Objects: tt.objects(k, other)})
			if len(tt.want) == 0 {
				if len(fs) != 0 {
					t.Fatalf("want no finding, got %v", fs)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("want one finding, got %v", fs)
			}
			f := fs[0]
			if f.Rule != finding.GraphWaitVolume || f.Severity != tt.severity || f.Kustomization != "flux-system/infra" || f.Object.Kind != "PersistentVolumeClaim" {
				t.Errorf("finding %+v", f)
			}
			for _, w := range tt.want {
				if !strings.Contains(f.Message, w) {
					t.Errorf("message %q lacks %q", f.Message, w)
				}
			}
		})
	}
}
