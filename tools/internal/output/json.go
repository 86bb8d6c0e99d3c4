package output

import (
	"encoding/json"
	"io"

	"github.com/homelab-gitops/homelab/tools/internal/diff"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

// JSONSchemaVersion is bumped on any incompatible change of the JSON output.
const JSONSchemaVersion = 1

// JSONOutput writes the report as one JSON document:
//
//	{
//	  "version": 1,
//	  "findings": [{"rule", "class", "severity", "file", "line", "column",
//	                "object": {"apiVersion", "kind", "namespace", "name"},
//	                "cluster", "kustomization", "field", "variable",
//	                "message", "hint"}],
//	  "stats": {"clusters", "kustomizations", "objects", "files",
//	            "findings": {"errors", "warnings", "infos"}, "durationMs"},
//	  "diff": {"base", "kustomizations": [...]}   // with --base only
//	}
//
// Empty optional fields are left out; findings is always an array.
type JSONOutput struct{}

type jsonReport struct {
	Version  int               `json:"version"`
	Findings []finding.Finding `json:"findings"`
	Stats    finding.Stats     `json:"stats"`
	Diff     *diff.Report      `json:"diff,omitempty"`
}

// Output implements Outputter.
func (j *JSONOutput) Output(w io.Writer, r *Report) error {
	fs := r.Findings
	if fs == nil {
		fs = []finding.Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonReport{Version: JSONSchemaVersion, Findings: fs, Stats: r.Stats, Diff: r.Diff})
}
