# METADATA
# title: Network exposure
# description: |
#   Per-object rules for Services, the Traefik HelmRelease values, Traefik
#   Middlewares, Gateways and HTTPRoutes: nothing is exposed except through
#   the Gateway, over HTTPS, with the edge's trusted ranges only.
package homelab.network

import data.homelab.lib

# The input's derived values, computed once per evaluation and shared by
# every rule (function results are not memoised).
traefik if lib.traefik_release(input)

# ingress_controller(obj) recognises the ingress controller's own Service.
ingress_controller(obj) if lib.labels(obj)["app.kubernetes.io/name"] == "traefik"

# METADATA
# title: No LoadBalancer Services
# custom:
#   id: network-no-loadbalancer
#   severity: error
#   rationale: The cluster has no inbound ports; traffic enters through Cloudflare Tunnel, the edge VIP and Traefik's NodePorts. A LoadBalancer Service asks for a public address. The Traefik chart defaults to LoadBalancer, so its HelmRelease must say otherwise.
#   remediation: Use a ClusterIP Service behind the Gateway; for Traefik set service.spec.type NodePort in the HelmRelease values (service.type in older charts).
deny contains result if {
	input.kind in {"HelmRelease", "Service"} # guard
	some msg in loadbalancer_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

loadbalancer_findings contains msg if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	msg := sprintf("%s: type LoadBalancer exposes it outside the edge; use ClusterIP behind the Gateway", [lib.describe(input)])
}

loadbalancer_findings contains msg if {
	some where, type in traefik_service_types
	type == "LoadBalancer"
	msg := sprintf("%s: the Traefik %s is type LoadBalancer; set spec.values.%s.spec.type: NodePort", [lib.describe(input), where, where])
}

# traefik_service_types maps each Service the Traefik chart renders to its
# type: service.spec.type (current charts; default LoadBalancer), else the older
# service.type, and service.additionalServices.<name>.
traefik_service_types[where] := type if {
	traefik
	values := lib.helm_values(input)
	not object.get(values, ["service", "enabled"], true) == false
	where := "service"
	type := object.get(values, ["service", "spec", "type"], object.get(values, ["service", "type"], "LoadBalancer"))
}

traefik_service_types[where] := type if {
	traefik
	some name, svc in object.get(lib.helm_values(input), ["service", "additionalServices"], {})
	where := sprintf("service.additionalServices.%s", [name])
	type := object.get(svc, ["spec", "type"], object.get(svc, "type", "ClusterIP"))
}

# METADATA
# title: NodePort only for the ingress controller
# custom:
#   id: network-nodeport
#   severity: error
#   rationale: Each NodePort is a port open on every node. Only the ingress controller, which the edge NGINX forwards to, may have them; everything else is reached through the Gateway.
#   remediation: Make the Service ClusterIP and route to it with an HTTPRoute. The ingress controller's Service is recognised by the label app.kubernetes.io/name=traefik.
deny contains result if {
	input.kind == "Service"
	input.spec.type == "NodePort"
	not ingress_controller(input)
	msg := sprintf("%s: type NodePort opens a port on every node; only the ingress controller may; use ClusterIP and an HTTPRoute", [lib.describe(input)])
	result := lib.result(rego.metadata.rule(), input, msg)
}

trusted_ip_argument := `(?i)^--entrypoints\.[^.=]+\.(forwardedHeaders|proxyProtocol)\.trustedIPs=(.*)$`

insecure_argument := `(?i)^--entrypoints\.[^.=]+\.(forwardedHeaders|proxyProtocol)\.insecure(=true)?$`

# METADATA
# title: Traefik trusts forwarded headers only from the edge
# custom:
#   id: network-traefik-trusted-ips
#   severity: error
#   rationale: Traefik believes X-Forwarded-For/-Proto (and PROXY protocol) only from trustedIPs. Trusting 0.0.0.0/0 or running insecure lets any client spoof its address past allow-lists and rate limits.
#   remediation: List only the edge proxies' ranges (the NGINX pool, the tunnel hosts) in ports.<entrypoint>.forwardedHeaders.trustedIPs / proxyProtocol.trustedIPs, and never set insecure.
deny contains result if {
	input.kind == "HelmRelease" # guard
	some msg in trusted_ip_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

trusted_ip_findings contains msg if {
	traefik
	some entrypoint, port in object.get(lib.helm_values(input), "ports", {})
	some setting in ["forwardedHeaders", "proxyProtocol"]
	some cidr in lib.to_list(object.get(port, [setting, "trustedIPs"], []))
	lib.open_cidr(cidr)
	msg := sprintf("%s: ports.%s.%s.trustedIPs contains %s; list only the edge proxies' ranges", [lib.describe(input), entrypoint, setting, cidr])
}

trusted_ip_findings contains msg if {
	traefik
	some entrypoint, port in object.get(lib.helm_values(input), "ports", {})
	some setting in ["forwardedHeaders", "proxyProtocol"]
	object.get(port, [setting, "insecure"], false) == true
	msg := sprintf("%s: ports.%s.%s.insecure trusts every client; remove it and list the edge proxies in trustedIPs", [lib.describe(input), entrypoint, setting])
}

trusted_ip_findings contains msg if {
	traefik
	some arg in object.get(lib.helm_values(input), "additionalArguments", [])
	some match in regex.find_all_string_submatch_n(trusted_ip_argument, arg, 1)
	some cidr in split(match[2], ",")
	lib.open_cidr(cidr)
	msg := sprintf("%s: additionalArguments %q trusts %s; list only the edge proxies' ranges", [lib.describe(input), arg, cidr])
}

trusted_ip_findings contains msg if {
	traefik
	some arg in object.get(lib.helm_values(input), "additionalArguments", [])
	regex.match(insecure_argument, arg)
	msg := sprintf("%s: additionalArguments %q trusts every client; remove it and set trustedIPs", [lib.describe(input), arg])
}

# exposed(port) is true for a Traefik chart port exposed on its Service,
# in both the old (expose: true) and new (expose: {default: true}) shapes.
exposed(port) if port.expose == true

exposed(port) if port.expose["default"] == true

# METADATA
# title: Traefik dashboard is not public
# custom:
#   id: network-traefik-dashboard
#   severity: error
#   rationale: The dashboard and API show every router, service and middleware. Reached only through the admin HTTPRoute with auth and allow-list filters, never through api.insecure, the chart's own IngressRoute or an exposed traefik port.
#   remediation: In the Traefik HelmRelease values keep ingressRoute.dashboard.enabled false, api.insecure unset and ports.traefik.expose off; publish the dashboard with the admin HTTPRoute.
deny contains result if {
	input.kind == "HelmRelease" # guard
	some msg in dashboard_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

dashboard_findings contains msg if {
	traefik
	object.get(lib.helm_values(input), ["ingressRoute", "dashboard", "enabled"], false) == true
	msg := sprintf("%s: ingressRoute.dashboard.enabled publishes the dashboard without the admin filters; set it to false and use the admin HTTPRoute", [lib.describe(input)])
}

dashboard_findings contains msg if {
	traefik
	object.get(lib.helm_values(input), ["api", "insecure"], false) == true
	msg := sprintf("%s: api.insecure serves the dashboard to anyone who reaches the pod; remove it", [lib.describe(input)])
}

dashboard_findings contains msg if {
	traefik
	some arg in object.get(lib.helm_values(input), "additionalArguments", [])
	regex.match(`(?i)^--api\.insecure(=true)?$`, arg)
	msg := sprintf("%s: additionalArguments %q serves the dashboard to anyone who reaches the pod; remove it", [lib.describe(input), arg])
}

dashboard_findings contains msg if {
	traefik
	exposed(lib.helm_values(input).ports.traefik)
	msg := sprintf("%s: ports.traefik.expose puts the dashboard/API port on the Service; keep it unexposed", [lib.describe(input)])
}

# METADATA
# title: Metrics are not routed publicly
# custom:
#   id: network-metrics-not-public
#   severity: error
#   rationale: /metrics tells an attacker versions, routes, queue depths and error rates. Prometheus scrapes it inside the cluster; nothing outside needs it.
#   remediation: Remove /metrics matches from HTTPRoutes and keep ports.metrics.expose off in the Traefik values; scrape metrics in-cluster.
deny contains result if {
	input.kind in {"HTTPRoute", "HelmRelease"} # guard
	some msg in metrics_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

metrics_findings contains msg if {
	input.kind == "HTTPRoute"
	some rule in input.spec.rules
	some match in rule.matches
	startswith(match.path.value, "/metrics")
	msg := sprintf("%s: routes path %q; metrics are scraped in-cluster, remove the match", [lib.describe(input), match.path.value])
}

metrics_findings contains msg if {
	traefik
	exposed(lib.helm_values(input).ports.metrics)
	msg := sprintf("%s: ports.metrics.expose puts /metrics on the Traefik Service; keep it unexposed", [lib.describe(input)])
}

allow_list_kinds := ["ipAllowList", "ipWhiteList"]

# METADATA
# title: IP allow-lists do not allow everyone
# custom:
#   id: network-ip-allowlist-open
#   severity: error
#   rationale: An ipAllowList middleware with 0.0.0.0/0 or ::/0 looks like protection in review and protects nothing.
#   remediation: List the admin networks (VPN/WARP ranges, the LAN) in spec.ipAllowList.sourceRange.
deny contains result if {
	input.kind == "Middleware"
	some kind in allow_list_kinds
	some cidr in object.get(input.spec, [kind, "sourceRange"], [])
	lib.open_cidr(cidr)
	msg := sprintf("%s: %s.sourceRange contains %s; list only the admin networks", [lib.describe(input), kind, cidr])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: Gateway listeners are HTTPS with certificates
# custom:
#   id: network-gateway-https
#   severity: error
#   rationale: Every byte to the apps is encrypted with a certificate cert-manager manages from the listener's certificateRefs; plain HTTP listeners exist only to redirect (see network-http-redirect-only).
#   remediation: Use protocol HTTPS with tls.mode Terminate and tls.certificateRefs naming the Secret cert-manager fills; use HTTP only for a redirect listener.
deny contains result if {
	input.kind == "Gateway" # guard
	some msg in gateway_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

gateway_findings contains msg if {
	input.kind == "Gateway"
	some l in input.spec.listeners
	not l.protocol in {"HTTPS", "HTTP"}
	msg := sprintf("%s: listener %q uses protocol %s; use HTTPS (or HTTP for a redirect only)", [lib.describe(input), l.name, l.protocol])
}

gateway_findings contains msg if {
	input.kind == "Gateway"
	some l in input.spec.listeners
	l.protocol == "HTTPS"
	count(object.get(l, ["tls", "certificateRefs"], [])) == 0
	msg := sprintf("%s: HTTPS listener %q has no tls.certificateRefs; name the certificate Secret", [lib.describe(input), l.name])
}

gateway_findings contains msg if {
	input.kind == "Gateway"
	some l in input.spec.listeners
	l.protocol == "HTTPS"
	object.get(l, ["tls", "mode"], "Terminate") != "Terminate"
	msg := sprintf("%s: HTTPS listener %q uses tls.mode %s; terminate TLS at the Gateway (mode Terminate)", [lib.describe(input), l.name, l.tls.mode])
}
