package homelab.security

import rego.v1

# METADATA
# title: Images are pinned
# custom:
#   id: security-image-pinned
#   severity: error
deny contains result if {
	input.kind == "Deployment"
	some c in input.spec.template.spec.containers
	endswith(c.image, ":latest")
	result := {"msg": sprintf("container %s uses a :latest image", [c.name]), "rule": "security-image-pinned"}
}

warn contains result if {
	input.kind == "Deployment"
	not input.metadata.labels
	result := {"msg": "Deployment has no labels", "rule": "security-labels"}
}
