package treetest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A check inspects one rendered object and returns what is wrong with it.
type check struct {
	name string
	fn   func(o object) []string
}

var checks = []check{
	{"secret-encrypted", checkSecret},
	{"image-digest", checkImages},
	{"no-loadbalancer", checkNoLoadBalancer},
	{"no-http01", checkNoHTTP01},
	{"not-privileged", checkNotPrivileged},
	{"admin-route-auth", checkAdminRouteAuth},
}

var digestRef = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// zeroDigest is the all-zero sha256 digest: a placeholder that no registry
// serves, never the digest of a real image.
var zeroDigest = "sha256:" + strings.Repeat("0", 64)

// digestException is the policy pack's annotation for a deliberate
// exception to security-image-digest; its value is the reason.
const digestException = "exceptions.policy.homelab.dev/security-image-digest"

// digestExcepted returns the reason doc gives for not pinning its images
// by digest, or "".
func digestExcepted(doc map[string]any) string {
	annotations, _ := dig(doc, "metadata")["annotations"].(map[string]any)
	reason, _ := annotations[digestException].(string)
	return strings.TrimSpace(reason)
}

// checkDigest returns what is wrong with the image reference img.
func checkDigest(img string) string {
	switch {
	case !digestRef.MatchString(img):
		return fmt.Sprintf("image %q is not pinned by digest (name:tag@sha256:...)", img)
	case strings.HasSuffix(img, "@"+zeroDigest):
		return fmt.Sprintf("image %q has the all-zero placeholder digest: pin the digest of a real build (scripts/pin-images.sh for the fitness images)", img)
	}
	return ""
}

func checkSecret(o object) []string {
	if o.kind() != "Secret" {
		return nil
	}
	if msg := checkEncrypted(o.Encrypted); msg != "" {
		return []string{msg}
	}
	return nil
}

// podSpec returns the pod template spec of a workload, or nil.
func podSpec(o object) map[string]any {
	spec, _ := o.Doc["spec"].(map[string]any)
	switch o.kind() {
	case "Pod":
		return spec
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		return dig(spec, "template", "spec")
	case "CronJob":
		return dig(spec, "jobTemplate", "spec", "template", "spec")
	}
	return nil
}

func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, _ := m[k].(map[string]any)
		if next == nil {
			return nil
		}
		m = next
	}
	return m
}

func list(m map[string]any, key string) []map[string]any {
	items, _ := m[key].([]any)
	var out []map[string]any
	for _, it := range items {
		if im, ok := it.(map[string]any); ok {
			out = append(out, im)
		}
	}
	return out
}

func containers(spec map[string]any) []map[string]any {
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		out = append(out, list(spec, key)...)
	}
	return out
}

func checkImages(o object) []string {
	if digestExcepted(o.Doc) != "" {
		return nil
	}
	var problems []string
	if spec := podSpec(o); spec != nil {
		for _, c := range containers(spec) {
			img, _ := c["image"].(string)
			if msg := checkDigest(img); msg != "" {
				problems = append(problems, fmt.Sprintf("container %v: %s", c["name"], msg))
			}
		}
	}
	if o.kind() == "RabbitmqCluster" {
		img, _ := dig(o.Doc, "spec")["image"].(string)
		if msg := checkDigest(img); msg != "" {
			problems = append(problems, "spec."+msg)
		}
	}
	if o.kind() == "HelmRelease" {
		walk(dig(o.Doc, "spec", "values"), "values", func(path string, m map[string]any) {
			_, hasRepo := m["repository"]
			tag, hasTag := m["tag"].(string)
			if !hasRepo || !hasTag {
				return
			}
			digest, _ := m["digest"].(string)
			if digest == zeroDigest || strings.HasSuffix(tag, "@"+zeroDigest) {
				problems = append(problems, fmt.Sprintf("%s pins an image (%v) to the all-zero placeholder digest", path, m["repository"]))
				return
			}
			if strings.HasPrefix(digest, "sha256:") || strings.Contains(tag, "@sha256:") {
				return
			}
			problems = append(problems, fmt.Sprintf("%s overrides an image (%v:%s) without a digest", path, m["repository"], tag))
		})
	}
	return problems
}

// walk calls fn for every map below v, with its path.
func walk(v any, path string, fn func(path string, m map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(path, x)
		for k, child := range x {
			walk(child, path+"."+k, fn)
		}
	case []any:
		for i, child := range x {
			walk(child, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

func checkNoLoadBalancer(o object) []string {
	if o.kind() == "Service" && dig(o.Doc, "spec")["type"] == "LoadBalancer" {
		return []string{"Service of type LoadBalancer: traffic enters through the NGINX pool and Traefik's NodePort only"}
	}
	var problems []string
	if o.kind() == "HelmRelease" {
		walk(dig(o.Doc, "spec", "values"), "values", func(path string, m map[string]any) {
			if m["type"] == "LoadBalancer" {
				problems = append(problems, path+".type is LoadBalancer")
			}
		})
	}
	return problems
}

func checkNoHTTP01(o object) []string {
	if o.kind() != "Issuer" && o.kind() != "ClusterIssuer" {
		return nil
	}
	var problems []string
	for i, s := range list(dig(o.Doc, "spec", "acme"), "solvers") {
		if _, ok := s["http01"]; ok {
			problems = append(problems, fmt.Sprintf("spec.acme.solvers[%d] uses HTTP-01: use DNS-01 (no inbound port 80)", i))
		}
	}
	return problems
}

func checkNotPrivileged(o object) []string {
	var problems []string
	if spec := podSpec(o); spec != nil {
		for _, f := range []string{"hostNetwork", "hostPID", "hostIPC"} {
			if spec[f] == true {
				problems = append(problems, "pod sets "+f)
			}
		}
		for _, c := range containers(spec) {
			sc, _ := c["securityContext"].(map[string]any)
			if sc["privileged"] == true {
				problems = append(problems, fmt.Sprintf("container %v is privileged", c["name"]))
			}
			if sc["allowPrivilegeEscalation"] != false {
				problems = append(problems, fmt.Sprintf("container %v does not set allowPrivilegeEscalation: false", c["name"]))
			}
			caps, _ := sc["capabilities"].(map[string]any)
			for _, add := range asStrings(caps["add"]) {
				if add != "NET_BIND_SERVICE" {
					problems = append(problems, fmt.Sprintf("container %v adds capability %s", c["name"], add))
				}
			}
		}
	}
	if o.kind() == "HelmRelease" {
		walk(dig(o.Doc, "spec", "values"), "values", func(path string, m map[string]any) {
			for _, f := range []string{"privileged", "hostNetwork", "hostPID", "hostIPC"} {
				if m[f] == true {
					problems = append(problems, fmt.Sprintf("%s.%s is true", path, f))
				}
			}
		})
	}
	return problems
}

func asStrings(v any) []string {
	items, _ := v.([]any)
	var out []string
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// adminAuthFilters must be on every rule of a route to an admin UI.
var adminAuthFilters = []string{"ip-allow-list", "admin-auth"}

// isAdminBackend reports whether an HTTPRoute backend is an admin UI: the
// Traefik dashboard (api@internal) or the RabbitMQ management ports.
func isAdminBackend(b map[string]any) bool {
	if b["kind"] == "TraefikService" {
		return true
	}
	switch fmt.Sprint(b["port"]) {
	case "15672", "15671":
		return true
	}
	return false
}

func checkAdminRouteAuth(o object) []string {
	if o.kind() != "HTTPRoute" {
		return nil
	}
	var problems []string
	for i, rule := range list(dig(o.Doc, "spec"), "rules") {
		admin := slices.ContainsFunc(list(rule, "backendRefs"), isAdminBackend)
		if !admin {
			continue
		}
		var names []string
		for _, f := range list(rule, "filters") {
			if f["type"] != "ExtensionRef" {
				continue
			}
			ref, _ := f["extensionRef"].(map[string]any)
			if ref["group"] == "traefik.io" && ref["kind"] == "Middleware" {
				names = append(names, fmt.Sprint(ref["name"]))
			}
		}
		for _, want := range adminAuthFilters {
			if !slices.Contains(names, want) {
				problems = append(problems, fmt.Sprintf("rule %d routes to an admin UI without the %s Middleware filter", i, want))
			}
		}
	}
	return problems
}
