# METADATA
# title: Reliability
# description: |
#   Per-object rules for workloads: resources, probes, replicas and spreading
#   over nodes. Flux's own controllers (app.kubernetes.io/part-of=flux in
#   flux-system) are leader-elected singletons and exempt from the replica
#   and spreading rules.
package homelab.reliability

import data.homelab.lib

# The input's derived values, computed once per evaluation and shared by
# every rule (function results are not memoised).
pod_spec := lib.pod_spec(input)

app_containers := lib.app_containers(input)

resource_problems(c) := {sprintf("resources.requests.%s", [r]) |
	some r in ["cpu", "memory"]
	not c.resources.requests[r]
} | {"resources.limits.memory" | not c.resources.limits.memory}

# METADATA
# title: Requests and limits
# custom:
#   id: reliability-resources
#   severity: error
#   rationale: Requests let the scheduler place pods where they fit and protect them under pressure; a memory limit stops one leaking pod from getting the node's other pods OOM-killed. CPU limits are optional (they throttle).
#   remediation: Set resources.requests.cpu, resources.requests.memory and resources.limits.memory on every container.
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some c in app_containers
	missing := [p | some p in resource_problems(c)]
	count(missing) > 0
	msg := sprintf("%s: container %q has no %s; set them from measured usage", [lib.describe(input), c.name, concat(", ", sort(missing))])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: Readiness and liveness probes
# custom:
#   id: reliability-probes
#   severity: error
#   rationale: Without a readiness probe traffic reaches pods that cannot serve it (during start-up, a broker or database outage); without a liveness probe a hung process is never restarted.
#   remediation: Add readinessProbe and livenessProbe (httpGet on the service's health endpoints, or tcpSocket/exec) to every container of long-running workloads.
deny contains result if {
	input.kind in {"DaemonSet", "Deployment", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"}
	some c in app_containers
	some probe in ["readinessProbe", "livenessProbe"]
	not c[probe]
	msg := sprintf("%s: container %q has no %s; add one", [lib.describe(input), c.name, probe])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: Two or more replicas
# custom:
#   id: reliability-replicas
#   severity: error
#   rationale: "One replica is a single point of failure: every node drain, crash or rollout takes the service down."
#   remediation: Set spec.replicas to 2 or more (3 for the consumer); a workload that must be a singleton needs an exception saying why.
deny contains result if {
	input.kind in {"Deployment", "StatefulSet"}
	not lib.upstream_flux(input)
	lib.replicas(input) < 2
	msg := sprintf("%s: runs %d replica(s); set spec.replicas to 2 or more", [lib.describe(input), lib.replicas(input)])
	result := lib.result(rego.metadata.rule(), input, msg)
}

spread(spec) if count(object.get(spec, "topologySpreadConstraints", [])) > 0

spread(spec) if {
	anti := spec.affinity.podAntiAffinity
	count(object.get(anti, "requiredDuringSchedulingIgnoredDuringExecution", [])) + count(object.get(anti, "preferredDuringSchedulingIgnoredDuringExecution", [])) > 0
}

# METADATA
# title: Replicas spread over nodes
# custom:
#   id: reliability-spread
#   severity: error
#   rationale: Replicas on the same node fail together; spreading them makes the replica count worth something.
#   remediation: Add topologySpreadConstraints on kubernetes.io/hostname (maxSkew 1) or a podAntiAffinity on the pod's labels.
deny contains result if {
	input.kind in {"Deployment", "StatefulSet"}
	not lib.upstream_flux(input)
	lib.replicas(input) > 1
	not spread(pod_spec)
	msg := sprintf("%s: %d replicas may land on one node; add topologySpreadConstraints on kubernetes.io/hostname or a podAntiAffinity", [lib.describe(input), lib.replicas(input)])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# max_unavailable is the Deployment's rolling update maxUnavailable
# (Kubernetes defaults it to 25%).
max_unavailable := object.get(input, ["spec", "strategy", "rollingUpdate", "maxUnavailable"], "25%") if input.kind == "Deployment"

# surge_only holds when a rollout must start a new pod before stopping one.
surge_only if max_unavailable in {0, "0", "0%"}

spread_consequence := "; with maxUnavailable 0 the rollout's surge pod is that replica, so every rollout waits for it until it times out" if surge_only

spread_consequence := ", so a drained node's pod cannot move to another node" if not surge_only

# METADATA
# title: Spread constraints hold after a rollout
# custom:
#   id: reliability-spread-rollout
#   severity: error
#   rationale: During a rolling update the old ReplicaSet's pods still match the constraint's labelSelector, so the scheduler places each new pod against a count that includes pods about to go. With two nodes and two replicas the first new pod lands beside an old one, the old pods are then removed, and the rollout can end with every replica on one node, which the constraint was meant to prevent and which nothing later corrects.
#   remediation: Add matchLabelKeys ["pod-template-hash"] to each DoNotSchedule constraint of a Deployment, so only pods of the same revision are counted; for a Deployment a chart renders, in the HelmRelease values.
deny contains result if {
	input.kind == "Deployment"
	some i, c in object.get(pod_spec, "topologySpreadConstraints", [])
	object.get(c, "whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"
	not "pod-template-hash" in object.get(c, "matchLabelKeys", [])
	msg := sprintf(
		"%s: topologySpreadConstraints[%d] (%s, DoNotSchedule) counts the old revision's pods during a rolling update, so the new pods can all land on one node; add matchLabelKeys: [pod-template-hash]",
		[lib.describe(input), i, object.get(c, "topologyKey", "")],
	)
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: Spread constraints ignore untolerated nodes
# custom:
#   id: reliability-spread-taints
#   severity: error
#   rationale: A DoNotSchedule topology spread counts every node as a domain, including the tainted control-plane nodes its pods cannot run on (nodeTaintsPolicy defaults to Ignore). Those domains hold zero pods, so once each schedulable node has one replica, the next pod (a rollout's surge pod, a drained node's pod) exceeds maxSkew and stays Pending; with maxUnavailable 0 no rollout ever finishes.
#   remediation: Set nodeTaintsPolicy Honor (and nodeAffinityPolicy Honor, the default) on every DoNotSchedule constraint, so only nodes the pods may run on count; for a Deployment a chart renders, in the HelmRelease values (values.topologySpreadConstraints for Traefik).
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some i, c in object.get(pod_spec, "topologySpreadConstraints", [])
	object.get(c, "whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"
	object.get(c, "nodeTaintsPolicy", "Ignore") != "Honor"
	msg := sprintf(
		"%s: topologySpreadConstraints[%d] (%s, DoNotSchedule) counts tainted nodes its pods cannot run on as empty domains; a replica beyond one per schedulable node stays Pending%s; set nodeTaintsPolicy: Honor",
		[lib.describe(input), i, object.get(c, "topologyKey", ""), spread_consequence],
	)
	result := lib.result(rego.metadata.rule(), input, msg)
}
