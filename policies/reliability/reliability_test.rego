package homelab.reliability_test

import data.homelab.fixtures as fx
import data.homelab.reliability

fires(id, obj) if id in fx.rules(reliability.deny) with input as obj

c0 := "/spec/template/spec/containers/0"

test_compliant_workloads_have_no_findings if {
	count(reliability.deny) == 0 with input as fx.deployment
	count(reliability.deny) == 0 with input as fx.cronjob
}

test_reliability_resources_fail if {
	some field in ["requests/cpu", "requests/memory", "limits/memory"]
	fires("reliability-resources", json.remove(fx.deployment, [sprintf("%s/resources/%s", [c0, field])]))
}

test_reliability_resources_pass if {
	not fires("reliability-resources", fx.deployment)
}

test_reliability_probes_fail if {
	some probe in ["readinessProbe", "livenessProbe"]
	fires("reliability-probes", json.remove(fx.deployment, [sprintf("%s/%s", [c0, probe])]))
}

test_reliability_probes_pass_job if {
	not fires("reliability-probes", json.remove(fx.cronjob, ["spec/jobTemplate/spec/template/spec/containers/0/readinessProbe"]))
}

test_reliability_replicas_fail if {
	fires("reliability-replicas", json.remove(fx.deployment, ["spec/replicas"]))
}

flux_controller := json.patch(fx.deployment, [
	{"op": "replace", "path": "/spec/replicas", "value": 1},
	{"op": "replace", "path": "/metadata/namespace", "value": "flux-system"},
	{"op": "replace", "path": "/metadata/labels", "value": {"app.kubernetes.io/part-of": "flux"}},
])

test_reliability_replicas_pass if {
	not fires("reliability-replicas", fx.deployment)
	not fires("reliability-replicas", flux_controller)
}

test_reliability_replicas_pass_with_exception if {
	obj := fx.with_annotation(json.remove(fx.deployment, ["spec/replicas"]), "exceptions.policy.homelab.dev/reliability-replicas", "singleton scheduler, holds a lease")
	not fires("reliability-replicas", obj)
}

test_reliability_spread_fail if {
	fires("reliability-spread", json.remove(fx.deployment, ["spec/template/spec/topologySpreadConstraints"]))
}

test_reliability_spread_pass_anti_affinity if {
	anti := {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
		"weight": 100,
		"podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": fx.labels}},
	}]}}
	obj := json.patch(fx.deployment, [
		{"op": "remove", "path": "/spec/template/spec/topologySpreadConstraints"},
		{"op": "add", "path": "/spec/template/spec/affinity", "value": anti},
	])
	not fires("reliability-spread", obj)
}

test_reliability_spread_pass_single_replica_flux if {
	not fires("reliability-spread", flux_controller)
}

spread0 := "/spec/template/spec/topologySpreadConstraints/0"

test_reliability_spread_taints_fail if {
	fires("reliability-spread-taints", json.remove(fx.deployment, [sprintf("%s/nodeTaintsPolicy", [spread0])]))
	fires("reliability-spread-taints", json.patch(fx.deployment, [{"op": "replace", "path": sprintf("%s/nodeTaintsPolicy", [spread0]), "value": "Ignore"}]))
	fires("reliability-spread-taints", json.remove(fx.cronjob, ["spec/jobTemplate/spec/template/spec/topologySpreadConstraints/0/nodeTaintsPolicy"]))
}

surge_deployment := json.patch(fx.deployment, [
	{"op": "remove", "path": sprintf("%s/nodeTaintsPolicy", [spread0])},
	{"op": "add", "path": "/spec/strategy", "value": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}},
])

test_reliability_spread_taints_fail_message_names_the_deadlock if {
	some r in reliability.deny with input as surge_deployment
	r.rule == "reliability-spread-taints"
	contains(r.msg, "topologySpreadConstraints[0] (kubernetes.io/hostname, DoNotSchedule)")
	contains(r.msg, "maxUnavailable 0")
	contains(r.msg, "nodeTaintsPolicy: Honor")
}

test_reliability_spread_taints_fail_message_without_surge if {
	some r in reliability.deny with input as json.remove(fx.deployment, [sprintf("%s/nodeTaintsPolicy", [spread0])])
	r.rule == "reliability-spread-taints"
	contains(r.msg, "drained node")
}

test_reliability_spread_taints_pass if {
	not fires("reliability-spread-taints", fx.deployment)
	not fires("reliability-spread-taints", json.patch(surge_deployment, [{"op": "replace", "path": sprintf("%s/whenUnsatisfiable", [spread0]), "value": "ScheduleAnyway"}]))
	not fires("reliability-spread-taints", json.remove(fx.deployment, ["spec/template/spec/topologySpreadConstraints"]))
}

test_reliability_spread_rollout_fail if {
	fires("reliability-spread-rollout", json.remove(fx.deployment, [sprintf("%s/matchLabelKeys", [spread0])]))
	fires("reliability-spread-rollout", json.patch(fx.deployment, [{"op": "replace", "path": sprintf("%s/matchLabelKeys", [spread0]), "value": ["app.kubernetes.io/name"]}]))
}

test_reliability_spread_rollout_fail_message if {
	some r in reliability.deny with input as json.remove(fx.deployment, [sprintf("%s/matchLabelKeys", [spread0])])
	r.rule == "reliability-spread-rollout"
	contains(r.msg, "topologySpreadConstraints[0] (kubernetes.io/hostname, DoNotSchedule)")
	contains(r.msg, "matchLabelKeys: [pod-template-hash]")
}

test_reliability_spread_rollout_pass if {
	not fires("reliability-spread-rollout", fx.deployment)
	not fires("reliability-spread-rollout", json.patch(json.remove(fx.deployment, [sprintf("%s/matchLabelKeys", [spread0])]), [{"op": "replace", "path": sprintf("%s/whenUnsatisfiable", [spread0]), "value": "ScheduleAnyway"}]))

	# A StatefulSet's pods keep their names and nodes' order: no surge.
	not fires("reliability-spread-rollout", json.patch(json.remove(fx.deployment, [sprintf("%s/matchLabelKeys", [spread0])]), [{"op": "replace", "path": "/kind", "value": "StatefulSet"}]))
}
