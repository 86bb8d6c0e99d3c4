package homelab.combined.certificates_test

import data.homelab.combined.certificates
import data.homelab.fixtures as fx

fires(id, objects) if id in fx.rules(certificates.deny) with input as fx.items(objects)

issuer(name, server) := {
	"apiVersion": "cert-manager.io/v1",
	"kind": "ClusterIssuer",
	"metadata": {"name": name},
	"spec": {"acme": {"server": server, "solvers": [{"dns01": {"cloudflare": {}}}]}},
}

production := issuer("letsencrypt-production", "https://acme-v02.api.letsencrypt.org/directory")

staging := issuer("letsencrypt-staging", "https://acme-staging-v02.api.letsencrypt.org/directory")

gateway(annotations) := {
	"apiVersion": "gateway.networking.k8s.io/v1",
	"kind": "Gateway",
	"metadata": {"name": "homelab", "namespace": "traefik", "annotations": annotations},
	"spec": {"listeners": []},
}

test_certificates_staging_and_production_fail_production_only if {
	fires("certificates-staging-and-production", [production])
}

test_certificates_staging_and_production_fail_staging_only if {
	fires("certificates-staging-and-production", [staging])
}

test_certificates_staging_and_production_pass if {
	not fires("certificates-staging-and-production", [production, staging])
	not fires("certificates-staging-and-production", [gateway({})])
}

test_certificates_issuer_ref_fail_gateway if {
	fires("certificates-issuer-ref", [production, staging, gateway({"cert-manager.io/cluster-issuer": "letsencrypt-prod"})])
}

test_certificates_issuer_ref_fail_certificate if {
	cert := {
		"apiVersion": "cert-manager.io/v1",
		"kind": "Certificate",
		"metadata": {"name": "mongodb", "namespace": "database"},
		"spec": {"secretName": "mongodb-tls", "issuerRef": {"name": "mongodb-ca"}},
	}
	fires("certificates-issuer-ref", [cert])
}

test_certificates_issuer_ref_pass if {
	ca := {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "mongodb-ca", "namespace": "database"}, "spec": {"ca": {"secretName": "ca"}}}
	cert := {
		"apiVersion": "cert-manager.io/v1",
		"kind": "Certificate",
		"metadata": {"name": "mongodb", "namespace": "database"},
		"spec": {"secretName": "mongodb-tls", "issuerRef": {"name": "mongodb-ca", "kind": "Issuer"}},
	}
	not fires("certificates-issuer-ref", [production, staging, ca, cert, gateway({"cert-manager.io/cluster-issuer": "letsencrypt-production"})])
}

test_certificates_issuer_ref_pass_external_issuer if {
	cert := {
		"apiVersion": "cert-manager.io/v1",
		"kind": "Certificate",
		"metadata": {"name": "x", "namespace": "y"},
		"spec": {"issuerRef": {"group": "awspca.cert-manager.io", "kind": "AWSPCAClusterIssuer", "name": "pca"}},
	}
	not fires("certificates-issuer-ref", [cert])
}
