package homelab.flux_test

import data.homelab.fixtures as fx
import data.homelab.flux

fires(id, obj) if id in fx.rules(flux.deny) with input as obj

kustomization := {
	"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
	"kind": "Kustomization",
	"metadata": {"name": "apps", "namespace": "flux-system"},
	"spec": {
		"interval": "10m",
		"retryInterval": "2m",
		"timeout": "5m",
		"prune": true,
		"wait": true,
		"path": "./apps/homelab",
		"sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"},
	},
}

release := {
	"apiVersion": "helm.toolkit.fluxcd.io/v2",
	"kind": "HelmRelease",
	"metadata": {"name": "cert-manager", "namespace": "cert-manager"},
	"spec": {
		"interval": "30m",
		"timeout": "10m",
		"chart": {"spec": {
			"chart": "cert-manager",
			"version": "v1.19.1",
			"sourceRef": {"kind": "HelmRepository", "name": "jetstack", "namespace": "flux-system"},
		}},
		"install": {"remediation": {"retries": 3}},
		"upgrade": {"remediation": {"retries": 3, "strategy": "rollback"}},
	},
}

oci := {
	"apiVersion": "source.toolkit.fluxcd.io/v1",
	"kind": "OCIRepository",
	"metadata": {"name": "traefik", "namespace": "flux-system"},
	"spec": {"interval": "12h", "url": "oci://ghcr.io/traefik/helm/traefik", "ref": {"tag": "39.0.5"}},
}

helm_repository := {
	"apiVersion": "source.toolkit.fluxcd.io/v1",
	"kind": "HelmRepository",
	"metadata": {"name": "jetstack", "namespace": "flux-system"},
	"spec": {"interval": "24h", "url": "https://charts.jetstack.io"},
}

test_compliant_flux_objects_have_no_findings if {
	some obj in [kustomization, release, oci, helm_repository]
	count(flux.deny) == 0 with input as obj
}

test_flux_prune_fail if {
	fires("flux-prune", json.remove(kustomization, ["spec/prune"]))
}

test_flux_prune_pass if {
	not fires("flux-prune", kustomization)
	not fires("flux-prune", {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["a.yaml"]})
}

test_flux_timeout_fail if {
	fires("flux-timeout", json.remove(kustomization, ["spec/timeout"]))
	fires("flux-timeout", json.remove(release, ["spec/timeout"]))
}

test_flux_timeout_pass if {
	not fires("flux-timeout", release)
}

test_flux_retry_interval_fail if {
	fires("flux-retry-interval", json.remove(kustomization, ["spec/retryInterval"]))
}

test_flux_retry_interval_pass if {
	not fires("flux-retry-interval", kustomization)
}

test_flux_health_checks_fail if {
	fires("flux-health-checks", json.remove(kustomization, ["spec/wait"]))
}

test_flux_health_checks_pass if {
	checks := [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "fitness"}]
	not fires("flux-health-checks", json.patch(kustomization, [
		{"op": "remove", "path": "/spec/wait"},
		{"op": "add", "path": "/spec/healthChecks", "value": checks},
	]))
}

test_flux_interval_fail if {
	fires("flux-interval", json.remove(kustomization, ["spec/interval"]))
	fires("flux-interval", json.patch(release, [{"op": "replace", "path": "/spec/interval", "value": "10s"}]))
	fires("flux-interval", json.patch(helm_repository, [{"op": "replace", "path": "/spec/interval", "value": "48h"}]))
	fires("flux-interval", json.patch(oci, [{"op": "replace", "path": "/spec/interval", "value": "often"}]))
}

test_flux_interval_pass if {
	not fires("flux-interval", json.patch(kustomization, [{"op": "replace", "path": "/spec/interval", "value": "1h0m0s"}]))
	not fires("flux-interval", json.remove(helm_repository, ["spec/interval"]))
}

test_flux_chart_version_fail if {
	some version in ["*", ">=1.0.0", "1.x", "~1.2.0", "^1.2.0", "1.2"]
	fires("flux-chart-version", json.patch(release, [{"op": "replace", "path": "/spec/chart/spec/version", "value": version}]))
}

test_flux_chart_version_fail_missing if {
	fires("flux-chart-version", json.remove(release, ["spec/chart/spec/version"]))
}

test_flux_chart_version_pass if {
	some version in ["1.2.3", "v1.19.1", "39.0.501+up39.0.5", "2.0.0-rc.1"]
	not fires("flux-chart-version", json.patch(release, [{"op": "replace", "path": "/spec/chart/spec/version", "value": version}]))
}

test_flux_oci_pinned_fail if {
	fires("flux-oci-pinned", json.remove(oci, ["spec/ref"]))
	fires("flux-oci-pinned", json.patch(oci, [{"op": "replace", "path": "/spec/ref", "value": {"tag": "latest"}}]))
	fires("flux-oci-pinned", json.patch(oci, [{"op": "replace", "path": "/spec/ref", "value": {"semver": ">=39.0.0"}}]))
}

test_flux_oci_pinned_pass if {
	not fires("flux-oci-pinned", oci)
	not fires("flux-oci-pinned", json.patch(oci, [{"op": "replace", "path": "/spec/ref", "value": {"digest": fx.digest}}]))
	not fires("flux-oci-pinned", json.patch(oci, [{"op": "replace", "path": "/spec/ref", "value": {"semver": "39.0.5"}}]))
}

test_flux_remediation_fail if {
	fires("flux-remediation", json.remove(release, ["spec/install"]))
	fires("flux-remediation", json.patch(release, [{"op": "replace", "path": "/spec/upgrade/remediation/retries", "value": 0}]))
	fires("flux-remediation", json.patch(release, [{"op": "replace", "path": "/spec/upgrade/remediation/strategy", "value": "uninstall"}]))
}

test_flux_remediation_pass if {
	not fires("flux-remediation", json.remove(release, ["spec/upgrade/remediation/strategy"]))
	not fires("flux-remediation", json.patch(release, [{"op": "replace", "path": "/spec/install/remediation/retries", "value": -1}]))
}

test_flux_source_namespace_fail if {
	fires("flux-source-namespace", json.remove(kustomization, ["spec/sourceRef/namespace"]))
	fires("flux-source-namespace", json.remove(release, ["spec/chart/spec/sourceRef/namespace"]))
	chart_ref := json.patch(release, [
		{"op": "remove", "path": "/spec/chart"},
		{"op": "add", "path": "/spec/chartRef", "value": {"kind": "OCIRepository", "name": "traefik"}},
	])
	fires("flux-source-namespace", chart_ref)
}

test_flux_source_namespace_pass if {
	chart_ref := json.patch(release, [
		{"op": "remove", "path": "/spec/chart"},
		{"op": "add", "path": "/spec/chartRef", "value": {"kind": "OCIRepository", "name": "traefik", "namespace": "flux-system"}},
	])
	count(flux.deny) == 0 with input as chart_ref
}
