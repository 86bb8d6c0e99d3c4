# METADATA
# title: Network rules across objects
# description: |
#   input is the conftest --combine array of {"path", "contents"} holding
#   every object rendered for one cluster.
package homelab.combined.network

import data.homelab.lib

pod_custom_resources := {"RabbitmqCluster", "MongoDBCommunity", "MongoDB", "PerconaServerMongoDB"}

pod_kinds := lib.workload_kinds | pod_custom_resources

objects := lib.combined_objects

# Each kind's items, filtered once per evaluation: functions are not
# memoised, so a filter inside one would scan every object per call.
network_policies := lib.combined_of("NetworkPolicy")

middlewares := lib.combined_of("Middleware")

http_routes := lib.combined_of("HTTPRoute")

gateways := lib.combined_of("Gateway")

# workloads are the objects that run pods, in input order.
workloads := [item | some item in objects; item.contents.kind in pod_kinds]

workload_namespaces contains ns if {
	some item in workloads
	ns := lib.namespace(item.contents)
	ns != ""
}

# policy_types(np) are a NetworkPolicy's policy types, defaulted as the API
# server does: Ingress always, Egress when egress rules exist.
policy_types(np) := np.spec.policyTypes

policy_types(np) := {"Ingress"} | {"Egress" | _ = np.spec.egress} if not np.spec.policyTypes

selects_all_pods(np) if count(object.get(np.spec, ["podSelector", "matchLabels"], {})) + count(object.get(np.spec, ["podSelector", "matchExpressions"], [])) == 0

# default_denied holds [namespace, type] for each policy type a
# NetworkPolicy denies for every pod of its namespace: it selects every pod,
# has the policy type and allows nothing of it. One pass over the policies,
# cached for the whole evaluation, instead of a scan per namespace.
default_denied contains [lib.namespace(np), type] if {
	some item in network_policies
	np := item.contents
	selects_all_pods(np)
	some type in policy_types(np)
	count(object.get(np.spec, lower(type), [])) == 0
}

# anchors are the object each namespace's finding points at: its Namespace
# object when rendered, otherwise its first workload. A scan of every object
# per namespace made the rule quadratic (45 s on 1,000 Kustomizations), a
# scan of the kind lists per namespace still was (0.4 s). The groupings
# below bind ns with `=` in a comprehension assigned to a variable, which
# OPA indexes: one pass over each list per evaluation. Each ns iterated
# has at least one item, so no lookup misses the index (a miss scans).
namespace_objects := lib.combined_of("Namespace")

namespaces_by_name := {ns: items |
	some ns in {lib.name(item.contents) | some item in namespace_objects}
	items := [item | some item in namespace_objects; lib.name(item.contents) = ns]
}

workloads_by_namespace := {ns: items |
	some ns in workload_namespaces
	items := [item | some item in workloads; lib.namespace(item.contents) = ns]
}

anchors := {ns: candidates[0] |
	some ns in workload_namespaces
	candidates := array.concat(object.get(namespaces_by_name, ns, []), workloads_by_namespace[ns])
}

# METADATA
# title: Default-deny NetworkPolicy in every namespace with workloads
# custom:
#   id: network-default-deny
#   severity: error
#   rationale: "Zero trust inside the cluster: a pod reaches and is reached by nothing that a NetworkPolicy does not allow, so a compromised pod cannot scan or pivot."
#   remediation: Add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] and no rules to the namespace, then allow each flow (DNS, the Gateway, the broker, the database) with its own policy.
deny contains result if {
	some ns in workload_namespaces
	missing := [type | some type in ["Ingress", "Egress"]; not [ns, type] in default_denied]
	count(missing) > 0
	msg := sprintf("namespace %q runs workloads but has no default-deny NetworkPolicy for %s; add one with podSelector: {} and policyTypes %v and no rules", [ns, concat(" and ", missing), missing])
	result := lib.combined_result(rego.metadata.rule(), anchors[ns], msg)
}

# admin_backend(ref) recognises the RabbitMQ management UI (port 15672, or
# 15671 with TLS) and the Traefik dashboard (TraefikService api@internal) as
# route backends.
admin_backend(ref) if ref.port in {15671, 15672}

admin_backend(ref) if ref.kind == "TraefikService"

admin_backend(ref) if ref.name == "api@internal"

admin_route(route) if {
	some rule in route.spec.rules
	some ref in rule.backendRefs
	admin_backend(ref)
}

# middleware(ns, name) is the spec of a rendered Traefik Middleware.
middleware(ns, name) := item.contents.spec if {
	some item in middlewares
	lib.namespace(item.contents) == ns
	lib.name(item.contents) == name
}

middleware_refs(rule) := [f.extensionRef.name |
	some f in rule.filters
	f.type == "ExtensionRef"
	f.extensionRef.kind == "Middleware"
]

# rule_middlewares(ns, rule) are the specs a route rule applies, with
# chain middlewares expanded one level.
rule_middlewares(ns, rule) := array.concat(direct, chained) if {
	direct := [spec | some name in middleware_refs(rule); spec := middleware(ns, name)]
	chained := [spec |
		some d in direct
		some link in d.chain.middlewares
		spec := middleware(object.get(link, "namespace", ns), link.name)
	]
}

auth_kinds := {"basicAuth", "digestAuth", "forwardAuth"}

allow_list_kinds := {"ipAllowList", "ipWhiteList"}

has_kind(specs, kinds) if {
	some spec in specs
	some kind in kinds
	spec[kind]
}

admin_rule_problems(ns, rule) := ({sprintf("Middleware %q, which is not among the rendered objects", [name]) |
	some name in middleware_refs(rule)
	not middleware(ns, name)
} | {"no authentication filter (a Middleware with basicAuth, digestAuth or forwardAuth)" |
	not has_kind(rule_middlewares(ns, rule), auth_kinds)
}) | {"no allow-list filter (a Middleware with ipAllowList)" |
	not has_kind(rule_middlewares(ns, rule), allow_list_kinds)
}

# METADATA
# title: Admin routes carry auth and allow-list filters
# custom:
#   id: network-admin-route-auth
#   severity: error
#   rationale: The RabbitMQ management UI and the Traefik dashboard control the platform; they must never be reachable without authentication, and only from the admin networks.
#   remediation: Add ExtensionRef filters (group traefik.io, kind Middleware) to every rule of the admin HTTPRoute, one naming a Middleware with basicAuth or forwardAuth and one with ipAllowList, both in the route's namespace.
deny contains result if {
	some item in http_routes
	route := item.contents
	admin_route(route)
	some i, rule in route.spec.rules
	some problem in admin_rule_problems(lib.namespace(route), rule)
	msg := sprintf("%s: admin route rule %d has %s; attach the auth and allow-list Middlewares as ExtensionRef filters", [lib.describe(route), i, problem])
	result := lib.combined_result(rego.metadata.rule(), item, msg)
}

# attached_listeners(route, ref) are the Gateway listeners a parentRef binds.
attached_listeners(route, ref) := [l |
	object.get(ref, "kind", "Gateway") == "Gateway"
	gw_ns := object.get(ref, "namespace", lib.namespace(route))
	some item in gateways
	lib.name(item.contents) == ref.name
	lib.namespace(item.contents) == gw_ns
	some l in item.contents.spec.listeners
	listener_matches(ref, l)
]

listener_matches(ref, l) if ref.sectionName == l.name

listener_matches(ref, l) if {
	not ref.sectionName
	object.get(ref, "port", l.port) == l.port
}

redirects_to_https(rule) if {
	count(object.get(rule, "backendRefs", [])) == 0
	some f in rule.filters
	f.type == "RequestRedirect"
	f.requestRedirect.scheme == "https"
}

# METADATA
# title: Plain HTTP only redirects to HTTPS
# custom:
#   id: network-http-redirect-only
#   severity: error
#   rationale: A route served on an HTTP listener sends cookies, tokens and workout data in clear text; HTTP exists only to send browsers to HTTPS.
#   remediation: Attach content routes to the HTTPS listener with parentRefs[].sectionName; on the HTTP listener keep one route whose rules have a RequestRedirect filter with scheme https and no backendRefs.
deny contains result if {
	some item in http_routes
	route := item.contents
	some ref in route.spec.parentRefs
	some l in attached_listeners(route, ref)
	l.protocol == "HTTP"
	some i, rule in route.spec.rules
	not redirects_to_https(rule)
	msg := sprintf("%s: rule %d is served on plain-HTTP listener %q of Gateway %q without redirecting; set parentRefs sectionName to the HTTPS listener, or make the rule a RequestRedirect to https", [lib.describe(route), i, l.name, ref.name])
	result := lib.combined_result(rego.metadata.rule(), item, msg)
}
