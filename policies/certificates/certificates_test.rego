package homelab.certificates_test

import data.homelab.certificates
import data.homelab.fixtures as fx

fires(id, obj) if id in fx.rules(certificates.deny) with input as obj

issuer(solvers) := {
	"apiVersion": "cert-manager.io/v1",
	"kind": "ClusterIssuer",
	"metadata": {"name": "letsencrypt-production"},
	"spec": {"acme": {
		"server": "https://acme-v02.api.letsencrypt.org/directory",
		"privateKeySecretRef": {"name": "letsencrypt-production"},
		"solvers": solvers,
	}},
}

dns01 := {"dns01": {"cloudflare": {"apiTokenSecretRef": {"name": "cloudflare-api-token", "key": "api-token"}}}}

test_certificates_dns01_only_fail_http01 if {
	fires("certificates-dns01-only", issuer([dns01, {"http01": {"gatewayHTTPRoute": {}}}]))
}

test_certificates_dns01_only_fail_no_solvers if {
	fires("certificates-dns01-only", issuer([]))
}

test_certificates_dns01_only_pass if {
	not fires("certificates-dns01-only", issuer([dns01]))
	not fires("certificates-dns01-only", {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "ca", "namespace": "x"}, "spec": {"ca": {"secretName": "ca"}}})
}
