# METADATA
# title: Reliability rules across objects
# description: input is the conftest --combine array of {"path", "contents"}.
package homelab.combined.reliability

import data.homelab.lib

# pdb_selectors[ns] are the selectors of the PodDisruptionBudgets in ns,
# collected once per evaluation rather than scanned for every workload.
pdb_selectors[lib.namespace(item.contents)] contains object.get(item.contents.spec, "selector", {}) if {
	some item in lib.combined_of("PodDisruptionBudget")
}

covered(obj) if {
	# Taking the whole set evaluates it once; pdb_selectors[ns] would run the
	# rule body again for each namespace.
	some selector in object.get(pdb_selectors, lib.namespace(obj), set())
	lib.selects(selector, lib.pod_labels(obj))
}

# METADATA
# title: PodDisruptionBudget for replicated Deployments
# custom:
#   id: reliability-pdb
#   severity: error
#   rationale: Replicas only help if a node drain or cluster upgrade cannot evict them all at once; a PDB makes voluntary disruptions wait.
#   remediation: Add a PodDisruptionBudget in the Deployment's namespace with maxUnavailable 1 (or minAvailable below the replica count) whose selector matches the pod template labels.
deny contains result if {
	some item in lib.combined_of("Deployment")
	lib.replicas(item.contents) > 1
	not covered(item.contents)
	msg := sprintf("%s: %d replicas but no PodDisruptionBudget selects its pods; add one with maxUnavailable: 1", [lib.describe(item.contents), lib.replicas(item.contents)])
	result := lib.combined_result(rego.metadata.rule(), item, msg)
}
