package homelab.combined.network_test

import data.homelab.combined.network
import data.homelab.fixtures as fx

fires(id, objects) if id in fx.rules(network.deny) with input as fx.items(objects)

namespace := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fitness"}}

default_deny_policy(types) := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "default-deny", "namespace": "fitness"},
	"spec": {"podSelector": {}, "policyTypes": types},
}

allow_dns := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "allow-dns", "namespace": "fitness"},
	"spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]},
}

test_network_default_deny_fail_missing if {
	fires("network-default-deny", [namespace, fx.deployment])
}

test_network_default_deny_fail_ingress_only if {
	some r in network.deny with input as fx.items([fx.deployment, default_deny_policy(["Ingress"])])
	r.rule == "network-default-deny"
	contains(r.msg, "Egress")
	not contains(r.msg, "Ingress and")
	r.path == "test/0.yaml"
}

test_network_default_deny_fail_allow_policy_is_not_deny if {
	fires("network-default-deny", [fx.deployment, default_deny_policy(["Ingress"]), allow_dns])
}

test_network_default_deny_fail_data_tier if {
	rabbit := {"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster", "metadata": {"name": "rabbitmq", "namespace": "messaging"}, "spec": {}}
	fires("network-default-deny", [rabbit])
}

test_network_default_deny_pass if {
	not fires("network-default-deny", [namespace, fx.deployment, default_deny_policy(["Ingress", "Egress"]), allow_dns])
}

test_network_default_deny_pass_default_policy_types if {
	implicit := json.remove(default_deny_policy([]), ["spec/policyTypes"])
	not fires("network-default-deny", [fx.deployment, implicit, default_deny_policy(["Egress"])])
}

test_network_default_deny_pass_with_exception_on_namespace if {
	exempt := fx.with_annotation(namespace, "exceptions.policy.homelab.dev/network-default-deny", "lab namespace, torn down nightly by the janitor job")
	not fires("network-default-deny", [exempt, fx.deployment])
}

admin_route(filters) := {
	"apiVersion": "gateway.networking.k8s.io/v1",
	"kind": "HTTPRoute",
	"metadata": {"name": "rabbitmq-management", "namespace": "messaging"},
	"spec": {
		"parentRefs": [{"name": "homelab", "namespace": "traefik", "sectionName": "websecure"}],
		"hostnames": ["rabbitmq.example.org"],
		"rules": [{"filters": filters, "backendRefs": [{"name": "rabbitmq", "port": 15672}]}],
	},
}

mw(name, spec) := {
	"apiVersion": "traefik.io/v1alpha1",
	"kind": "Middleware",
	"metadata": {"name": name, "namespace": "messaging"},
	"spec": spec,
}

ext(name) := {"type": "ExtensionRef", "extensionRef": {"group": "traefik.io", "kind": "Middleware", "name": name}}

auth := mw("admin-auth", {"forwardAuth": {"address": "http://oauth2-proxy.auth.svc/oauth2/auth"}})

allow := mw("admin-allow-list", {"ipAllowList": {"sourceRange": ["10.0.0.0/8"]}})

test_network_admin_route_auth_fail_no_filters if {
	fires("network-admin-route-auth", [admin_route([]), auth, allow])
}

test_network_admin_route_auth_fail_no_allow_list if {
	fires("network-admin-route-auth", [admin_route([ext("admin-auth")]), auth, allow])
}

test_network_admin_route_auth_fail_missing_middleware if {
	fires("network-admin-route-auth", [admin_route([ext("admin-auth"), ext("admin-allow-list")]), auth])
}

test_network_admin_route_auth_fail_management_tls_port if {
	tls := json.patch(admin_route([ext("admin-allow-list")]), [{"op": "replace", "path": "/spec/rules/0/backendRefs/0/port", "value": 15671}])
	fires("network-admin-route-auth", [tls, auth, allow])
}

test_network_admin_route_auth_fail_dashboard if {
	dashboard := json.patch(admin_route([ext("admin-auth")]), [{"op": "replace", "path": "/spec/rules/0/backendRefs", "value": [{"group": "traefik.io", "kind": "TraefikService", "name": "api@internal"}]}])
	fires("network-admin-route-auth", [dashboard, auth])
}

test_network_admin_route_auth_pass if {
	not fires("network-admin-route-auth", [admin_route([ext("admin-auth"), ext("admin-allow-list")]), auth, allow])
}

test_network_admin_route_auth_pass_chain if {
	chain := mw("admin", {"chain": {"middlewares": [{"name": "admin-auth"}, {"name": "admin-allow-list"}]}})
	not fires("network-admin-route-auth", [admin_route([ext("admin")]), chain, auth, allow])
}

test_network_admin_route_auth_pass_app_route_needs_no_filters if {
	app := json.patch(admin_route([]), [{"op": "replace", "path": "/spec/rules/0/backendRefs/0/port", "value": 8080}])
	not fires("network-admin-route-auth", [app])
}

gateway := {
	"apiVersion": "gateway.networking.k8s.io/v1",
	"kind": "Gateway",
	"metadata": {"name": "homelab", "namespace": "traefik"},
	"spec": {"listeners": [
		{"name": "web", "protocol": "HTTP", "port": 8000},
		{"name": "websecure", "protocol": "HTTPS", "port": 8443, "tls": {"certificateRefs": [{"name": "tls"}]}},
	]},
}

app_route(parent) := {
	"apiVersion": "gateway.networking.k8s.io/v1",
	"kind": "HTTPRoute",
	"metadata": {"name": "web", "namespace": "fitness"},
	"spec": {"parentRefs": [parent], "rules": [{"backendRefs": [{"name": "web", "port": 8080}]}]},
}

redirect := {
	"apiVersion": "gateway.networking.k8s.io/v1",
	"kind": "HTTPRoute",
	"metadata": {"name": "https-redirect", "namespace": "traefik"},
	"spec": {
		"parentRefs": [{"name": "homelab", "sectionName": "web"}],
		"rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}],
	},
}

test_network_http_redirect_only_fail_all_listeners if {
	fires("network-http-redirect-only", [gateway, app_route({"name": "homelab", "namespace": "traefik"})])
}

test_network_http_redirect_only_fail_http_section if {
	fires("network-http-redirect-only", [gateway, app_route({"name": "homelab", "namespace": "traefik", "sectionName": "web"})])
}

test_network_http_redirect_only_fail_port if {
	fires("network-http-redirect-only", [gateway, app_route({"name": "homelab", "namespace": "traefik", "port": 8000})])
}

test_network_http_redirect_only_pass if {
	not fires("network-http-redirect-only", [gateway, redirect, app_route({"name": "homelab", "namespace": "traefik", "sectionName": "websecure"})])
}

test_network_http_redirect_only_pass_unknown_gateway if {
	not fires("network-http-redirect-only", [app_route({"name": "elsewhere", "namespace": "traefik"})])
}

# The finding points at the namespace's Namespace object wherever it is in
# the input, else at its first workload in input order.
test_network_default_deny_anchor_is_the_namespace if {
	some r in network.deny with input as fx.items([fx.deployment, namespace])
	r.rule == "network-default-deny"
	r.path == "test/1.yaml"
}

test_network_default_deny_anchor_is_the_first_workload if {
	other := json.patch(fx.deployment, [{"op": "replace", "path": "/metadata/name", "value": "other"}])
	elsewhere := json.patch(namespace, [{"op": "replace", "path": "/metadata/name", "value": "elsewhere"}])
	some r in network.deny with input as fx.items([elsewhere, other, fx.deployment])
	r.rule == "network-default-deny"
	r.path == "test/1.yaml"
}
