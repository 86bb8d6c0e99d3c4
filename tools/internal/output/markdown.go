package output

import (
	"fmt"
	"io"
	"strings"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

// MarkdownLimit is GitHub's limit for a pull request comment body.
const MarkdownLimit = 65536

// MarkdownOutput writes a pull request comment: a summary first, then the
// findings as a table, then the diff per Kustomization in folded sections.
// Everything fits in Limit characters: long parts are truncated with counts
// of what was left out.
type MarkdownOutput struct {
	Limit int
}

// Output implements Outputter.
func (m *MarkdownOutput) Output(w io.Writer, r *Report) error {
	limit := m.Limit
	if limit <= 0 {
		limit = MarkdownLimit
	}
	const reserve = 400 // room for the closing notes
	var b strings.Builder
	c := r.Stats.Counts
	status := "✅ No errors"
	if c.Errors > 0 {
		status = fmt.Sprintf("❌ %d error(s)", c.Errors)
	}
	fmt.Fprintf(&b, "### gitops-validate: %s\n\n", status)
	fmt.Fprintf(&b, "%d error(s), %d warning(s), %d info — %d cluster(s), %d Kustomization(s), %d object(s) checked in %d ms.\n",
		c.Errors, c.Warnings, c.Infos, r.Stats.Clusters, r.Stats.Kustomizations, r.Stats.Objects, r.Stats.DurationMS)
	if r.Diff != nil {
		a, rm, ch := r.Diff.Counts()
		fmt.Fprintf(&b, "Changes against `%s`: %d added, %d removed, %d changed object(s) in %d Kustomization(s).\n",
			r.Diff.Base, a, rm, ch, len(r.Diff.Kustomizations))
	}

	shown := 0
	var table []finding.Finding
	for _, f := range r.Findings {
		if f.Severity != finding.Info {
			table = append(table, f)
		}
	}
	if len(table) > 0 {
		b.WriteString("\n| | Rule | Where | Object | Message |\n|---|---|---|---|---|\n")
		for _, f := range table {
			icon := "⚠️"
			if f.Severity == finding.Error {
				icon = "❌"
			}
			row := fmt.Sprintf("| %s | `%s` | `%s` | %s | %s |\n", icon, f.Rule, cell(f.Position()), cell(subject(f, r)), cell(f.Message))
			if b.Len()+len(row) > limit/2 {
				break
			}
			b.WriteString(row)
			shown++
		}
		if shown < len(table) {
			fmt.Fprintf(&b, "\n_%d more finding(s) not shown; run `gitops-validate` locally for all of them._\n", len(table)-shown)
		}
	}
	infos := len(r.Findings) - len(table)
	if infos > 0 {
		fmt.Fprintf(&b, "\n_%d informational finding(s) (things that cannot be checked offline) are not listed._\n", infos)
	}

	if r.Diff != nil && len(r.Diff.Kustomizations) > 0 {
		b.WriteString("\n#### Rendered changes\n")
		omittedObjs, omittedKs := 0, 0
		for i, k := range r.Diff.Kustomizations {
			head := fmt.Sprintf("\n<details><summary><code>%s</code> Kustomization <code>%s</code>: %d object(s)</summary>\n\n", k.Cluster, k.Kustomization, len(k.Objects))
			if b.Len()+len(head)+reserve > limit {
				omittedKs = len(r.Diff.Kustomizations) - i
				break
			}
			b.WriteString(head)
			for j, o := range k.Objects {
				block := fmt.Sprintf("%s `%s`\n```diff\n%s```\n", o.Change, o.Object, o.Diff)
				room := limit - reserve - b.Len() - len("\n</details>\n")
				if len(block) > room {
					lines := strings.Split(o.Diff, "\n")
					cut := truncateLines(lines, room-200)
					if cut > 0 {
						fmt.Fprintf(&b, "%s `%s`\n```diff\n%s\n```\n_… %d more line(s) of this diff not shown_\n",
							o.Change, o.Object, strings.Join(lines[:cut], "\n"), len(lines)-cut)
						omittedObjs += len(k.Objects) - j - 1
					} else {
						omittedObjs += len(k.Objects) - j
					}
					omittedKs = len(r.Diff.Kustomizations) - i - 1
					break
				}
				b.WriteString(block)
			}
			b.WriteString("\n</details>\n")
			if omittedObjs > 0 || omittedKs > 0 {
				break
			}
		}
		if omittedObjs > 0 || omittedKs > 0 {
			fmt.Fprintf(&b, "\n_Diff truncated to fit a comment: %d more object(s) and %d more Kustomization(s) not shown._\n", omittedObjs, omittedKs)
		}
	}
	b.WriteString("\n<sub>Secret values are never shown.</sub>\n")
	out := b.String()
	if len(out) > limit { // cannot happen with the reserve above; keep the promise anyway
		out = out[:limit]
	}
	_, err := io.WriteString(w, out)
	return err
}

// truncateLines returns how many of lines fit in n bytes.
func truncateLines(lines []string, n int) int {
	size := 0
	for i, l := range lines {
		size += len(l) + 1
		if size > n {
			return i
		}
	}
	return len(lines)
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", " ")
}
