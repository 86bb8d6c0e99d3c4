package workflowcheck

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	// fullSHA is a full commit SHA-1 in the lowercase form GitHub prints.
	fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)
	// versionComment is the trailing comment Renovate and reviewers read:
	// "# v1.2.3", "# v0.10" or "# 1.2.3".
	versionComment = regexp.MustCompile(`^#\s*v?[0-9]+(\.[0-9]+)*(\S*)$`)
	// dockerDigest is an image pinned by digest: ref@sha256:<64 hex>.
	dockerDigest = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
)

// usesRef is one `uses:` (or Docker `image:`) value found in a file.
type usesRef struct {
	value   string
	comment string
	line    int
	column  int
}

// CheckPins reports every action or reusable workflow used by a workflow
// file (jobs.*.uses, jobs.*.steps[*].uses) or an action metadata file
// (runs.steps[*].uses, runs.image) that is not pinned to a full commit SHA
// with a version comment, and every Docker action not pinned by digest.
// path is used in the findings only.
func CheckPins(path string, src []byte) ([]Finding, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	top := doc.Content[0]

	var refs []usesRef
	if runs := mappingValue(top, "runs"); runs != nil {
		// Action metadata: composite steps, or a Docker action's image.
		refs = append(refs, stepUses(mappingValue(runs, "steps"))...)
		if img := mappingValue(runs, "image"); img != nil && img.Kind == yaml.ScalarNode &&
			strings.HasPrefix(img.Value, "docker://") {
			refs = append(refs, newUsesRef(img))
		}
	}
	if jobs := mappingValue(top, "jobs"); jobs != nil && jobs.Kind == yaml.MappingNode {
		for i := 1; i < len(jobs.Content); i += 2 {
			job := jobs.Content[i]
			// A job that calls a reusable workflow.
			if u := mappingValue(job, "uses"); u != nil && u.Kind == yaml.ScalarNode {
				refs = append(refs, newUsesRef(u))
			}
			refs = append(refs, stepUses(mappingValue(job, "steps"))...)
		}
	}

	var findings []Finding
	for _, r := range refs {
		if f, ok := checkRef(r); ok {
			f.File = path
			findings = append(findings, f)
		}
	}
	sortFindings(findings)
	return findings, nil
}

// checkRef returns the finding for one reference, if it breaks a rule.
func checkRef(r usesRef) (Finding, bool) {
	f := Finding{Line: r.line, Column: r.column}
	switch {
	case strings.HasPrefix(r.value, "./"):
		// A local action or reusable workflow: it changes only with this
		// repository.
		return f, false
	case strings.HasPrefix(r.value, "docker://"):
		if dockerDigest.MatchString(r.value) {
			return f, false
		}
		f.Rule = RulePinDigest
		f.Message = fmt.Sprintf("Docker action %q is not pinned by digest: use docker://<image>@sha256:<digest>", r.value)
		return f, true
	}

	name, ref, ok := strings.Cut(r.value, "@")
	if !ok || name == "" {
		f.Rule = RulePinSHA
		f.Message = fmt.Sprintf("%q names no ref: use %s@<40-hex commit SHA> # vX.Y.Z", r.value, r.value)
		return f, true
	}
	if !fullSHA.MatchString(ref) {
		f.Rule = RulePinSHA
		f.Message = fmt.Sprintf("%q is pinned to %q, which can move: pin %s to the full 40-hex commit SHA of a release and name the release in a comment (%s@<sha> # vX.Y.Z)", r.value, ref, name, name)
		return f, true
	}
	if !versionComment.MatchString(strings.TrimSpace(r.comment)) {
		f.Rule = RulePinComment
		f.Message = fmt.Sprintf("%q is pinned by SHA but has no version comment: add \"# vX.Y.Z\" after it, naming the release that commit belongs to, so reviewers and Renovate can read it", r.value)
		return f, true
	}
	return f, false
}

// stepUses collects the `uses:` of each step in a steps sequence.
func stepUses(steps *yaml.Node) []usesRef {
	if steps == nil || steps.Kind != yaml.SequenceNode {
		return nil
	}
	var refs []usesRef
	for _, step := range steps.Content {
		if u := mappingValue(step, "uses"); u != nil && u.Kind == yaml.ScalarNode {
			refs = append(refs, newUsesRef(u))
		}
	}
	return refs
}

func newUsesRef(n *yaml.Node) usesRef {
	return usesRef{value: n.Value, comment: n.LineComment, line: n.Line, column: n.Column}
}

// mappingValue returns the value of key in a mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
