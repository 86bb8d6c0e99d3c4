// Package helmcheck checks Flux HelmReleases offline: the chart source
// exists, the version is pinned, and charts that cannot be rendered offline
// (see package helmrender) are reported as such rather than passed
// silently.
package helmcheck

import (
	"fmt"
	"regexp"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

var rangeRe = regexp.MustCompile(`[*^~<>|]|(^|\.)[xX](\.|$)|\s-\s|^$`)

// Check returns the findings for every HelmRelease of the cluster.
func Check(c *render.Cluster) []finding.Finding {
	index := map[render.ObjectID]*render.Object{}
	for _, o := range c.Objects {
		id := o.ID()
		id.Group = ""
		index[id] = o
	}
	exists := func(kind, ns, name string) *render.Object {
		return index[render.ObjectID{Kind: kind, Namespace: ns, Name: name}]
	}
	var out []finding.Finding
	for _, hr := range c.Objects {
		if !IsHelmRelease(hr) {
			continue
		}
		emit := func(rule, field, msg string) {
			f := finding.New(rule, hr.File, 0, 0, hr.FindingObject(), msg)
			f.Field = field
			f.Kustomization = hr.Owner.Ref.String()
			out = append(out, f)
		}
		ns := hr.U.GetNamespace()
		chart := ChartName(c, hr)
		if spec, ok, _ := unstructured.NestedMap(hr.U.Object, "spec", "chart", "spec"); ok {
			ref, _, _ := unstructured.NestedStringMap(spec, "sourceRef")
			rns := ref["namespace"]
			if rns == "" {
				rns = ns
			}
			src := exists(ref["kind"], rns, ref["name"])
			if src == nil {
				emit(finding.HelmSourceMissing, "spec.chart.spec.sourceRef",
					fmt.Sprintf("HelmRelease %s: chart source %s/%s does not exist in the cluster's manifests", render.NamespacedName(ns, hr.U.GetName()), ref["kind"], render.NamespacedName(rns, ref["name"])))
			}
			version, _, _ := unstructured.NestedString(spec, "version")
			if ref["kind"] != "GitRepository" && ref["kind"] != "Bucket" && rangeRe.MatchString(version) {
				v := version
				if v == "" {
					v = "(latest)"
				}
				emit(finding.HelmVersion, "spec.chart.spec.version",
					fmt.Sprintf("HelmRelease %s: chart %s version %s is not pinned; an upstream release changes the cluster without a commit%s", render.NamespacedName(ns, hr.U.GetName()), chart, v, resolved(c, hr)))
			}
			if _, ok := c.Charts[hr]; !ok {
				emit(finding.HelmNotRendered, "spec.chart",
					fmt.Sprintf("HelmRelease %s: chart %s %s from %s/%s is not available offline%s; its templates and values are not validated", render.NamespacedName(ns, hr.U.GetName()), chart, version, ref["kind"], ref["name"], missing(c, hr)))
			}
			continue
		}
		if ref, ok, _ := unstructured.NestedStringMap(hr.U.Object, "spec", "chartRef"); ok {
			rns := ref["namespace"]
			if rns == "" {
				rns = ns
			}
			src := exists(ref["kind"], rns, ref["name"])
			if src == nil {
				emit(finding.HelmSourceMissing, "spec.chartRef",
					fmt.Sprintf("HelmRelease %s: chartRef %s/%s does not exist in the cluster's manifests", render.NamespacedName(ns, hr.U.GetName()), ref["kind"], render.NamespacedName(rns, ref["name"])))
			} else if ref["kind"] == "OCIRepository" {
				tag, _, _ := unstructured.NestedString(src.U.Object, "spec", "ref", "tag")
				digest, _, _ := unstructured.NestedString(src.U.Object, "spec", "ref", "digest")
				semver, _, _ := unstructured.NestedString(src.U.Object, "spec", "ref", "semver")
				if digest == "" && (tag == "" || tag == "latest") && (semver == "" || rangeRe.MatchString(semver)) {
					f := finding.New(finding.HelmVersion, src.File, 0, 0, src.FindingObject(),
						fmt.Sprintf("OCIRepository %s (chart of HelmRelease %s) is not pinned to a tag, digest or exact semver%s", render.NamespacedName(rns, ref["name"]), render.NamespacedName(ns, hr.U.GetName()), resolved(c, hr)))
					f.Field = "spec.ref"
					out = append(out, f)
				}
			}
			if _, ok := c.Charts[hr]; !ok {
				emit(finding.HelmNotRendered, "spec.chartRef",
					fmt.Sprintf("HelmRelease %s: chart %s from %s %s is not available offline%s; its templates and values are not validated", render.NamespacedName(ns, hr.U.GetName()), chart, ref["kind"], ref["name"], missing(c, hr)))
			}
			continue
		}
		emit(finding.HelmSourceMissing, "spec",
			fmt.Sprintf("HelmRelease %s has neither spec.chart nor spec.chartRef", render.NamespacedName(ns, hr.U.GetName())))
	}
	return out
}

// resolved names the chart a fetch resolved an unpinned version to.
func resolved(c *render.Cluster, hr *render.Object) string {
	if where, ok := c.Charts[hr]; ok {
		return "; this run rendered " + where
	}
	return ""
}

// missing says what was looked for when the chart was not found offline.
func missing(c *render.Cluster, hr *render.Object) string {
	if why := c.ChartsMissing[hr]; why != "" {
		return " (" + why + ")"
	}
	return ""
}
