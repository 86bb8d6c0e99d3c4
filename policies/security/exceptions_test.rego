package homelab.security_test

import data.homelab.fixtures as fx
import data.homelab.security

root := json.patch(fx.deployment, [{"op": "remove", "path": "/spec/template/spec/securityContext/runAsNonRoot"}])

test_policy_exception_invalid_fail_unknown_rule if {
	obj := fx.with_annotation(fx.deployment, "exceptions.policy.homelab.dev/security-no-such-rule", "a perfectly good reason")
	fires("policy-exception-invalid", obj)
}

test_policy_exception_invalid_fail_short_reason if {
	obj := fx.with_annotation(root, "exceptions.policy.homelab.dev/security-run-as-non-root", "needed")
	fires("policy-exception-invalid", obj)
	fires("security-run-as-non-root", obj)
}

test_policy_exception_invalid_fail_empty_reason if {
	obj := fx.with_annotation(root, "exceptions.policy.homelab.dev/security-run-as-non-root", "          ")
	fires("policy-exception-invalid", obj)
}

test_policy_exception_invalid_pass if {
	obj := fx.with_annotation(root, "exceptions.policy.homelab.dev/security-run-as-non-root", "vendor image needs root to chown its data dir")
	not fires("policy-exception-invalid", obj)
	not fires("security-run-as-non-root", obj)
}

test_exception_covers_only_its_rule if {
	obj := fx.with_annotation(
		json.patch(root, [{"op": "add", "path": "/spec/template/spec/hostPID", "value": true}]),
		"exceptions.policy.homelab.dev/security-run-as-non-root",
		"vendor image needs root to chown its data dir",
	)
	fires("security-host-namespaces", obj)
	not fires("security-run-as-non-root", obj)
}
