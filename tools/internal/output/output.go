// Package output writes a validation report in one of several formats, one
// file per format behind the Outputter interface.
package output

import (
	"fmt"
	"io"
	"strings"

	"github.com/homelab-gitops/homelab/tools/internal/diff"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

// Format names.
const (
	Text     = "text"
	JSON     = "json"
	SARIF    = "sarif"
	GitHub   = "github"
	Markdown = "markdown"
)

// Formats lists the format names, for the flag's help.
var Formats = []string{Text, JSON, SARIF, GitHub, Markdown}

// Report is what the outputs render.
type Report struct {
	Findings []finding.Finding
	Stats    finding.Stats
	// Diff is set when a base revision was compared.
	Diff *diff.Report
	// Tool version for SARIF.
	Version string
}

// subject names what a finding is about: the object, and the cluster when
// the repository has more than one (a file shared by clusters can have a
// finding in each).
func subject(f finding.Finding, r *Report) string {
	s := f.Object.String()
	if r.Stats.Clusters > 1 && f.Cluster != "" {
		if s != "" {
			s += " in "
		}
		s += "cluster " + f.Cluster
	}
	return s
}

// Outputter writes a report.
type Outputter interface {
	Output(w io.Writer, r *Report) error
}

// Get returns the outputter for a format name.
func Get(format string) (Outputter, error) {
	switch format {
	case Text:
		return &TextOutput{}, nil
	case JSON:
		return &JSONOutput{}, nil
	case SARIF:
		return &SARIFOutput{}, nil
	case GitHub:
		return &GitHubOutput{}, nil
	case Markdown:
		return &MarkdownOutput{Limit: MarkdownLimit}, nil
	}
	return nil, fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats, ", "))
}
