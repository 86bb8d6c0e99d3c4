package graph

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/helmcheck"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// helmDefaultTimeout is helm-controller's default for spec.timeout.
const helmDefaultTimeout = 5 * time.Minute

// helmRelease is what a HelmRelease may need before it is Ready or Stalled:
// every attempt of its slowest action (install or upgrade) running until
// that action's timeout.
type helmRelease struct {
	ref   render.Ref
	owner *render.Kustomization
	// timeout and attempts are those of the slowest action; own is their
	// product.
	action   string
	timeout  time.Duration
	attempts int
	own      time.Duration
	deps     []render.Ref
}

// readHelmRelease returns o's figures, or false when they cannot be known
// (retries < 0 retries for ever, an unparsable duration).
func readHelmRelease(o *render.Object) (helmRelease, bool) {
	spec, _, _ := unstructured.NestedMap(o.U.Object, "spec")
	h := helmRelease{ref: render.Ref{Namespace: o.U.GetNamespace(), Name: o.U.GetName()}, owner: o.Owner}
	base := helmDefaultTimeout
	if s, ok, _ := unstructured.NestedString(spec, "timeout"); ok {
		d, err := time.ParseDuration(s)
		if err != nil {
			return h, false
		}
		base = d
	}
	for _, action := range []string{"install", "upgrade"} {
		timeout := base
		if s, ok, _ := unstructured.NestedString(spec, action, "timeout"); ok {
			d, err := time.ParseDuration(s)
			if err != nil {
				return h, false
			}
			timeout = d
		}
		retries, _, _ := unstructured.NestedInt64(spec, action, "remediation", "retries")
		if retries < 0 {
			return h, false
		}
		attempts := int(retries) + 1
		if own := timeout * time.Duration(attempts); own > h.own {
			h.action, h.timeout, h.attempts, h.own = action, timeout, attempts, own
		}
	}
	h.deps, _ = render.DependsOn(o.U.Object, h.ref.Namespace)
	return h, true
}

// timeouts reports a Kustomization that waits for HelmReleases (spec.wait,
// or HelmReleases listed in spec.healthChecks) with a spec.timeout shorter
// than they may need: the parent would report failure while Helm is still
// retrying. A HelmRelease needs its own timeout × attempts, after the
// HelmReleases it depends on that the same Kustomization applies (they are
// reconciled in parallel; helm-controller starts a dependant only once its
// dependency is Ready). A dependency applied by another Kustomization is
// Ready already when that Kustomization is among this one's dependsOn, and
// is not counted.
func timeouts(c *render.Cluster) []finding.Finding {
	releases := map[render.Ref]helmRelease{}
	for _, o := range c.Objects {
		if o.Chart != nil || !helmcheck.IsHelmRelease(o) {
			continue // a chart's HelmRelease is applied by Helm, not waited for
		}
		if h, ok := readHelmRelease(o); ok {
			releases[h.ref] = h
		}
	}
	var out []finding.Finding
	for _, k := range c.Kustomizations {
		if k.Synthetic || k.Obj == nil {
			continue
		}
		waited := waitedReleases(k, releases)
		if len(waited) == 0 {
			continue
		}
		timeout, field, ok := kustomizationTimeout(k)
		if !ok {
			continue
		}
		need, chain := slowestChain(waited, releases, k)
		if timeout >= need {
			continue
		}
		f := finding.New(finding.GraphTimeout, k.File, 0, 0, k.FindingObject(),
			fmt.Sprintf("Kustomization %s waits %s (%s) for its HelmReleases, which may need %s: %s; it reports failure while Helm is still retrying; set spec.timeout to at least %s",
				k.Ref, duration(timeout), field, duration(need), describeChain(chain), duration(need)))
		f.Field = "spec.timeout"
		f.Kustomization = k.Ref.String()
		out = append(out, f)
	}
	return out
}

// waitedReleases are the HelmReleases k's health checks wait for, sorted
// so that ties report the same chain on every run.
func waitedReleases(k *render.Kustomization, releases map[render.Ref]helmRelease) []render.Ref {
	var out []render.Ref
	if wait, _, _ := unstructured.NestedBool(k.Obj.Object, "spec", "wait"); wait {
		for ref, h := range releases {
			if h.owner == k {
				out = append(out, ref)
			}
		}
		slices.SortFunc(out, func(a, b render.Ref) int { return strings.Compare(a.String(), b.String()) })
		return out
	}
	checks, _, _ := unstructured.NestedSlice(k.Obj.Object, "spec", "healthChecks")
	for _, c := range checks {
		m, ok := c.(map[string]any)
		if !ok || m["kind"] != "HelmRelease" {
			continue
		}
		name, _ := m["name"].(string)
		ns, _ := m["namespace"].(string)
		if ns == "" {
			ns = k.Namespace
		}
		if ref := (render.Ref{Namespace: ns, Name: name}); releases[ref].attempts > 0 {
			out = append(out, ref)
		}
	}
	return out
}

// kustomizationTimeout is spec.timeout, which defaults to spec.interval.
func kustomizationTimeout(k *render.Kustomization) (time.Duration, string, bool) {
	for _, field := range []string{"timeout", "interval"} {
		s, ok, _ := unstructured.NestedString(k.Obj.Object, "spec", field)
		if !ok {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, "", false
		}
		if field == "interval" {
			return d, "spec.interval, as spec.timeout is not set", true
		}
		return d, "spec.timeout", true
	}
	return 0, "", false
}

// slowestChain returns the longest time among the waited releases, each
// after the dependencies k also applies, and the chain that takes it (first
// dependency first).
func slowestChain(waited []render.Ref, releases map[render.Ref]helmRelease, k *render.Kustomization) (time.Duration, []helmRelease) {
	type result struct {
		need  time.Duration
		chain []helmRelease
	}
	memo := map[render.Ref]result{}
	visiting := map[render.Ref]bool{}
	var need func(ref render.Ref) result
	need = func(ref render.Ref) result {
		if r, ok := memo[ref]; ok {
			return r
		}
		h := releases[ref]
		visiting[ref] = true
		var before result
		for _, d := range h.deps {
			dh, ok := releases[d]
			if !ok || dh.owner != k || visiting[d] {
				continue // elsewhere (Ready first, or never), or a cycle helm-controller reports itself
			}
			if r := need(d); r.need > before.need {
				before = r
			}
		}
		visiting[ref] = false
		r := result{need: before.need + h.own, chain: append(append([]helmRelease(nil), before.chain...), h)}
		memo[ref] = r
		return r
	}
	var best result
	for _, ref := range waited {
		if r := need(ref); r.need > best.need {
			best = r
		}
	}
	return best.need, best.chain
}

func describeChain(chain []helmRelease) string {
	parts := make([]string, len(chain))
	for i, h := range chain {
		parts[i] = fmt.Sprintf("HelmRelease %s %s %s × %d attempt(s) = %s", h.ref, h.action, duration(h.timeout), h.attempts, duration(h.own))
	}
	return strings.Join(parts, ", then (dependsOn) ")
}

// duration prints a duration as written in manifests: 40m, 1h20m, 90s.
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
