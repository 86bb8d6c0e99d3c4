# METADATA
# title: Flux hygiene
# description: |
#   Per-object rules for Flux Kustomizations, HelmReleases and sources
#   (GitRepository, HelmRepository, OCIRepository).
package homelab.flux

import data.homelab.lib

source_kinds := {"GitRepository", "HelmRepository", "OCIRepository", "Bucket", "HelmChart"}

min_interval := "1m"

max_interval := "24h"

# METADATA
# title: Kustomizations prune
# custom:
#   id: flux-prune
#   severity: error
#   rationale: Without prune, an object deleted from Git stays in the cluster for ever, and the repository stops being the truth.
#   remediation: Set spec.prune true on the Kustomization.
deny contains result if {
	input.kind == "Kustomization"
	input.spec
	not input.spec.prune == true
	msg := sprintf("%s: spec.prune is not true; objects removed from Git would stay in the cluster", [lib.describe(input)])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: Timeouts are set
# custom:
#   id: flux-timeout
#   severity: error
#   rationale: An explicit timeout bounds how long a stuck apply, health check or Helm action holds up the dependency chain before it is reported as failed.
#   remediation: Set spec.timeout (e.g. 5m) on every Kustomization and HelmRelease.
deny contains result if {
	input.kind in {"Kustomization", "HelmRelease"}
	input.spec
	not input.spec.timeout
	msg := sprintf("%s: spec.timeout is not set; set it (e.g. 5m) so a stuck reconciliation fails visibly", [lib.describe(input)])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: Kustomizations retry
# custom:
#   id: flux-retry-interval
#   severity: error
#   rationale: After a failure a Kustomization retries at spec.retryInterval; without it, it waits a whole interval, and a transient error (a CRD not yet ready) delays the rollout for an hour.
#   remediation: Set spec.retryInterval (e.g. 2m) on the Kustomization.
deny contains result if {
	input.kind == "Kustomization"
	input.spec
	not input.spec.retryInterval
	msg := sprintf("%s: spec.retryInterval is not set; set it (e.g. 2m) so failures are retried promptly", [lib.describe(input)])
	result := lib.result(rego.metadata.rule(), input, msg)
}

# METADATA
# title: Kustomizations wait for health
# custom:
#   id: flux-health-checks
#   severity: error
#   rationale: dependsOn only orders anything if the Kustomization it depends on reports Ready when its workloads are healthy, not merely applied.
#   remediation: Set spec.wait true (or list spec.healthChecks) on the Kustomization.
deny contains result if {
	input.kind == "Kustomization"
	input.spec
	not input.spec.wait == true
	count(object.get(input.spec, "healthChecks", [])) == 0
	msg := sprintf("%s: neither spec.wait nor spec.healthChecks is set; set wait: true so dependants wait for healthy workloads", [lib.describe(input)])
	result := lib.result(rego.metadata.rule(), input, msg)
}

requires_interval := {"Kustomization", "HelmRelease", "GitRepository", "OCIRepository", "Bucket"}

interval_findings contains msg if {
	input.kind in requires_interval
	input.spec
	not input.spec.interval
	msg := sprintf("%s: spec.interval is not set; set it between %s and %s", [lib.describe(input), min_interval, max_interval])
}

interval_findings contains msg if {
	input.kind in (requires_interval | source_kinds)
	interval := input.spec.interval
	ns := lib.duration_ns(interval)
	not within_bounds(ns)
	msg := sprintf("%s: spec.interval %s is outside %s..%s", [lib.describe(input), interval, min_interval, max_interval])
}

interval_findings contains msg if {
	input.kind in (requires_interval | source_kinds)
	interval := input.spec.interval
	not lib.duration_ns(interval)
	msg := sprintf("%s: spec.interval %v is not a duration such as 10m", [lib.describe(input), interval])
}

within_bounds(ns) if {
	ns >= time.parse_duration_ns(min_interval)
	ns <= time.parse_duration_ns(max_interval)
}

# METADATA
# title: Intervals within bounds
# custom:
#   id: flux-interval
#   severity: error
#   rationale: Intervals below a minute hammer the API server and the sources' rate limits; above a day, drift goes uncorrected for too long.
#   remediation: Set spec.interval between 1m and 24h (e.g. 10m for Kustomizations, 30m for HelmReleases, 12h for chart repositories).
deny contains result if {
	input.kind in {"Bucket", "GitRepository", "HelmChart", "HelmRelease", "HelmRepository", "Kustomization", "OCIRepository"} # guard
	some msg in interval_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

exact_version := `^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`

# METADATA
# title: Chart versions pinned exactly
# custom:
#   id: flux-chart-version
#   severity: error
#   rationale: A range or a missing version upgrades the chart whenever upstream publishes, unreviewed; an exact version changes only through a pull request (Renovate).
#   remediation: Set spec.chart.spec.version to an exact version such as 39.0.5 (no *, ranges, ^ or ~).
deny contains result if {
	input.kind == "HelmRelease"
	chart := input.spec.chart.spec
	version := object.get(chart, "version", "*")
	not regex.match(exact_version, version)
	msg := sprintf("%s: chart %s version %q is not exact; pin it (e.g. 1.2.3)", [lib.describe(input), chart.chart, version])
	result := lib.result(rego.metadata.rule(), input, msg)
}

oci_pinned(ref) if ref.digest

oci_pinned(ref) if {
	regex.match(exact_version, ref.tag)
}

oci_pinned(ref) if {
	regex.match(exact_version, ref.semver)
}

# METADATA
# title: OCI sources pinned
# custom:
#   id: flux-oci-pinned
#   severity: error
#   rationale: An OCIRepository without a ref follows latest; a semver range or a moving tag changes what is deployed without a pull request.
#   remediation: Set spec.ref.tag to an exact version (or spec.ref.digest) on the OCIRepository.
deny contains result if {
	input.kind == "OCIRepository"
	input.spec
	ref := object.get(input.spec, "ref", {})
	not oci_pinned(ref)
	msg := sprintf("%s: spec.ref %v does not pin a version; set ref.tag to an exact version or ref.digest", [lib.describe(input), ref])
	result := lib.result(rego.metadata.rule(), input, msg)
}

remediation_findings contains msg if {
	input.kind == "HelmRelease"
	some action in ["install", "upgrade"]
	retries := object.get(input.spec, [action, "remediation", "retries"], 0)
	retries == 0
	msg := sprintf("%s: spec.%s.remediation.retries is not set; set it (e.g. 3) so a failed %s is retried", [lib.describe(input), action, action])
}

remediation_findings contains msg if {
	input.kind == "HelmRelease"
	input.spec.upgrade.remediation.retries != 0
	not upgrade_remediates(input.spec.upgrade.remediation)
	msg := sprintf("%s: spec.upgrade.remediation.strategy is %s; use rollback so a failed upgrade returns to the last good release", [lib.describe(input), input.spec.upgrade.remediation.strategy])
}

upgrade_remediates(remediation) if object.get(remediation, "strategy", "rollback") == "rollback"

# METADATA
# title: HelmReleases remediate with retries
# custom:
#   id: flux-remediation
#   severity: error
#   rationale: Without remediation a failed install or upgrade leaves the release failed until someone notices; retries with rollback recover from transient failures by themselves.
#   remediation: Set spec.install.remediation.retries and spec.upgrade.remediation.retries (e.g. 3), keeping the upgrade strategy rollback.
deny contains result if {
	input.kind == "HelmRelease" # guard
	some msg in remediation_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}

source_ref_findings contains msg if {
	input.kind == "Kustomization"
	ref := input.spec.sourceRef
	not ref.namespace
	msg := sprintf("%s: spec.sourceRef (%s/%s) has no namespace; set sourceRef.namespace (e.g. flux-system)", [lib.describe(input), ref.kind, ref.name])
}

source_ref_findings contains msg if {
	input.kind == "HelmRelease"
	ref := input.spec.chart.spec.sourceRef
	not ref.namespace
	msg := sprintf("%s: spec.chart.spec.sourceRef (%s/%s) has no namespace; set it", [lib.describe(input), ref.kind, ref.name])
}

source_ref_findings contains msg if {
	input.kind == "HelmRelease"
	ref := input.spec.chartRef
	not ref.namespace
	msg := sprintf("%s: spec.chartRef (%s/%s) has no namespace; set it", [lib.describe(input), ref.kind, ref.name])
}

# METADATA
# title: Source references name their namespace
# custom:
#   id: flux-source-namespace
#   severity: error
#   rationale: A sourceRef without a namespace resolves in the object's own namespace, so the same manifest means different sources depending on where it lands; with multi-tenancy lockdown it breaks.
#   remediation: Set sourceRef.namespace (spec.sourceRef, spec.chart.spec.sourceRef, spec.chartRef) explicitly, e.g. flux-system.
deny contains result if {
	input.kind in {"HelmRelease", "Kustomization"} # guard
	some msg in source_ref_findings
	result := lib.result(rego.metadata.rule(), input, msg)
}
