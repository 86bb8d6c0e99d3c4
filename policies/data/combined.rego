# METADATA
# title: Data rules across objects
# description: input is the conftest --combine array of {"path", "contents"}.
package homelab.combined.data

import data.homelab.lib

# stateful(obj) holds the labels of the pods of a replicated stateful
# workload, as its operator sets them.
stateful(obj) := lib.pod_labels(obj) if {
	obj.kind == "StatefulSet"
	lib.replicas(obj) > 1
}

stateful(obj) := {"app.kubernetes.io/name": lib.name(obj)} if obj.kind == "RabbitmqCluster"

stateful(obj) := {"app": sprintf("%s-svc", [lib.name(obj)])} if {
	obj.kind in {"MongoDBCommunity", "MongoDB"}
}

stateful(obj) := {"app.kubernetes.io/instance": lib.name(obj), "app.kubernetes.io/name": "percona-server-mongodb"} if {
	obj.kind == "PerconaServerMongoDB"
	some rs in obj.spec.replsets
	not rs.podDisruptionBudget
}

# pdb_selectors[ns] are the selectors of the PodDisruptionBudgets in ns,
# collected once per evaluation rather than scanned for every workload.
pdb_selectors[lib.namespace(item.contents)] contains object.get(item.contents.spec, "selector", {}) if {
	some item in lib.combined_of("PodDisruptionBudget")
}

covered(obj, labels) if {
	# Taking the whole set evaluates it once; pdb_selectors[ns] would run the
	# rule body again for each namespace.
	some selector in object.get(pdb_selectors, lib.namespace(obj), set())
	lib.selects(selector, labels)
}

# METADATA
# title: PodDisruptionBudget for replicated stateful workloads
# custom:
#   id: data-pdb
#   severity: error
#   rationale: Without a PDB a node drain can evict two of three RabbitMQ or MongoDB members at once and lose the quorum that writes depend on.
#   remediation: Add a PodDisruptionBudget with maxUnavailable 1 whose selector matches the members' pods (RabbitmqCluster app.kubernetes.io/name=<name>, MongoDB app=<name>-svc, a StatefulSet's template labels); Percona replsets set podDisruptionBudget.
deny contains result if {
	some kind in ["MongoDB", "MongoDBCommunity", "PerconaServerMongoDB", "RabbitmqCluster", "StatefulSet"] # the kinds the call below answers for
	some item in lib.combined_of(kind)
	labels := stateful(item.contents)
	not covered(item.contents, labels)
	msg := sprintf("%s: no PodDisruptionBudget selects its pods (labels %v); add one with maxUnavailable: 1", [lib.describe(item.contents), labels])
	result := lib.combined_result(rego.metadata.rule(), item, msg)
}

# stateful_by_namespace[ns] describes the stateful objects in namespace ns.
stateful_by_namespace[lib.namespace(item.contents)] contains lib.describe(item.contents) if {
	some kind in ["MongoDB", "MongoDBCommunity", "PerconaServerMongoDB", "PersistentVolumeClaim", "RabbitmqCluster", "StatefulSet"] # the kinds the call below answers for
	some item in lib.combined_of(kind)
	lib.stateful(item.contents)
	lib.namespace(item.contents) != ""
}

# METADATA
# title: Namespaces of stateful objects are not pruned
# custom:
#   id: data-namespace-prune-protected
#   severity: error
#   rationale: Deleting a Namespace deletes everything in it. An annotated RabbitmqCluster or MongoDB replica set is still lost if Flux prunes the Namespace that holds it, when the Namespace's file is removed or moved.
#   remediation: Annotate the Namespace with kustomize.toolkit.fluxcd.io/prune disabled; delete it by hand after its data (docs/runbook.md, Removing stateful data).
deny contains result if {
	some item in lib.combined_of("Namespace")

	# Taking the whole set evaluates it once (see covered).
	held := object.get(stateful_by_namespace, lib.name(item.contents), set())
	count(held) > 0
	not lib.prune_protected(item.contents)
	a := lib.prune_annotation(item.contents)
	msg := sprintf("%s: holds %s; pruning the namespace deletes everything in it; annotate it %s: %s", [lib.describe(item.contents), concat(", ", sort([x | some x in held])), a.key, a.value])
	result := lib.combined_result(rego.metadata.rule(), item, msg)
}
