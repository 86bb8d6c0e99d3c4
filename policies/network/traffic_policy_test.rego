package homelab.network_test

import data.homelab.network

# traefik_service is the Service the Traefik chart renders from the homelab
# values, as the validator sees it once the chart is rendered.
traefik_service(policy) := {
	"apiVersion": "v1",
	"kind": "Service",
	"metadata": {
		"name": "traefik",
		"namespace": "traefik",
		"labels": {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-traefik"},
	},
	"spec": object.union(
		{
			"type": "NodePort",
			"selector": {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-traefik"},
			"ports": [{"name": "websecure", "port": 443, "targetPort": "websecure", "nodePort": 30443, "protocol": "TCP"}],
		},
		policy,
	),
}

with_exception(obj) := object.union(obj, {"metadata": {"annotations": {"exceptions.policy.homelab.dev/network-external-traffic-local": "a TCP echo service that never reads client addresses"}}})

test_network_external_traffic_local_fail_rendered_service if {
	fires("network-external-traffic-local", traefik_service({}))
	fires("network-external-traffic-local", traefik_service({"externalTrafficPolicy": "Cluster"}))
	fires("network-external-traffic-local", service("LoadBalancer", {}))
}

test_network_external_traffic_local_fail_message_explains if {
	some r in network.deny with input as traefik_service({"externalTrafficPolicy": "Cluster"})
	r.rule == "network-external-traffic-local"
	r.msg == "Service/traefik/traefik: type NodePort with externalTrafficPolicy Cluster: kube-proxy replaces the client's source address with a node's, so the pods cannot tell clients apart (allow-lists pass everyone, rate limits are shared) and a PROXY header from the edge is not trusted; set spec.externalTrafficPolicy: Local"
}

test_network_external_traffic_local_fail_traefik_values if {
	fires("network-external-traffic-local", traefik({"service": {"spec": {"type": "NodePort"}}}))
	fires("network-external-traffic-local", traefik({"service": {"spec": {"type": "NodePort", "externalTrafficPolicy": "Cluster"}}}))
	fires("network-external-traffic-local", traefik({}))
	fires("network-external-traffic-local", traefik({"service": {
		"spec": {"type": "NodePort", "externalTrafficPolicy": "Local"},
		"additionalServices": {"udp": {"spec": {"type": "NodePort"}}},
	}}))
}

test_network_external_traffic_local_fail_traefik_message_names_value if {
	some r in network.deny with input as traefik({"service": {"spec": {"type": "NodePort", "externalTrafficPolicy": "Cluster"}}})
	r.rule == "network-external-traffic-local"
	endswith(r.msg, "; set spec.values.service.spec.externalTrafficPolicy: Local")
	startswith(r.msg, "HelmRelease/traefik/traefik: the Traefik service is type NodePort with externalTrafficPolicy Cluster: kube-proxy replaces")
}

test_network_external_traffic_local_pass if {
	not fires("network-external-traffic-local", traefik_service({"externalTrafficPolicy": "Local"}))
	not fires("network-external-traffic-local", service("ClusterIP", {}))
	not fires("network-external-traffic-local", traefik({"service": {"spec": {"type": "NodePort", "externalTrafficPolicy": "Local"}}}))
	not fires("network-external-traffic-local", traefik({"service": {"enabled": false}}))
	not fires("network-external-traffic-local", traefik({"service": {
		"spec": {"type": "NodePort", "externalTrafficPolicy": "Local"},
		"additionalServices": {"internal": {"spec": {"type": "ClusterIP"}}},
	}}))
}

test_network_external_traffic_local_pass_with_exception if {
	not fires("network-external-traffic-local", with_exception(traefik_service({})))
}
