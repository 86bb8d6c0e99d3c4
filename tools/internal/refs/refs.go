// Package refs checks references between the objects of a cluster:
// HTTPRoutes to Gateways, Services and ports and Middlewares, Gateway
// certificates, cert-manager issuers, and the Secrets, ConfigMaps and
// ServiceAccounts that pods use. Objects that only exist in the cluster
// (made by cert-manager, operators, charts, or listed as external in the
// config file) are not errors.
package refs

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/config"
	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/helmcheck"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

const (
	gatewayGroup = "gateway.networking.k8s.io"
	certGroup    = "cert-manager.io"
)

type key struct{ group, kind, namespace, name string }

// index knows what exists in a cluster: rendered objects, and objects that
// controllers will create from them.
type index struct {
	objects map[key]*render.Object
	// made are objects created in the cluster by a controller, with who
	// makes them.
	made map[key]string
	// charts are namespaces where a HelmRelease installs a chart that was
	// not rendered.
	charts map[string]string
	// valueNames are the strings in HelmReleases' values, with the
	// release that holds them: a chart often creates an object named in
	// its values, in any namespace or cluster-wide (a ClusterIssuer from
	// a DNS webhook chart's issuers list, for example).
	valueNames map[string]string
	// istiod names the HelmRelease installing Istio's control plane, which
	// publishes its root certificate as ConfigMap istio-ca-root-cert in
	// every namespace.
	istiod string
	// substituted are ConfigMaps and Secrets that a Kustomization's
	// postBuild.substituteFrom requires, with that Kustomization: Flux
	// does not apply it unless they exist, so when they are not in the
	// repository they are made in the cluster.
	substituted map[key]string
	// custom are the custom resources of other operators, by namespace:
	// operators name what they make after the resource.
	custom map[string][]*render.Object
	cfg    *config.Config
}

type state int

const (
	exists state = iota
	made
	unknown
	external
	missing
)

func newIndex(c *render.Cluster, cfg *config.Config) *index {
	ix := &index{objects: map[key]*render.Object{}, made: map[key]string{}, charts: map[string]string{}, valueNames: map[string]string{}, substituted: map[key]string{}, custom: map[string][]*render.Object{}, cfg: cfg}
	for _, k := range c.Kustomizations {
		if k.Obj == nil {
			continue
		}
		for _, ref := range slice(k.Obj.Object, "spec", "postBuild", "substituteFrom") {
			kind, _ := ref["kind"].(string)
			name, _ := ref["name"].(string)
			if optional, _ := ref["optional"].(bool); !optional && name != "" {
				if _, seen := ix.substituted[key{"", kind, k.Namespace, name}]; !seen {
					ix.substituted[key{"", kind, k.Namespace, name}] = k.Ref.String()
				}
			}
		}
	}
	for _, o := range c.Objects {
		id := o.ID()
		ix.objects[key{id.Group, id.Kind, id.Namespace, id.Name}] = o
	}
	for _, o := range c.Objects {
		id := o.ID()
		if rule, ok := operators[groupKind{id.Group, id.Kind}]; ok {
			for _, m := range rule(o) {
				ix.made[key{"", m.kind, m.namespace, m.name}] = m.by
			}
			continue
		}
		if operatorResource(id.Group) && id.Namespace != "" {
			ix.custom[id.Namespace] = append(ix.custom[id.Namespace], o)
		}
		if id.Group == "fluxcd.controlplane.io" && id.Kind == "ResourceSet" {
			ix.resourceSet(o)
			continue
		}
		if helmcheck.IsHelmRelease(o) {
			if helmcheck.ChartName(c, o) == "istiod" {
				ix.istiod = render.NamespacedName(o.U.GetNamespace(), o.U.GetName())
			}
			if _, rendered := c.Charts[o]; rendered {
				// Its objects are in c.Objects: what the chart makes is
				// known, and what it does not make is missing.
				continue
			}
			ix.charts[helmcheck.TargetNamespace(o)] = helmcheck.ChartName(c, o)
			release := fmt.Sprintf("the Helm chart %s of HelmRelease %s", helmcheck.ChartName(c, o), render.NamespacedName(o.U.GetNamespace(), o.U.GetName()))
			remember := func(v string) {
				if _, seen := ix.valueNames[v]; !seen {
					ix.valueNames[v] = release
				}
			}
			if values, ok, _ := unstructured.NestedFieldNoCopy(o.U.Object, "spec", "values"); ok {
				collectStrings(values, remember)
			}
			// valuesFrom ConfigMaps of the repository carry values too (a
			// generic resource chart fed whole manifests, for example).
			for _, ref := range slice(o.U.Object, "spec", "valuesFrom") {
				kind, _ := ref["kind"].(string)
				name, _ := ref["name"].(string)
				cm, ok := ix.objects[key{"", kind, o.U.GetNamespace(), name}]
				if kind != "ConfigMap" || !ok {
					continue
				}
				data, _, _ := unstructured.NestedStringMap(cm.U.Object, "data")
				for _, text := range data {
					var doc any
					if yaml.Unmarshal([]byte(text), &doc) == nil {
						collectStrings(doc, remember)
					}
				}
			}
		}
	}
	return ix
}

// resourceSet indexes what a Flux Operator ResourceSet creates: each of
// its spec.resources whose name is not a template, and for a HelmRelease
// among them, its chart as one installed, unrendered, in its namespace.
func (ix *index) resourceSet(o *render.Object) {
	by := "Flux Operator (ResourceSet " + render.NamespacedName(o.U.GetNamespace(), o.U.GetName()) + ")"
	for _, r := range slice(o.U.Object, "spec", "resources") {
		id := render.IDOf(&unstructured.Unstructured{Object: r})
		if id.Namespace == "" {
			id.Namespace = o.U.GetNamespace()
		}
		if id.Name == "" || strings.Contains(id.Name, "<<") || strings.Contains(id.Namespace, "<<") {
			continue
		}
		ix.made[key{id.Group, id.Kind, id.Namespace, id.Name}] = by
		if id.Group == "helm.toolkit.fluxcd.io" && id.Kind == "HelmRelease" {
			chart, _, _ := unstructured.NestedString(r, "spec", "chart", "spec", "chart")
			if chart == "" {
				chart, _, _ = unstructured.NestedString(r, "spec", "chartRef", "name")
			}
			ix.charts[id.Namespace] = chart + " (a HelmRelease of " + by + ")"
		}
	}
}

func hasField(obj map[string]any, path ...string) bool {
	_, ok, _ := unstructured.NestedFieldNoCopy(obj, path...)
	return ok
}

func hasIssuerAnnotation(o *render.Object) bool {
	a := o.U.GetAnnotations()
	return a["cert-manager.io/issuer"] != "" || a["cert-manager.io/cluster-issuer"] != ""
}

// noObjectsGroups are API groups of custom resources that make no core
// objects (or whose rules are known: cert-manager, external-secrets).
var noObjectsGroups = map[string]bool{
	"monitoring.coreos.com": true, "traefik.io": true, "traefik.containo.us": true, "kyverno.io": true,
	"cert-manager.io": true, "external-secrets.io": true, "bitnami.com": true, "fluxcd.controlplane.io": true,
}

// operatorResource reports whether objects of the API group are custom
// resources of an operator that may make Services, Secrets and ConfigMaps
// named after them: not a built-in or Kubernetes SIG group, not Flux's,
// and not one known to make nothing (or with a naming rule of its own).
func operatorResource(group string) bool {
	return strings.Contains(group, ".") && !strings.HasSuffix(group, ".k8s.io") && group != "k8s.io" &&
		!strings.HasSuffix(group, ".toolkit.fluxcd.io") && !noObjectsGroups[group] && !operatorGroups[group]
}

// operatorGroups are the API groups with a naming rule for some kind.
var operatorGroups = func() map[string]bool {
	groups := map[string]bool{}
	for gk := range operators {
		groups[gk.group] = true
	}
	return groups
}()

// fluxServices are the Services a Flux installation has in its namespace
// (the install manifests of flux bootstrap and of the Flux Operator).
var fluxServices = map[string]bool{"source-controller": true, "notification-controller": true, "webhook-receiver": true, "source-watcher": true}

// chartKinds are kinds a Helm chart commonly creates in its namespace.
var chartKinds = map[string]bool{"Secret": true, "ConfigMap": true, "Service": true, "ServiceAccount": true, "Gateway": true, "GatewayClass": true, "Middleware": true}

// lookup says whether group/kind ns/name exists, and if not, why it is not
// an error (or that it is one).
func (ix *index) lookup(group, kind, ns, name string) (state, string, *render.Object) {
	if o, ok := ix.objects[key{group, kind, ns, name}]; ok {
		return exists, "", o
	}
	if by, ok := ix.made[key{group, kind, ns, name}]; ok {
		return made, by, nil
	}
	if ix.cfg != nil && ix.cfg.IsExternal(kind, ns, name) {
		return external, "", nil
	}
	switch {
	case kind == "ServiceAccount" && name == "default":
		return made, "Kubernetes (default ServiceAccount)", nil
	case kind == "ConfigMap" && name == "kube-root-ca.crt":
		return made, "Kubernetes", nil
	case kind == "ConfigMap" && name == "istio-ca-root-cert" && ix.istiod != "":
		return made, "istiod (HelmRelease " + ix.istiod + ")", nil
	case kind == "Secret" && ns == render.FluxNamespace && (name == "sops-age" || name == "sops-gpg" || name == "flux-system"):
		return made, "Flux bootstrap", nil
	case kind == "Service" && ns == render.FluxNamespace && fluxServices[name]:
		return made, "the Flux installation", nil
	}
	if chart, ok := ix.charts[ns]; ok && chartKinds[kind] {
		return unknown, fmt.Sprintf("it may be created by the Helm chart %s installed in namespace %s", chart, ns), nil
	}
	if release, ok := ix.valueNames[name]; ok {
		return unknown, fmt.Sprintf("it may be created by %s, whose values name it", release), nil
	}
	if chartKinds[kind] {
		for _, cr := range ix.custom[ns] {
			if n := cr.U.GetName(); len(n) >= 3 && strings.Contains(name, n) {
				return unknown, fmt.Sprintf("it may be made by the operator of %s %s, after which it is named", cr.U.GetKind(), n), nil
			}
		}
	}
	if ks, ok := ix.substituted[key{"", kind, ns, name}]; ok {
		return unknown, fmt.Sprintf("Kustomization %s requires it for postBuild.substituteFrom, so it is made in the cluster", ks), nil
	}
	return missing, "", nil
}

// collectStrings calls f with every string in a decoded YAML value.
func collectStrings(v any, f func(string)) {
	switch v := v.(type) {
	case string:
		f(v)
	case map[string]any:
		for _, e := range v {
			collectStrings(e, f)
		}
	case []any:
		for _, e := range v {
			collectStrings(e, f)
		}
	}
}

// Check runs the reference checks for one cluster.
func Check(c *render.Cluster, cfg *config.Config) []finding.Finding {
	ix := newIndex(c, cfg)
	ck := &checker{ix: ix, cluster: c.Name}
	for _, o := range c.Objects {
		id := o.ID()
		switch {
		case id.Group == gatewayGroup && (id.Kind == "HTTPRoute" || id.Kind == "GRPCRoute"):
			ck.route(o)
		case id.Group == gatewayGroup && id.Kind == "Gateway":
			ck.gateway(o)
		case id.Group == certGroup && id.Kind == "Certificate":
			ref, _, _ := unstructured.NestedStringMap(o.U.Object, "spec", "issuerRef")
			if ref != nil && (ref["group"] == "" || ref["group"] == certGroup) {
				kind := ref["kind"]
				if kind == "" {
					kind = "Issuer"
				}
				ck.issuer(o, kind, ref["name"], "spec.issuerRef")
			}
		}
		if hasIssuerAnnotation(o) {
			a := o.U.GetAnnotations()
			if n := a["cert-manager.io/cluster-issuer"]; n != "" {
				ck.issuer(o, "ClusterIssuer", n, "metadata.annotations")
			}
			if n := a["cert-manager.io/issuer"]; n != "" {
				ck.issuer(o, "Issuer", n, "metadata.annotations")
			}
		}
		if ps, path := podSpec(o); ps != nil {
			ck.pod(o, ps, path)
		}
		if helmcheck.IsHelmRelease(o) {
			ck.valuesFrom(o)
		}
		if id.Group == "rbac.authorization.k8s.io" && (id.Kind == "RoleBinding" || id.Kind == "ClusterRoleBinding") {
			for i, s := range slice(o.U.Object, "subjects") {
				if s["kind"] != "ServiceAccount" {
					continue
				}
				ns, _ := s["namespace"].(string)
				if ns == "" {
					ns = id.Namespace
				}
				name, _ := s["name"].(string)
				n := len(ck.out)
				ck.ref(o, "", "ServiceAccount", ns, name, "subjects."+strconv.Itoa(i), "subject")
				if len(ck.out) > n && ck.out[n].Rule == finding.RefMissing {
					// The API server accepts a binding to a ServiceAccount
					// that does not exist, and nothing fails: it grants
					// nothing until one is made (a stale subject, or one
					// for a component not installed).
					ck.out[n].Severity = finding.Warning
					ck.out[n].Message += "; the binding grants nothing to it until it is created"
				}
			}
		}
	}
	return ck.out
}

type checker struct {
	ix      *index
	cluster string
	out     []finding.Finding
}

func (ck *checker) emit(o *render.Object, rule, field, msg string) {
	f := finding.New(rule, o.File, 0, 0, o.FindingObject(), msg)
	f.Field = field
	f.Kustomization = o.Owner.Ref.String()
	ck.out = append(ck.out, f)
}

// ref checks one reference and reports it when missing (error) or
// unverifiable (info). It returns the target when it is in the repository.
func (ck *checker) ref(o *render.Object, group, kind, ns, name, field, what string) *render.Object {
	if name == "" || strings.Contains(name, "${") {
		return nil
	}
	st, why, target := ck.ix.lookup(group, kind, ns, name)
	switch st {
	case missing:
		ck.emit(o, finding.RefMissing, field, fmt.Sprintf("%s: %s %s/%s does not exist in the manifests of cluster %s", o.ID(), what, kind, render.NamespacedName(ns, name), ck.cluster))
	case unknown:
		ck.emit(o, finding.RefUnknown, field, fmt.Sprintf("%s: %s %s/%s is not in the repository; %s", o.ID(), what, kind, render.NamespacedName(ns, name), why))
	}
	return target
}

// valuesFrom checks the ConfigMaps and Secrets a HelmRelease takes values
// from: helm-controller fails the release while one that is not optional is
// missing. It reads them before it installs the chart: that a chart in the
// namespace may create ConfigMaps and Secrets does not make them possible
// values (that one is named in some release's values does).
func (ck *checker) valuesFrom(o *render.Object) {
	ns := o.U.GetNamespace()
	for i, v := range slice(o.U.Object, "spec", "valuesFrom") {
		kind, _ := v["kind"].(string)
		name, _ := v["name"].(string)
		if optional, _ := v["optional"].(bool); optional || (kind != "ConfigMap" && kind != "Secret") || name == "" || strings.Contains(name, "${") {
			continue
		}
		field := "spec.valuesFrom." + strconv.Itoa(i)
		st, why, _ := ck.ix.lookup("", kind, ns, name)
		if _, required := ck.ix.substituted[key{"", kind, ns, name}]; st == unknown && ck.ix.valueNames[name] == "" && !required {
			st = missing
		}
		switch st {
		case missing:
			ck.emit(o, finding.RefMissing, field, fmt.Sprintf("%s: valuesFrom %s/%s does not exist in the manifests of cluster %s; helm-controller fails the release until it exists (or mark it optional: true)", o.ID(), kind, render.NamespacedName(ns, name), ck.cluster))
			if ck.ix.cfg == nil || ck.ix.cfg.File == "" {
				// Values Secrets are often made by hand, like the
				// substituteFrom ones; a repository that has adopted the
				// validator lists those under externalObjects.
				f := &ck.out[len(ck.out)-1]
				f.Severity = finding.Warning
				f.Message += "; it may be made in the cluster outside Git"
				f.Hint = "Add it to the repository, mark the reference optional: true, or list it under externalObjects in " + config.FileName + ". (A warning here: this repository has no " + config.FileName + " of its own; with one, it is an error.)"
			}
		case unknown:
			ck.emit(o, finding.RefUnknown, field, fmt.Sprintf("%s: valuesFrom %s/%s is not in the repository; %s", o.ID(), kind, render.NamespacedName(ns, name), why))
		}
	}
}

func (ck *checker) issuer(o *render.Object, kind, name, field string) {
	ns := o.U.GetNamespace()
	if kind == "ClusterIssuer" {
		ns = ""
	}
	ck.ref(o, certGroup, kind, ns, name, field, "issuer")
}

func (ck *checker) route(o *render.Object) {
	ns := o.U.GetNamespace()
	for i, p := range slice(o.U.Object, "spec", "parentRefs") {
		group, kind, pns, name := refParts(p, gatewayGroup, "Gateway", ns)
		field := "spec.parentRefs." + strconv.Itoa(i)
		if group != gatewayGroup || kind != "Gateway" {
			continue
		}
		gw := ck.ref(o, group, kind, pns, name, field, "parent")
		if gw == nil {
			continue
		}
		section, _ := p["sectionName"].(string)
		port, hasPort := p["port"]
		var names []string
		found := false
		for _, l := range slice(gw.U.Object, "spec", "listeners") {
			ln, _ := l["name"].(string)
			names = append(names, ln)
			if (section == "" || ln == section) && (!hasPort || fmt.Sprint(l["port"]) == fmt.Sprint(port)) {
				found = true
			}
		}
		if !found {
			want := "sectionName " + strconv.Quote(section)
			if hasPort {
				want += fmt.Sprintf(" port %v", port)
			}
			ck.emit(o, finding.RefPort, field, fmt.Sprintf("%s: Gateway %s/%s has no listener with %s (listeners: %s)", o.ID(), pns, name, want, strings.Join(names, ", ")))
		}
	}
	for i, r := range slice(o.U.Object, "spec", "rules") {
		for j, b := range slice(r, "backendRefs") {
			group, kind, bns, name := refParts(b, "", "Service", ns)
			field := fmt.Sprintf("spec.rules.%d.backendRefs.%d", i, j)
			if group != "" || kind != "Service" {
				continue
			}
			svc := ck.ref(o, group, kind, bns, name, field, "backend")
			port, hasPort := b["port"]
			if svc == nil {
				continue
			}
			if !hasPort {
				ck.emit(o, finding.RefPort, field, fmt.Sprintf("%s: backendRef to Service %s/%s has no port; Gateway API requires it for Services", o.ID(), bns, name))
				continue
			}
			var ports []string
			found := false
			for _, sp := range slice(svc.U.Object, "spec", "ports") {
				ports = append(ports, fmt.Sprint(sp["port"]))
				if fmt.Sprint(sp["port"]) == fmt.Sprint(port) {
					found = true
				}
			}
			if !found {
				ck.emit(o, finding.RefPort, field+".port", fmt.Sprintf("%s: Service %s/%s has no port %v (ports: %s)", o.ID(), bns, name, port, strings.Join(ports, ", ")))
			}
		}
		for j, f := range slice(r, "filters") {
			if f["type"] != "ExtensionRef" {
				continue
			}
			ext, _ := f["extensionRef"].(map[string]any)
			group, _ := ext["group"].(string)
			kind, _ := ext["kind"].(string)
			name, _ := ext["name"].(string)
			if kind == "" {
				continue
			}
			ck.ref(o, group, kind, ns, name, fmt.Sprintf("spec.rules.%d.filters.%d.extensionRef", i, j), "ExtensionRef filter")
		}
	}
}

func (ck *checker) gateway(o *render.Object) {
	ns := o.U.GetNamespace()
	for i, l := range slice(o.U.Object, "spec", "listeners") {
		for j, cr := range slice(l, "tls", "certificateRefs") {
			group, kind, cns, name := refParts(cr, "", "Secret", ns)
			if group != "" || kind != "Secret" {
				continue
			}
			ck.ref(o, group, kind, cns, name, fmt.Sprintf("spec.listeners.%d.tls.certificateRefs.%d", i, j), "certificate")
		}
	}
}

// pod checks the Secrets, ConfigMaps and ServiceAccount a pod spec uses.
func (ck *checker) pod(o *render.Object, ps map[string]any, path string) {
	ns := o.U.GetNamespace()
	check := func(kind, name, field string, optional any) {
		if opt, _ := optional.(bool); opt {
			return
		}
		ck.ref(o, "", kind, ns, name, path+"."+field, strings.ToLower(kind[:1])+kind[1:]+" reference")
	}
	if sa, _ := ps["serviceAccountName"].(string); sa != "" {
		check("ServiceAccount", sa, "serviceAccountName", false)
	}
	for i, s := range slice(ps, "imagePullSecrets") {
		name, _ := s["name"].(string)
		check("Secret", name, "imagePullSecrets."+strconv.Itoa(i), false)
	}
	for i, v := range slice(ps, "volumes") {
		f := "volumes." + strconv.Itoa(i)
		if s, ok := v["secret"].(map[string]any); ok {
			name, _ := s["secretName"].(string)
			check("Secret", name, f+".secret.secretName", s["optional"])
		}
		if c, ok := v["configMap"].(map[string]any); ok {
			name, _ := c["name"].(string)
			check("ConfigMap", name, f+".configMap.name", c["optional"])
		}
		for j, src := range slice(v, "projected", "sources") {
			pf := fmt.Sprintf("%s.projected.sources.%d", f, j)
			if s, ok := src["secret"].(map[string]any); ok {
				name, _ := s["name"].(string)
				check("Secret", name, pf+".secret.name", s["optional"])
			}
			if c, ok := src["configMap"].(map[string]any); ok {
				name, _ := c["name"].(string)
				check("ConfigMap", name, pf+".configMap.name", c["optional"])
			}
		}
	}
	for _, list := range []string{"initContainers", "containers"} {
		for i, c := range slice(ps, list) {
			cf := fmt.Sprintf("%s.%d", list, i)
			for j, e := range slice(c, "envFrom") {
				if s, ok := e["secretRef"].(map[string]any); ok {
					name, _ := s["name"].(string)
					check("Secret", name, fmt.Sprintf("%s.envFrom.%d.secretRef", cf, j), s["optional"])
				}
				if m, ok := e["configMapRef"].(map[string]any); ok {
					name, _ := m["name"].(string)
					check("ConfigMap", name, fmt.Sprintf("%s.envFrom.%d.configMapRef", cf, j), m["optional"])
				}
			}
			for j, e := range slice(c, "env") {
				vf, _ := e["valueFrom"].(map[string]any)
				if s, ok := vf["secretKeyRef"].(map[string]any); ok {
					name, _ := s["name"].(string)
					check("Secret", name, fmt.Sprintf("%s.env.%d.valueFrom.secretKeyRef", cf, j), s["optional"])
				}
				if m, ok := vf["configMapKeyRef"].(map[string]any); ok {
					name, _ := m["name"].(string)
					check("ConfigMap", name, fmt.Sprintf("%s.env.%d.valueFrom.configMapKeyRef", cf, j), m["optional"])
				}
			}
		}
	}
}

// podSpec returns the pod spec of a workload and its field path.
func podSpec(o *render.Object) (map[string]any, string) {
	id := o.ID()
	var path []string
	switch {
	case id.Group == "" && id.Kind == "Pod":
		path = []string{"spec"}
	case id.Group == "apps" && slices.Contains([]string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}, id.Kind),
		id.Group == "batch" && id.Kind == "Job":
		path = []string{"spec", "template", "spec"}
	case id.Group == "batch" && id.Kind == "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		return nil, ""
	}
	ps, _, _ := unstructured.NestedMap(o.U.Object, path...)
	return ps, strings.Join(path, ".")
}

func refParts(m map[string]any, defGroup, defKind, defNS string) (group, kind, ns, name string) {
	group, kind, ns, name = defGroup, defKind, defNS, ""
	if g, ok := m["group"].(string); ok {
		group = g
	}
	if k, ok := m["kind"].(string); ok && k != "" {
		kind = k
	}
	if n, ok := m["namespace"].(string); ok && n != "" {
		ns = n
	}
	name, _ = m["name"].(string)
	return group, kind, ns, name
}

// slice returns the list of maps at path in m.
func slice(m map[string]any, path ...string) []map[string]any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	list, _ := cur.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		if mm, ok := x.(map[string]any); ok {
			out = append(out, mm)
		}
	}
	return out
}
