# METADATA
# title: Workload hardening
# description: |
#   Per-object rules for everything that runs pods: no privileges, no host
#   access, non-root, read-only root filesystem, minimal capabilities,
#   seccomp, pinned images, no API token or secrets in env unless needed.
#   Each rule has one deny definition; the sets below it collect its findings.
package homelab.security

import data.homelab.lib

# The input's derived values, computed once per evaluation and shared by
# every rule (function results are not memoised).
containers := lib.containers(input)

pod_spec := lib.pod_spec(input)

traefik if lib.traefik_release(input)

# effective(c, spec, field) is a container's securityContext field, falling
# back to the pod's securityContext, as the kubelet resolves it.
effective(c, _, field) := c.securityContext[field]

effective(c, spec, field) := spec.securityContext[field] if not has_key(object.get(c, "securityContext", {}), field)

has_key(obj, key) if _ = obj[key]

non_root(c, spec) if effective(c, spec, "runAsNonRoot") == true

seccomp_confined(c, spec) if effective(c, spec, "seccompProfile").type in {"RuntimeDefault", "Localhost"}

# METADATA
# title: No privileged containers
# custom:
#   id: security-privileged
#   severity: error
#   rationale: A privileged container has every capability and all host devices; escaping it is owning the node.
#   remediation: Remove securityContext.privileged or set it to false; grant the one capability that is needed instead.
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some c in containers
	c.securityContext.privileged == true
	msg := sprintf("%s: container %q is privileged; set securityContext.privileged: false", [lib.describe(input), c.name])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: No privilege escalation
# custom:
#   id: security-privilege-escalation
#   severity: error
#   rationale: Unless allowPrivilegeEscalation is false, a process can gain more privileges than its parent through setuid binaries or file capabilities.
#   remediation: Set securityContext.allowPrivilegeEscalation to false on every container.
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some c in containers
	not c.securityContext.allowPrivilegeEscalation == false
	msg := sprintf("%s: container %q may escalate privileges; set securityContext.allowPrivilegeEscalation: false", [lib.describe(input), c.name])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: No host network, PID or IPC namespace
# custom:
#   id: security-host-namespaces
#   severity: error
#   rationale: Sharing the node's network, PID or IPC namespace lets a pod see and reach everything on the node and bypasses NetworkPolicies. The Traefik HelmRelease values are checked too, since its pods are rendered in the cluster.
#   remediation: Remove hostNetwork, hostPID and hostIPC (or set them to false) and expose the pod through a Service; Traefik is exposed by NodePort. A documented host-network ingress needs an exception with its reason.
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "HelmRelease", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some msg in host_namespace_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

host_namespace_findings contains msg if {
	spec := pod_spec
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	spec[field] == true
	msg := sprintf("%s: pod spec sets %s: true; remove it and expose the pod through a Service", [lib.describe(input), field])
}

host_namespace_findings contains msg if {
	traefik
	lib.helm_values(input).hostNetwork == true
	msg := sprintf("%s: Traefik values set hostNetwork: true; expose Traefik by NodePort instead", [lib.describe(input)])
}

# METADATA
# title: No hostPath volumes
# custom:
#   id: security-host-path
#   severity: error
#   rationale: A hostPath volume reads or writes the node's filesystem, from which a container can take over the node.
#   remediation: Use an emptyDir, a ConfigMap, a Secret or a PersistentVolumeClaim instead of hostPath.
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some v in pod_spec.volumes
	v.hostPath
	msg := sprintf("%s: volume %q is a hostPath (%s); use emptyDir, a ConfigMap/Secret or a PVC", [lib.describe(input), v.name, v.hostPath.path])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: No host ports
# custom:
#   id: security-host-port
#   severity: error
#   rationale: A hostPort opens an inbound port on the node, which the zero-trust design forbids; traffic enters only through the edge proxies and the ingress controller's NodePorts.
#   remediation: Remove ports[].hostPort and reach the pod through a ClusterIP Service or the Gateway.
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some c in containers
	some p in c.ports
	p.hostPort
	msg := sprintf("%s: container %q binds hostPort %v; remove it and use a Service", [lib.describe(input), c.name, p.hostPort])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: Run as non-root
# custom:
#   id: security-run-as-non-root
#   severity: error
#   rationale: A process running as UID 0 is root on the node once it escapes the container.
#   remediation: Set securityContext.runAsNonRoot true (pod or container) and a non-zero runAsUser such as 65532; build images with a non-root USER.
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some msg in root_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

root_findings contains msg if {
	spec := pod_spec
	some c in containers
	not non_root(c, spec)
	msg := sprintf("%s: container %q may run as root; set securityContext.runAsNonRoot: true", [lib.describe(input), c.name])
}

root_findings contains msg if {
	spec := pod_spec
	some c in containers
	effective(c, spec, "runAsUser") == 0
	msg := sprintf("%s: container %q sets runAsUser: 0 (root); use a non-zero UID such as 65532", [lib.describe(input), c.name])
}

# METADATA
# title: Read-only root filesystem
# custom:
#   id: security-read-only-root-fs
#   severity: error
#   rationale: A writable root filesystem lets an attacker drop tools and persist changes inside the container.
#   remediation: Set securityContext.readOnlyRootFilesystem true on every container; mount an emptyDir where the program must write (e.g. /tmp).
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some c in containers
	not c.securityContext.readOnlyRootFilesystem == true
	msg := sprintf("%s: container %q has a writable root filesystem; set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where it writes", [lib.describe(input), c.name])
	result := lib.result(rego.metadata.rule(), input, msg)
}

allowed_capabilities := {"NET_BIND_SERVICE", "CAP_NET_BIND_SERVICE"}

# METADATA
# title: Drop all capabilities
# custom:
#   id: security-capabilities
#   severity: error
#   rationale: Linux capabilities are root's powers in pieces; a service needs none of them except, when it binds a port below 1024, NET_BIND_SERVICE.
#   remediation: Set securityContext.capabilities.drop to [ALL]; add back NET_BIND_SERVICE only if the process binds a port below 1024.
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some c in containers
	some problem in capability_problems(object.get(c, ["securityContext", "capabilities"], {}))
	msg := sprintf("%s: container %q: %s", [lib.describe(input), c.name, problem])
	result := lib.result(rego.metadata.rule(), input, msg)
}

capability_problems(caps) := {"capabilities.drop does not contain ALL; set securityContext.capabilities.drop: [ALL]" |
	not "ALL" in object.get(caps, "drop", [])
} | {sprintf("capabilities.add has %s; only NET_BIND_SERVICE may be added", [cap]) |
	some cap in object.get(caps, "add", [])
	not upper(cap) in allowed_capabilities
}

# METADATA
# title: Seccomp profile RuntimeDefault
# custom:
#   id: security-seccomp
#   severity: error
#   rationale: Without a seccomp profile every system call is open to the container, including the ones kernel exploits use.
#   remediation: Set securityContext.seccompProfile.type RuntimeDefault on the pod (or Localhost with a reviewed profile).
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	spec := pod_spec
	some c in containers
	not seccomp_confined(c, spec)
	msg := sprintf("%s: container %q has no RuntimeDefault seccomp profile; set spec.securityContext.seccompProfile.type: RuntimeDefault", [lib.describe(input), c.name])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: Images pinned by digest
# custom:
#   id: security-image-digest
#   severity: error
#   rationale: A tag can be moved to other content at any time; only a digest says exactly what runs and what was reviewed. The Traefik HelmRelease is checked too (values.image.digest), since the edge runs it.
#   remediation: Reference the image as name:tag@sha256:<digest> (the tag for people, the digest for the kubelet) and let Renovate bump both.
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "HelmRelease", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some msg in digest_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

digest_pattern := `^sha256:[a-f0-9]{64}$`

digest_findings contains msg if {
	some c in containers
	not regex.match(`@sha256:[a-f0-9]{64}$`, c.image)
	msg := sprintf("%s: container %q uses image %q without a digest; pin it as name:tag@sha256:<digest>", [lib.describe(input), c.name, c.image])
}

digest_findings contains msg if {
	traefik
	not regex.match(digest_pattern, object.get(lib.helm_values(input), ["image", "digest"], ""))
	msg := sprintf("%s: the Traefik image is not pinned; set spec.values.image.digest: sha256:<digest> (with image.tag and versionOverride)", [lib.describe(input)])
}

# image_tag(image) is an image reference's tag, without its digest.
image_tag(image) := tag if {
	parts := split(split(image, "@")[0], "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := split(last, ":")[1]
}

# METADATA
# title: No latest tag
# custom:
#   id: security-image-latest
#   severity: error
#   rationale: The latest tag says nothing about the version; with a digest it misleads reviewers, without one it changes under your feet.
#   remediation: Use the image's release tag together with its digest (name:1.2.3@sha256:...).
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some c in containers
	image_tag(c.image) == "latest"
	msg := sprintf("%s: container %q uses the latest tag (%q); use a release tag with its digest", [lib.describe(input), c.name, c.image])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: No service account token unless needed
# custom:
#   id: security-service-account-token
#   severity: error
#   rationale: A mounted service account token lets anyone who gets code execution in the pod call the Kubernetes API as that account. Flux's own controllers (label app.kubernetes.io/part-of=flux in flux-system) are API clients by nature and exempt.
#   remediation: Set spec.automountServiceAccountToken false in the pod template; a workload that calls the API needs an exception saying why.
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	spec := pod_spec
	not spec.automountServiceAccountToken == false
	not lib.upstream_flux(input)
	msg := sprintf("%s: the pod mounts a service account token; set spec.automountServiceAccountToken: false (or add an exception if it calls the API)", [lib.describe(input)])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: Secrets mounted as files, not env
# custom:
#   id: security-secret-env
#   severity: error
#   rationale: Environment variables leak into child processes, crash dumps, debug endpoints and kubectl describe; files can be permission-restricted and rotated.
#   remediation: Mount the Secret as a volume and point the program at it with a *_FILE variable (e.g. MONGODB_URI_FILE=/run/secrets/mongodb/uri); no env[].valueFrom.secretKeyRef, no envFrom[].secretRef.
deny contains result if {
	input.kind in {"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"} # guard
	some msg in secret_env_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

secret_env_findings contains msg if {
	some c in containers
	some e in c.env
	e.valueFrom.secretKeyRef
	msg := sprintf("%s: container %q reads Secret %q into env %s; mount it as a file and use %s_FILE", [lib.describe(input), c.name, e.valueFrom.secretKeyRef.name, e.name, e.name])
}

secret_env_findings contains msg if {
	some c in containers
	some e in c.envFrom
	e.secretRef
	msg := sprintf("%s: container %q loads Secret %q with envFrom; mount it as a volume instead", [lib.describe(input), c.name, e.secretRef.name])
}

weak_security_context := {
	"securityContext.privileged": true,
	"securityContext.allowPrivilegeEscalation": true,
	"securityContext.readOnlyRootFilesystem": false,
	"securityContext.runAsNonRoot": false,
	"securityContext.runAsUser": 0,
	"podSecurityContext.runAsNonRoot": false,
	"podSecurityContext.runAsUser": 0,
}

# METADATA
# title: Traefik chart keeps its hardened security context
# custom:
#   id: security-traefik-values
#   severity: error
#   rationale: The Traefik chart runs as UID 65532 with a read-only root filesystem and no capabilities; values that weaken this undo the edge's hardening where the pod rules cannot see it (Helm renders the pods in the cluster).
#   remediation: Remove the weakening value from the Traefik HelmRelease spec.values; keep runAsNonRoot true, runAsUser 65532, readOnlyRootFilesystem true, allowPrivilegeEscalation false, capabilities drop [ALL] (add at most NET_BIND_SERVICE).
deny contains result if {
	input.kind == "HelmRelease" # guard
	some msg in traefik_values_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

traefik_values_findings contains msg if {
	traefik
	some path, bad in weak_security_context
	object.get(lib.helm_values(input), split(path, "."), null) == bad
	msg := sprintf("%s: Traefik values set %s: %v; keep the chart's hardened default", [lib.describe(input), path, bad])
}

traefik_values_findings contains msg if {
	traefik
	caps := lib.helm_values(input).securityContext.capabilities
	_ = caps.drop
	some problem in capability_problems(caps)
	msg := sprintf("%s: Traefik values securityContext.%s", [lib.describe(input), problem])
}

traefik_values_findings contains msg if {
	traefik
	caps := lib.helm_values(input).securityContext.capabilities
	not caps.drop
	some cap in caps.add
	not upper(cap) in allowed_capabilities
	msg := sprintf("%s: Traefik values add capability %s; only NET_BIND_SERVICE may be added", [lib.describe(input), cap])
}
