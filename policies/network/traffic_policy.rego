# Services reached through a node port keep the client's source address
# (externalTrafficPolicy Local): rendered Service objects, and the Traefik
# HelmRelease values from which the chart renders the ingress controller's.
package homelab.network

import data.homelab.lib

# Service types whose traffic enters through a port on every node.
node_port_types := {"NodePort", "LoadBalancer"}

# traefik_service_specs maps each Service the Traefik chart renders (keyed
# like traefik_service_types) to the spec the values give it.
traefik_service_specs["service"] := object.get(lib.helm_values(input), ["service", "spec"], {}) if traefik_service_types.service

traefik_service_specs[where] := object.get(svc, "spec", {}) if {
	traefik
	some name, svc in object.get(lib.helm_values(input), ["service", "additionalServices"], {})
	where := sprintf("service.additionalServices.%s", [name])
}

# METADATA
# title: Node ports keep the client address
# custom:
#   id: network-external-traffic-local
#   severity: error
#   rationale: With externalTrafficPolicy Cluster (the default) kube-proxy may forward a node-port connection to a pod on another node and replaces its source address with the node's (SNAT). Traefik then sees a node instead of the edge NGINX, ignores the PROXY header that carries the client address (nodes are not trusted edge addresses), and every client looks like a node. IP allow-lists then let everyone through and all clients share one rate limit.
#   remediation: "Set spec.externalTrafficPolicy: Local on the Service (for Traefik, service.spec.externalTrafficPolicy: Local in the HelmRelease values) and let the edge NGINX skip nodes without a ready pod (max_fails, proxy_next_upstream; docs/edge.md). A Service whose pods never look at client addresses can take an exception saying so."
deny contains result if {
	input.kind in {"HelmRelease", "Service"} # guard
	some msg in external_traffic_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

lost_address := "kube-proxy replaces the client's source address with a node's, so the pods cannot tell clients apart (allow-lists pass everyone, rate limits are shared) and a PROXY header from the edge is not trusted"

external_traffic_findings contains msg if {
	input.kind == "Service"
	input.spec.type in node_port_types
	policy := object.get(input.spec, "externalTrafficPolicy", "Cluster")
	policy != "Local"
	msg := sprintf("%s: type %s with externalTrafficPolicy %s: %s; set spec.externalTrafficPolicy: Local", [lib.describe(input), input.spec.type, policy, lost_address])
}

external_traffic_findings contains msg if {
	some where, spec in traefik_service_specs
	type := traefik_service_types[where]
	type in node_port_types
	policy := object.get(spec, "externalTrafficPolicy", "Cluster")
	policy != "Local"
	msg := sprintf("%s: the Traefik %s is type %s with externalTrafficPolicy %s: %s; set spec.values.%s.spec.externalTrafficPolicy: Local", [lib.describe(input), where, type, policy, lost_address, where])
}
