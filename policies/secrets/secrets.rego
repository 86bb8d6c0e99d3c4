# METADATA
# title: Secrets
# description: Per-object rules for Secrets committed to the repository.
package homelab.secrets

import data.homelab.lib

secret_fields := ["data", "stringData"]

# METADATA
# title: Secrets are SOPS-encrypted
# custom:
#   id: secrets-sops-encrypted
#   severity: error
#   rationale: Anything committed in clear text is readable by everyone with the repository, for ever (Git history). SOPS with age keeps values encrypted in Git and kustomize-controller decrypts them in the cluster.
#   remediation: Encrypt the file with `sops --encrypt --in-place` using the repository's .sops.yaml (encrypted_regex ^(data|stringData)$), and give the Kustomization spec.decryption.provider sops.
deny contains result if {
	input.kind == "Secret" # guard
	some msg in sops_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

has_values(secret) if {
	some field in secret_fields
	count(object.get(secret, field, {})) > 0
}

sops_findings contains msg if {
	input.kind == "Secret"
	has_values(input)
	not input.sops
	msg := sprintf("%s: the Secret is not SOPS-encrypted (no sops metadata); encrypt it with sops before committing", [lib.describe(input)])
}

sops_findings contains msg if {
	input.kind == "Secret"
	input.sops
	some field in secret_fields
	some key, value in object.get(input, field, {})
	not startswith(value, "ENC[")
	msg := sprintf("%s: %s.%s is in clear text although the file has sops metadata; re-encrypt the whole file", [lib.describe(input), field, key])
}
