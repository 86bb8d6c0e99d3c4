package homelab.security_test

import data.homelab.fixtures as fx
import data.homelab.security

c0 := "/spec/template/spec/containers/0"

pod := "/spec/template/spec"

patched(ops) := json.patch(fx.deployment, ops)

fires(id, obj) if id in fx.rules(security.deny) with input as obj

test_compliant_deployment_has_no_findings if {
	count(security.deny) == 0 with input as fx.deployment
}

test_compliant_cronjob_and_pod_have_no_findings if {
	count(security.deny) == 0 with input as fx.cronjob
	count(security.deny) == 0 with input as fx.pod
}

test_non_workloads_are_ignored if {
	count(security.deny) == 0 with input as {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}}
}

test_security_privileged_fail if {
	fires("security-privileged", patched([{"op": "add", "path": sprintf("%s/securityContext/privileged", [c0]), "value": true}]))
}

test_security_privileged_fail_in_cronjob if {
	obj := json.patch(fx.cronjob, [{"op": "add", "path": "/spec/jobTemplate/spec/template/spec/containers/0/securityContext/privileged", "value": true}])
	fires("security-privileged", obj)
}

test_security_privileged_pass if {
	not fires("security-privileged", patched([{"op": "add", "path": sprintf("%s/securityContext/privileged", [c0]), "value": false}]))
}

test_security_privilege_escalation_fail if {
	fires("security-privilege-escalation", patched([{"op": "remove", "path": sprintf("%s/securityContext/allowPrivilegeEscalation", [c0])}]))
}

test_security_privilege_escalation_pass if {
	not fires("security-privilege-escalation", fx.deployment)
}

test_security_host_namespaces_fail if {
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	fires("security-host-namespaces", patched([{"op": "add", "path": sprintf("%s/%s", [pod, field]), "value": true}]))
}

test_security_host_namespaces_fail_traefik_values if {
	fires("security-host-namespaces", {"kind": "HelmRelease", "metadata": {"name": "traefik", "namespace": "traefik"}, "spec": {"values": {"hostNetwork": true}}})
}

test_security_host_namespaces_pass if {
	not fires("security-host-namespaces", patched([{"op": "add", "path": sprintf("%s/hostNetwork", [pod]), "value": false}]))
	not fires("security-host-namespaces", {"kind": "HelmRelease", "metadata": {"name": "traefik", "namespace": "traefik"}, "spec": {"values": {"hostNetwork": false}}})
}

test_security_host_namespaces_pass_with_exception if {
	obj := fx.with_annotation(
		patched([{"op": "add", "path": sprintf("%s/hostNetwork", [pod]), "value": true}]),
		"exceptions.policy.homelab.dev/security-host-namespaces",
		"ingress binds :443 on every node, documented in docs/edge.md",
	)
	not fires("security-host-namespaces", obj)
	not fires("policy-exception-invalid", obj)
}

test_security_host_path_fail if {
	fires("security-host-path", patched([{"op": "add", "path": sprintf("%s/volumes/-", [pod]), "value": {"name": "root", "hostPath": {"path": "/"}}}]))
}

test_security_host_path_pass if {
	not fires("security-host-path", patched([{"op": "add", "path": sprintf("%s/volumes/-", [pod]), "value": {"name": "tmp", "emptyDir": {}}}]))
}

test_security_host_port_fail if {
	fires("security-host-port", patched([{"op": "add", "path": sprintf("%s/ports/0/hostPort", [c0]), "value": 8080}]))
}

test_security_host_port_pass if {
	not fires("security-host-port", fx.deployment)
}

test_security_run_as_non_root_fail_unset if {
	fires("security-run-as-non-root", patched([{"op": "remove", "path": sprintf("%s/securityContext/runAsNonRoot", [pod])}]))
}

test_security_run_as_non_root_fail_container_override if {
	fires("security-run-as-non-root", patched([{"op": "add", "path": sprintf("%s/securityContext/runAsNonRoot", [c0]), "value": false}]))
}

test_security_run_as_non_root_fail_uid_zero if {
	fires("security-run-as-non-root", patched([{"op": "add", "path": sprintf("%s/securityContext/runAsUser", [c0]), "value": 0}]))
}

test_security_run_as_non_root_pass_container_level if {
	obj := patched([
		{"op": "remove", "path": sprintf("%s/securityContext/runAsNonRoot", [pod])},
		{"op": "add", "path": sprintf("%s/securityContext/runAsNonRoot", [c0]), "value": true},
	])
	not fires("security-run-as-non-root", obj)
}

test_security_read_only_root_fs_fail if {
	fires("security-read-only-root-fs", patched([{"op": "replace", "path": sprintf("%s/securityContext/readOnlyRootFilesystem", [c0]), "value": false}]))
}

test_security_read_only_root_fs_fail_init_container if {
	init := json.patch(fx.container, [{"op": "remove", "path": "/securityContext/readOnlyRootFilesystem"}])
	fires("security-read-only-root-fs", patched([{"op": "add", "path": sprintf("%s/initContainers", [pod]), "value": [init]}]))
}

test_security_read_only_root_fs_pass if {
	not fires("security-read-only-root-fs", fx.deployment)
}

test_security_capabilities_fail_no_drop if {
	fires("security-capabilities", patched([{"op": "remove", "path": sprintf("%s/securityContext/capabilities", [c0])}]))
}

test_security_capabilities_fail_add if {
	fires("security-capabilities", patched([{"op": "add", "path": sprintf("%s/securityContext/capabilities/add", [c0]), "value": ["NET_ADMIN"]}]))
}

test_security_capabilities_pass_net_bind_service if {
	not fires("security-capabilities", patched([{"op": "add", "path": sprintf("%s/securityContext/capabilities/add", [c0]), "value": ["NET_BIND_SERVICE"]}]))
}

test_security_seccomp_fail_unset if {
	fires("security-seccomp", patched([{"op": "remove", "path": sprintf("%s/securityContext/seccompProfile", [pod])}]))
}

test_security_seccomp_fail_unconfined_container if {
	fires("security-seccomp", patched([{"op": "add", "path": sprintf("%s/securityContext/seccompProfile", [c0]), "value": {"type": "Unconfined"}}]))
}

test_security_seccomp_pass if {
	not fires("security-seccomp", fx.deployment)
	not fires("security-seccomp", patched([{"op": "add", "path": sprintf("%s/securityContext/seccompProfile", [c0]), "value": {"type": "Localhost", "localhostProfile": "x.json"}}]))
}

test_security_image_digest_fail if {
	some image in ["ghcr.io/homelab-gitops/fitness-web:1.0.0", "nginx", "ghcr.io/x/y@sha256:short"]
	fires("security-image-digest", patched([{"op": "replace", "path": sprintf("%s/image", [c0]), "value": image}]))
}

test_security_image_digest_pass if {
	not fires("security-image-digest", fx.deployment)
	not fires("security-image-digest", patched([{"op": "replace", "path": sprintf("%s/image", [c0]), "value": sprintf("registry:5000/app@%s", [fx.digest])}]))
}

test_security_image_digest_fail_traefik_values if {
	fires("security-image-digest", traefik_release({"image": {"tag": "v3.7.11"}}))
	fires("security-image-digest", traefik_release({"image": {"digest": "sha256:abc"}}))
}

test_security_image_digest_pass_traefik_values if {
	not fires("security-image-digest", traefik_release({"image": {"tag": "v3.7.11", "digest": fx.digest}}))
}

test_security_image_latest_fail if {
	fires("security-image-latest", patched([{"op": "replace", "path": sprintf("%s/image", [c0]), "value": sprintf("ghcr.io/x/y:latest@%s", [fx.digest])}]))
}

test_security_image_latest_pass if {
	not fires("security-image-latest", patched([{"op": "replace", "path": sprintf("%s/image", [c0]), "value": sprintf("registry:5000/latest/app:1.2@%s", [fx.digest])}]))
}

test_security_service_account_token_fail if {
	fires("security-service-account-token", patched([{"op": "remove", "path": sprintf("%s/automountServiceAccountToken", [pod])}]))
}

test_security_service_account_token_pass_flux_controller if {
	obj := json.patch(fx.deployment, [
		{"op": "remove", "path": sprintf("%s/automountServiceAccountToken", [pod])},
		{"op": "replace", "path": "/metadata/namespace", "value": "flux-system"},
		{"op": "replace", "path": "/metadata/labels", "value": {"app.kubernetes.io/part-of": "flux"}},
	])
	not fires("security-service-account-token", obj)
}

test_security_service_account_token_pass if {
	not fires("security-service-account-token", fx.deployment)
}

test_security_secret_env_fail_secret_key_ref if {
	env := {"name": "MONGODB_URI", "valueFrom": {"secretKeyRef": {"name": "mongodb", "key": "uri"}}}
	fires("security-secret-env", patched([{"op": "add", "path": sprintf("%s/env/-", [c0]), "value": env}]))
}

test_security_secret_env_fail_env_from if {
	fires("security-secret-env", patched([{"op": "add", "path": sprintf("%s/envFrom", [c0]), "value": [{"secretRef": {"name": "mongodb"}}]}]))
}

test_security_secret_env_pass_config_map if {
	not fires("security-secret-env", patched([{"op": "add", "path": sprintf("%s/envFrom", [c0]), "value": [{"configMapRef": {"name": "settings"}}]}]))
}

traefik_release(values) := {
	"apiVersion": "helm.toolkit.fluxcd.io/v2",
	"kind": "HelmRelease",
	"metadata": {"name": "traefik", "namespace": "traefik"},
	"spec": {"chart": {"spec": {"chart": "traefik", "version": "39.0.5"}}, "values": values},
}

test_security_traefik_values_fail_weakened if {
	fires("security-traefik-values", traefik_release({"securityContext": {"readOnlyRootFilesystem": false}}))
	fires("security-traefik-values", traefik_release({"podSecurityContext": {"runAsUser": 0}}))
}

test_security_traefik_values_fail_capabilities if {
	fires("security-traefik-values", traefik_release({"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}))
	fires("security-traefik-values", traefik_release({"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}))
	fires("security-traefik-values", traefik_release({"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}}))
}

test_security_traefik_values_pass if {
	values := {
		"image": {"tag": "v3.7.11", "digest": fx.digest},
		"podSecurityContext": {"runAsNonRoot": true, "runAsUser": 65532},
		"securityContext": {
			"readOnlyRootFilesystem": true,
			"allowPrivilegeEscalation": false,
			"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
		},
	}
	count(security.deny) == 0 with input as traefik_release(values)
	not fires("security-traefik-values", traefik_release({"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}}))
}

test_image_tag if {
	security.image_tag("registry:5000/app:1.2@sha256:abc") == "1.2"
	not security.image_tag("registry:5000/app")
}

test_findings_carry_rule_and_object if {
	obj := patched([{"op": "add", "path": sprintf("%s/securityContext/privileged", [c0]), "value": true}])
	some r in security.deny with input as obj
	r.rule == "security-privileged"
	r.severity == "error"
	r.kind == "Deployment"
	r.namespace == "fitness"
	r.name == "web"
	contains(r.msg, "Deployment/fitness/web")
}
