package homelab.data_test

import data.homelab.data
import data.homelab.fixtures as fx

fires(id, obj) if id in fx.rules(data.deny) with input as obj

protected := {"kustomize.toolkit.fluxcd.io/prune": "disabled"}

community := {
	"apiVersion": "mongodbcommunity.mongodb.com/v1",
	"kind": "MongoDBCommunity",
	"metadata": {"name": "mongodb", "namespace": "database", "annotations": protected},
	"spec": {
		"members": 3,
		"type": "ReplicaSet",
		"version": "8.0.4",
		"security": {"tls": {"enabled": true, "certificateKeySecretRef": {"name": "mongodb-tls"}, "caConfigMapRef": {"name": "mongodb-ca"}}},
	},
}

enterprise := {
	"apiVersion": "mongodb.com/v1",
	"kind": "MongoDB",
	"metadata": {"name": "mongodb", "namespace": "database", "annotations": protected},
	"spec": {
		"members": 3,
		"type": "ReplicaSet",
		"security": {"certsSecretPrefix": "mdb", "tls": {"ca": "mongodb-ca"}, "authentication": {"internalCluster": "X509"}},
	},
}

percona := {
	"apiVersion": "psmdb.percona.com/v1",
	"kind": "PerconaServerMongoDB",
	"metadata": {"name": "mongodb", "namespace": "database", "annotations": protected},
	"spec": {"tls": {"mode": "requireTLS"}, "replsets": [{"name": "rs0", "size": 3}]},
}

rabbit := {
	"apiVersion": "rabbitmq.com/v1beta1",
	"kind": "RabbitmqCluster",
	"metadata": {"name": "rabbitmq", "namespace": "messaging", "annotations": protected},
	"spec": {"replicas": 3, "tls": {"secretName": "rabbitmq-tls", "disableNonTLSListeners": true}},
}

test_compliant_data_tier_has_no_findings if {
	some obj in [community, enterprise, percona, rabbit]
	count(data.deny) == 0 with input as obj
}

test_data_mongodb_members_fail if {
	fires("data-mongodb-members", json.patch(community, [{"op": "replace", "path": "/spec/members", "value": 1}]))
	fires("data-mongodb-members", json.patch(enterprise, [{"op": "remove", "path": "/spec/members"}]))
	fires("data-mongodb-members", json.patch(enterprise, [{"op": "replace", "path": "/spec/type", "value": "Standalone"}]))
	fires("data-mongodb-members", json.patch(enterprise, [{"op": "replace", "path": "/spec/type", "value": "ShardedCluster"}]))
	fires("data-mongodb-members", json.patch(percona, [{"op": "replace", "path": "/spec/replsets/0/size", "value": 2}]))
	fires("data-mongodb-members", json.patch(percona, [{"op": "remove", "path": "/spec/replsets"}]))
}

test_data_mongodb_members_pass if {
	not fires("data-mongodb-members", community)
	not fires("data-mongodb-members", json.patch(enterprise, [
		{"op": "replace", "path": "/spec/type", "value": "ShardedCluster"},
		{"op": "add", "path": "/spec/mongodsPerShardCount", "value": 3},
	]))
}

test_data_mongodb_tls_fail if {
	fires("data-mongodb-tls", json.patch(community, [{"op": "replace", "path": "/spec/security/tls/enabled", "value": false}]))
	fires("data-mongodb-tls", json.patch(community, [{"op": "add", "path": "/spec/security/tls/optional", "value": true}]))
	fires("data-mongodb-tls", json.patch(community, [{"op": "add", "path": "/spec/additionalMongodConfig", "value": {"net.tls.mode": "preferTLS"}}]))
	fires("data-mongodb-tls", json.patch(enterprise, [{"op": "remove", "path": "/spec/security/certsSecretPrefix"}]))
	fires("data-mongodb-tls", json.patch(enterprise, [{"op": "add", "path": "/spec/additionalMongodConfig", "value": {"net": {"tls": {"mode": "allowTLS"}}}}]))
	fires("data-mongodb-tls", json.remove(percona, ["spec/tls"]))
}

test_data_mongodb_tls_pass if {
	not fires("data-mongodb-tls", json.patch(enterprise, [
		{"op": "remove", "path": "/spec/security/certsSecretPrefix"},
		{"op": "add", "path": "/spec/security/tls/enabled", "value": true},
	]))
	not fires("data-mongodb-tls", json.patch(community, [{"op": "add", "path": "/spec/additionalMongodConfig", "value": {"net.tls.mode": "requireTLS"}}]))
}

test_data_rabbitmq_replicas_fail if {
	fires("data-rabbitmq-replicas", json.remove(rabbit, ["spec/replicas"]))
}

test_data_rabbitmq_replicas_pass if {
	not fires("data-rabbitmq-replicas", rabbit)
}

test_data_rabbitmq_tls_fail if {
	fires("data-rabbitmq-tls", json.remove(rabbit, ["spec/tls"]))
	fires("data-rabbitmq-tls", json.remove(rabbit, ["spec/tls/disableNonTLSListeners"]))
}

test_data_rabbitmq_tls_pass if {
	not fires("data-rabbitmq-tls", rabbit)
}

unprotected(obj) := json.remove(obj, ["metadata/annotations"])

pvc := {
	"apiVersion": "v1",
	"kind": "PersistentVolumeClaim",
	"metadata": {"name": "data", "namespace": "database", "annotations": protected},
	"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
}

statefulset := json.patch(fx.deployment, [
	{"op": "replace", "path": "/kind", "value": "StatefulSet"},
	{"op": "add", "path": "/metadata/annotations", "value": protected},
	{"op": "add", "path": "/spec/volumeClaimTemplates", "value": [{"metadata": {"name": "data"}}]},
])

# chart_statefulset is rendered from a chart: Helm, not Flux's prune, deletes it.
chart_statefulset := json.patch(statefulset, [{"op": "add", "path": "/metadata/labels/helm.toolkit.fluxcd.io~1name", "value": "db"}])

test_data_prune_protected_fail if {
	some obj in [rabbit, community, enterprise, percona, pvc, statefulset]
	fires("data-prune-protected", unprotected(obj))
}

test_data_prune_protected_fail_wrong_value if {
	fires("data-prune-protected", json.patch(pvc, [{"op": "replace", "path": "/metadata/annotations/kustomize.toolkit.fluxcd.io~1prune", "value": "enabled"}]))
}

test_data_prune_protected_fail_chart_needs_helm_keep if {
	fires("data-prune-protected", chart_statefulset)
	some r in data.deny with input as chart_statefulset
	contains(r.msg, "helm.sh/resource-policy: keep")
}

test_data_prune_protected_pass if {
	some obj in [rabbit, community, pvc, statefulset, fx.with_annotation(chart_statefulset, "helm.sh/resource-policy", "keep")]
	not fires("data-prune-protected", obj)
}

test_data_prune_protected_pass_not_stateful if {
	not fires("data-prune-protected", fx.deployment)
	not fires("data-prune-protected", unprotected(json.remove(statefulset, ["spec/volumeClaimTemplates"])))
	not fires("data-prune-protected", json.patch(unprotected(rabbit), [{"op": "replace", "path": "/apiVersion", "value": "example.com/v1"}]))
}

test_data_prune_protected_message if {
	some r in data.deny with input as unprotected(rabbit)
	r.rule == "data-prune-protected"
	contains(r.msg, "RabbitmqCluster/messaging/rabbitmq")
	contains(r.msg, "PersistentVolumeClaims")
	contains(r.msg, "kustomize.toolkit.fluxcd.io/prune: disabled")
}
