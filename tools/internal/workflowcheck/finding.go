package workflowcheck

import (
	"cmp"
	"fmt"
	"slices"
)

// Rule ids reported by the pin check. actionlint's own findings carry its
// rule names (for example "expression" or "permissions").
const (
	RulePinSHA     = "pin-sha"
	RulePinComment = "pin-comment"
	RulePinDigest  = "pin-digest"
)

// Finding is one problem in a workflow or action file.
type Finding struct {
	// File is the path of the file, relative to the repository root when
	// the file lies inside it.
	File   string
	Line   int
	Column int
	// Rule names the check that failed.
	Rule    string
	Message string
}

// String formats the finding like a compiler error: file:line:col: message [rule].
func (f Finding) String() string {
	return fmt.Sprintf("%s:%d:%d: %s [%s]", f.File, f.Line, f.Column, f.Message, f.Rule)
}

// sortFindings orders findings by file, position and rule so that output is
// stable whatever order the checks ran in.
func sortFindings(fs []Finding) {
	slices.SortFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message),
		)
	})
}
