// Package finding defines what the validator reports: a finding with a rule
// id, a class, a severity, a position and the object it is about.
package finding

import (
	"cmp"
	"fmt"
	"slices"
)

// Severity orders findings; only errors fail a run.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

func (s Severity) rank() int {
	switch s {
	case Error:
		return 0
	case Warning:
		return 1
	default:
		return 2
	}
}

// Class groups rules by the kind of check that produced them.
type Class string

const (
	ClassParse     Class = "parse"
	ClassRender    Class = "render"
	ClassSchema    Class = "schema"
	ClassGraph     Class = "graph"
	ClassReference Class = "reference"
	ClassSecret    Class = "secret"
	ClassPolicy    Class = "policy"
	ClassHelm      Class = "helm"
	ClassFlow      Class = "flow"
)

// Object names the Kubernetes object a finding is about.
type Object struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
}

// IsZero reports whether no object is named.
func (o Object) IsZero() bool { return o.Kind == "" && o.Name == "" }

// String renders the object as Kind/namespace/name (Kind/name when cluster scoped).
func (o Object) String() string {
	if o.IsZero() {
		return ""
	}
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Finding is one problem found in the repository.
type Finding struct {
	Rule     string   `json:"rule"`
	Class    Class    `json:"class"`
	Severity Severity `json:"severity"`
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	Column   int      `json:"column,omitempty"`
	Object   Object   `json:"object"`
	// Cluster names the entry point whose render the finding comes from;
	// a file shared by several clusters can have a finding in each.
	Cluster string `json:"cluster,omitempty"`
	// Kustomization is the Flux Kustomization (namespace/name) whose render
	// produced the object, when there is one.
	Kustomization string `json:"kustomization,omitempty"`
	// Field is the dotted path of the field at fault inside the object
	// (e.g. spec.template.spec.containers.0.image), when known.
	Field string `json:"field,omitempty"`
	// Variable is the postBuild variable the finding is about, when there
	// is one.
	Variable string `json:"variable,omitempty"`
	Message  string `json:"message"`
	Hint     string `json:"hint,omitempty"`
}

// Position renders file:line:col, leaving out what is unknown.
func (f Finding) Position() string {
	switch {
	case f.File == "":
		return "<repository>"
	case f.Line == 0:
		return f.File
	case f.Column == 0:
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
	}
}

// Sort orders findings by file, line, column, rule and message (then every
// other field) so that every output is the same from run to run, whatever
// order the parallel checks produced them in.
func Sort(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Severity.rank(), b.Severity.rank()),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Object.String(), b.Object.String()),
			cmp.Compare(a.Message, b.Message),
			cmp.Compare(a.Cluster, b.Cluster),
			cmp.Compare(a.Kustomization, b.Kustomization),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Hint, b.Hint),
		)
	})
}

// Dedupe removes findings equal in every field, keeping the first.
func Dedupe(fs []Finding) []Finding {
	seen := make(map[Finding]bool, len(fs))
	out := fs[:0]
	for _, f := range fs {
		if seen[f] {
			continue
		}
		seen[f] = true
		out = append(out, f)
	}
	return out
}

// Counts tallies findings by severity.
type Counts struct {
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Infos    int `json:"infos"`
}

// Count tallies fs.
func Count(fs []Finding) Counts {
	var c Counts
	for _, f := range fs {
		switch f.Severity {
		case Error:
			c.Errors++
		case Warning:
			c.Warnings++
		default:
			c.Infos++
		}
	}
	return c
}

// Stats are the counts and timing of a validation run, shared by the run
// that fills them in and the outputs that print them.
type Stats struct {
	Clusters       int    `json:"clusters"`
	Kustomizations int    `json:"kustomizations"`
	Objects        int    `json:"objects"`
	Files          int    `json:"files"`
	Counts         Counts `json:"findings"`
	DurationMS     int64  `json:"durationMs"`
	// EntryPoints are the directories rendered as clusters, and why.
	EntryPoints []EntryPoint `json:"entryPoints,omitempty"`
}

// EntryPoint is a directory rendered as a cluster's root and the reason it
// was chosen (a flag, the config, the repository layout, a FluxInstance or
// a bootstrap Kustomization, and what it replaced).
type EntryPoint struct {
	Cluster string `json:"cluster"`
	Path    string `json:"path"`
	Reason  string `json:"reason"`
}
