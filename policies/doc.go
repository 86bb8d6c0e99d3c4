// Package policies is the homelab policy pack: Rego rules (one directory per
// area, tests beside them) that the validator evaluates with conftest's
// engine, plus the Go code that reads the rules' METADATA to keep the rule
// catalog (README.md and the generated lib/rule_ids.rego) in step with the
// rules.
//
// The pack's contract:
//   - per-object packages homelab.<area> take one Kubernetes object as input;
//   - cross-object packages homelab.combined.<area> take conftest's --combine
//     array of {"path", "contents"};
//   - deny and warn rules produce {"msg", "rule", ...} objects, and every rule
//     carries METADATA with title and custom id, severity, rationale and
//     remediation;
//   - an annotation exceptions.policy.homelab.dev/<rule-id>: "<reason>"
//     exempts an object from one rule.
//
// Run `go test ./policies` to run the Rego tests (with coverage), the format
// check and the catalog checks; `go test ./policies -update` regenerates the
// README table and lib/rule_ids.rego from the METADATA.
package policies
