package finding

// Rule describes one built-in rule. Policy rules come from the Rego pack and
// carry their own ids.
type Rule struct {
	ID       string
	Class    Class
	Severity Severity
	Title    string
	Hint     string
}

// Built-in rule ids.
const (
	ParseSyntax        = "parse-syntax"
	ParseDuplicateKey  = "parse-duplicate-key"
	RenderFailed       = "render-failed"
	RenderVarMissing   = "render-variable-missing"
	RenderVarUnknown   = "render-variable-unknown"
	RenderSubstitution = "render-substitution-failed"
	RenderSource       = "render-source-unavailable"
	RenderAdmission    = "render-admission-mutation"
	SchemaInvalid      = "schema-invalid"
	SchemaFieldDropped = "schema-field-dropped"
	SchemaUnknownKind  = "schema-unknown-kind"
	SchemaNoSchema     = "schema-no-schema"
	SchemaNotServed    = "schema-version-not-served"
	SchemaRemoved      = "schema-version-removed"
	SchemaFluxRelease  = "schema-flux-release"
	GraphDependsOn     = "graph-dependson-missing"
	GraphCycle         = "graph-dependson-cycle"
	GraphPath          = "graph-path-missing"
	GraphSource        = "graph-source-missing"
	GraphCRDOrder      = "graph-crd-order"
	GraphCRDUnknown    = "graph-crd-unknown"
	GraphDuplicate     = "graph-duplicate-object"
	GraphTimeout       = "graph-timeout-short"
	GraphWaitVolume    = "graph-wait-unbound-volume"
	GraphHealthInvalid = "graph-health-expression-invalid"
	GraphHealthCurrent = "graph-health-expression-current"
	RefMissing         = "reference-missing"
	RefPort            = "reference-port-missing"
	RefUnknown         = "reference-unverifiable"
	SecretPlain        = "secret-unencrypted"
	HelmSourceMissing  = "helm-source-missing"
	HelmVersion        = "helm-version-unpinned"
	HelmNotRendered    = "helm-chart-not-rendered"
	HelmRenderFailed   = "helm-render-failed"
	HelmImageDrift     = "helm-image-version-drift"
	PolicyError        = "policy-evaluation-failed"
	FlowBlocked        = "flow-blocked"
	FlowUndeclared     = "flow-undeclared"
	FlowEndpoint       = "flow-endpoint-missing"
	FlowFile           = "flow-file-invalid"
)

// Rules is the catalogue of built-in rules, keyed by id. Outputs such as
// SARIF list it.
var Rules = map[string]Rule{
	ParseSyntax:        {ParseSyntax, ClassParse, Error, "YAML syntax error", "Fix the YAML at the position shown; kustomize and Flux cannot read this file."},
	ParseDuplicateKey:  {ParseDuplicateKey, ClassParse, Error, "Duplicate mapping key", "Remove one of the keys: Kubernetes keeps only the last one, silently."},
	RenderFailed:       {RenderFailed, ClassRender, Error, "kustomize build failed", "kustomize-controller will fail with the same error; fix the file named in the message."},
	RenderVarMissing:   {RenderVarMissing, ClassRender, Error, "Variable without a value", "Add the variable to postBuild.substitute or the substituteFrom ConfigMap/Secret, give it a default with ${VAR:=default}, or escape it as $${VAR}."},
	RenderVarUnknown:   {RenderVarUnknown, ClassRender, Info, "Variables whose values are not in the repository", "The values come from a Secret or ConfigMap made in the cluster (an ExternalSecret target, a bootstrap Secret); fields that use them are not checked against schema patterns. List the object under externalObjects in .gitops-validate.yaml if it is made outside Git."},
	RenderSubstitution: {RenderSubstitution, ClassRender, Error, "postBuild substitution failed", "Check the ${...} expressions in the object and the variable names."},
	RenderAdmission:    {RenderAdmission, ClassRender, Info, "Flux Kustomizations changed at admission", "A webhook or admission policy in the cluster changes Flux Kustomizations (for example it adds postBuild.substituteFrom), so their variables are not all in the manifests. Write the substitution into the Kustomizations to have their variables checked."},
	RenderSource:       {RenderSource, ClassRender, Info, "Source not available offline", "The Kustomization reads from a source outside this repository; it is not rendered or checked."},
	SchemaInvalid:      {SchemaInvalid, ClassSchema, Error, "Object does not match its schema", "Fix the field named in the message; the API server would reject the object."},
	SchemaFieldDropped: {SchemaFieldDropped, ClassSchema, Error, "Unknown field that kustomize-controller drops", "Fix the field's name or remove it: kustomize-controller converts an object of a built-in kind to its Kubernetes type before applying it, which leaves out a field the type does not have, so the field has no effect (a warning when the field has no value)."},
	SchemaUnknownKind:  {SchemaUnknownKind, ClassSchema, Error, "Unknown kind or version in a known API group", "Fix apiVersion/kind: the API group exists but has no such kind or version in the embedded CRDs. If the cluster runs another release of that CRD, add it to the repository or to crds in .gitops-validate.yaml."},
	SchemaNoSchema:     {SchemaNoSchema, ClassSchema, Warning, "No schema for the kind", "Add the CRD to the repository, to tools/schemas/crds or to crds in .gitops-validate.yaml so the object is validated."},
	SchemaNotServed:    {SchemaNotServed, ClassSchema, Error, "API version not served by the installed Flux release", "Use a version the installed Flux release serves (flux migrate rewrites the manifests), or upgrade Flux in the same change."},
	SchemaRemoved:      {SchemaRemoved, ClassSchema, Warning, "API version removed in the newest Flux release", "Move to a served version before upgrading Flux (flux migrate rewrites the manifests). If the cluster runs an older Flux, say so: a gotk-components.yaml header, a FluxInstance spec.distribution.version or the tag of a flux-manifests source, and the objects are checked against that release."},
	SchemaFluxRelease:  {SchemaFluxRelease, ClassSchema, Info, "Flux release the cluster installs", "Flux objects are checked against the API versions this release serves."},
	GraphDependsOn:     {GraphDependsOn, ClassGraph, Error, "dependsOn names a missing Kustomization", "Fix the name/namespace in spec.dependsOn or add the Kustomization."},
	GraphCycle:         {GraphCycle, ClassGraph, Error, "dependsOn cycle", "Break the cycle: Flux never reconciles Kustomizations that wait on each other."},
	GraphPath:          {GraphPath, ClassGraph, Error, "spec.path does not exist", "Point spec.path at a directory of the source (relative to its root)."},
	GraphSource:        {GraphSource, ClassGraph, Error, "sourceRef names a missing source", "Fix spec.sourceRef or add the GitRepository/OCIRepository/ExternalArtifact."},
	GraphCRDOrder:      {GraphCRDOrder, ClassGraph, Error, "Custom resource applied before its CRD", "Add a dependsOn on the Kustomization that installs the CRD (directly or transitively)."},
	GraphCRDUnknown:    {GraphCRDUnknown, ClassGraph, Info, "CRD installed outside the repository", "Nothing in this repository installs the CRD; make sure the cluster has it."},
	GraphDuplicate:     {GraphDuplicate, ClassGraph, Error, "Same object from two Kustomizations", "Keep the object in one Kustomization: two owners fight over it and pruning deletes it."},
	GraphTimeout:       {GraphTimeout, ClassGraph, Error, "Kustomization timeout shorter than its HelmReleases' retries", "Raise the Kustomization's spec.timeout to the figure in the message (HelmRelease timeout × (1 + remediation retries), added along dependsOn chains), or lower the HelmReleases' timeouts or retries."},
	GraphWaitVolume:    {GraphWaitVolume, ClassGraph, Warning, "Kustomization waits for a claim nothing it runs mounts", "Apply the claim (and its CronJob) from a Kustomization that does not wait for it (wait: false, or healthChecks that leave it out), mount it from a workload of the same Kustomization, or declare its StorageClass in the tree with volumeBindingMode: Immediate."},
	GraphHealthInvalid: {GraphHealthInvalid, ClassGraph, Error, "Health check expression invalid", "Fix the CEL expression in spec.healthCheckExprs: kustomize-controller cannot parse it, or it does not give a boolean, so the health check never passes."},
	GraphHealthCurrent: {GraphHealthCurrent, ClassGraph, Error, "Health check expression healthy before any status", "Make the current expression false until the condition it waits for exists: status.conditions.exists(c, c.type == 'X' && c.status == 'True'), not filter(...).all(...), which is true for an empty list."},
	RefMissing:         {RefMissing, ClassReference, Error, "Reference to a missing object", "Create the object, fix the name, or list it under externalObjects in .gitops-validate.yaml if it is made outside Git."},
	RefPort:            {RefPort, ClassReference, Error, "Reference to a missing port or listener", "Use a port/listener that the target declares."},
	RefUnknown:         {RefUnknown, ClassReference, Info, "Reference that cannot be verified offline", "The target may be created in the cluster (by a Helm chart or operator); it is not checked."},
	SecretPlain:        {SecretPlain, ClassSecret, Error, "Secret not encrypted", "Encrypt the file with sops (age) before committing, e.g. sops --encrypt --in-place FILE."},
	HelmSourceMissing:  {HelmSourceMissing, ClassHelm, Error, "HelmRelease chart source missing", "Fix the HelmRelease's chart sourceRef/chartRef or add the HelmRepository/OCIRepository."},
	HelmVersion:        {HelmVersion, ClassHelm, Warning, "Chart version not pinned", "Pin spec.chart.spec.version to an exact version (or the OCIRepository to a tag/digest)."},
	HelmNotRendered:    {HelmNotRendered, ClassHelm, Info, "Helm chart not rendered", "The chart is not available offline; its output is not validated. Commit the chart, pull it into a chart cache (chartCache in .gitops-validate.yaml or --chart-cache), or let the validator fetch it (--fetch-charts) to have it rendered and checked."},
	HelmRenderFailed:   {HelmRenderFailed, ClassHelm, Error, "Helm chart does not render", "helm-controller fails the release with the same error; fix the values (or the chart template named in the message)."},
	HelmImageDrift:     {HelmImageDrift, ClassHelm, Warning, "Pinned image and chart version disagree", "The values pin an image version other than the one the chart ships (its default at the same values path, or its appVersion): a chart update moved without the pinned image, or the reverse. Update the chart and its pinned images together (Renovate groups them per chart), or say why in a comment."},
	PolicyError:        {PolicyError, ClassPolicy, Error, "Policy evaluation failed", "Fix the Rego pack; the policies could not be evaluated."},
	FlowBlocked:        {FlowBlocked, ClassFlow, Error, "Declared network flow blocked", "Allow the flow in the policies named (egress where the client is isolated, ingress where the server is), or remove it from the flow file if nothing needs it."},
	FlowUndeclared:     {FlowUndeclared, ClassFlow, Error, "Undeclared network flow allowed", "Narrow the policy named so that it admits only declared flows, or declare the flow (with why) in the flow file."},
	FlowEndpoint:       {FlowEndpoint, ClassFlow, Error, "Workload that is no flow endpoint", "Add an endpoint for the workload's pods (namespace and pod labels) to the flow file, with the flows it needs."},
	FlowFile:           {FlowFile, ClassFlow, Error, "Flow file invalid", "Fix the flow file at the line named (flows in .gitops-validate.yaml)."},
}

// New builds a finding for a built-in rule with its catalogue severity,
// class and hint.
func New(rule string, file string, line, col int, obj Object, msg string) Finding {
	r := Rules[rule]
	return Finding{
		Rule:     rule,
		Class:    r.Class,
		Severity: r.Severity,
		File:     file,
		Line:     line,
		Column:   col,
		Object:   obj,
		Message:  msg,
		Hint:     r.Hint,
	}
}
