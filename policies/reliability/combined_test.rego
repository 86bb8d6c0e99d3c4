package homelab.combined.reliability_test

import data.homelab.combined.reliability
import data.homelab.fixtures as fx

fires(id, objects) if id in fx.rules(reliability.deny) with input as fx.items(objects)

pdb(selector) := {
	"apiVersion": "policy/v1",
	"kind": "PodDisruptionBudget",
	"metadata": {"name": "web", "namespace": "fitness"},
	"spec": {"maxUnavailable": 1, "selector": selector},
}

test_reliability_pdb_fail if {
	fires("reliability-pdb", [fx.deployment])
	fires("reliability-pdb", [fx.deployment, pdb({"matchLabels": {"app.kubernetes.io/name": "consumer"}})])
	fires("reliability-pdb", [fx.deployment, pdb({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["web"]}]})])
}

test_reliability_pdb_pass if {
	not fires("reliability-pdb", [fx.deployment, pdb({"matchLabels": fx.labels})])
	not fires("reliability-pdb", [fx.deployment, pdb({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "Exists"}]})])
	not fires("reliability-pdb", [fx.deployment, pdb({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]})])
	not fires("reliability-pdb", [json.patch(fx.deployment, [{"op": "replace", "path": "/spec/replicas", "value": 1}])])
}

test_reliability_pdb_finding_points_at_deployment if {
	some r in reliability.deny with input as fx.items([fx.deployment])
	r.path == "test/0.yaml"
	r.kind == "Deployment"
	r.name == "web"
	r.namespace == "fitness"
}
