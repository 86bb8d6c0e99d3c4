package homelab.security

import data.homelab.lib

# METADATA
# title: Exceptions name a known rule and give a reason
# custom:
#   id: policy-exception-invalid
#   severity: error
#   rationale: An exception switches a rule off for one object; without a real reason nobody can review it later, and one naming an unknown rule id (a typo, a renamed rule) silently exempts nothing.
#   remediation: Write the annotation as exceptions.policy.homelab.dev/<rule-id> with a rule id from policies/README.md and a reason of at least 10 characters that says why the object needs it.
deny contains result if {
	some msg in exception_findings
	result := {
		"msg": msg,
		"rule": rego.metadata.rule().custom.id,
		"severity": rego.metadata.rule().custom.severity,
		"kind": object.get(input, "kind", ""),
		"namespace": lib.namespace(input),
		"name": lib.name(input),
	}
}

exception_findings contains msg if {
	some id, _ in lib.exceptions(input)
	not id in lib.rule_ids
	msg := sprintf("%s: exception %s%s names no known rule; use a rule id from policies/README.md", [lib.describe(input), lib.exception_prefix, id])
}

exception_findings contains msg if {
	some id, reason in lib.exceptions(input)
	not lib.valid_exception_reason(reason)
	msg := sprintf("%s: exception %s%s needs a reason of at least %d characters saying why", [lib.describe(input), lib.exception_prefix, id, lib.min_exception_reason])
}
