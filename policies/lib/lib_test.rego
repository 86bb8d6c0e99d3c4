package homelab.lib_test

import data.homelab.fixtures as fx
import data.homelab.lib

test_pod_spec_for_every_workload_kind if {
	lib.pod_spec(fx.deployment) == fx.pod_spec
	lib.pod_spec(fx.cronjob) == fx.pod_spec
	lib.pod_spec(fx.pod) == fx.pod_spec
	lib.pod_spec(json.patch(fx.deployment, [{"op": "replace", "path": "/kind", "value": "DaemonSet"}])) == fx.pod_spec
	not lib.pod_spec({"kind": "ConfigMap"})
}

test_pod_labels if {
	lib.pod_labels(fx.deployment) == fx.labels
	lib.pod_labels(fx.pod) == fx.labels
	lib.pod_labels(fx.cronjob) == {"app": "backup"}
}

test_describe if {
	lib.describe(fx.deployment) == "Deployment/fitness/web"
	lib.describe({"kind": "ClusterIssuer", "metadata": {"name": "le"}}) == "ClusterIssuer/le"
}

test_exempt_needs_a_reason if {
	lib.exempt(fx.with_annotation(fx.deployment, "exceptions.policy.homelab.dev/reliability-pdb", "reviewed in #42, singleton"), "reliability-pdb")
	not lib.exempt(fx.with_annotation(fx.deployment, "exceptions.policy.homelab.dev/reliability-pdb", "short"), "reliability-pdb")
	not lib.exempt(fx.with_annotation(fx.deployment, "exceptions.policy.homelab.dev/reliability-pdb", 12345678901), "reliability-pdb")
}

test_traefik_release_recognised if {
	lib.traefik_release({"kind": "HelmRelease", "metadata": {"name": "ingress"}, "spec": {"chartRef": {"kind": "OCIRepository", "name": "traefik-chart"}}})
	lib.traefik_release({"kind": "HelmRelease", "metadata": {"name": "traefik"}, "spec": {}})
	not lib.traefik_release({"kind": "HelmRelease", "metadata": {"name": "cert-manager"}, "spec": {"chart": {"spec": {"chart": "cert-manager"}}}})
}

test_open_cidr if {
	lib.open_cidr(" 0.0.0.0/0")
	lib.open_cidr("::/0")
	not lib.open_cidr("10.0.0.0/8")
}

test_to_list if {
	lib.to_list("a,b") == ["a", "b"]
	lib.to_list(["a"]) == ["a"]
}

test_rule_ids_include_every_area if {
	every area in ["security", "network", "certificates", "data", "reliability", "flux", "secrets", "policy"] {
		some id in lib.rule_ids
		startswith(id, concat("", [area, "-"]))
	}
}

test_combined_of_keeps_input_order_and_skips_non_objects if {
	second := json.patch(fx.deployment, [{"op": "replace", "path": "/metadata/name", "value": "second"}])
	items := fx.items([fx.deployment, {"kind": "Service", "metadata": {"name": "s"}}, second])
	input_items := array.concat(items, [{"path": "test/null.yaml", "contents": null}])
	[item.path | some item in lib.combined_of("Deployment")] == ["test/0.yaml", "test/2.yaml"] with input as input_items
	[item.path | some item in lib.combined_of("Service")] == ["test/1.yaml"] with input as input_items
	lib.combined_of("Gateway") == [] with input as input_items
	count(lib.combined_objects) == 3 with input as input_items
}
