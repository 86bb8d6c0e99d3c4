# METADATA
# title: Certificates
# description: Per-object rules for cert-manager Issuers and ClusterIssuers.
package homelab.certificates

import data.homelab.lib

issuer_kinds := {"Issuer", "ClusterIssuer"}

# METADATA
# title: ACME issuers use DNS-01 only
# custom:
#   id: certificates-dns01-only
#   severity: error
#   rationale: HTTP-01 needs Let's Encrypt to reach port 80 from the internet, and the cluster has no inbound ports. DNS-01 (Cloudflare API token) proves the domain without opening anything.
#   remediation: Give every ACME solver a dns01 block (cloudflare with apiTokenSecretRef) and remove http01 solvers.
deny contains result if {
	input.kind in {"ClusterIssuer", "Issuer"} # guard
	some msg in dns01_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

dns01_findings contains msg if {
	input.kind in issuer_kinds
	input.spec.acme
	count(object.get(input.spec.acme, "solvers", [])) == 0
	msg := sprintf("%s: the ACME issuer has no solvers; add a dns01 solver", [lib.describe(input)])
}

dns01_findings contains msg if {
	input.kind in issuer_kinds
	some i, solver in input.spec.acme.solvers
	not solver.dns01
	msg := sprintf("%s: ACME solver %d is not DNS-01; use dns01 (cloudflare) instead of http01", [lib.describe(input), i])
}
