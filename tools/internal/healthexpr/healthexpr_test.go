package healthexpr

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// cluster returns a cluster whose infra-configs Kustomization has the
// given healthCheckExprs entry, with the objects given.
func cluster(entry map[string]any, objs ...map[string]any) (*render.Cluster, *render.Kustomization) {
	k := &render.Kustomization{
		Ref:  render.Ref{Namespace: "flux-system", Name: "infra-configs"},
		File: "clusters/homelab/infrastructure.yaml",
		Obj: &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
			"metadata": map[string]any{"name": "infra-configs", "namespace": "flux-system"},
			"spec":     map[string]any{"interval": "1h", "healthCheckExprs": []any{entry}},
		}},
	}
	c := &render.Cluster{Name: "homelab", Kustomizations: []*render.Kustomization{k}}
	for _, o := range objs {
		c.Objects = append(c.Objects, &render.Object{U: &unstructured.Unstructured{Object: o}, File: "x.yaml", Owner: k})
	}
	return c, k
}

func rabbitmq(exprs map[string]any) map[string]any {
	m := map[string]any{"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster"}
	for k, v := range exprs {
		m[k] = v
	}
	return m
}

func TestCheck(t *testing.T) {
	rabbitmqCluster := map[string]any{
		"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster",
		"metadata": map[string]any{"name": "rabbitmq", "namespace": "rabbitmq"},
		"spec":     map[string]any{"replicas": int64(3)},
	}
	tests := []struct {
		name  string
		entry map[string]any
		objs  []map[string]any
		rule  string
		field string
		want  []string // substrings of the message
	}{
		{
			// clusters/homelab/infrastructure.yaml before the fix.
			name:  "all() over a filtered empty list",
			entry: rabbitmq(map[string]any{"current": "status.conditions.filter(c, c.type == 'AllReplicasReady').all(c, c.status == 'True')"}),
			objs:  []map[string]any{rabbitmqCluster},
			rule:  finding.GraphHealthCurrent,
			field: "spec.healthCheckExprs.0.current",
			want:  []string{"healthCheckExprs[0] (rabbitmq.com/v1beta1 RabbitmqCluster)", "an empty condition list", "counts it healthy at once"},
		},
		{
			name:  "as fixed",
			entry: rabbitmq(map[string]any{"current": "status.conditions.exists(c, c.type == 'AllReplicasReady' && c.status == 'True')"}),
			objs:  []map[string]any{rabbitmqCluster},
		},
		{
			name: "MongoDBCommunity phase",
			entry: map[string]any{
				"apiVersion": "mongodbcommunity.mongodb.com/v1", "kind": "MongoDBCommunity",
				"current": "status.phase == 'Running'", "failed": "status.phase == 'Failed'",
			},
		},
		{
			name:  "negation is true without status",
			entry: rabbitmq(map[string]any{"current": "!has(status.conditions)"}),
			rule:  finding.GraphHealthCurrent,
			want:  []string{"an empty status"},
		},
		{
			name:  "true for a bare object",
			entry: rabbitmq(map[string]any{"current": "true"}),
			rule:  finding.GraphHealthCurrent,
			want:  []string{"no status"},
		},
		{
			name:  "spec of the repository's object is used",
			entry: rabbitmq(map[string]any{"current": "spec.replicas == 3"}),
			objs:  []map[string]any{rabbitmqCluster},
			rule:  finding.GraphHealthCurrent,
			want:  []string{"no status"},
		},
		{
			name:  "inProgress decides first",
			entry: rabbitmq(map[string]any{"inProgress": "!has(status.observedGeneration)", "current": "true"}),
		},
		{
			name: "an erroring inProgress gives no status",
			// Flux's evaluator stops at the error: the status is Unknown.
			entry: rabbitmq(map[string]any{"inProgress": "status.x == 1", "current": "true"}),
		},
		{
			name:  "syntax error",
			entry: rabbitmq(map[string]any{"current": "status.conditions.exists(c, c.type == 'Ready'"}),
			rule:  finding.GraphHealthInvalid,
			field: "spec.healthCheckExprs.0.current",
			want:  []string{"does not parse: column 46: Syntax error: missing ')' at '<EOF>'"},
		},
		{
			name:  "syntax error in failed",
			entry: rabbitmq(map[string]any{"current": "status.phase == 'Running'", "failed": "status.phase = 'Failed'"}),
			rule:  finding.GraphHealthInvalid,
			field: "spec.healthCheckExprs.0.failed",
			want:  []string{"failed \"status.phase = 'Failed'\" does not parse"},
		},
		{
			name:  "not a boolean",
			entry: rabbitmq(map[string]any{"current": "metadata.name"}),
			rule:  finding.GraphHealthInvalid,
			want:  []string{"does not evaluate to a boolean"},
		},
		{
			name:  "current missing",
			entry: rabbitmq(map[string]any{"failed": "status.phase == 'Failed'"}),
			rule:  finding.GraphHealthInvalid,
			field: "spec.healthCheckExprs.0.current",
			want:  []string{"current is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, k := cluster(tt.entry, tt.objs...)
			fs, err := Check(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if tt.rule == "" {
				if len(fs) != 0 {
					t.Fatalf("unexpected findings %+v", fs)
				}
				return
			}
			if len(fs) != 1 || fs[0].Rule != tt.rule {
				t.Fatalf("findings %+v, want one %s", fs, tt.rule)
			}
			f := fs[0]
			if f.File != k.File || f.Object.Name != "infra-configs" || f.Severity != finding.Error {
				t.Errorf("finding at %s on %v (%s), want %s on the Kustomization", f.File, f.Object, f.Severity, k.File)
			}
			if tt.field != "" && f.Field != tt.field {
				t.Errorf("field %s, want %s", f.Field, tt.field)
			}
			for _, w := range tt.want {
				if !strings.Contains(f.Message, w) {
					t.Errorf("message %q lacks %q", f.Message, w)
				}
			}
		})
	}
}

func TestCheckCancelled(t *testing.T) {
	c, _ := cluster(rabbitmq(map[string]any{"current": "[1, 2, 3].all(x, x > 0)"}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Check(ctx, c); err == nil {
		t.Fatal("no error from a cancelled context")
	}
}
