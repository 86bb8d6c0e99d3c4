package homelab.combined.data_test

import data.homelab.combined.data
import data.homelab.fixtures as fx

fires(id, objects) if id in fx.rules(data.deny) with input as fx.items(objects)

pdb(ns, selector) := {
	"apiVersion": "policy/v1",
	"kind": "PodDisruptionBudget",
	"metadata": {"name": "pdb", "namespace": ns},
	"spec": {"maxUnavailable": 1, "selector": selector},
}

rabbit := {"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster", "metadata": {"name": "rabbitmq", "namespace": "messaging"}, "spec": {"replicas": 3}}

mongo := {"apiVersion": "mongodbcommunity.mongodb.com/v1", "kind": "MongoDBCommunity", "metadata": {"name": "mongodb", "namespace": "database"}, "spec": {"members": 3}}

percona(replset) := {"apiVersion": "psmdb.percona.com/v1", "kind": "PerconaServerMongoDB", "metadata": {"name": "mongodb", "namespace": "database"}, "spec": {"replsets": [replset]}}

statefulset := json.patch(fx.deployment, [
	{"op": "replace", "path": "/kind", "value": "StatefulSet"},
	{"op": "replace", "path": "/spec/replicas", "value": 3},
])

test_data_pdb_fail_rabbitmq if {
	fires("data-pdb", [rabbit])
	fires("data-pdb", [rabbit, pdb("messaging", {"matchLabels": {"app.kubernetes.io/name": "other"}})])
	fires("data-pdb", [rabbit, pdb("elsewhere", {"matchLabels": {"app.kubernetes.io/name": "rabbitmq"}})])
}

test_data_pdb_fail_mongodb if {
	fires("data-pdb", [mongo])
	fires("data-pdb", [percona({"name": "rs0", "size": 3})])
}

test_data_pdb_fail_statefulset if {
	fires("data-pdb", [statefulset])
}

test_data_pdb_pass if {
	not fires("data-pdb", [rabbit, pdb("messaging", {"matchLabels": {"app.kubernetes.io/name": "rabbitmq"}})])
	not fires("data-pdb", [mongo, pdb("database", {"matchExpressions": [{"key": "app", "operator": "In", "values": ["mongodb-svc"]}]})])
	not fires("data-pdb", [percona({"name": "rs0", "size": 3, "podDisruptionBudget": {"maxUnavailable": 1}})])
	not fires("data-pdb", [statefulset, pdb("fitness", {"matchLabels": fx.labels})])
	not fires("data-pdb", [json.patch(statefulset, [{"op": "replace", "path": "/spec/replicas", "value": 1}])])
}

namespace(name, annotations) := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "annotations": annotations}}

protected := {"kustomize.toolkit.fluxcd.io/prune": "disabled"}

test_data_namespace_prune_protected_fail if {
	fires("data-namespace-prune-protected", [rabbit, namespace("messaging", {})])
	fires("data-namespace-prune-protected", [mongo, namespace("database", {"kustomize.toolkit.fluxcd.io/prune": "enabled"})])
}

test_data_namespace_prune_protected_finding_points_at_namespace if {
	some r in data.deny with input as fx.items([mongo, rabbit, namespace("messaging", {})])
	r.rule == "data-namespace-prune-protected"
	r.kind == "Namespace"
	r.name == "messaging"
	r.path == "test/2.yaml"
	contains(r.msg, "RabbitmqCluster/messaging/rabbitmq")
}

test_data_namespace_prune_protected_pass if {
	not fires("data-namespace-prune-protected", [rabbit, namespace("messaging", protected)])
	not fires("data-namespace-prune-protected", [rabbit, namespace("other", {})])
	not fires("data-namespace-prune-protected", [fx.deployment, namespace("fitness", {})])
	not fires("data-namespace-prune-protected", [rabbit])
}
