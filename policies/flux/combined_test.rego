package homelab.combined.flux_test

import data.homelab.combined.flux
import data.homelab.fixtures as fx

fires(id, objects) if id in fx.rules(flux.deny) with input as fx.items(objects)

kustomization(name, labels) := {
	"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
	"kind": "Kustomization",
	"metadata": {"name": name, "namespace": "flux-system", "labels": labels},
	"spec": {},
}

release(name, ns) := {
	"apiVersion": "helm.toolkit.fluxcd.io/v2",
	"kind": "HelmRelease",
	"metadata": {"name": name, "namespace": ns},
	"spec": {},
}

alert(sources, extra) := {
	"apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
	"kind": "Alert",
	"metadata": {"name": "failures", "namespace": "flux-system"},
	"spec": object.union({"providerRef": {"name": "chat"}, "eventSeverity": "error", "eventSources": sources}, extra),
}

test_flux_alert_coverage_fail_no_alert if {
	fires("flux-alert-coverage", [kustomization("apps", {})])
}

test_flux_alert_coverage_fail_other_namespace if {
	a := alert([{"kind": "HelmRelease", "name": "*", "namespace": "traefik"}], {})
	fires("flux-alert-coverage", [a, release("cert-manager", "cert-manager")])
}

test_flux_alert_coverage_fail_default_namespace_is_the_alerts if {
	a := alert([{"kind": "HelmRelease", "name": "*"}], {})
	fires("flux-alert-coverage", [a, release("traefik", "traefik")])
}

test_flux_alert_coverage_fail_other_kind if {
	a := alert([{"kind": "HelmRelease", "name": "*", "namespace": "flux-system"}], {})
	fires("flux-alert-coverage", [a, kustomization("apps", {})])
}

test_flux_alert_coverage_fail_suspended_alert if {
	a := alert([{"kind": "Kustomization", "name": "*"}], {"suspend": true})
	fires("flux-alert-coverage", [a, kustomization("apps", {})])
}

test_flux_alert_coverage_fail_labels_do_not_match if {
	a := alert([{"kind": "Kustomization", "name": "*", "matchLabels": {"tier": "apps"}}], {})
	fires("flux-alert-coverage", [a, kustomization("apps", {"tier": "infra"})])
}

test_flux_alert_coverage_pass if {
	a := alert(
		[
			{"kind": "Kustomization", "name": "*"},
			{"kind": "HelmRelease", "name": "traefik", "namespace": "traefik"},
			{"kind": "HelmRelease", "name": "*", "namespace": "cert-manager", "matchLabels": {"team": "ops"}},
		],
		{},
	)
	labelled := object.union(release("cert-manager", "cert-manager"), {"metadata": {"labels": {"team": "ops"}}})
	not fires("flux-alert-coverage", [a, kustomization("apps", {}), release("traefik", "traefik"), labelled])
}

test_flux_alert_coverage_pass_nothing_reconciled if {
	not fires("flux-alert-coverage", [alert([], {})])
}
