package ociimage

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// SBOM is an SPDX 2.3 document in JSON, as much of it as this package
// writes.
type SBOM struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      SBOMCreation       `json:"creationInfo"`
	Packages          []SBOMPackage      `json:"packages"`
	Relationships     []SBOMRelationship `json:"relationships"`
}

// SBOMCreation is an SPDX document's creationInfo.
type SBOMCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

// SBOMPackage is one SPDX package.
type SBOMPackage struct {
	SPDXID           string            `json:"SPDXID"`
	Name             string            `json:"name"`
	VersionInfo      string            `json:"versionInfo,omitempty"`
	DownloadLocation string            `json:"downloadLocation"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	LicenseConcluded string            `json:"licenseConcluded"`
	LicenseDeclared  string            `json:"licenseDeclared"`
	CopyrightText    string            `json:"copyrightText"`
	PrimaryPurpose   string            `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs     []SBOMExternalRef `json:"externalRefs,omitempty"`
}

// SBOMExternalRef is a package URL of an SPDX package.
type SBOMExternalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

// SBOMRelationship links two SPDX elements.
type SBOMRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

const noAssertion = "NOASSERTION"

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

func spdxID(kind, name string) string {
	return "SPDXRef-" + kind + "-" + strings.Trim(spdxIDUnsafe.ReplaceAllString(name, "-"), "-")
}

// NewSBOM describes the image index digest of repository (such as
// ghcr.io/owner/name) holding the programs, from the module information the
// Go linker put into each: the main module, the Go standard library and
// every dependency module (the union over programs, one entry per module
// version). namespace is a URI prefix of the document's namespace.
func NewSBOM(spec Spec, repository string, digest v1.Hash, namespace string, programs ...[]byte) (*SBOM, error) {
	image := SBOMPackage{
		SPDXID:           spdxID("Image", spec.Name),
		Name:             repository,
		VersionInfo:      digest.String(),
		DownloadLocation: noAssertion,
		LicenseConcluded: noAssertion,
		LicenseDeclared:  noAssertion,
		CopyrightText:    noAssertion,
		PrimaryPurpose:   "CONTAINER",
		ExternalRefs: []SBOMExternalRef{{
			Category: "PACKAGE-MANAGER",
			Type:     "purl",
			Locator:  fmt.Sprintf("pkg:oci/%s@%s?repository_url=%s", lastElem(repository), digest, repository),
		}},
	}
	doc := &SBOM{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              repository + "@" + digest.String(),
		DocumentNamespace: strings.TrimSuffix(namespace, "/") + "/" + spec.Name + "-" + digest.Hex,
		CreationInfo: SBOMCreation{
			Created:  spec.Created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: imagebuild"},
		},
		Packages: []SBOMPackage{image},
		Relationships: []SBOMRelationship{
			{Element: "SPDXRef-DOCUMENT", Type: "DESCRIBES", Related: image.SPDXID},
		},
	}
	seen := map[string]bool{}
	var mainID string
	for _, program := range programs {
		info, err := buildinfo.Read(bytes.NewReader(program))
		if err != nil {
			return nil, fmt.Errorf("sbom of %s: read build information: %w", spec.Name, err)
		}
		if mainID == "" {
			main := goPackage(spdxID("Main", info.Main.Path), info.Main.Path, info.Main.Version)
			main.PrimaryPurpose = "APPLICATION"
			mainID = main.SPDXID
			stdlib := goPackage(spdxID("Stdlib", info.GoVersion), "stdlib", info.GoVersion)
			doc.Packages = append(doc.Packages, main, stdlib)
			doc.Relationships = append(doc.Relationships,
				SBOMRelationship{Element: image.SPDXID, Type: "CONTAINS", Related: mainID},
				SBOMRelationship{Element: mainID, Type: "DEPENDS_ON", Related: stdlib.SPDXID},
			)
		}
		for _, dep := range info.Deps {
			if dep.Replace != nil {
				dep = dep.Replace
			}
			key := dep.Path + "@" + dep.Version
			if seen[key] {
				continue
			}
			seen[key] = true
			doc.Packages = append(doc.Packages, goPackage(spdxID("Module", key), dep.Path, dep.Version))
		}
	}
	deps := doc.Packages[3:]
	slices.SortFunc(deps, func(a, b SBOMPackage) int { return strings.Compare(a.SPDXID, b.SPDXID) })
	for _, p := range deps {
		doc.Relationships = append(doc.Relationships, SBOMRelationship{Element: mainID, Type: "DEPENDS_ON", Related: p.SPDXID})
	}
	return doc, nil
}

// goPackage returns the SPDX package id of the Go module path at version.
func goPackage(id, path, version string) SBOMPackage {
	p := SBOMPackage{
		SPDXID:           id,
		Name:             path,
		VersionInfo:      version,
		DownloadLocation: noAssertion,
		LicenseConcluded: noAssertion,
		LicenseDeclared:  noAssertion,
		CopyrightText:    noAssertion,
		PrimaryPurpose:   "LIBRARY",
	}
	purl := "pkg:golang/" + path
	if version != "" && version != "(devel)" {
		purl += "@" + version
	}
	p.ExternalRefs = []SBOMExternalRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: purl}}
	return p
}

func lastElem(repository string) string {
	return repository[strings.LastIndex(repository, "/")+1:]
}

// JSON returns the document as indented JSON.
func (s *SBOM) JSON() ([]byte, error) {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode sbom: %w", err)
	}
	return append(data, '\n'), nil
}
