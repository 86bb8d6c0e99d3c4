# METADATA
# title: Certificate rules across objects
# description: input is the conftest --combine array of {"path", "contents"}.
package homelab.combined.certificates

import data.homelab.lib

objects := lib.combined_objects

acme_issuers := [item |
	some item in objects
	item.contents.kind in {"Issuer", "ClusterIssuer"}
	item.contents.spec.acme
]

staging(issuer) if contains(lower(object.get(issuer.spec.acme, "server", "")), "staging")

production(issuer) if not staging(issuer)

# METADATA
# title: Staging and production ACME issuers both exist
# custom:
#   id: certificates-staging-and-production
#   severity: error
#   rationale: Let's Encrypt's production endpoint rate-limits hard; new hostnames and issuer changes are tried against staging first, so both issuers must be ready side by side.
#   remediation: Define two ACME ClusterIssuers with the same DNS-01 solver, one with the staging server (acme-staging-v02) and one with the production server (acme-v02).
deny contains result if {
	count(acme_issuers) > 0
	some want in ["staging", "production"]
	not has_issuer(want)
	msg := sprintf("the cluster has ACME issuers but none for Let's Encrypt %s; add a %s ClusterIssuer beside %s", [want, want, lib.describe(acme_issuers[0].contents)])
	result := lib.combined_result(rego.metadata.rule(), acme_issuers[0], msg)
}

has_issuer("staging") if {
	some item in acme_issuers
	staging(item.contents)
}

has_issuer("production") if {
	some item in acme_issuers
	production(item.contents)
}

issuer_exists("ClusterIssuer", _, name) if {
	some item in lib.combined_of("ClusterIssuer")
	lib.name(item.contents) == name
}

issuer_exists("Issuer", ns, name) if {
	some item in lib.combined_of("Issuer")
	lib.namespace(item.contents) == ns
	lib.name(item.contents) == name
}

# issuer_refs(obj) are the issuers an object asks cert-manager for, as
# [kind, name]: the Gateway annotations (gateway-shim) and Certificate issuerRef.
issuer_refs(obj) := {[kind, name] |
	obj.kind in {"Gateway", "Ingress"}
	some kind, annotation in {"ClusterIssuer": "cert-manager.io/cluster-issuer", "Issuer": "cert-manager.io/issuer"}
	name := lib.annotations(obj)[annotation]
} | {[kind, obj.spec.issuerRef.name] |
	obj.kind == "Certificate"
	object.get(obj.spec.issuerRef, "group", "cert-manager.io") == "cert-manager.io"
	kind := object.get(obj.spec.issuerRef, "kind", "Issuer")
}

# METADATA
# title: Certificates name an issuer that exists
# custom:
#   id: certificates-issuer-ref
#   severity: error
#   rationale: A Gateway annotation or Certificate naming a missing issuer leaves the listener without a certificate; cert-manager only says so in an event nobody reads.
#   remediation: Point cert-manager.io/cluster-issuer (or issuerRef) at a ClusterIssuer or Issuer defined in the repository, e.g. letsencrypt-production.
deny contains result if {
	some kind in ["Certificate", "Gateway", "Ingress"] # the kinds the call below answers for
	some item in lib.combined_of(kind)
	some ref in issuer_refs(item.contents)
	not issuer_exists(ref[0], lib.namespace(item.contents), ref[1])
	msg := sprintf("%s: asks for %s %q, which is not defined in the rendered cluster; define it or fix the name", [lib.describe(item.contents), ref[0], ref[1]])
	result := lib.combined_result(rego.metadata.rule(), item, msg)
}
