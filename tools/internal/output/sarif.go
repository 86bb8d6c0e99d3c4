package output

import (
	"encoding/json"
	"io"
	"slices"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
)

// SARIFOutput writes SARIF 2.1.0 for GitHub code scanning.
type SARIFOutput struct{}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	ShortDescription sarifMessage `json:"shortDescription"`
	Help             sarifMessage `json:"help,omitempty"`
	Properties       sarifProps   `json:"properties"`
}

type sarifProps struct {
	Tags []string `json:"tags,omitempty"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

// Output implements Outputter.
func (s *SARIFOutput) Output(w io.Writer, r *Report) error {
	var ids []string
	for _, f := range r.Findings {
		ids = append(ids, f.Rule)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	driver := sarifDriver{Name: "gitops-validate", Version: r.Version, Rules: []sarifRule{}}
	index := map[string]int{}
	for i, id := range ids {
		index[id] = i
		rule := sarifRule{ID: id, ShortDescription: sarifMessage{Text: id}}
		if def, ok := finding.Rules[id]; ok {
			rule.ShortDescription.Text = def.Title
			rule.Help = sarifMessage{Text: def.Hint}
			rule.Properties.Tags = []string{string(def.Class)}
		} else {
			rule.Properties.Tags = []string{string(finding.ClassPolicy)}
		}
		driver.Rules = append(driver.Rules, rule)
	}
	results := []sarifResult{}
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
		res := sarifResult{RuleID: f.Rule, RuleIndex: index[f.Rule], Level: level, Message: sarifMessage{Text: msg}}
		if f.File != "" {
			loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.File}}}
			if f.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Line, StartColumn: f.Column}
			}
			res.Locations = []sarifLocation{loc}
		}
		results = append(results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}},
	})
}
