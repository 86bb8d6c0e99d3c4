package homelab.network_test

import data.homelab.fixtures as fx
import data.homelab.network

fires(id, obj) if id in fx.rules(network.deny) with input as obj

service(type, labels) := {
	"apiVersion": "v1",
	"kind": "Service",
	"metadata": {"name": "web", "namespace": "fitness", "labels": labels},
	"spec": {"type": type, "ports": [{"port": 80}]},
}

traefik(values) := {
	"apiVersion": "helm.toolkit.fluxcd.io/v2",
	"kind": "HelmRelease",
	"metadata": {"name": "traefik", "namespace": "traefik"},
	"spec": {"chart": {"spec": {"chart": "traefik", "version": "39.0.5"}}, "values": values},
}

good_traefik_values := {
	"service": {"spec": {"type": "NodePort", "externalTrafficPolicy": "Local"}},
	"ports": {
		"web": {"forwardedHeaders": {"trustedIPs": ["10.0.10.0/24"]}},
		"websecure": {"forwardedHeaders": {"trustedIPs": ["10.0.10.0/24"]}, "proxyProtocol": {"trustedIPs": ["10.0.10.0/24"]}},
		"traefik": {"expose": {"default": false}},
		"metrics": {"expose": {"default": false}},
	},
	"ingressRoute": {"dashboard": {"enabled": false}},
	"additionalArguments": ["--entrypoints.websecure.forwardedHeaders.trustedIPs=10.0.10.0/24,fd00::/64"],
}

test_compliant_traefik_release_has_no_findings if {
	count(network.deny) == 0 with input as traefik(good_traefik_values)
}

test_network_no_loadbalancer_fail_service if {
	fires("network-no-loadbalancer", service("LoadBalancer", {}))
}

test_network_no_loadbalancer_fail_traefik_default if {
	fires("network-no-loadbalancer", traefik({}))
}

test_network_no_loadbalancer_fail_traefik_values if {
	fires("network-no-loadbalancer", traefik({"service": {"spec": {"type": "LoadBalancer"}}}))
	fires("network-no-loadbalancer", traefik({"service": {"type": "LoadBalancer"}}))
	fires("network-no-loadbalancer", traefik({"service": {"spec": {"type": "NodePort"}, "additionalServices": {"internal": {"spec": {"type": "LoadBalancer"}}}}}))
}

test_network_no_loadbalancer_pass if {
	not fires("network-no-loadbalancer", service("ClusterIP", {}))
	not fires("network-no-loadbalancer", traefik({"service": {"spec": {"type": "NodePort"}}}))
	not fires("network-no-loadbalancer", traefik({"service": {"type": "NodePort"}}))
	not fires("network-no-loadbalancer", traefik({"service": {"enabled": false}}))
	not fires("network-no-loadbalancer", traefik({"service": {"spec": {"type": "NodePort"}, "additionalServices": {"internal": {}}}}))
}

test_network_nodeport_fail if {
	fires("network-nodeport", service("NodePort", {"app.kubernetes.io/name": "web"}))
}

test_network_nodeport_pass_ingress_controller if {
	not fires("network-nodeport", service("NodePort", {"app.kubernetes.io/name": "traefik"}))
}

test_network_traefik_trusted_ips_fail_values if {
	fires("network-traefik-trusted-ips", traefik({"ports": {"web": {"forwardedHeaders": {"trustedIPs": ["10.0.0.0/8", "0.0.0.0/0"]}}}}))
	fires("network-traefik-trusted-ips", traefik({"ports": {"websecure": {"proxyProtocol": {"trustedIPs": "::/0"}}}}))
}

test_network_traefik_trusted_ips_fail_insecure if {
	fires("network-traefik-trusted-ips", traefik({"ports": {"web": {"forwardedHeaders": {"insecure": true}}}}))
	fires("network-traefik-trusted-ips", traefik({"additionalArguments": ["--entrypoints.web.forwardedHeaders.insecure"]}))
}

test_network_traefik_trusted_ips_fail_arguments if {
	fires("network-traefik-trusted-ips", traefik({"additionalArguments": ["--entrypoints.web.forwardedHeaders.trustedIPs=10.0.0.0/8,0.0.0.0/0"]}))
	fires("network-traefik-trusted-ips", traefik({"additionalArguments": ["--entryPoints.websecure.proxyProtocol.trustedIPs=0.0.0.0/0"]}))
}

test_network_traefik_trusted_ips_pass if {
	not fires("network-traefik-trusted-ips", traefik(good_traefik_values))
}

test_network_traefik_dashboard_fail if {
	fires("network-traefik-dashboard", traefik({"ingressRoute": {"dashboard": {"enabled": true}}}))
	fires("network-traefik-dashboard", traefik({"api": {"insecure": true}}))
	fires("network-traefik-dashboard", traefik({"additionalArguments": ["--api.insecure=true"]}))
	fires("network-traefik-dashboard", traefik({"ports": {"traefik": {"expose": {"default": true}}}}))
	fires("network-traefik-dashboard", traefik({"ports": {"traefik": {"expose": true}}}))
}

test_network_traefik_dashboard_pass if {
	not fires("network-traefik-dashboard", traefik(good_traefik_values))
}

route(path) := {
	"apiVersion": "gateway.networking.k8s.io/v1",
	"kind": "HTTPRoute",
	"metadata": {"name": "web", "namespace": "fitness"},
	"spec": {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": path}}], "backendRefs": [{"name": "web", "port": 8080}]}]},
}

test_network_metrics_not_public_fail_route if {
	fires("network-metrics-not-public", route("/metrics"))
}

test_network_metrics_not_public_fail_traefik if {
	fires("network-metrics-not-public", traefik({"ports": {"metrics": {"expose": {"default": true}}}}))
}

test_network_metrics_not_public_pass if {
	not fires("network-metrics-not-public", route("/"))
	not fires("network-metrics-not-public", traefik(good_traefik_values))
}

middleware(spec) := {
	"apiVersion": "traefik.io/v1alpha1",
	"kind": "Middleware",
	"metadata": {"name": "admin-allow-list", "namespace": "traefik"},
	"spec": spec,
}

test_network_ip_allowlist_open_fail if {
	fires("network-ip-allowlist-open", middleware({"ipAllowList": {"sourceRange": ["10.0.0.0/8", "0.0.0.0/0"]}}))
	fires("network-ip-allowlist-open", middleware({"ipWhiteList": {"sourceRange": ["::/0"]}}))
}

test_network_ip_allowlist_open_pass if {
	not fires("network-ip-allowlist-open", middleware({"ipAllowList": {"sourceRange": ["10.0.0.0/8"]}}))
}

gateway(listeners) := {
	"apiVersion": "gateway.networking.k8s.io/v1",
	"kind": "Gateway",
	"metadata": {"name": "homelab", "namespace": "traefik"},
	"spec": {"gatewayClassName": "traefik", "listeners": listeners},
}

https_listener := {
	"name": "websecure",
	"protocol": "HTTPS",
	"port": 8443,
	"tls": {"mode": "Terminate", "certificateRefs": [{"name": "homelab-tls"}]},
}

http_listener := {"name": "web", "protocol": "HTTP", "port": 8000}

test_network_gateway_https_fail_no_certificate if {
	fires("network-gateway-https", gateway([json.remove(https_listener, ["tls/certificateRefs"])]))
}

test_network_gateway_https_fail_passthrough if {
	fires("network-gateway-https", gateway([json.patch(https_listener, [{"op": "replace", "path": "/tls/mode", "value": "Passthrough"}])]))
}

test_network_gateway_https_fail_tcp if {
	fires("network-gateway-https", gateway([{"name": "raw", "protocol": "TCP", "port": 9000}]))
}

test_network_gateway_https_pass if {
	not fires("network-gateway-https", gateway([https_listener, http_listener]))
}
