package output

import (
	"fmt"
	"io"
	"slices"

	"github.com/owenrumney/go-sarif/v2/sarif"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

// SARIFOutput writes SARIF 2.1.0 for GitHub code scanning, built with
// go-sarif so that optional objects (a rule's help) are left out rather
// than written empty.
type SARIFOutput struct{}

// Output implements Outputter.
func (s *SARIFOutput) Output(w io.Writer, r *Report) error {
	log, err := sarif.New(sarif.Version210)
	if err != nil {
		return fmt.Errorf("sarif: %w", err)
	}
	run := sarif.NewRunWithInformationURI("gitops-validate", "")
	run.Tool.Driver.InformationURI = nil
	if r.Version != "" {
		run.Tool.Driver.Version = &r.Version
	}
	var ids []string
	for _, f := range r.Findings {
		ids = append(ids, f.Rule)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	index := map[string]uint{}
	for i, id := range ids {
		index[id] = uint(i)
		rule := run.AddRule(id).WithDescription(id)
		class := finding.ClassPolicy
		if def, ok := finding.Rules[id]; ok {
			rule.WithDescription(def.Title)
			if def.Hint != "" {
				rule.WithTextHelp(def.Hint)
			}
			class = def.Class
		}
		rule.WithProperties(sarif.Properties{"tags": []string{string(class)}})
	}
	for _, f := range r.Findings {
		level := "note"
		switch f.Severity {
		case finding.Error:
			level = "error"
		case finding.Warning:
			level = "warning"
		}
		msg := f.Message
		if f.Hint != "" {
			msg += " " + f.Hint
		}
		res := run.CreateResultForRule(f.Rule).WithRuleIndex(int(index[f.Rule])).WithLevel(level).WithMessage(sarif.NewTextMessage(msg))
		if f.File != "" {
			loc := sarif.NewPhysicalLocation().WithArtifactLocation(sarif.NewSimpleArtifactLocation(f.File))
			if f.Line > 0 {
				region := sarif.NewRegion().WithStartLine(f.Line)
				if f.Column > 0 {
					region.WithStartColumn(f.Column)
				}
				loc.WithRegion(region)
			}
			res.WithLocations([]*sarif.Location{sarif.NewLocationWithPhysicalLocation(loc)})
		}
	}
	log.AddRun(run)
	if err := log.PrettyWrite(w); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n")
	return err
}
