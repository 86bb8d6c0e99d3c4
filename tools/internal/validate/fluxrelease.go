package validate

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
	"github.com/homelab-gitops/homelab/tools/schemas"
)

// installedFlux is the Flux release a cluster installs, and what says so.
type installedFlux struct {
	release schemas.FluxRelease
	// from names the file and field the release was read from; "" when
	// the repository does not say and the newest release is assumed.
	from string
	// file, line and obj locate that declaration for the info finding.
	file string
	obj  finding.Object
}

// fluxRelease finds the Flux release a cluster installs: a FluxInstance's
// spec.distribution.version, the same value in a flux-instance chart's
// values, the tag of a flux-manifests OCIRepository or fluxcd/flux2
// GitRepository, or the "# Flux Version:" header flux bootstrap writes
// at the top of gotk-components.yaml. Without any, the newest release
// the validator knows.
func (r *run) fluxRelease(c *render.Cluster) installedFlux {
	var found []installedFlux
	consider := func(version, from string, o *render.Object) {
		if version == "" || strings.Contains(version, "${") {
			return
		}
		if rel, ok := schemas.FindFluxRelease(version); ok {
			found = append(found, installedFlux{release: rel, from: fmt.Sprintf("%s (%s)", from, version), file: o.File, obj: o.FindingObject()})
		}
	}
	headers := map[string]bool{}
	for _, o := range c.Objects {
		u := o.U.Object
		id := o.ID()
		switch {
		case id.Group == "fluxcd.controlplane.io" && id.Kind == "FluxInstance":
			v, _, _ := unstructured.NestedString(u, "spec", "distribution", "version")
			consider(v, o.File+": FluxInstance "+id.Name+" spec.distribution.version", o)
		case id.Group == "helm.toolkit.fluxcd.io" && id.Kind == "HelmRelease" && chartName(u) == "flux-instance":
			v, _, _ := unstructured.NestedString(u, "spec", "values", "instance", "distribution", "version")
			consider(v, o.File+": HelmRelease "+id.Name+" values instance.distribution.version", o)
		case id.Group == render.SourceGroup && (id.Kind == "OCIRepository" || id.Kind == "GitRepository"):
			url, _, _ := unstructured.NestedString(u, "spec", "url")
			url = strings.TrimSuffix(strings.TrimSuffix(url, "/"), ".git")
			if !strings.HasSuffix(url, "/flux-manifests") && !strings.HasSuffix(url, "fluxcd/flux2") {
				continue
			}
			for _, field := range []string{"tag", "semver"} {
				if v, _, _ := unstructured.NestedString(u, "spec", "ref", field); v != "" {
					consider(v, fmt.Sprintf("%s: %s %s spec.ref.%s", o.File, id.Kind, id.Name, field), o)
					break
				}
			}
		case o.Chart == nil && !headers[o.File]:
			headers[o.File] = true
			if v := r.fluxVersionHeader(o.File); v != "" {
				consider(v, o.File+": # Flux Version header", o)
			}
		}
	}
	if ep := r.entries[c.Name]; len(found) == 0 && ep.FluxVersion != "" {
		// The FluxInstance whose sync is this cluster's entry point, in
		// a file Flux does not apply (a helmfile's or a chart's values).
		if rel, ok := schemas.FindFluxRelease(ep.FluxVersion); ok {
			found = append(found, installedFlux{release: rel, from: fmt.Sprintf("%s: FluxInstance distribution.version (%s)", ep.FluxVersionFile, ep.FluxVersion), file: ep.FluxVersionFile})
		}
	}
	if len(found) == 0 {
		rels, err := schemas.FluxReleases()
		if err != nil || len(rels) == 0 {
			return installedFlux{}
		}
		return installedFlux{release: rels[len(rels)-1]}
	}
	// Several declarations (a FluxInstance and its chart's values): the
	// first by file, so that two runs agree.
	slices.SortFunc(found, func(a, b installedFlux) int { return cmp.Compare(a.from, b.from) })
	return found[0]
}

// chartName is a HelmRelease's spec.chart.spec.chart, or the name of the
// OCI repository its chartRef names when that is all it has.
func chartName(u map[string]any) string {
	if n, _, _ := unstructured.NestedString(u, "spec", "chart", "spec", "chart"); n != "" {
		return n
	}
	n, _, _ := unstructured.NestedString(u, "spec", "chartRef", "name")
	return n
}

// fluxVersionHeader reads the "# Flux Version: vX.Y.Z" line flux install
// and flux bootstrap write in the first lines of gotk-components.yaml.
func (r *run) fluxVersionHeader(file string) string {
	data, err := r.renderer.ReadFile(filepath.Join(r.root, filepath.FromSlash(file)))
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for i := 0; i < 5 && sc.Scan(); i++ {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "# Flux Version:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// fluxAPIFindings checks the API version of every Flux object against the
// release the cluster installs. A version that release does not serve is
// an error when the repository names the release; when it does not, the
// newest release is assumed and a version it removed is a warning naming
// the release that removed it (the object is validated against the schema
// of the last release that served it).
func fluxAPIFindings(c *render.Cluster, inst installedFlux) []finding.Finding {
	if inst.release.Release == "" {
		return nil
	}
	rels, err := schemas.FluxReleases()
	if err != nil {
		return nil
	}
	var out []finding.Finding
	if inst.from != "" {
		f := finding.New(finding.SchemaFluxRelease, inst.file, 0, 0, inst.obj,
			fmt.Sprintf("Flux API versions are checked against Flux %s, which this cluster installs: %s", inst.release.Release, inst.from))
		out = append(out, f)
	}
	removed := map[string]*finding.Finding{}
	counts := map[string]int{}
	var order []string
	for _, o := range c.Objects {
		id := o.ID()
		if !strings.HasSuffix(id.Group, ".toolkit.fluxcd.io") {
			continue
		}
		version := o.U.GroupVersionKind().Version
		served, known := inst.release.Serves(id.Group, id.Kind, version)
		if served || !known {
			continue
		}
		first, last := servedRange(rels, id.Group, id.Kind, version)
		if first == "" {
			continue // served by no release: the schema check reports it
		}
		if inst.from != "" {
			msg := fmt.Sprintf("%s: %s/%s is not served by Flux %s, which this cluster installs (%s); ", o.ID(), id.Group, version, inst.release.Release, inst.from)
			if schemas.CompareReleases(first, inst.release.Release) > 0 {
				msg += fmt.Sprintf("it was added in Flux %s", first)
			} else {
				msg += fmt.Sprintf("Flux %s was the last to serve it", last)
			}
			msg += "; served versions: " + strings.Join(inst.release.APIs[id.Group+"/"+id.Kind], ", ")
			f := finding.New(finding.SchemaNotServed, o.File, 0, 0, o.FindingObject(), msg)
			f.Field = "apiVersion"
			f.Kustomization = o.Owner.Ref.String()
			out = append(out, f)
			continue
		}
		// The newest release assumed: aggregate per version and kind, the
		// representative being the first by file and name.
		key := id.Group + "/" + version + "/" + id.Kind
		removedIn := nextRelease(rels, last)
		f := finding.New(finding.SchemaRemoved, o.File, 0, 0, o.FindingObject(),
			fmt.Sprintf("%s: %s/%s was removed in Flux %s (last served by Flux %s, whose schema it was validated against); the repository does not say which Flux release it installs, so the newest, %s, is assumed",
				o.ID(), id.Group, version, removedIn, last, inst.release.Release))
		f.Field = "apiVersion"
		f.Kustomization = o.Owner.Ref.String()
		counts[key]++
		if prev := removed[key]; prev == nil || cmp.Or(strings.Compare(f.File, prev.File), strings.Compare(f.Object.String(), prev.Object.String())) < 0 {
			if prev == nil {
				order = append(order, key)
			}
			removed[key] = &f
		}
	}
	for _, key := range order {
		f := *removed[key]
		if n := counts[key]; n > 1 {
			f.Message += fmt.Sprintf(" (and %d more %s object(s) of that version in this cluster)", n-1, f.Object.Kind)
		}
		out = append(out, f)
	}
	return out
}

// servedRange is the first and last release serving group/kind at version
// ("" when none does).
func servedRange(rels []schemas.FluxRelease, group, kind, version string) (first, last string) {
	for _, r := range rels {
		if ok, _ := r.Serves(group, kind, version); ok {
			if first == "" {
				first = r.Release
			}
			last = r.Release
		}
	}
	return first, last
}

// nextRelease is the release after rel.
func nextRelease(rels []schemas.FluxRelease, rel string) string {
	for i, r := range rels {
		if r.Release == rel && i+1 < len(rels) {
			return rels[i+1].Release
		}
	}
	return rel
}
