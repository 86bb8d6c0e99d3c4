package refs

import (
	"slices"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/config"
)

// TestOperators checks each naming rule on a typical object: what the
// controller makes, under which names and in which namespace.
func TestOperators(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // kind/namespace/name, sorted
	}{
		{"cert-manager Certificate", "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: web, namespace: web}\nspec: {secretName: web-tls}\n",
			[]string{"Secret/web/web-tls"}},
		{"cert-manager Certificate without secretName", "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: web, namespace: web}\nspec: {}\n",
			nil},
		{"gateway-shim: annotated Gateway", `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: gw, annotations: {cert-manager.io/cluster-issuer: le}}
spec:
  listeners:
    - {name: https, tls: {certificateRefs: [{name: edge-tls}, {name: other-tls, namespace: certs}]}}
    - {name: http}
`, []string{"Secret/certs/other-tls", "Secret/gw/edge-tls"}},
		{"gateway-shim: Gateway without the annotation", "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: edge, namespace: gw}\nspec:\n  listeners: [{name: https, tls: {certificateRefs: [{name: edge-tls}]}}]\n",
			nil},
		{"ingress-shim: annotated Ingress", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: web, annotations: {cert-manager.io/issuer: ca}}\nspec:\n  tls: [{secretName: web-tls}, {hosts: [a]}]\n",
			[]string{"Secret/web/web-tls"}},
		{"ExternalSecret target name", "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: db, namespace: app}\nspec: {target: {name: db-credentials}}\n",
			[]string{"Secret/app/db-credentials"}},
		{"ExternalSecret defaults to its name", "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: db, namespace: app}\nspec: {}\n",
			[]string{"Secret/app/db"}},
		{"SealedSecret", "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: token, namespace: app}\n",
			[]string{"Secret/app/token"}},
		{"CloudNativePG Cluster", "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: db, namespace: app}\nspec: {instances: 2, enableSuperuserAccess: true}\n",
			[]string{"Secret/app/db-app", "Secret/app/db-ca", "Secret/app/db-replication", "Secret/app/db-server", "Secret/app/db-superuser", "Service/app/db-r", "Service/app/db-ro", "Service/app/db-rw"}},
		{"CloudNativePG Cluster with its own application Secret", "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: db, namespace: app}\nspec: {bootstrap: {initdb: {secret: {name: mine}}}}\n",
			[]string{"Secret/app/db-ca", "Secret/app/db-replication", "Secret/app/db-server", "Service/app/db-r", "Service/app/db-ro", "Service/app/db-rw"}},
		{"CloudNativePG Pooler", "apiVersion: postgresql.cnpg.io/v1\nkind: Pooler\nmetadata: {name: db-pooler, namespace: app}\nspec: {cluster: {name: db}}\n",
			[]string{"Service/app/db-pooler"}},
		{"Tekton EventListener", "apiVersion: triggers.tekton.dev/v1beta1\nkind: EventListener\nmetadata: {name: push, namespace: ci}\n",
			[]string{"Service/ci/el-push"}},
		{"Tekton operator: TektonDashboard", "apiVersion: operator.tekton.dev/v1alpha1\nkind: TektonDashboard\nmetadata: {name: dashboard}\nspec: {targetNamespace: tekton}\n",
			[]string{"Service/tekton/tekton-dashboard"}},
		{"Tekton operator: TektonConfig, profile all", "apiVersion: operator.tekton.dev/v1alpha1\nkind: TektonConfig\nmetadata: {name: config}\nspec: {profile: all}\n",
			[]string{"Service/tekton-pipelines/tekton-dashboard"}},
		{"Tekton operator: TektonConfig, basic profile", "apiVersion: operator.tekton.dev/v1alpha1\nkind: TektonConfig\nmetadata: {name: config}\nspec: {profile: basic}\n",
			nil},
		{"RabbitMQ cluster operator", "apiVersion: rabbitmq.com/v1beta1\nkind: RabbitmqCluster\nmetadata: {name: mq, namespace: queue}\n",
			[]string{"ConfigMap/queue/mq-plugins-conf", "ConfigMap/queue/mq-server-conf", "Secret/queue/mq-default-user", "Secret/queue/mq-erlang-cookie",
				"Service/queue/mq", "Service/queue/mq-nodes", "ServiceAccount/queue/mq-server"}},
		{"MongoDB community operator", `apiVersion: mongodbcommunity.mongodb.com/v1
kind: MongoDBCommunity
metadata: {name: Db, namespace: data}
spec:
  users:
    - {name: App, db: admin, scramCredentialsSecretName: app}
    - {name: ro, db: fit, connectionStringSecretName: ro-uri, connectionStringSecretNamespace: web}
`, []string{"Secret/data/Db-admin-scram-credentials", "Secret/data/Db-agent-certs", "Secret/data/Db-agent-password", "Secret/data/Db-keyfile",
			"Secret/data/app-scram-credentials", "Secret/data/db-admin-app", "Secret/web/ro-uri", "Service/data/Db-svc"}},
		{"MongoDB enterprise operator", "apiVersion: mongodb.com/v1\nkind: MongoDB\nmetadata: {name: db, namespace: data}\n",
			[]string{"Secret/data/db-agent-password", "Service/data/db-svc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := cluster(t, tt.doc).Objects[0]
			id := o.ID()
			rule, ok := operators[groupKind{id.Group, id.Kind}]
			if !ok {
				t.Fatalf("no rule for %s/%s", id.Group, id.Kind)
			}
			var got []string
			for _, m := range rule(o) {
				if m.by == "" {
					t.Errorf("%s/%s/%s: no controller named", m.kind, m.namespace, m.name)
				}
				got = append(got, m.kind+"/"+m.namespace+"/"+m.name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("makes\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// TestOperatorsInIndex: what the rules make counts as existing.
func TestOperatorsInIndex(t *testing.T) {
	c := cluster(t, "apiVersion: rabbitmq.com/v1beta1\nkind: RabbitmqCluster\nmetadata: {name: mq, namespace: queue}\n")
	ix := newIndex(c, nil)
	st, by, _ := ix.lookup("", "Secret", "queue", "mq-default-user")
	if st != made || !strings.Contains(by, "RabbitMQ") {
		t.Errorf("lookup = %v %q, want made by the RabbitMQ operator", st, by)
	}
}

// TestClusterScopedNames: a missing ClusterIssuer is named Kind/name, not
// Kind//name.
func TestClusterScopedNames(t *testing.T) {
	c := cluster(t, "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: web, namespace: web}\nspec: {secretName: web-tls, issuerRef: {kind: ClusterIssuer, name: letsencrypt}}\n")
	fs := Check(c, &config.Config{})
	if len(fs) != 1 {
		t.Fatalf("findings %+v, want the missing ClusterIssuer", fs)
	}
	if msg := fs[0].Message; !strings.Contains(msg, "ClusterIssuer/letsencrypt does not exist") || strings.Contains(msg, "//") {
		t.Errorf("message %q names the ClusterIssuer badly", msg)
	}
}
