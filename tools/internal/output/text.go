package output

import (
	"fmt"
	"io"
)

// TextOutput writes one line per finding, like a compiler:
// file:line:col: severity rule message, with the hint indented below.
type TextOutput struct{}

// Output implements Outputter.
func (t *TextOutput) Output(w io.Writer, r *Report) error {
	for _, f := range r.Findings {
		obj := ""
		if s := subject(f, r); s != "" {
			obj = " [" + s + "]"
		}
		if _, err := fmt.Fprintf(w, "%s: %s %s %s%s\n", f.Position(), f.Severity, f.Rule, f.Message, obj); err != nil {
			return err
		}
		if f.Hint != "" {
			if _, err := fmt.Fprintf(w, "    hint: %s\n", f.Hint); err != nil {
				return err
			}
		}
	}
	if r.Diff != nil {
		if _, err := io.WriteString(w, r.Diff.Text()); err != nil {
			return err
		}
	}
	c := r.Stats.Counts
	_, err := fmt.Fprintf(w, "%d error(s), %d warning(s), %d info: %d cluster(s), %d Kustomization(s), %d object(s) from %d file(s) in %d ms\n",
		c.Errors, c.Warnings, c.Infos, r.Stats.Clusters, r.Stats.Kustomizations, r.Stats.Objects, r.Stats.Files, r.Stats.DurationMS)
	return err
}
