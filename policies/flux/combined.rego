# METADATA
# title: Flux rules across objects
# description: input is the conftest --combine array of {"path", "contents"}.
package homelab.combined.flux

import data.homelab.lib

# Kinds whose failed reconciliations must reach someone.
reconciled_kinds := {
	"Kustomization": "kustomize.toolkit.fluxcd.io",
	"HelmRelease": "helm.toolkit.fluxcd.io",
}

reconciled := [item |
	some kind, group in reconciled_kinds
	some item in lib.combined_of(kind)
	lib.api_group(item.contents) == group
]

alerts := [item.contents |
	some item in lib.combined_of("Alert")
	lib.api_group(item.contents) == "notification.toolkit.fluxcd.io"
	not item.contents.spec.suspend == true
]

# covered(obj) is true when a Flux Alert that is not suspended has an event
# source matching obj. Both severities (info, the default, and error)
# include the error events of a failed reconciliation.
covered(obj) if {
	some alert in alerts
	some src in alert.spec.eventSources
	src.kind == obj.kind
	object.get(src, "namespace", lib.namespace(alert)) == lib.namespace(obj)
	source_name_matches(src, obj)
}

source_name_matches(src, obj) if src.name == lib.name(obj)

source_name_matches(src, obj) if {
	src.name == "*"
	lib.selects({"matchLabels": object.get(src, "matchLabels", {})}, object.get(obj, ["metadata", "labels"], {}))
}

# METADATA
# title: Failed reconciliations are notified
# custom:
#   id: flux-alert-coverage
#   severity: error
#   rationale: A Kustomization or HelmRelease that fails keeps the last good state and says so only in its status and events; unless a Flux Alert sends its error events to a Provider, nobody learns that a merge did not reach the cluster.
#   remediation: Add the object (or "*" for its kind and namespace) to the eventSources of a Flux Alert with a Provider, e.g. infrastructure/configs/flux-notifications/alert-reconcile-failures.yaml.
deny contains result if {
	some item in reconciled
	not covered(item.contents)
	msg := sprintf("%s: no Flux Alert has an event source for it, so its failed reconciliations notify nobody; add {kind: %s, name: \"*\", namespace: %s} to an Alert's eventSources", [lib.describe(item.contents), item.contents.kind, lib.namespace(item.contents)])
	result := lib.combined_result(rego.metadata.rule(), item, msg)
}
