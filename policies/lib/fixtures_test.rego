# Fixtures shared by the pack's tests: objects that pass every rule, which
# the tests break one field at a time with json.patch.
package homelab.fixtures

digest := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

labels := {"app.kubernetes.io/name": "web"}

container := {
	"name": "web",
	"image": sprintf("ghcr.io/homelab-gitops/fitness-web:1.0.0@%s", [digest]),
	"ports": [{"name": "http", "containerPort": 8080}],
	"env": [{"name": "MONGODB_URI_FILE", "value": "/run/secrets/mongodb/uri"}],
	"securityContext": {
		"allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem": true,
		"capabilities": {"drop": ["ALL"]},
	},
	"resources": {
		"requests": {"cpu": "50m", "memory": "64Mi"},
		"limits": {"memory": "128Mi"},
	},
	"readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
	"livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
	"volumeMounts": [{"name": "mongodb", "mountPath": "/run/secrets/mongodb", "readOnly": true}],
}

pod_spec := {
	"automountServiceAccountToken": false,
	"securityContext": {
		"runAsNonRoot": true,
		"runAsUser": 65532,
		"seccompProfile": {"type": "RuntimeDefault"},
	},
	"topologySpreadConstraints": [{
		"maxSkew": 1,
		"topologyKey": "kubernetes.io/hostname",
		"whenUnsatisfiable": "DoNotSchedule",
		"nodeTaintsPolicy": "Honor",
		"matchLabelKeys": ["pod-template-hash"],
		"labelSelector": {"matchLabels": labels},
	}],
	"containers": [container],
	"volumes": [{"name": "mongodb", "secret": {"secretName": "mongodb-uri"}}],
}

deployment := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web", "namespace": "fitness", "labels": labels},
	"spec": {
		"replicas": 2,
		"selector": {"matchLabels": labels},
		"template": {"metadata": {"labels": labels}, "spec": pod_spec},
	},
}

cronjob := {
	"apiVersion": "batch/v1",
	"kind": "CronJob",
	"metadata": {"name": "backup", "namespace": "fitness"},
	"spec": {
		"schedule": "0 3 * * *",
		"jobTemplate": {"spec": {"template": {"metadata": {"labels": {"app": "backup"}}, "spec": pod_spec}}},
	},
}

pod := {
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": {"name": "debug", "namespace": "fitness", "labels": labels},
	"spec": pod_spec,
}

# with_annotation(obj, key, value) adds one metadata annotation.
with_annotation(obj, key, value) := json.patch(obj, [
	{"op": "add", "path": "/metadata/annotations", "value": object.get(obj, ["metadata", "annotations"], {})},
	{"op": "add", "path": sprintf("/metadata/annotations/%s", [replace(replace(key, "~", "~0"), "/", "~1")]), "value": value},
])

# rules(results) are the rule ids of a set of findings.
rules(results) := {r.rule | some r in results}

# items(objects) wraps objects the way conftest --combine does.
items(objects) := [{"path": sprintf("test/%d.yaml", [i]), "contents": obj} | some i, obj in objects]
