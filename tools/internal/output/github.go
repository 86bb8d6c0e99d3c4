package output

import (
	"fmt"
	"io"
	"strings"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

// GitHubOutput writes GitHub Actions workflow commands, one annotation per
// finding (::error file=…,line=…,col=…,title=…::message).
type GitHubOutput struct{}

// Output implements Outputter.
func (g *GitHubOutput) Output(w io.Writer, r *Report) error {
	for _, f := range r.Findings {
		level := "notice"
		switch f.Severity {
		case finding.Error:
			level = "error"
		case finding.Warning:
			level = "warning"
		}
		props := []string{}
		if f.File != "" {
			props = append(props, "file="+escapeProperty(f.File))
			if f.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", f.Line))
			}
			if f.Column > 0 {
				props = append(props, fmt.Sprintf("col=%d", f.Column))
			}
		}
		props = append(props, "title="+escapeProperty(f.Rule))
		msg := f.Message
		if s := subject(f, r); s != "" {
			msg += " [" + s + "]"
		}
		if f.Hint != "" {
			msg += "\n" + f.Hint
		}
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", level, strings.Join(props, ","), escapeData(msg)); err != nil {
			return err
		}
	}
	c := r.Stats.Counts
	_, err := fmt.Fprintf(w, "%d error(s), %d warning(s), %d info\n", c.Errors, c.Warnings, c.Infos)
	return err
}

func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
