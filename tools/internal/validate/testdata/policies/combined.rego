package homelab.combined.network

import rego.v1

workload_namespaces contains ns if {
	some doc in input
	doc.contents.kind == "Deployment"
	ns := doc.contents.metadata.namespace
}

policy_namespaces contains ns if {
	some doc in input
	doc.contents.kind == "NetworkPolicy"
	ns := doc.contents.metadata.namespace
}

deny contains result if {
	some ns in workload_namespaces
	not ns in policy_namespaces
	some doc in input
	doc.contents.kind == "Deployment"
	doc.contents.metadata.namespace == ns
	result := {
		"msg": sprintf("namespace %s runs workloads but has no NetworkPolicy", [ns]),
		"rule": "network-default-deny",
		"path": doc.path,
		"kind": "Deployment",
		"namespace": ns,
		"name": doc.contents.metadata.name,
	}
}
