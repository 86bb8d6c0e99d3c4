package schemas

import (
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Legacy holds legacy/compiled/<group>_<Kind>.json.gz: for each Flux and
// Gateway API kind, a CustomResourceDefinition with the versions earlier
// releases served and the newest one (compiled/) no longer does, each
// version's schema taken from the last release that served it
// (legacy/README.md). The validator falls back on them, so that a
// repository pinning an older Flux, or installing the Gateway API from a
// chart, is validated against what it installs.
//
//go:embed legacy/compiled/*.json.gz
var Legacy embed.FS

//go:embed legacy/fluxreleases.json
var fluxReleasesJSON []byte

// FluxRelease is one minor release of Flux and the API versions of each
// kind its controllers serve.
type FluxRelease struct {
	// Release is the minor version ("v2.2"); Tag the patch release the
	// served versions were read from ("v2.2.3").
	Release string `json:"release"`
	Tag     string `json:"tag"`
	// Controllers maps each controller to the tag that Flux release ships.
	Controllers map[string]string `json:"controllers"`
	// ReadFrom names, for a controller whose tag the upstream clone lacked,
	// the earlier patch of the same minor whose CRDs were read instead.
	ReadFrom map[string]string `json:"readFrom,omitempty"`
	// APIs maps "group/Kind" to its served versions.
	APIs map[string][]string `json:"apis"`
}

// Serves reports whether r serves group/Kind at version, and whether r
// knows the kind at all.
func (r FluxRelease) Serves(group, kind, version string) (served, known bool) {
	vs, known := r.APIs[group+"/"+kind]
	return slices.Contains(vs, version), known
}

// readTag is the controller tag whose CRDs give r's served versions.
func (r FluxRelease) readTag(controller string) string {
	if t, ok := r.ReadFrom[controller]; ok {
		return t
	}
	return r.Controllers[controller]
}

// LegacySource says where a legacy version's schema comes from.
type LegacySource struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
	// Controller and Tag name the upstream release: a Flux controller (the
	// Go module github.com/fluxcd/<controller> at Tag) or "gateway-api"
	// (sigs.k8s.io/gateway-api at Tag, experimental channel); Commit is the
	// tag's commit and File the CRD file's path in that repository.
	Controller string `json:"controller"`
	Tag        string `json:"tag"`
	Commit     string `json:"commit"`
	File       string `json:"file"`
}

type fluxTable struct {
	Releases []FluxRelease  `json:"releases"`
	Legacy   []LegacySource `json:"legacy"`
}

var loadFluxTable = sync.OnceValues(func() (fluxTable, error) {
	var t fluxTable
	if err := json.Unmarshal(fluxReleasesJSON, &t); err != nil {
		return t, fmt.Errorf("embedded legacy/fluxreleases.json: %w", err)
	}
	slices.SortFunc(t.Releases, func(a, b FluxRelease) int { return compareMinor(a.Release, b.Release) })
	return t, nil
})

// FluxReleases returns the Flux minor releases the validator knows, oldest
// first.
func FluxReleases() ([]FluxRelease, error) {
	t, err := loadFluxTable()
	return t.Releases, err
}

// LegacySources lists where each embedded legacy version comes from.
func LegacySources() ([]LegacySource, error) {
	t, err := loadFluxTable()
	return t.Legacy, err
}

// FindFluxRelease returns the release a version or semver constraint
// names: "v2.2.3", "2.2", "2.2.x", "~2.2.0" and "v0.41.2" name that minor;
// "2.x", "^2.2", ">=2.0.0" name the newest release of the major; "*" or ""
// the newest release. It reports false when no known release matches.
func FindFluxRelease(version string) (FluxRelease, bool) {
	rels, err := FluxReleases()
	if err != nil || len(rels) == 0 {
		return FluxRelease{}, false
	}
	v := strings.TrimSpace(version)
	wholeMajor := strings.HasPrefix(v, ">") || strings.HasPrefix(v, "^")
	v = strings.TrimLeft(v, "v=>~^ ")
	if v == "" || v == "*" || v == "latest" {
		return rels[len(rels)-1], true
	}
	parts := strings.SplitN(v, ".", 3)
	major, minor := strings.TrimPrefix(parts[0], "v"), ""
	if len(parts) > 1 && !wholeMajor && parts[1] != "x" && parts[1] != "*" {
		minor = strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
		if m, err := strconv.Atoi(minor); err == nil {
			minor = strconv.Itoa(m)
		}
	}
	for i := len(rels) - 1; i >= 0; i-- {
		rm, rn, _ := strings.Cut(strings.TrimPrefix(rels[i].Release, "v"), ".")
		if rm == major && (minor == "" || rn == minor) {
			return rels[i], true
		}
	}
	return FluxRelease{}, false
}

// CompareReleases orders release names ("v2.2", "v0.41") by version.
func CompareReleases(a, b string) int { return compareMinor(a, b) }

// compareMinor orders "vX.Y" strings numerically.
func compareMinor(a, b string) int {
	pa := strings.Split(strings.TrimPrefix(a, "v"), ".")
	pb := strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x - y
		}
	}
	return len(pa) - len(pb)
}
