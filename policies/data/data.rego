# METADATA
# title: Data tier
# description: |
#   Per-object rules for the RabbitMQ cluster operator's RabbitmqCluster and
#   the MongoDB replica set, whichever operator runs it: MongoDBCommunity
#   (mongodbcommunity.mongodb.com), MongoDB (mongodb.com, MongoDB
#   Controllers for Kubernetes) or PerconaServerMongoDB (psmdb.percona.com).
package homelab.data

import data.homelab.lib

min_members := 3

weak_tls_modes := {"disabled", "allowTLS", "preferTLS"}

# additional_tls_modes(spec) are net.tls.mode values set through
# additionalMongodConfig, nested or with a dotted key.
additional_tls_modes(spec) := [
	object.get(spec, ["additionalMongodConfig", "net", "tls", "mode"], ""),
	object.get(spec, ["additionalMongodConfig", "net.tls.mode"], ""),
]

members_findings contains msg if {
	input.kind in {"MongoDBCommunity", "MongoDB"}
	object.get(input.spec, "type", "ReplicaSet") == "ReplicaSet"
	members := object.get(input.spec, "members", 1)
	members < min_members
	msg := sprintf("%s: the replica set has %d members; set spec.members: %d so an election survives a node failure", [lib.describe(input), members, min_members])
}

members_findings contains msg if {
	input.kind == "MongoDB"
	input.spec.type == "Standalone"
	msg := sprintf("%s: a Standalone MongoDB has no failover; use type ReplicaSet with spec.members: %d", [lib.describe(input), min_members])
}

members_findings contains msg if {
	input.kind == "MongoDB"
	input.spec.type == "ShardedCluster"
	per_shard := object.get(input.spec, "mongodsPerShardCount", 1)
	per_shard < min_members
	msg := sprintf("%s: each shard has %d members; set spec.mongodsPerShardCount: %d", [lib.describe(input), per_shard, min_members])
}

members_findings contains msg if {
	input.kind == "PerconaServerMongoDB"
	count(object.get(input.spec, "replsets", [])) == 0
	msg := sprintf("%s: no replica set is defined; add spec.replsets with size: %d", [lib.describe(input), min_members])
}

members_findings contains msg if {
	input.kind == "PerconaServerMongoDB"
	some rs in input.spec.replsets
	size := object.get(rs, "size", 0)
	size < min_members
	msg := sprintf("%s: replica set %q has size %d; set size: %d", [lib.describe(input), object.get(rs, "name", ""), size, min_members])
}

# METADATA
# title: MongoDB replica set with 3 members
# custom:
#   id: data-mongodb-members
#   severity: error
#   rationale: Three voting members keep a majority when one node fails, so a primary is elected automatically and majority writes (which the consumer waits for) keep succeeding.
#   remediation: Run the database as a replica set with 3 members (MongoDBCommunity/MongoDB spec.members, Percona spec.replsets[].size).
deny contains result if {
	input.kind in {"MongoDB", "MongoDBCommunity", "PerconaServerMongoDB"} # guard
	some msg in members_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

tls_findings contains msg if {
	input.kind == "MongoDBCommunity"
	not input.spec.security.tls.enabled == true
	msg := sprintf("%s: TLS is off; set spec.security.tls.enabled: true with certificateKeySecretRef and caConfigMapRef", [lib.describe(input)])
}

tls_findings contains msg if {
	input.kind == "MongoDBCommunity"
	input.spec.security.tls.optional == true
	msg := sprintf("%s: spec.security.tls.optional accepts clear-text clients; remove it", [lib.describe(input)])
}

tls_findings contains msg if {
	input.kind == "MongoDB"
	not input.spec.security.tls.enabled == true
	not input.spec.security.certsSecretPrefix
	msg := sprintf("%s: TLS is off; set spec.security.certsSecretPrefix (and tls.ca) so members and clients use TLS", [lib.describe(input)])
}

tls_findings contains msg if {
	input.kind in {"MongoDBCommunity", "MongoDB"}
	some mode in additional_tls_modes(input.spec)
	mode in weak_tls_modes
	msg := sprintf("%s: additionalMongodConfig net.tls.mode is %s; TLS must be required (requireTLS)", [lib.describe(input), mode])
}

tls_findings contains msg if {
	input.kind == "PerconaServerMongoDB"
	mode := object.get(input.spec, ["tls", "mode"], "preferTLS")
	mode != "requireTLS"
	msg := sprintf("%s: tls.mode is %s, which accepts clear-text connections; set spec.tls.mode: requireTLS", [lib.describe(input), mode])
}

# METADATA
# title: MongoDB requires TLS
# custom:
#   id: data-mongodb-tls
#   severity: error
#   rationale: Workouts and credentials cross the network between the app, the consumer and the members; TLS for clients and for replication (x509 member auth) keeps them encrypted even inside the cluster.
#   remediation: Enable TLS and make it required (MongoDBCommunity security.tls.enabled without optional; MongoDB security.certsSecretPrefix; Percona tls.mode requireTLS), with certificates from cert-manager.
deny contains result if {
	input.kind in {"MongoDB", "MongoDBCommunity", "PerconaServerMongoDB"} # guard
	some msg in tls_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: RabbitMQ cluster with 3 replicas
# custom:
#   id: data-rabbitmq-replicas
#   severity: error
#   rationale: Quorum queues need a majority of 3 nodes to keep accepting and confirming messages when one node fails; a single node loses the write path.
#   remediation: Set spec.replicas to 3 (or more, odd) in the RabbitmqCluster.
deny contains result if {
	input.kind == "RabbitmqCluster"
	replicas := object.get(input.spec, "replicas", 1)
	replicas < 3
	msg := sprintf("%s: runs %d replica(s); set spec.replicas: 3 so quorum queues survive a node failure", [lib.describe(input), replicas])
	result := lib.result(rego.metadata.rule(), input, msg)
}

rabbitmq_tls_findings contains msg if {
	input.kind == "RabbitmqCluster"
	not input.spec.tls.secretName
	msg := sprintf("%s: TLS is off; set spec.tls.secretName to a cert-manager certificate Secret (and caSecretName for mTLS)", [lib.describe(input)])
}

rabbitmq_tls_findings contains msg if {
	input.kind == "RabbitmqCluster"
	input.spec.tls.secretName
	not input.spec.tls.disableNonTLSListeners == true
	msg := sprintf("%s: the clear-text AMQP and management listeners stay open; set spec.tls.disableNonTLSListeners: true", [lib.describe(input)])
}

# METADATA
# title: RabbitMQ uses TLS only
# custom:
#   id: data-rabbitmq-tls
#   severity: error
#   rationale: Credentials and workout messages travel between the services and the broker; TLS-only listeners keep them encrypted and stop clients from silently falling back to clear text.
#   remediation: Set spec.tls.secretName (a cert-manager Certificate's Secret) and spec.tls.disableNonTLSListeners true; clients use amqps:// on 5671.
deny contains result if {
	input.kind == "RabbitmqCluster" # guard
	some msg in rabbitmq_tls_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: Stateful objects are not pruned
# custom:
#   id: data-prune-protected
#   severity: error
#   rationale: Flux deletes what leaves Git. A removed, renamed or moved file (even one moved to another Kustomization, whose old owner prunes it before the new one applies it) would delete a broker, a database or a volume, and the data with it. The list of stateful kinds is stateful_kinds in policies/lib/lib.rego.
#   remediation: Annotate the object with kustomize.toolkit.fluxcd.io/prune disabled (helm.sh/resource-policy keep for an object a chart renders); delete it by hand when it must really go (docs/runbook.md, Removing stateful data).
deny contains result if {
	input.kind in {"MongoDB", "MongoDBCommunity", "PerconaServerMongoDB", "PersistentVolumeClaim", "RabbitmqCluster", "StatefulSet"} # guard
	destroys := lib.stateful(input)
	not lib.prune_protected(input)
	a := lib.prune_annotation(input)
	msg := sprintf("%s: removing or moving its file would delete it, and %s; annotate it %s: %s", [lib.describe(input), destroys, a.key, a.value])
	result := lib.result(rego.metadata.rule(), input, msg)
}
